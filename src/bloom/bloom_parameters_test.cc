#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sds/bloom_filter.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

TEST(BloomParametersTest, DefaultsMatchNimSds) {
  Result<BloomParameters> params = BloomParameters::Compute(10000, 0.001);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->k, 10);
  EXPECT_EQ(params->m_bits, 150000);
  EXPECT_EQ(params->word_count(), 2344u);
  // The struct's default member values are the same geometry.
  EXPECT_EQ(*params, BloomParameters{});
}

TEST(BloomParametersTest, MatchesNimVectors) {
  for (const auto& v : testutil::NimVectors("bloom_params")) {
    SCOPED_TRACE(v.dump());
    Result<BloomParameters> params =
        BloomParameters::Compute(v["capacity"].get<int64_t>(), v["errorRate"].get<double>());
    ASSERT_TRUE(params.ok()) << params.status().ToString();
    EXPECT_EQ(params->capacity, v["capacity"].get<int64_t>());
    EXPECT_EQ(params->error_rate, v["errorRate"].get<double>());
    EXPECT_EQ(params->k, v["kHashes"].get<int>());
    EXPECT_EQ(params->m_bits, v["mBits"].get<int64_t>());
    EXPECT_EQ(params->word_count(), v["intArrayLen"].get<size_t>());
  }
}

TEST(BloomParametersTest, AlwaysKeepsOneSpareWord) {
  BloomParameters params;
  params.m_bits = 128;  // a multiple of 64 still gets an extra word, as in nim-sds
  EXPECT_EQ(params.word_count(), 3u);
  params.m_bits = 15;
  EXPECT_EQ(params.word_count(), 1u);
}

TEST(BloomParametersTest, RejectsUnusableArguments) {
  EXPECT_EQ(BloomParameters::Compute(0, 0.01).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BloomParameters::Compute(-1, 0.01).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BloomParameters::Compute(100, 0.0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BloomParameters::Compute(100, 1.0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BloomParameters::Compute(100, -0.5).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BloomParameters::Compute(100, std::nan("")).status().code(),
            ErrorCode::kInvalidArgument);
  // capacity * bits per element would overflow int64.
  EXPECT_EQ(
      BloomParameters::Compute(std::numeric_limits<int64_t>::max() / 2, 0.001).status().code(),
      ErrorCode::kInvalidArgument);
}

// nim-sds test_bloom.nim "k/m bits specification".
TEST(BloomParametersTest, GetMOverNBitsForKMatchesNimSds) {
  Result<int> too_many_hashes = GetMOverNBitsForK(13, 0.01);
  ASSERT_FALSE(too_many_hashes.ok());
  EXPECT_EQ(too_many_hashes.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(too_many_hashes.status().message(),
            "K must be <= 12 if forceNBitsPerElem is not also specified.");

  Result<int> unreachable = GetMOverNBitsForK(2, 0.00001);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().message(),
            "Specified value of k and error rate not achievable using less than 4 bytes / "
            "element.");

  EXPECT_EQ(*GetMOverNBitsForK(2, 0.1), 6);
  EXPECT_EQ(*GetMOverNBitsForK(7, 0.01), 10);
  EXPECT_EQ(*GetMOverNBitsForK(7, 0.001), 16);
}

TEST(BloomParametersTest, GetMOverNBitsForKEdges) {
  // Row 0 of the table has no usable entry, and negative k is outside 0..12.
  EXPECT_EQ(GetMOverNBitsForK(0, 0.5).status().message(),
            "Specified value of k and error rate not achievable using less than 4 bytes / "
            "element.");
  EXPECT_EQ(GetMOverNBitsForK(-1, 0.5).status().message(),
            "K must be <= 12 if forceNBitsPerElem is not also specified.");
  // The comparison is strict: 0.001 itself is tabulated at m/n = 15 for k = 7.
  EXPECT_EQ(*GetMOverNBitsForK(7, 0.0010000001), 15);
  // m/n starts at 2 even where index 2 is already below the target.
  EXPECT_EQ(*GetMOverNBitsForK(1, 0.5), 2);
  EXPECT_EQ(*GetMOverNBitsForK(12, 0.0009), 15);
  // The last column (m/n = 32) is the limit.
  EXPECT_EQ(*GetMOverNBitsForK(12, 0.0000009), 32);
  EXPECT_FALSE(GetMOverNBitsForK(12, 0.0000008).ok());
}

TEST(BloomParametersTest, ExplicitKUsesTableOrForcedBits) {
  Result<BloomParameters> forced = BloomParameters::Compute(10000, 0.001, 4, 20);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->k, 4);
  EXPECT_EQ(forced->m_bits, 200000);

  Result<BloomParameters> tabled = BloomParameters::Compute(1000, 0.01, 7);
  ASSERT_TRUE(tabled.ok());
  EXPECT_EQ(tabled->k, 7);
  EXPECT_EQ(tabled->m_bits, 10000);

  Result<BloomParameters> impossible = BloomParameters::Compute(1000, 0.01, 13);
  ASSERT_FALSE(impossible.ok());
  EXPECT_EQ(impossible.status().message(),
            "K must be <= 12 if forceNBitsPerElem is not also specified.");
}

}  // namespace
}  // namespace sds
