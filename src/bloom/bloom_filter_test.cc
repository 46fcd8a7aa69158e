#include "sds/bloom_filter.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bloom/bit_positions.h"
#include "sds/hash.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using testutil::FromHex;
using testutil::NimVectors;
using testutil::ToHex;
using testutil::WakuVectors;

BloomParameters Params(int64_t capacity, double error_rate) {
  Result<BloomParameters> params = BloomParameters::Compute(capacity, error_rate);
  EXPECT_TRUE(params.ok()) << params.status().ToString();
  return params.ok() ? *params : BloomParameters{};
}

std::vector<int64_t> SortedUnique(std::vector<int64_t> bits) {
  std::sort(bits.begin(), bits.end());
  bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
  return bits;
}

std::vector<int64_t> BitIndices(Dialect dialect, std::string_view id, int k, int64_t m_bits) {
  std::vector<int64_t> bits;
  const BloomKey key = MakeBloomKey(dialect, id);
  for (int i = 0; i < k; ++i) bits.push_back(BloomBitIndex(key, i, m_bits));
  return bits;
}

// ---------------------------------------------------------------------------
// Bit positions

// nim-sds.md Appendix A: hashN per i, in order.
TEST(BloomBitIndexTest, MatchesNimHashNInOrder) {
  EXPECT_EQ(
      BitIndices(Dialect::kNim, "msg1", 10, 150000),
      (std::vector<int64_t>{72816, 148619, 74422, 225, 76028, 1831, 77634, 3437, 79240, 5043}));
  EXPECT_EQ(BitIndices(Dialect::kNim, "m1", 7, 100),
            (std::vector<int64_t>{91, 58, 25, 92, 59, 26, 93}));
}

TEST(BloomBitIndexTest, MatchesWakuHashVectorsInOrder) {
  for (const auto& v : WakuVectors()["bloomFilter"]["hashVectors"]) {
    const std::string item = v["item"].get<std::string>();
    EXPECT_EQ(BitIndices(Dialect::kSpec, item, v["k"].get<int>(), v["maxValue"].get<int64_t>()),
              v["bitIndices"].get<std::vector<int64_t>>())
        << item;
  }
}

TEST(BloomBitIndexTest, NimAbsWrapsAtInt64Min) {
  // abs(INT64_MIN) stays INT64_MIN in Nim, so hashA is INT64_MIN % m (<= 0), and
  // the position is |hashA + i*hashB| % m. With m = 1000: INT64_MIN % 1000 = -808.
  const BloomKey key{std::numeric_limits<int64_t>::min(), 5};
  EXPECT_EQ(BloomBitIndex(key, 0, 1000), 808);
  EXPECT_EQ(BloomBitIndex(key, 100, 1000), 308);  // |-808 + 500| = 308
  EXPECT_EQ(BloomBitIndex(key, 200, 1000), 192);  // -808 + 1000
  // hashB = 0 puts every position on hashA.
  const BloomKey flat{12345, 0};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(BloomBitIndex(flat, i, 1000), 345);
}

TEST(BloomBitIndexTest, FastEnumerationEqualsReference) {
  std::mt19937_64 rng(7);
  std::vector<BloomKey> keys = {
      {std::numeric_limits<int64_t>::min(), 77},
      {77, std::numeric_limits<int64_t>::min()},
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()},
      {std::numeric_limits<int64_t>::max(), -1},
      {0, 0},
      {-5, 3},
  };
  for (int n = 0; n < 2000; ++n) {
    keys.push_back({static_cast<int64_t>(rng()), static_cast<int64_t>(rng())});
    keys.push_back({Murmur3x86_32Signed(std::to_string(n)), static_cast<int32_t>(rng())});
  }
  for (int64_t m_bits : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{100}, int64_t{150000},
                         int64_t{180000}, int64_t{1} << 40}) {
    for (const BloomKey& key : keys) {
      std::vector<int64_t> fast;
      bloom_internal::ForEachBitIndex(key, 12, m_bits, [&](int64_t bit) {
        fast.push_back(bit);
        return true;
      });
      std::vector<int64_t> reference;
      for (int i = 0; i < 12; ++i) reference.push_back(BloomBitIndex(key, i, m_bits));
      ASSERT_EQ(fast, reference) << key.h1 << " " << key.h2 << " m " << m_bits;
    }
  }
}

TEST(BloomBitIndexTest, LongIdsHashLikeTheirConcatenation) {
  // Short ids use a stack buffer for `id + " b"`, long ones the heap; both must
  // hash the same bytes.
  for (size_t length : {0u, 1u, 63u, 64u, 511u, 512u, 513u, 4000u}) {
    const std::string id(length, 'q');
    for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
      const BloomKey key = MakeBloomKey(dialect, id);
      EXPECT_EQ(key.h1, BloomStringHash(dialect, id));
      EXPECT_EQ(key.h2, BloomStringHash(dialect, id + " b")) << length;
    }
  }
}

// ---------------------------------------------------------------------------
// nim dialect against nim-sds's vectors

TEST(BloomFilterNimVectorsTest, BitsForEachId) {
  for (const auto& v : NimVectors("bloom_bits_for_id")) {
    SCOPED_TRACE(v.dump());
    BloomParameters params = Params(v["capacity"].get<int64_t>(), v["errorRate"].get<double>());
    ASSERT_EQ(params.k, v["kHashes"].get<int>());
    ASSERT_EQ(params.m_bits, v["mBits"].get<int64_t>());
    BloomFilter filter(params, Dialect::kNim);
    filter.Insert(v["id"].get<std::string>());
    EXPECT_EQ(filter.SetBits(), v["setBits"].get<std::vector<int64_t>>());
    EXPECT_EQ(SortedUnique(
                  BitIndices(Dialect::kNim, v["id"].get<std::string>(), params.k, params.m_bits)),
              v["setBits"].get<std::vector<int64_t>>());
  }
}

TEST(BloomFilterNimVectorsTest, SerializedBytes) {
  std::vector<nlohmann::json> vectors = NimVectors("bloom_serialized");
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["name"].get<std::string>());
    BloomParameters params = Params(v["capacity"].get<int64_t>(), v["errorRate"].get<double>());
    EXPECT_EQ(params.k, v["kHashes"].get<int>());
    EXPECT_EQ(params.m_bits, v["mBits"].get<int64_t>());
    EXPECT_EQ(params.word_count(), v["intArrayLen"].get<size_t>());
    BloomFilter filter(params, Dialect::kNim);
    for (const auto& id : v["inserted"]) filter.Insert(id.get<std::string>());

    EXPECT_EQ(filter.SetBits(), v["setBits"].get<std::vector<int64_t>>());
    const Bytes bytes = filter.Serialize();
    EXPECT_EQ(bytes.size(), v["bytes_len"].get<size_t>());
    EXPECT_EQ(filter.SerializedSize(), bytes.size());
    EXPECT_EQ(ToHex(bytes), v["hex"].get<std::string>());
  }
}

TEST(BloomFilterNimVectorsTest, DefaultFilterIs18768Bytes) {
  BloomFilter filter(BloomParameters{}, Dialect::kNim);
  const Bytes bytes = filter.Serialize();
  ASSERT_EQ(bytes.size(), 18768u);
  // 0a c0 92 01 <18752 bytes> 10 90 4e 18 e8 07 20 0a 28 f0 93 09
  EXPECT_EQ(ToHex(ByteSpan(bytes).first(4)), "0ac09201");
  EXPECT_EQ(ToHex(ByteSpan(bytes).last(12)), "10904e18e807200a28f09309");
}

// nim-sds.md section 3.3 golden vector.
TEST(BloomFilterNimVectorsTest, SmallGoldenVector) {
  BloomParameters params = Params(10, 0.01);
  ASSERT_EQ(params.k, 7);
  ASSERT_EQ(params.m_bits, 100);
  BloomFilter filter(params, Dialect::kNim);
  filter.Insert("m1");
  EXPECT_EQ(filter.SetBits(), (std::vector<int64_t>{25, 26, 58, 59, 91, 92, 93}));
  EXPECT_EQ(ToHex(filter.Serialize()), "0a10000000060000000c0000003800000000100a18904e20072864");
}

TEST(BloomFilterNimVectorsTest, Msg1InDefaultFilter) {
  BloomFilter filter(BloomParameters{}, Dialect::kNim);
  filter.Insert("msg1");
  EXPECT_EQ(filter.SetBits(), (std::vector<int64_t>{225, 1831, 3437, 5043, 72816, 74422, 76028,
                                                    77634, 79240, 148619}));
}

TEST(BloomFilterNimVectorsTest, Lookups) {
  std::map<std::string, BloomFilter> filters;
  for (const auto& v : NimVectors("bloom_serialized")) {
    BloomFilter filter(Params(v["capacity"].get<int64_t>(), v["errorRate"].get<double>()),
                       Dialect::kNim);
    for (const auto& id : v["inserted"]) filter.Insert(id.get<std::string>());
    filters.emplace(v["name"].get<std::string>(), filter);
  }
  for (const auto& v : NimVectors("bloom_lookup")) {
    auto it = filters.find(v["name"].get<std::string>());
    ASSERT_NE(it, filters.end()) << v.dump();
    EXPECT_EQ(it->second.Contains(v["query"].get<std::string>()), v["contains"].get<bool>())
        << v.dump();
  }
}

TEST(BloomFilterNimVectorsTest, RoundTripThroughPeerView) {
  for (const auto& v : NimVectors("bloom_roundtrip")) {
    BloomParameters params = Params(v["capacity"].get<int64_t>(), v["errorRate"].get<double>());
    ASSERT_EQ(params.k, v["kHashes"].get<int>());
    ASSERT_EQ(params.m_bits, v["mBits"].get<int64_t>());
    BloomFilter filter(params, Dialect::kNim);
    for (int i = 0; i < 50; ++i) filter.Insert("rt" + std::to_string(i));
    const Bytes bytes = filter.Serialize();
    Result<PeerBloomView> view = PeerBloomView::ParseNim(bytes);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->params(), params);
    for (int i = 0; i < 200; ++i) {
      const BloomKey key = MakeBloomKey(Dialect::kNim, "rt" + std::to_string(i));
      EXPECT_EQ(view->Contains(key), filter.Contains(key)) << i;
    }
  }
}

// ---------------------------------------------------------------------------
// spec dialect against @waku/sds's messages

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr), 1);
  return ToHex(ByteSpan(digest, length));
}

std::string WakuMessageId(std::string_view vector_name) {
  for (const auto& v : WakuVectors()["vectors"]) {
    if (v["name"] == vector_name) return v["decoded"]["messageId"].get<std::string>();
  }
  ADD_FAILURE() << "no waku vector " << vector_name;
  return "";
}

// The bloom field's value inside a vector's message bytes, located through the
// vector's wire.fields (offset points at the field's key).
ByteSpan BloomFieldValue(const nlohmann::json& vector, const Bytes& message) {
  for (const auto& field : vector["wire"]["fields"]) {
    if (field["field"].get<int>() != 12) continue;
    size_t pos = field["offset"].get<size_t>() + field["tagHex"].get<std::string>().size() / 2;
    const size_t length = field["length"].get<size_t>();
    for (size_t rest = length; rest >= 0x80; rest >>= 7) ++pos;
    ++pos;  // the last length byte
    EXPECT_LE(pos + length, message.size());
    return ByteSpan(message).subspan(pos, length);
  }
  ADD_FAILURE() << "no bloom field in " << vector["name"];
  return {};
}

TEST(BloomFilterWakuVectorsTest, MessagesCarryTheFilterOfTheIdsTheSenderSaw) {
  // @waku/sds ids are the hex SHA-256 of the payload. Which ids each sender had
  // received or sent follows from the vectors' producedBy scripts.
  const std::string a1 = WakuMessageId("content_first");
  const std::string b1 = WakuMessageId("content_with_causal_history_and_bloom");
  const std::string a2 = WakuMessageId("content_two_history_entries");
  const std::string after_lost = Sha256Hex("after the lost one");  // buffered by bob
  const std::map<std::string, std::vector<std::string>> seen_ids = {
      {"content_first", {}},
      {"content_with_causal_history_and_bloom", {a1}},
      {"content_two_history_entries", {a1, b1}},
      {"sync", {a1, b1, a2}},
      {"content_with_repair_request", {a1, b1, a2, after_lost}},
  };

  int checked = 0;
  for (const auto& v : WakuVectors()["vectors"]) {
    const auto& decoded_bloom = v["decoded"]["bloomFilter"];
    if (decoded_bloom.is_null() || decoded_bloom["length"].get<size_t>() != 18752) continue;
    const std::string name = v["name"].get<std::string>();
    SCOPED_TRACE(name);
    auto ids = seen_ids.find(name);
    ASSERT_NE(ids, seen_ids.end()) << "vector without a known id list";

    BloomFilter filter(BloomParameters{}, Dialect::kSpec);
    for (const std::string& id : ids->second) filter.Insert(id);
    EXPECT_EQ(filter.SetBits(), decoded_bloom["setBits"].get<std::vector<int64_t>>());

    const Bytes serialized = filter.Serialize();
    ASSERT_EQ(serialized.size(), 18752u);
    EXPECT_EQ(filter.SerializedSize(), 18752u);
    EXPECT_EQ(Sha256Hex(ToString(serialized)), decoded_bloom["sha256"].get<std::string>());
    const Bytes message = FromHex(v["bytes"].get<std::string>());
    const ByteSpan on_wire = BloomFieldValue(v, message);
    EXPECT_TRUE(std::equal(serialized.begin(), serialized.end(), on_wire.begin(), on_wire.end()));

    // And the received bytes, read in place, answer for the same ids.
    Result<PeerBloomView> view = PeerBloomView::ParseSpec(on_wire, BloomParameters{});
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    for (const std::string& id : ids->second) {
      EXPECT_TRUE(view->Contains(MakeBloomKey(Dialect::kSpec, id))) << id;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(BloomFilterWakuVectorsTest, SpecWordsAreBigEndian) {
  // small_all_fields: bit 0 of word 0 and bit 63 of word 1 are "0000000000000001" and
  // "8000000000000000" on the wire. A 128-bit geometry (3 words) shows the same layout.
  BloomParameters params;
  params.capacity = 1;
  params.k = 1;
  params.m_bits = 128;
  BloomFilter filter(params, Dialect::kSpec);
  filter.Insert(BloomKey{0, 0});    // bit 0
  filter.Insert(BloomKey{127, 0});  // bit 127
  EXPECT_EQ(filter.SetBits(), (std::vector<int64_t>{0, 127}));
  EXPECT_EQ(ToHex(filter.Serialize()),
            "0000000000000001"
            "8000000000000000"
            "0000000000000000");
}

// ---------------------------------------------------------------------------
// General behaviour

TEST(BloomFilterTest, NimWordsAreLittleEndian) {
  BloomParameters params;
  params.capacity = 1;
  params.k = 1;
  params.m_bits = 128;
  BloomFilter filter(params, Dialect::kNim);
  filter.Insert(BloomKey{0, 0});
  filter.Insert(BloomKey{127, 0});
  EXPECT_EQ(filter.words(), (std::vector<uint64_t>{1, uint64_t{1} << 63, 0}));
  // 0a 18 <24 bytes> 10 01 18 e8 07 20 01 28 80 01
  EXPECT_EQ(ToHex(filter.Serialize()),
            "0a18"
            "0100000000000000"
            "0000000000000080"
            "0000000000000000"
            "1001"
            "18e807"
            "2001"
            "288001");
}

TEST(BloomFilterTest, AppendSerializedAppends) {
  for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
    BloomFilter filter(Params(100, 0.01), dialect);
    filter.Insert("x");
    Bytes out = {0xde, 0xad};
    filter.AppendSerialized(out);
    const Bytes alone = filter.Serialize();
    ASSERT_EQ(out.size(), 2 + alone.size());
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), out.begin() + 2));
    EXPECT_EQ(filter.SerializedSize(), alone.size());
  }
}

TEST(BloomFilterTest, ErrorRateIsWrittenTruncated) {
  BloomParameters params = Params(10, 0.000249);
  BloomFilter filter(params, Dialect::kNim);
  const Bytes bytes = filter.Serialize();
  // uint64(0.000249 * 1e6) = 248 in Nim (the product is 248.99999999999997).
  const std::string hex = ToHex(bytes);
  EXPECT_NE(hex.find("18f801"), std::string::npos) << hex;
}

TEST(BloomFilterTest, ZeroHashesContainEverything) {
  BloomParameters params = Params(10, 0.01);
  params.k = 0;
  BloomFilter filter(params, Dialect::kNim);
  EXPECT_TRUE(filter.Contains("anything"));
}

TEST(BloomFilterTest, ToStringMatchesNimFormat) {
  Result<BloomParameters> params = BloomParameters::Compute(1000, 0.01, 4);
  ASSERT_TRUE(params.ok());
  BloomFilter filter(*params, Dialect::kNim);
  const std::string text = filter.ToString();
  EXPECT_NE(text.find("1000"), std::string::npos);
  EXPECT_NE(text.find("4 hash"), std::string::npos);
  EXPECT_NE(text.find("1.0e-02"), std::string::npos);
  // getMOverNBitsForK(4, 0.01) = 11 bits per element.
  EXPECT_EQ(text,
            "Bloom filter with 1000 capacity, 1.0e-02 error rate, 4 hash functions, and "
            "requiring 11 bits of memory.");
}

}  // namespace
}  // namespace sds
