// The false-positive table behind nim-sds's `getMOverNBitsForK`.
//
// Row k holds, at index m/n (bits per element), the false-positive rate of a
// bloom filter with k hash functions; it is the classic summary-cache table
// (Fan, Cao, Almeida, Broder) that nim-sds ships as `kErrors`. Entries of 1.0
// mark sizes too small to tabulate. The values must stay exactly these: the first
// index whose rate is below the target decides the filter geometry, and so the
// wire size and bit positions a nim-sds peer expects.
#ifndef SDS_BLOOM_FALSE_POSITIVE_TABLE_H_
#define SDS_BLOOM_FALSE_POSITIVE_TABLE_H_

#include <array>
#include <span>

namespace sds::bloom_internal {

// Row 0 has a single entry, so no m/n is ever found for k = 0 (as in nim-sds).
inline constexpr double kFalsePositiveRateK0[] = {
    1.0,
};
inline constexpr double kFalsePositiveRateK1[] = {
    1.0,    1.0,    0.393,  0.283,  0.221,  0.181,  0.154,  0.133,  0.118,  0.105,  0.0952,
    0.0869, 0.08,   0.074,  0.0689, 0.0645, 0.0606, 0.0571, 0.054,  0.0513, 0.0488, 0.0465,
    0.0444, 0.0425, 0.0408, 0.0392, 0.0377, 0.0364, 0.0351, 0.0339, 0.0328, 0.0317, 0.0308,
};
inline constexpr double kFalsePositiveRateK2[] = {
    1.0,    1.0,     0.4,     0.237,   0.155,   0.109,   0.0804,  0.0618,  0.0489,
    0.0397, 0.0329,  0.0276,  0.0236,  0.0203,  0.0177,  0.0156,  0.0138,  0.0123,
    0.0111, 0.00998, 0.00906, 0.00825, 0.00755, 0.00694, 0.00639, 0.00591, 0.00548,
    0.0051, 0.00475, 0.00444, 0.00416, 0.0039,  0.00367,
};
inline constexpr double kFalsePositiveRateK3[] = {
    1.0,     1.0,     1.0,      0.253,    0.147,    0.092,    0.0609,  0.0423,  0.0306,
    0.0228,  0.0174,  0.0136,   0.0108,   0.00875,  0.00718,  0.00596, 0.005,   0.00423,
    0.00362, 0.00312, 0.0027,   0.00236,  0.00207,  0.00183,  0.00162, 0.00145, 0.00129,
    0.00116, 0.00105, 0.000949, 0.000862, 0.000785, 0.000717,
};
inline constexpr double kFalsePositiveRateK4[] = {
    1.0,      1.0,      1.0,      1.0,      0.16,     0.092,    0.0561,   0.0359,   0.024,
    0.0166,   0.0118,   0.00864,  0.00646,  0.00492,  0.00381,  0.003,    0.00239,  0.00193,
    0.00158,  0.0013,   0.00108,  0.000905, 0.000764, 0.000649, 0.000555, 0.000478, 0.000413,
    0.000359, 0.000314, 0.000276, 0.000243, 0.000215, 0.000191,
};
inline constexpr double kFalsePositiveRateK5[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      0.101,    0.0578,   0.0347,   0.0217,
    0.0141,   0.00943,  0.0065,   0.00459,  0.00332,  0.00244,  0.00183,  0.00139,  0.00107,
    0.000839, 0.000663, 0.00053,  0.000427, 0.000347, 0.000285, 0.000235, 0.000196, 0.000164,
    0.000138, 0.000117, 9.96e-05, 8.53e-05, 7.33e-05, 6.33e-05,
};
inline constexpr double kFalsePositiveRateK6[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      0.0638,   0.0364,   0.0216,
    0.0133,   0.00844,  0.00552,  0.00371,  0.00255,  0.00179,  0.00128,  0.000935, 0.000692,
    0.000519, 0.000394, 0.000303, 0.000236, 0.000185, 0.000147, 0.000117, 9.44e-05, 7.66e-05,
    6.26e-05, 5.15e-05, 4.26e-05, 3.55e-05, 2.97e-05, 2.5e-05,
};
inline constexpr double kFalsePositiveRateK7[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      0.0229,
    0.0135,   0.00819,  0.00513,  0.00329,  0.00217,  0.00146,  0.001,    0.000702, 0.000499,
    0.00036,  0.000264, 0.000196, 0.000147, 0.000112, 8.56e-05, 6.63e-05, 5.18e-05, 4.08e-05,
    3.24e-05, 2.59e-05, 2.09e-05, 1.69e-05, 1.38e-05, 1.13e-05,
};
inline constexpr double kFalsePositiveRateK8[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,
    0.0145,   0.00846,  0.00509,  0.00314,  0.00199,  0.00129,  0.000852, 0.000574, 0.000394,
    0.000275, 0.000194, 0.00014,  0.000101, 7.46e-05, 5.55e-05, 4.17e-05, 3.16e-05, 2.42e-05,
    1.87e-05, 1.46e-05, 1.14e-05, 9.01e-06, 7.16e-06, 5.73e-06,
};
inline constexpr double kFalsePositiveRateK9[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,
    1.0,      1.0,      0.00531,  0.00317,  0.00194,  0.00121,  0.000775, 0.000505, 0.000335,
    0.000226, 0.000155, 0.000108, 7.59e-05, 5.42e-05, 3.92e-05, 2.86e-05, 2.11e-05, 1.57e-05,
    1.18e-05, 8.96e-06, 6.85e-06, 5.28e-06, 4.1e-06,  3.2e-06,
};
inline constexpr double kFalsePositiveRateK10[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,
    1.0,      1.0,      1.0,      0.00334,  0.00198,  0.0012,   0.000744, 0.00047,  0.000302,
    0.000198, 0.000132, 8.89e-05, 6.09e-05, 4.23e-05, 2.97e-05, 2.11e-05, 1.52e-05, 1.1e-05,
    8.07e-06, 5.97e-06, 4.45e-06, 3.35e-06, 2.54e-06, 1.94e-06,
};
inline constexpr double kFalsePositiveRateK11[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,
    1.0,      1.0,      1.0,      1.0,      0.0021,   0.00124,  0.000747, 0.000459, 0.000287,
    0.000183, 0.000118, 7.77e-05, 5.18e-05, 3.5e-05,  2.4e-05,  1.66e-05, 1.16e-05, 8.23e-06,
    5.89e-06, 4.25e-06, 3.1e-06,  2.28e-06, 1.69e-06, 1.26e-06,
};
inline constexpr double kFalsePositiveRateK12[] = {
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      1.0,
    1.0,      1.0,      1.0,      1.0,      1.0,      1.0,      0.000778, 0.000466, 0.000284,
    0.000176, 0.000111, 7.12e-05, 4.63e-05, 3.05e-05, 2.04e-05, 1.38e-05, 9.42e-06, 6.52e-06,
    4.56e-06, 3.22e-06, 2.29e-06, 1.65e-06, 1.2e-06,  8.74e-07,
};

// Indexed by k (0..12); each row by bits per element.
inline constexpr std::array<std::span<const double>, 13> kFalsePositiveRates = {
    kFalsePositiveRateK0,  kFalsePositiveRateK1, kFalsePositiveRateK2,  kFalsePositiveRateK3,
    kFalsePositiveRateK4,  kFalsePositiveRateK5, kFalsePositiveRateK6,  kFalsePositiveRateK7,
    kFalsePositiveRateK8,  kFalsePositiveRateK9, kFalsePositiveRateK10, kFalsePositiveRateK11,
    kFalsePositiveRateK12,
};

}  // namespace sds::bloom_internal

#endif  // SDS_BLOOM_FALSE_POSITIVE_TABLE_H_
