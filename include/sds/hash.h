// The string hashes the two wire dialects are built on, bit-exact.
//
// nim-sds hashes with Nim's `hash(string)`, which since Nim 2.2 is Google
// FarmHash Fingerprint64 (farmhash "na") read as a signed 64-bit integer.
// @waku/sds runs the same Nim code compiled to JavaScript, where `hash(string)`
// is MurmurHash3 x86_32 with seed 0 read as a signed 32-bit integer.
// Both come from Debian packages (libfarmhash, libmurmurhash); sds only adapts
// the signedness.
#ifndef SDS_HASH_H_
#define SDS_HASH_H_

#include <cstdint>
#include <string_view>

#include "sds/message.h"

namespace sds {

// Nim `hash(string)` on 64-bit targets: FarmHash Fingerprint64 as int64.
int64_t NimStringHash(std::string_view s);

// MurmurHash3 x86_32, seed 0, as int32 (what @waku/sds's bloom filter uses).
int32_t Murmur3x86_32Signed(std::string_view s);

// The bloom filter's string hash for `dialect`, widened to int64.
inline int64_t BloomStringHash(Dialect dialect, std::string_view s) {
  return dialect == Dialect::kNim ? NimStringHash(s) : Murmur3x86_32Signed(s);
}

}  // namespace sds

#endif  // SDS_HASH_H_
