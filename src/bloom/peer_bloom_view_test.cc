#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>

#include "sds/bloom_filter.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using testutil::FromHex;

void PutVarint(Bytes& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

// Builds a nim-dialect filter message field by field, so tests can omit or
// corrupt any of them.
struct NimBloomMessage {
  std::optional<Bytes> words = Bytes(16, 0);
  std::optional<uint64_t> capacity = 10;
  std::optional<uint64_t> error_rate = 10000;
  std::optional<uint64_t> k = 7;
  std::optional<uint64_t> m_bits = 100;

  Bytes Encode() const {
    Bytes out;
    if (words) {
      out.push_back(0x0a);
      PutVarint(out, words->size());
      out.insert(out.end(), words->begin(), words->end());
    }
    const std::optional<uint64_t> varints[] = {capacity, error_rate, k, m_bits};
    for (int i = 0; i < 4; ++i) {
      if (!varints[i]) continue;
      out.push_back(static_cast<uint8_t>((i + 2) << 3));
      PutVarint(out, *varints[i]);
    }
    return out;
  }
};

// Hostile values are kDecodeBadBloomFilter (the message is rejected); bytes
// that do not parse are kDecodeMalformed and absent fields kDecodeMissingField
// (the filter is ignored, as nim-sds does).
void ExpectRejected(const Result<PeerBloomView>& result, std::string_view message_part,
                    ErrorCode code = ErrorCode::kDecodeBadBloomFilter) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code);
  EXPECT_NE(result.status().message().find(message_part), std::string::npos)
      << result.status().message();
}

TEST(PeerBloomViewTest, ParsesNimGoldenVector) {
  const Bytes golden = FromHex("0a10000000060000000c0000003800000000100a18904e20072864");
  Result<PeerBloomView> view = PeerBloomView::ParseNim(golden);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->dialect(), Dialect::kNim);
  EXPECT_EQ(view->params().capacity, 10);
  EXPECT_EQ(view->params().error_rate, 0.01);
  EXPECT_EQ(view->params().k, 7);
  EXPECT_EQ(view->params().m_bits, 100);
  EXPECT_TRUE(view->Contains(MakeBloomKey(Dialect::kNim, "m1")));
  EXPECT_FALSE(view->Contains(MakeBloomKey(Dialect::kNim, "m2")));
}

TEST(PeerBloomViewTest, ParsesEveryNimSerializedVector) {
  for (const auto& v : testutil::NimVectors("bloom_serialized")) {
    const Bytes bytes = FromHex(v["hex"].get<std::string>());
    Result<PeerBloomView> view = PeerBloomView::ParseNim(bytes);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->params().k, v["kHashes"].get<int>());
    EXPECT_EQ(view->params().m_bits, v["mBits"].get<int64_t>());
    for (const auto& id : v["inserted"]) {
      EXPECT_TRUE(view->Contains(MakeBloomKey(Dialect::kNim, id.get<std::string>())));
    }
  }
}

// The view answers exactly as the filter that produced the bytes, both dialects.
class PeerBloomViewAgreementTest : public testing::TestWithParam<Dialect> {};

TEST_P(PeerBloomViewAgreementTest, AgreesWithBloomFilterContains) {
  const Dialect dialect = GetParam();
  for (auto [capacity, error_rate] :
       {std::pair<int64_t, double>{10000, 0.001}, {100, 0.01}, {1, 0.5}, {777, 0.0001}}) {
    BloomFilter filter(*BloomParameters::Compute(capacity, error_rate), dialect);
    std::mt19937_64 rng(99);
    for (int64_t i = 0; i < capacity; ++i) filter.Insert("id-" + std::to_string(rng()));
    const Bytes bytes = filter.Serialize();
    Result<PeerBloomView> view = dialect == Dialect::kNim
                                     ? PeerBloomView::ParseNim(bytes)
                                     : PeerBloomView::ParseSpec(bytes, filter.params());
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->dialect(), dialect);
    for (int i = 0; i < 20000; ++i) {
      // Mix fresh ids with inserted ones replayed from the same seed.
      const BloomKey key = MakeBloomKey(dialect, "id-" + std::to_string(rng()));
      ASSERT_EQ(view->Contains(key), filter.Contains(key)) << capacity << " " << i;
    }
    std::mt19937_64 replay(99);
    for (int64_t i = 0; i < std::min<int64_t>(capacity, 2000); ++i) {
      ASSERT_TRUE(view->Contains(MakeBloomKey(dialect, "id-" + std::to_string(replay()))));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothDialects, PeerBloomViewAgreementTest,
                         testing::Values(Dialect::kNim, Dialect::kSpec),
                         [](const testing::TestParamInfo<Dialect>& param_info) {
                           return std::string(param_info.param == Dialect::kNim ? "Nim" : "Spec");
                         });

TEST(PeerBloomViewTest, RejectsZeroHashes) {
  NimBloomMessage message;
  message.k = 0;
  // nim-sds would treat every message as acknowledged.
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "k_hashes 0");
}

TEST(PeerBloomViewTest, RejectsTooManyHashes) {
  NimBloomMessage message;
  message.k = 65;
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "k_hashes 65");
  BloomParseLimits limits;
  limits.max_k = 65;
  EXPECT_TRUE(PeerBloomView::ParseNim(message.Encode(), limits).ok());
  message.k = uint64_t{1} << 40;  // would be truncated by a cast to int
  ExpectRejected(PeerBloomView::ParseNim(message.Encode(), limits), "k_hashes");
  limits.max_k = -1;
  message.k = 1;
  ExpectRejected(PeerBloomView::ParseNim(message.Encode(), limits), "k_hashes 1 outside [1, -1]");
}

TEST(PeerBloomViewTest, RejectsZeroBits) {
  NimBloomMessage message;
  message.m_bits = 0;  // nim-sds divides by zero
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "m_bits is 0");
}

TEST(PeerBloomViewTest, RejectsBitsBeyondTheWords) {
  NimBloomMessage message;  // two words: 128 bits
  message.m_bits = 128;
  EXPECT_TRUE(PeerBloomView::ParseNim(message.Encode()).ok());
  message.m_bits = 129;  // nim-sds indexes out of bounds
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "exceeds the 128 bits");
  message.m_bits = ~uint64_t{0};
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "exceeds");
  message.words = Bytes{};
  message.m_bits = 1;
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "exceeds the 0 bits");
}

TEST(PeerBloomViewTest, IgnoresAPartialTrailingWord) {
  NimBloomMessage message;
  message.words = Bytes(16 + 5, 0xff);
  message.m_bits = 128;
  Result<PeerBloomView> view = PeerBloomView::ParseNim(message.Encode());
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  message.m_bits = 129;  // the 5 extra bytes do not count as bits
  ExpectRejected(PeerBloomView::ParseNim(message.Encode()), "exceeds the 128 bits");
}

TEST(PeerBloomViewTest, RejectsEachMissingField) {
  const char* names[] = {"field 1 (words)", "field 2 (capacity)", "field 3 (error_rate)",
                         "field 4 (k_hashes)", "field 5 (m_bits)"};
  for (int missing = 0; missing < 5; ++missing) {
    NimBloomMessage message;
    if (missing == 0) message.words.reset();
    if (missing == 1) message.capacity.reset();
    if (missing == 2) message.error_rate.reset();
    if (missing == 3) message.k.reset();
    if (missing == 4) message.m_bits.reset();
    ExpectRejected(PeerBloomView::ParseNim(message.Encode()),
                   std::string(names[missing]) + " missing", ErrorCode::kDecodeMissingField);
  }
  ExpectRejected(PeerBloomView::ParseNim({}), "field 1 (words) missing",
                 ErrorCode::kDecodeMissingField);
}

TEST(PeerBloomViewTest, AFieldWithTheWrongWireTypeCountsAsMissing) {
  Bytes bytes = NimBloomMessage{.k = std::nullopt}.Encode();
  // field 4 as a length-delimited value: skipped, so k is still missing.
  const Bytes wrong_type = {0x22, 0x01, 0x07};
  bytes.insert(bytes.end(), wrong_type.begin(), wrong_type.end());
  ExpectRejected(PeerBloomView::ParseNim(bytes), "field 4 (k_hashes) missing",
                 ErrorCode::kDecodeMissingField);
}

TEST(PeerBloomViewTest, LastOccurrenceWinsAndUnknownFieldsAreSkipped) {
  Bytes bytes = NimBloomMessage{.k = 0}.Encode();
  const Bytes extra = {
      0x20, 0x03,                             // k again: 3 wins over 0
      0x30, 0x96, 0x01,                       // unknown varint field 6
      0x3a, 0x02, 0xaa, 0xbb,                 // unknown bytes field 7
      0x41, 1,    2,    3,    4, 5, 6, 7, 8,  // fixed64 field 8
      0x4d, 1,    2,    3,    4,              // fixed32 field 9
  };
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  Result<PeerBloomView> view = PeerBloomView::ParseNim(bytes);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->params().k, 3);
}

TEST(PeerBloomViewTest, RejectsMalformedProtobuf) {
  const Bytes good = NimBloomMessage{}.Encode();
  // Truncated anywhere inside a field.
  ExpectRejected(PeerBloomView::ParseNim(ByteSpan(good).first(good.size() - 1)), "",
                 ErrorCode::kDecodeMalformed);
  ExpectRejected(PeerBloomView::ParseNim(ByteSpan(good).first(5)), "truncated field 1",
                 ErrorCode::kDecodeMalformed);
  // A length running past the end.
  ExpectRejected(PeerBloomView::ParseNim(Bytes{0x0a, 0x20, 0x00}), "truncated field 1",
                 ErrorCode::kDecodeMalformed);
  // An unterminated or over-long varint.
  ExpectRejected(PeerBloomView::ParseNim(Bytes{0x10, 0x80}), "malformed varint",
                 ErrorCode::kDecodeMalformed);
  Bytes eleven_byte_varint = {0x10};
  eleven_byte_varint.insert(eleven_byte_varint.end(), 10, 0xff);
  eleven_byte_varint.push_back(0x01);
  ExpectRejected(PeerBloomView::ParseNim(eleven_byte_varint), "malformed varint",
                 ErrorCode::kDecodeMalformed);
  // Groups (wire types 3 and 4) and the undefined wire types 6 and 7.
  for (int wire_type : {3, 4, 6, 7}) {
    Bytes bytes = good;
    bytes.push_back(static_cast<uint8_t>((9 << 3) | wire_type));
    ExpectRejected(PeerBloomView::ParseNim(bytes), "wire type", ErrorCode::kDecodeMalformed);
  }
  ExpectRejected(PeerBloomView::ParseNim(Bytes{0x00, 0x00}), "field number 0",
                 ErrorCode::kDecodeMalformed);
}

TEST(PeerBloomViewTest, RejectsOversizeFilters) {
  NimBloomMessage message;
  message.words = Bytes(1024, 0);
  message.m_bits = 8192;
  const Bytes bytes = message.Encode();
  BloomParseLimits limits;
  limits.max_bytes = bytes.size();
  EXPECT_TRUE(PeerBloomView::ParseNim(bytes, limits).ok());
  limits.max_bytes = bytes.size() - 1;
  ExpectRejected(PeerBloomView::ParseNim(bytes, limits), "exceed the limit");
  // The default limit admits nim-sds's rolled-over filter (22,520 bytes).
  BloomFilter rolled(*BloomParameters::Compute(12000, 0.001), Dialect::kNim);
  EXPECT_TRUE(PeerBloomView::ParseNim(rolled.Serialize()).ok());
}

TEST(PeerBloomViewTest, SpecRequiresTheExactSize) {
  const BloomParameters expected;
  for (size_t size : {size_t{0}, size_t{1}, size_t{18744}, size_t{18751}, size_t{18753},
                      size_t{18760}, size_t{22504}}) {
    const Bytes bytes(size, 0);
    ExpectRejected(PeerBloomView::ParseSpec(bytes, expected), "expected exactly 18752");
  }
  const Bytes exact(18752, 0);
  Result<PeerBloomView> view = PeerBloomView::ParseSpec(exact, expected);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->params(), expected);
  EXPECT_EQ(view->dialect(), Dialect::kSpec);
  EXPECT_FALSE(view->Contains(MakeBloomKey(Dialect::kSpec, "anything")));
}

TEST(PeerBloomViewTest, SpecRejectsAnUnusableExpectedGeometry) {
  BloomParameters expected;
  expected.k = 0;
  const Bytes bytes(expected.word_count() * 8, 0xff);
  EXPECT_EQ(PeerBloomView::ParseSpec(bytes, expected).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sds
