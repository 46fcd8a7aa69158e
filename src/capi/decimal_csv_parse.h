// Reading libsds's wrap result ("10,2,109,49": the wire message as decimal
// bytes joined by commas) back into bytes, as a consumer must before it can
// broadcast it. Header-only, for C++ consumers, the tests and the benchmarks.
#ifndef SDS_CAPI_DECIMAL_CSV_PARSE_H_
#define SDS_CAPI_DECIMAL_CSV_PARSE_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sds::capi {

// The bytes of `text`, or nullopt unless it is a comma-separated list of
// decimal numbers 0..255 (1-3 digits each, no spaces); "" is no bytes.
// One pass, no allocation beyond the result (reserved from the length).
inline std::optional<std::vector<uint8_t>> ParseDecimalCsv(std::string_view text) {
  std::vector<uint8_t> out;
  if (text.empty()) return out;
  out.reserve(text.size() / 2 + 1);
  const char* p = text.data();
  const char* const end = p + text.size();
  while (true) {
    unsigned value = 0;
    int digits = 0;
    while (p != end && static_cast<unsigned>(*p - '0') <= 9 && digits < 4) {
      value = value * 10 + static_cast<unsigned>(*p - '0');
      ++p;
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return std::nullopt;
    out.push_back(static_cast<uint8_t>(value));
    if (p == end) return out;
    if (*p != ',') return std::nullopt;
    ++p;
    if (p == end) return std::nullopt;  // a trailing comma
  }
}

}  // namespace sds::capi

#endif  // SDS_CAPI_DECIMAL_CSV_PARSE_H_
