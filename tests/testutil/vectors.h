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

// Lowercase or uppercase hex to bytes; ADD_FAILURE on malformed input.
Bytes FromHex(std::string_view hex);
std::string ToHex(ByteSpan bytes);

}  // namespace sds::testutil

#endif  // SDS_TESTS_TESTUTIL_VECTORS_H_
