// `sds inspect`, `sds decode` and `sds encode` on every golden wire message
// of both dialects (tests/vectors): the fields the vectors hold are printed,
// and JSON -> wire reproduces the original bytes exactly. Also runs the `sds`
// binary itself: the same scenario twice gives the same output, byte for byte.
#include "cli/wire_json.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sds::cli {
namespace {

using nlohmann::json;

// nim-sds writes a negative Lamport value as a 2^64 - 1 varint; sds refuses
// it on purpose (kDecodeLamportOutOfRange, see codec.h), so inspect reports
// that error for this one vector.
bool RefusedOnPurpose(const std::string& name) { return name == "nim negative_lamport"; }

struct Vector {
  std::string name;
  Bytes wire;
  json expected;  // the implementation's own decoding, where the vector has one
  bool spec = false;
};

Bytes Hex(const std::string& hex) {
  auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.ok()) << hex.substr(0, 40);
  return bytes.ok() ? *bytes : Bytes();
}

std::vector<Vector> GoldenWires() {
  std::vector<Vector> out;
  std::ifstream nim(std::string(SDS_TEST_VECTORS_DIR) + "/nim-sds/vectors.jsonl");
  for (std::string line; std::getline(nim, line);) {
    json record = json::parse(line);
    std::string kind = record.value("kind", "");
    if (kind == "sds_message") {
      out.push_back({"nim " + record["name"].get<std::string>(), Hex(record["hex"]),
                     record["fields"], false});
    } else if (kind == "exchange" && record.value("event", "") == "wrapOutgoingMessage") {
      out.push_back({"nim exchange " + record["scenario"].get<std::string>() + " " +
                         record["messageId"].get<std::string>(),
                     Hex(record["wire_hex"]), json(), false});
    }
  }
  std::ifstream waku_file(std::string(SDS_TEST_VECTORS_DIR) + "/waku-sds/vectors.json");
  json waku = json::parse(waku_file);
  for (const json& v : waku["vectors"]) {
    out.push_back({"spec " + v["name"].get<std::string>(), Hex(v["bytes"]), v["decoded"], true});
  }
  return out;
}

TEST(WireJson, GoldenVectorsAreReadFromBothDialects) {
  std::vector<Vector> vectors = GoldenWires();
  size_t nim = 0, spec = 0;
  for (const Vector& v : vectors) (v.spec ? spec : nim)++;
  EXPECT_GE(nim, 10u + 16u);  // sds_message and every wrapped exchange message
  EXPECT_EQ(spec, 7u);
}

TEST(WireJson, DecodeThenEncodeReproducesEveryGoldenVector) {
  size_t refused = 0;
  for (const Vector& v : GoldenWires()) {
    SCOPED_TRACE(v.name);
    auto inspected = DecodeForInspection(SharedBytes(v.wire));
    if (RefusedOnPurpose(v.name)) {
      EXPECT_EQ(inspected.status().code(), ErrorCode::kDecodeLamportOutOfRange);
      ++refused;
      continue;
    }
    ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
    // Only the nim-sds 0.3 vector with empty ids needs 0.3's own rules.
    EXPECT_EQ(inspected->note.empty(), v.name != "nim empty_strings_and_content")
        << inspected->note;
    const DecodedMessage* decoded = &inspected->message;
    EXPECT_EQ(decoded->dialect, v.spec ? Dialect::kSpec : Dialect::kNim);
    // Through text, as `sds decode | sds encode` does.
    std::string text = MessageToJson(*decoded).dump(2);
    auto bytes = EncodeJson(json::parse(text));
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(ToHex(*bytes), ToHex(v.wire));
  }
  EXPECT_EQ(refused, 1u);
}

TEST(WireJson, InspectShowsTheFieldsTheVectorsHold) {
  for (const Vector& v : GoldenWires()) {
    if (v.expected.is_null() || RefusedOnPurpose(v.name)) continue;
    SCOPED_TRACE(v.name);
    auto inspected = DecodeForInspection(SharedBytes(v.wire));
    ASSERT_TRUE(inspected.ok());
    const DecodedMessage* decoded = &inspected->message;
    json j = MessageToJson(*decoded);
    std::string text = DescribeMessage(*decoded);
    const json& e = v.expected;
    EXPECT_EQ(j["message_id"], e["messageId"]);
    if (!e["messageId"].get<std::string>().empty()) {
      EXPECT_NE(text.find(e["messageId"].get<std::string>()), std::string::npos) << text;
    }
    if (e.contains("channelId")) {
      EXPECT_EQ(j["channel_id"], e["channelId"]);
    }
    if (e.contains("senderId") && e["senderId"].is_string()) {
      EXPECT_EQ(j["sender_id"], e["senderId"]);
    }

    // Lamport: a number in nim's vectors, a string in @waku/sds's.
    if (e.contains("lamportTimestamp") && !e["lamportTimestamp"].is_null()) {
      std::string lamport = e["lamportTimestamp"].is_string()
                                ? e["lamportTimestamp"].get<std::string>()
                                : std::to_string(e["lamportTimestamp"].get<int64_t>());
      EXPECT_EQ(std::to_string(j["lamport_timestamp"].get<int64_t>()), lamport);
      EXPECT_NE(text.find("lamport            " + lamport), std::string::npos) << text;
    } else if (e.contains("lamportTimestamp")) {
      EXPECT_TRUE(j["lamport_timestamp"].is_null());
      EXPECT_NE(text.find("(none: ephemeral)"), std::string::npos);
    }
    for (const char* list : {"causalHistory", "repairRequest"}) {
      if (!e.contains(list)) continue;
      const char* ours = std::string(list) == "causalHistory" ? "causal_history" : "repair_request";
      ASSERT_EQ(j[ours].size(), e[list].size());
      for (size_t i = 0; i < e[list].size(); ++i) {
        const json& entry = e[list][i];
        EXPECT_EQ(j[ours][i]["message_id"], entry["messageId"]);
        EXPECT_NE(text.find(entry["messageId"].get<std::string>()), std::string::npos);
        if (entry.contains("retrievalHint") && entry["retrievalHint"].is_string() &&
            !entry["retrievalHint"].get<std::string>().empty()) {
          EXPECT_EQ(j[ours][i]["retrieval_hint_hex"], entry["retrievalHint"]);
          EXPECT_NE(text.find("hint 0x" + entry["retrievalHint"].get<std::string>()),
                    std::string::npos);
        }
        if (entry.contains("senderId") && entry["senderId"].is_string() &&
            !entry["senderId"].get<std::string>().empty()) {
          EXPECT_EQ(j[ours][i]["sender_id"], entry["senderId"]);
        }
      }
    }
    if (e.contains("content") && e["content"].is_string()) {
      EXPECT_EQ(j["content_hex"], e["content"]);
    }
    // @waku/sds vectors count the bloom filter's set bits.
    if (e.contains("bloomFilter") && e["bloomFilter"].is_object()) {
      EXPECT_EQ(j["bloom"]["bytes"], e["bloomFilter"]["length"]);
      EXPECT_EQ(j["bloom"]["set_bits"], e["bloomFilter"]["setBitCount"]);
      if (e["bloomFilter"]["length"] == 18752) {  // the one geometry spec peers use
        EXPECT_EQ(j["bloom"]["k"], 10);
        EXPECT_EQ(j["bloom"]["m_bits"], 150000);
      } else {
        EXPECT_EQ(j["bloom"]["parsed"], false);  // another size: geometry unknown
      }
      EXPECT_NE(text.find(std::to_string(e["bloomFilter"]["setBitCount"].get<int>()) + " bits set"),
                std::string::npos)
          << text;
    }
  }
}

TEST(WireJson, NimBloomGeometryAndFillAreRead) {
  // The exchange's small_bloom scenario uses 100 / 0.01: k = 7, m = 1000.
  bool seen = false;
  for (const Vector& v : GoldenWires()) {
    if (v.name.find("small_bloom") == std::string::npos) continue;
    auto decoded = DecodeAny(SharedBytes(v.wire));
    ASSERT_TRUE(decoded.ok());
    if (!decoded->message.bloom_filter || decoded->message.bloom_filter->empty()) continue;
    BloomSummary b = SummarizeBloom(*decoded->message.bloom_filter, Dialect::kNim);
    ASSERT_TRUE(b.parsed) << b.error;
    EXPECT_EQ(b.capacity, 100);
    EXPECT_EQ(b.k, 7);
    EXPECT_EQ(b.m_bits, 1000);
    EXPECT_EQ(b.words, 16u);
    EXPECT_LE(b.set_bits, 1000);
    seen = true;
  }
  EXPECT_TRUE(seen);
}

TEST(WireJson, EncodeRefusesBadJsonWithAReason) {
  EXPECT_FALSE(EncodeJson(json::array()).ok());
  EXPECT_FALSE(EncodeJson(json{{"dialect", "klingon"}}).ok());
  EXPECT_FALSE(EncodeJson(json{{"content_hex", "abc"}}).ok());  // odd digits
  EXPECT_FALSE(EncodeJson(json{{"lamport_timestamp", "soon"}}).ok());
  EXPECT_FALSE(EncodeJson(json{{"causal_history", {1, 2}}}).ok());
  auto ok = EncodeJson(json{{"dialect", "nim"},
                            {"message_id", "m1"},
                            {"channel_id", "ch"},
                            {"lamport_timestamp", 1},
                            {"content_hex", "010203"},
                            {"bloom_filter_hex", ""}});
  ASSERT_TRUE(ok.ok());
  // The example from tests/vectors/SOURCE.md.
  EXPECT_EQ(ToHex(*ok), "0a026d311001220263682a030102033200");
}

TEST(WireJson, NonUtf8IdsRoundTripAsHex) {
  Message m;
  m.message_id = std::string("\xff\x00\x01", 3);
  m.channel_id = "c";
  m.lamport_timestamp = 5;
  Bytes content = {1};
  m.content = ByteSpan(content);
  Bytes wire = Encode(m, Dialect::kNim);
  auto decoded = DecodeAny(SharedBytes(wire));
  ASSERT_TRUE(decoded.ok());
  json j = MessageToJson(*decoded);
  EXPECT_EQ(j["message_id_hex"], "ff0001");
  auto again = EncodeJson(j);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, wire);
}

// ---- the binary -------------------------------------------------------------

std::string RunShell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int rc = ::pclose(pipe);
  if (status) *status = rc;
  return out;
}

const std::string kSds = SDS_CLI_BINARY;
const std::string kScenarios = std::string(SDS_TEST_VECTORS_DIR) + "/../../scenarios";

TEST(SdsBinary, SameScenarioSameOutputByteForByte) {
  for (const char* format : {"", " --json", " --csv"}) {
    std::string command = kSds + " sim " + kScenarios + "/default.toml" + format;
    int first_rc = -1, second_rc = -1;
    std::string first = RunShell(command, &first_rc);
    std::string second = RunShell(command, &second_rc);
    EXPECT_EQ(first_rc, 0) << command;
    EXPECT_EQ(second_rc, 0);
    EXPECT_GT(first.size(), 200u);
    EXPECT_EQ(first, second) << command;
  }
  // Another seed changes the numbers.
  std::string seeded = RunShell(kSds + " sim " + kScenarios + "/default.toml --seed 2 --csv");
  EXPECT_NE(seeded, RunShell(kSds + " sim " + kScenarios + "/default.toml --csv"));
}

TEST(SdsBinary, InspectDecodeEncodeOnAGoldenVector) {
  std::vector<Vector> vectors = GoldenWires();
  const Vector& v = vectors.back();  // a spec message with every field
  char path[] = "/tmp/sds-cli-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, v.wire.data(), v.wire.size()), static_cast<ssize_t>(v.wire.size()));
  ::close(fd);
  std::string shown = RunShell(kSds + " inspect " + path);
  EXPECT_NE(shown.find("dialect            spec"), std::string::npos) << shown;
  int rc = -1;
  std::string hex =
      RunShell(kSds + " decode " + std::string(path) + " | " + kSds + " encode --hex -", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(hex, ToHex(v.wire) + "\n");
  std::string garbage = RunShell("echo 'ffff' | " + kSds + " inspect --hex - 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(garbage.find("cannot decode"), std::string::npos) << garbage;
  ::unlink(path);
}

TEST(SdsBinary, CatchUpRecoveryRunsAndReportsItsTraffic) {
  int rc = -1;
  const std::string small =
      " sim --recovery sds-r-store --set participants=3 --set traffic.duration=20s"
      " --set drain=30s";
  std::string out = RunShell(kSds + small + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sds-r-store"), std::string::npos) << out;
  EXPECT_NE(out.find("catch-up from the store node"), std::string::npos) << out;
  EXPECT_NE(out.find("cold starts (gap snapshots)"), std::string::npos) << out;
  std::string bad =
      RunShell(kSds + small + " --set store.delay_min=2s --set store.delay_max=1s 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(bad.find("store.delay_min"), std::string::npos) << bad;
}

}  // namespace
}  // namespace sds::cli
