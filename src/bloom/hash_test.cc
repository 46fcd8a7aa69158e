#include "sds/hash.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using testutil::FromHex;
using testutil::NimVectors;
using testutil::WakuVectors;

std::string HexU64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

TEST(HashTest, NimStringHashMatchesEveryNimVector) {
  std::vector<nlohmann::json> vectors = NimVectors("hash_string");
  ASSERT_EQ(vectors.size(), 41u);
  for (const auto& v : vectors) {
    // input_hex rather than input: the ids are bytes, and one vector is not ASCII.
    const std::string input = ToString(FromHex(v["input_hex"].get<std::string>()));
    ASSERT_EQ(input.size(), v["len"].get<size_t>());
    const int64_t hash = NimStringHash(input);
    EXPECT_EQ(hash, v["hash_i64"].get<int64_t>()) << "len " << input.size();
    EXPECT_EQ(HexU64(static_cast<uint64_t>(hash)), v["hash_u64_hex"].get<std::string>());
  }
}

TEST(HashTest, ParticipantHashIsTheStringHash) {
  for (const auto& v : NimVectors("hash_participant")) {
    EXPECT_EQ(NimStringHash(v["input"].get<std::string>()), v["hash_i64"].get<int64_t>());
  }
}

// nim-sds.md section 4.1, one input per FarmHash length branch not already above.
TEST(HashTest, NimStringHashMatchesReferenceTable) {
  EXPECT_EQ(NimStringHash(""), -7286425919675154353);
  EXPECT_EQ(NimStringHash("msg1"), -1191417451468722816);
  EXPECT_EQ(NimStringHash("msg1 b"), 2240908806621825803);
  EXPECT_EQ(NimStringHash("alicemsg1"), -7693488598144319016);
  EXPECT_EQ(NimStringHash("hello world!"), 4577883861590986596);
  EXPECT_EQ(NimStringHash("0123456789abcdef0"), 7920484519069722889);
  EXPECT_EQ(NimStringHash(std::string(40, 'x')), -1443147843654566764);
  EXPECT_EQ(NimStringHash(std::string(100, 'y')), -1325251466552523261);
  EXPECT_EQ(NimStringHash(std::string(200, 'z')), 8728890208429024092);
}

TEST(HashTest, MurmurMatchesWakuHashVectors) {
  const auto& vectors = WakuVectors()["bloomFilter"]["hashVectors"];
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    const std::string item = v["item"].get<std::string>();
    EXPECT_EQ(Murmur3x86_32Signed(item), v["murmur3_32_item"].get<int32_t>()) << item;
    EXPECT_EQ(Murmur3x86_32Signed(item + " b"), v["murmur3_32_item_plus_space_b"].get<int32_t>())
        << item;
  }
}

TEST(HashTest, MurmurIsReadAsSigned) {
  // From the waku vectors: the sign matters because the bloom takes abs().
  EXPECT_LT(Murmur3x86_32Signed(""), 1);
  EXPECT_EQ(Murmur3x86_32Signed(" b"), -547686008);
}

TEST(HashTest, BloomStringHashPicksTheDialectsHash) {
  EXPECT_EQ(BloomStringHash(Dialect::kNim, "msg1"), NimStringHash("msg1"));
  EXPECT_EQ(BloomStringHash(Dialect::kSpec, "msg1"), int64_t{Murmur3x86_32Signed("msg1")});
  EXPECT_EQ(BloomStringHash(Dialect::kSpec, " b"), -547686008);
}

}  // namespace
}  // namespace sds
