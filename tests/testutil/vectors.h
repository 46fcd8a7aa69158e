// Access to the golden vectors in tests/vectors (see tests/vectors/SOURCE.md).
#ifndef SDS_TESTS_TESTUTIL_VECTORS_H_
#define SDS_TESTS_TESTUTIL_VECTORS_H_

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sds/types.h"

namespace sds::testutil {

// Every record of tests/vectors/nim-sds/vectors.jsonl whose "kind" is `kind`,
// in file order. Fails the calling test (ADD_FAILURE) if none exist.
std::vector<nlohmann::json> NimVectors(std::string_view kind);

// tests/vectors/waku-sds/vectors.json, parsed.
const nlohmann::json& WakuVectors();

// tests/vectors/waku-sds/repair_timing.json (SDS-R T_req, T_resp and response
// groups computed by @waku/sds 0.0.8), parsed.
const nlohmann::json& WakuRepairTimingVectors();

// Lowercase or uppercase hex to bytes; ADD_FAILURE on malformed input.
Bytes FromHex(std::string_view hex);
std::string ToHex(ByteSpan bytes);

}  // namespace sds::testutil

#endif  // SDS_TESTS_TESTUTIL_VECTORS_H_
