#include "tests/testutil/vectors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <mutex>

namespace sds::testutil {
namespace {

std::string VectorPath(std::string_view relative) {
  return std::string(SDS_TEST_VECTORS_DIR) + "/" + std::string(relative);
}

const std::vector<nlohmann::json>& AllNimVectors() {
  static const std::vector<nlohmann::json> records = [] {
    std::vector<nlohmann::json> out;
    std::ifstream in(VectorPath("nim-sds/vectors.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }();
  return records;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<nlohmann::json> NimVectors(std::string_view kind) {
  std::vector<nlohmann::json> out;
  for (const auto& record : AllNimVectors()) {
    if (record.value("kind", "") == kind) out.push_back(record);
  }
  if (out.empty()) ADD_FAILURE() << "no nim-sds vectors of kind " << kind;
  return out;
}

const nlohmann::json& WakuVectors() {
  static const nlohmann::json doc = [] {
    std::ifstream in(VectorPath("waku-sds/vectors.json"));
    return nlohmann::json::parse(in);
  }();
  return doc;
}

const nlohmann::json& WakuRepairTimingVectors() {
  static const nlohmann::json doc = [] {
    std::ifstream in(VectorPath("waku-sds/repair_timing.json"));
    return nlohmann::json::parse(in);
  }();
  return doc;
}

Bytes FromHex(std::string_view hex) {
  Bytes out;
  if (hex.size() % 2 != 0) {
    ADD_FAILURE() << "odd-length hex string";
    return out;
  }
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      ADD_FAILURE() << "bad hex digit near offset " << i;
      return {};
    }
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::string ToHex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace sds::testutil
