#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sds/bloom_filter.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using testutil::NimVectors;
using testutil::ToHex;

std::vector<std::string> Messages(const RollingBloomFilter& rolling) {
  return {rolling.messages().begin(), rolling.messages().end()};
}

TEST(RollingBloomFilterTest, ClampsArgumentsLikeNimSds) {
  for (const auto& v : NimVectors("rolling_bloom_init")) {
    SCOPED_TRACE(v.dump());
    RollingBloomFilter rolling(v["argCapacity"].get<int64_t>(), v["argErrorRate"].get<double>(),
                               Dialect::kNim);
    EXPECT_EQ(rolling.capacity(), v["capacity"].get<int64_t>());
    EXPECT_EQ(rolling.min_capacity(), v["minCapacity"].get<int64_t>());
    EXPECT_EQ(rolling.max_capacity(), v["maxCapacity"].get<int64_t>());
    const BloomParameters& params = rolling.filter().params();
    EXPECT_EQ(params.capacity, v["filterCapacity"].get<int64_t>());
    EXPECT_EQ(params.error_rate, v["filterErrorRate"].get<double>());
    EXPECT_EQ(params.k, v["kHashes"].get<int>());
    EXPECT_EQ(params.m_bits, v["mBits"].get<int64_t>());
    EXPECT_TRUE(rolling.messages().empty());
  }
}

TEST(RollingBloomFilterTest, NaNErrorRateBecomesTheDefault) {
  RollingBloomFilter rolling(100, std::nan(""), Dialect::kNim);
  EXPECT_EQ(rolling.filter().params().error_rate, 0.001);
}

TEST(RollingBloomFilterTest, SmallCapacitiesTruncate) {
  RollingBloomFilter rolling(2, 0.01, Dialect::kNim);
  EXPECT_EQ(rolling.min_capacity(), 1);
  EXPECT_EQ(rolling.max_capacity(), 2);
}

TEST(RollingBloomFilterTest, CleanMatchesNimVectors) {
  for (const auto& v : NimVectors("rolling_bloom_after_clean")) {
    SCOPED_TRACE(v.dump());
    RollingBloomFilter rolling(v["capacity"].get<int64_t>(), v["errorRate"].get<double>(),
                               Dialect::kNim);
    for (const auto& id : v["added"]) rolling.Add(id.get<std::string>());
    EXPECT_EQ(Messages(rolling), v["messages"].get<std::vector<std::string>>());
    const BloomParameters& params = rolling.filter().params();
    EXPECT_EQ(params.capacity, v["filterCapacity"].get<int64_t>());
    EXPECT_EQ(params.k, v["kHashes"].get<int>());
    EXPECT_EQ(params.m_bits, v["mBits"].get<int64_t>());
    EXPECT_EQ(ToHex(rolling.filter().Serialize()), v["hex"].get<std::string>());
    // capacity/min/max never change.
    EXPECT_EQ(rolling.capacity(), v["capacity"].get<int64_t>());
  }
}

TEST(RollingBloomFilterTest, NimRollOverKeepsTheNewest8000AndGrows) {
  RollingBloomFilter rolling(10000, 0.001, Dialect::kNim);
  for (int i = 0; i < 12000; ++i) rolling.Add("id" + std::to_string(i));
  EXPECT_EQ(rolling.messages().size(), 12000u);  // at max_capacity: not yet rolled
  EXPECT_EQ(rolling.filter().params().capacity, 10000);

  rolling.Add("id12000");
  EXPECT_EQ(rolling.messages().size(), 8000u);
  EXPECT_EQ(rolling.messages().front(), "id4001");
  EXPECT_EQ(rolling.messages().back(), "id12000");
  EXPECT_FALSE(rolling.Contains("id0"));
  EXPECT_FALSE(rolling.Contains("id4000"));
  EXPECT_TRUE(rolling.Contains("id4001"));
  EXPECT_TRUE(rolling.Contains("id12000"));

  // nim-sds rebuilds with capacity max_capacity: 180000 bits, 2813 words.
  const BloomParameters& params = rolling.filter().params();
  EXPECT_EQ(params.capacity, 12000);
  EXPECT_EQ(params.m_bits, 180000);
  EXPECT_EQ(params.word_count(), 2813u);
  EXPECT_EQ(rolling.filter().SerializedSize(), 22520u);
  EXPECT_EQ(rolling.filter().Serialize().size(), 22520u);
  EXPECT_EQ(rolling.capacity(), 10000);
  EXPECT_EQ(rolling.min_capacity(), 8000);
  EXPECT_EQ(rolling.max_capacity(), 12000);
}

// kFixedGeometry (the spec dialect's default): rebuilt as soon as it holds
// more than `capacity` ids, with the configured geometry.
TEST(RollingBloomFilterTest, SpecRollOverKeepsTheGeometry) {
  RollingBloomFilter rolling(10000, 0.001, Dialect::kSpec);
  EXPECT_EQ(rolling.roll_over(), BloomRollOver::kFixedGeometry);
  const BloomParameters original = rolling.filter().params();
  for (int i = 0; i < 10000; ++i) rolling.Add("id" + std::to_string(i));
  EXPECT_EQ(rolling.messages().size(), 10000u);  // at capacity: not yet
  rolling.Add("id10000");
  EXPECT_EQ(rolling.messages().size(), 8000u);
  EXPECT_EQ(rolling.filter().params(), original);
  EXPECT_EQ(rolling.filter().dialect(), Dialect::kSpec);
  EXPECT_EQ(rolling.filter().Serialize().size(), 18752u);
  EXPECT_FALSE(rolling.Contains("id0"));
  EXPECT_FALSE(rolling.Contains("id2000"));
  EXPECT_TRUE(rolling.Contains("id2001"));
  // Receivers of the spec dialect still accept it.
  EXPECT_TRUE(PeerBloomView::ParseSpec(rolling.filter().Serialize(), original).ok());
}

// The engine's default for both dialects: a nim-dialect filter that keeps its
// geometry stays 18,768 bytes on the wire instead of growing to 22,520.
TEST(RollingBloomFilterTest, NimFixedGeometryKeepsTheWireSize) {
  RollingBloomFilter fixed(10000, 0.001, Dialect::kNim, BloomRollOver::kFixedGeometry);
  RollingBloomFilter nim(10000, 0.001, Dialect::kNim);
  EXPECT_EQ(nim.roll_over(), BloomRollOver::kNimSds);
  for (int i = 0; i < 12001; ++i) {
    fixed.Add("id" + std::to_string(i));
    nim.Add("id" + std::to_string(i));
  }
  EXPECT_EQ(fixed.filter().Serialize().size(), 18768u);
  EXPECT_EQ(nim.filter().Serialize().size(), 22520u);
  EXPECT_EQ(fixed.filter().params().capacity, 10000);
  EXPECT_LE(static_cast<int64_t>(fixed.messages().size()), fixed.capacity());
  EXPECT_TRUE(fixed.Contains("id12000"));
}

TEST(RollingBloomFilterTest, RebuiltFilterEqualsAFreshFilterOfTheKeptIds) {
  for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
    RollingBloomFilter rolling(100, 0.01, dialect);
    // nim-sds rebuilds above 120 ids, the fixed geometry above 100.
    const int added = dialect == Dialect::kNim ? 121 : 101;
    for (int i = 0; i < added; ++i) rolling.Add("m" + std::to_string(i));
    ASSERT_EQ(rolling.messages().size(), 80u);
    BloomFilter fresh(rolling.filter().params(), dialect);
    for (int i = added - 80; i < added; ++i) fresh.Insert("m" + std::to_string(i));
    EXPECT_EQ(rolling.filter().words(), fresh.words());
  }
}

TEST(RollingBloomFilterTest, DuplicatesAreKeptAndCount) {
  RollingBloomFilter rolling(10, 0.01, Dialect::kNim);  // min 8, max 12
  for (int i = 0; i < 12; ++i) rolling.Add("same");
  EXPECT_EQ(rolling.messages().size(), 12u);
  rolling.Add("other");
  EXPECT_EQ(Messages(rolling), (std::vector<std::string>{"same", "same", "same", "same", "same",
                                                         "same", "same", "other"}));
  EXPECT_TRUE(rolling.Contains("same"));
  EXPECT_TRUE(rolling.Contains("other"));
}

TEST(RollingBloomFilterTest, CleanBelowMaximumDoesNothing) {
  RollingBloomFilter rolling(10, 0.01, Dialect::kNim);
  for (int i = 0; i < 12; ++i) rolling.Add("id" + std::to_string(i));
  const std::vector<uint64_t> words = rolling.filter().words();
  rolling.Clean();
  EXPECT_EQ(rolling.messages().size(), 12u);
  EXPECT_EQ(rolling.filter().words(), words);
  EXPECT_EQ(rolling.filter().params().capacity, 10);
}

}  // namespace
}  // namespace sds
