// The k bit positions of a key, computed without a division per position.
//
// BloomBitIndex (bloom_filter.h) is the reference: |hA + i*hB| mod m. Filters
// evaluate it for every insert and for every outgoing message on every ack
// check, so this enumerates the same positions incrementally: with hA and hB
// in [0, m), (hA + i*hB) mod m is a running sum reduced by one subtraction.
// Only when nim's abs(INT64_MIN) wrap made hA or hB negative (probability
// 2^-63 per hash) does it fall back to the reference formula.
#ifndef SDS_BLOOM_BIT_POSITIONS_H_
#define SDS_BLOOM_BIT_POSITIONS_H_

#include <cstdint>

#include "sds/bloom_filter.h"

namespace sds::bloom_internal {

// Nim's `abs` on int64 with overflow checks off: |INT64_MIN| wraps to INT64_MIN.
// Going through uint64 keeps that one case defined behaviour in C++.
inline int64_t WrappingAbs(int64_t x) {
  return x < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(x)) : x;
}

// Calls visit(bit) for i = 0 .. k-1 in order, stopping early (and returning
// false) as soon as visit returns false. Requires m_bits >= 1. Every bit passed
// to visit is in [0, m_bits); a position outside it, which only hostile k and
// m_bits could produce by making hA + i*hB wrap, counts as an unset bit.
template <typename Visit>
inline bool ForEachBitIndex(const BloomKey& key, int k, int64_t m_bits, Visit&& visit) {
  const int64_t hash_a = WrappingAbs(key.h1) % m_bits;
  const int64_t hash_b = WrappingAbs(key.h2) % m_bits;
  if (hash_a < 0 || hash_b < 0) [[unlikely]] {
    for (int i = 0; i < k; ++i) {
      const int64_t bit = BloomBitIndex(key, i, m_bits);
      if (bit < 0 || bit >= m_bits || !visit(bit)) return false;
    }
    return true;
  }
  int64_t bit = hash_a;
  for (int i = 0; i < k; ++i) {
    if (!visit(bit)) return false;
    // Cannot overflow: m_bits is bounded by the memory holding the words. The
    // conditional is meant to compile to a cmov: whether the sum wraps is a coin
    // flip, and a branch on it costs more than the rest of the loop.
    bit += hash_b;
    bit = bit >= m_bits ? bit - m_bits : bit;
  }
  return true;
}

}  // namespace sds::bloom_internal

#endif  // SDS_BLOOM_BIT_POSITIONS_H_
