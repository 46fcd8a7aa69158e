// Filter geometry with nim-sds's `initializeBloomFilter` / `getMOverNBitsForK`
// rules. Every floating-point step mirrors the Nim expression so that the
// resulting k and m_bits, and therefore bit positions and wire sizes, match.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "bloom/false_positive_table.h"
#include "sds/bloom_filter.h"

namespace sds {

Result<int> GetMOverNBitsForK(int k, double error_rate) {
  const auto& table = bloom_internal::kFalsePositiveRates;
  if (k < 0 || static_cast<size_t>(k) >= table.size()) {
    return Status(ErrorCode::kInvalidArgument,
                  "K must be <= 12 if forceNBitsPerElem is not also specified.");
  }
  std::span<const double> row = table[static_cast<size_t>(k)];
  // m/n of 0 and 1 are never offered, as in nim-sds.
  for (size_t bits_per_element = 2; bits_per_element < row.size(); ++bits_per_element) {
    if (row[bits_per_element] < error_rate) return static_cast<int>(bits_per_element);
  }
  return Status(ErrorCode::kInvalidArgument,
                "Specified value of k and error rate not achievable using less than 4 bytes / "
                "element.");
}

Result<BloomParameters> BloomParameters::Compute(int64_t capacity, double error_rate, int k,
                                                 int force_bits_per_element) {
  if (capacity < 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "bloom filter capacity must be >= 1, got " + std::to_string(capacity));
  }
  // Written so that NaN fails too.
  if (!(error_rate > 0.0 && error_rate < 1.0)) {
    return Status(ErrorCode::kInvalidArgument,
                  "bloom filter error rate must be in (0, 1), got " + std::to_string(error_rate));
  }

  BloomParameters params;
  params.capacity = capacity;
  params.error_rate = error_rate;
  int64_t bits_per_element = 0;
  if (k < 1) {
    // Same operation order as nim-sds (`-1.0 * (ln(p) / pow(ln(2), 2))`), so the
    // double rounds identically before ceil.
    const double ln2 = std::log(2.0);
    const double exact_bits = std::ceil(-1.0 * (std::log(error_rate) / std::pow(ln2, 2)));
    // std::round rounds half away from zero, like Nim's `round`.
    params.k = static_cast<int>(std::round(ln2 * exact_bits));
    bits_per_element = static_cast<int64_t>(std::round(exact_bits));
  } else {
    if (force_bits_per_element >= 1) {
      bits_per_element = force_bits_per_element;
    } else {
      Result<int> from_table = GetMOverNBitsForK(k, error_rate);
      if (!from_table.ok()) return from_table.status();
      bits_per_element = *from_table;
    }
    params.k = k;
  }

  // Nim would silently wrap; a wrapped size would allocate garbage, so refuse.
  if (capacity > std::numeric_limits<int64_t>::max() / bits_per_element) {
    return Status(ErrorCode::kInvalidArgument,
                  "bloom filter too large: capacity " + std::to_string(capacity) + " x " +
                      std::to_string(bits_per_element) + " bits per element overflows");
  }
  params.m_bits = capacity * bits_per_element;
  return params;
}

}  // namespace sds
