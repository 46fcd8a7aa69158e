#include "sds/hash.h"

#include <farmhash.h>
#include <murmurhash.h>

namespace sds {

int64_t NimStringHash(std::string_view s) {
  // Fingerprint64 (farmhashna), not util::Hash64: Hash64 picks a variant by CPU
  // features and would not match Nim on every machine.
  return static_cast<int64_t>(util::Fingerprint64(s.data(), s.size()));
}

int32_t Murmur3x86_32Signed(std::string_view s) {
  uint32_t out[1] = {0};
  // Ids are far below 4 GiB; lmmh_x86_32 takes the length as unsigned int.
  lmmh_x86_32(s.data(), static_cast<unsigned int>(s.size()), /*seed=*/0, out);
  return static_cast<int32_t>(out[0]);
}

}  // namespace sds
