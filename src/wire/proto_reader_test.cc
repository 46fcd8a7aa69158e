#include "wire/proto_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testutil/vectors.h"
#include "wire/proto_writer.h"

namespace sds::wire {
namespace {

// Hex with optional spaces between fields, for readability.
Bytes FromHex(std::string_view spaced_hex) {
  std::string hex;
  for (char c : spaced_hex) {
    if (c != ' ') hex.push_back(c);
  }
  return testutil::FromHex(hex);
}

// Reads every field of `bytes`, stopping at the first error.
Status ReadAll(ByteSpan bytes, std::vector<Field>* fields = nullptr) {
  ProtoReader reader(bytes);
  while (!reader.done()) {
    Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    if (fields != nullptr) fields->push_back(field);
  }
  return Status::Ok();
}

Result<uint64_t> ReadOneVarint(const Bytes& bytes) {
  size_t position = 0;
  uint64_t value = 0;
  Status status = ProtoReader::ReadVarint(bytes, &position, 0, &value);
  if (!status.ok()) return status;
  if (position != bytes.size()) return Status(ErrorCode::kInternal, "bytes left over");
  return value;
}

TEST(ProtoReaderTest, ReadsVarintsOfEveryLength) {
  EXPECT_EQ(*ReadOneVarint(FromHex("00")), 0u);
  EXPECT_EQ(*ReadOneVarint(FromHex("7f")), 127u);
  EXPECT_EQ(*ReadOneVarint(FromHex("8001")), 128u);
  EXPECT_EQ(*ReadOneVarint(FromHex("ac02")), 300u);
  EXPECT_EQ(*ReadOneVarint(FromHex("ffffffffffffffff7f")), (uint64_t{1} << 63) - 1);
  EXPECT_EQ(*ReadOneVarint(FromHex("80808080808080808001")), uint64_t{1} << 63);
  EXPECT_EQ(*ReadOneVarint(FromHex("ffffffffffffffffff01")), std::numeric_limits<uint64_t>::max());
}

TEST(ProtoReaderTest, AcceptsOverlongButInRangeVarints) {
  // Non-minimal encodings are valid protobuf (libprotobuf reads them too).
  EXPECT_EQ(*ReadOneVarint(FromHex("8000")), 0u);
  EXPECT_EQ(*ReadOneVarint(FromHex("ff808080808080808000")), 127u);
}

TEST(ProtoReaderTest, RejectsTruncatedVarint) {
  for (const char* hex : {"80", "ff", "8080", "ffffffffffffffffff"}) {
    Result<uint64_t> value = ReadOneVarint(FromHex(hex));
    ASSERT_FALSE(value.ok()) << hex;
    EXPECT_EQ(value.status().code(), ErrorCode::kDecodeMalformed) << hex;
    EXPECT_NE(value.status().message().find("truncated varint at byte 0"), std::string::npos)
        << value.status().message();
  }
}

TEST(ProtoReaderTest, RejectsElevenByteVarint) {
  Result<uint64_t> value = ReadOneVarint(FromHex("ffffffffffffffffff8001"));
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(value.status().message().find("overflows"), std::string::npos);
}

TEST(ProtoReaderTest, RejectsTenthByteAboveOne) {
  for (const char* hex : {"ffffffffffffffffff02", "ffffffffffffffffff7f", "80808080808080808003"}) {
    Result<uint64_t> value = ReadOneVarint(FromHex(hex));
    ASSERT_FALSE(value.ok()) << hex;
    EXPECT_EQ(value.status().code(), ErrorCode::kDecodeMalformed) << hex;
  }
}

TEST(ProtoReaderTest, ReadsEachWireTypeAndSkipsUnknownFields) {
  // 1: varint 150; 2: fixed64; 3: "ab"; 4: fixed32; 20: varint 1.
  const Bytes bytes = FromHex("089601 110102030405060708 1a026162 250a0b0c0d a00101");
  std::vector<Field> fields;
  ASSERT_TRUE(ReadAll(bytes, &fields).ok());
  ASSERT_EQ(fields.size(), 5u);
  EXPECT_EQ(fields[0].number, 1u);
  EXPECT_EQ(fields[0].wire_type, WireType::kVarint);
  EXPECT_EQ(fields[0].integer, 150u);
  EXPECT_EQ(fields[0].offset, 0u);
  EXPECT_EQ(fields[1].wire_type, WireType::kFixed64);
  EXPECT_EQ(fields[1].integer, 0x0807060504030201u);
  EXPECT_EQ(fields[1].offset, 3u);
  EXPECT_EQ(fields[2].wire_type, WireType::kLengthDelimited);
  EXPECT_EQ(ToString(fields[2].bytes), "ab");
  EXPECT_EQ(fields[2].bytes.data(), bytes.data() + 14);
  EXPECT_EQ(fields[3].wire_type, WireType::kFixed32);
  EXPECT_EQ(fields[3].integer, 0x0d0c0b0au);
  EXPECT_EQ(fields[4].number, 20u);
  EXPECT_EQ(fields[4].integer, 1u);
}

TEST(ProtoReaderTest, ReadsEmptyLengthDelimitedField) {
  std::vector<Field> fields;
  ASSERT_TRUE(ReadAll(FromHex("2a00"), &fields).ok());
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_TRUE(fields[0].bytes.empty());
}

TEST(ProtoReaderTest, RejectsLengthPastEnd) {
  for (const char* hex : {"0a01", "0a05616263", "0aff01", "0affffffffffffffffff01"}) {
    Status status = ReadAll(FromHex(hex));
    EXPECT_EQ(status.code(), ErrorCode::kDecodeMalformed) << hex;
  }
  Status status = ReadAll(FromHex("0800 0a05616263"));
  EXPECT_NE(status.message().find("length runs past the end of the buffer at byte 3"),
            std::string::npos)
      << status.message();
}

TEST(ProtoReaderTest, RejectsTruncatedLengthAndFixedValues) {
  for (const char* hex : {"0a", "0a80", "11010203040506", "25010203", "08"}) {
    EXPECT_EQ(ReadAll(FromHex(hex)).code(), ErrorCode::kDecodeMalformed) << hex;
  }
}

TEST(ProtoReaderTest, RejectsGroupWireTypes) {
  // Field 1 start group and end group.
  for (const char* hex : {"0b", "0c", "0b0c", "0800 0b 0801 0c"}) {
    Status status = ReadAll(FromHex(hex));
    EXPECT_EQ(status.code(), ErrorCode::kDecodeMalformed) << hex;
    EXPECT_NE(status.message().find("group"), std::string::npos) << status.message();
  }
}

TEST(ProtoReaderTest, RejectsWireTypesSixAndSeven) {
  for (const char* hex : {"0e00", "0f00"}) {
    Status status = ReadAll(FromHex(hex));
    EXPECT_EQ(status.code(), ErrorCode::kDecodeMalformed) << hex;
    EXPECT_NE(status.message().find("wire type"), std::string::npos) << status.message();
  }
}

TEST(ProtoReaderTest, RejectsFieldNumberZeroAndOversizedTags) {
  EXPECT_EQ(ReadAll(FromHex("0001")).code(), ErrorCode::kDecodeMalformed);
  EXPECT_EQ(ReadAll(FromHex("0201 00")).code(), ErrorCode::kDecodeMalformed);
  // A tag of 2^32 (field 2^29, wire type 0) no longer fits in 32 bits.
  EXPECT_EQ(ReadAll(FromHex("808080801000")).code(), ErrorCode::kDecodeMalformed);
  // The largest legal field number reads fine.
  std::vector<Field> fields;
  ASSERT_TRUE(ReadAll(FromHex("f8ffffff0f00"), &fields).ok());
  EXPECT_EQ(fields.at(0).number, kMaxFieldNumber);
}

TEST(ProtoReaderTest, NestedReaderReportsOffsetsInTheOuterBuffer) {
  // Field 1 "x", then field 3 holding a sub-message whose second field is
  // truncated: its varint starts at byte 7 of the whole buffer.
  const Bytes bytes = FromHex("0a0178 1a04 0801 1080");
  ProtoReader reader(bytes);
  Field field;
  ASSERT_TRUE(reader.Next(field).ok());
  ASSERT_TRUE(reader.Next(field).ok());
  EXPECT_EQ(field.number, 3u);
  Result<ProtoReader> nested = reader.Nested(field);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->depth(), 1);
  EXPECT_EQ(nested->offset(), 5u);
  Field inner;
  ASSERT_TRUE(nested->Next(inner).ok());
  EXPECT_EQ(inner.offset, 5u);
  Status status = nested->Next(inner);
  EXPECT_EQ(status.code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(status.message().find("truncated varint at byte 8"), std::string::npos)
      << status.message();
}

TEST(ProtoReaderTest, NestedRequiresLengthDelimitedField) {
  const Bytes bytes = FromHex("0801");
  ProtoReader reader(bytes);
  Field field;
  ASSERT_TRUE(reader.Next(field).ok());
  EXPECT_EQ(reader.Nested(field).status().code(), ErrorCode::kDecodeMalformed);
}

TEST(ProtoReaderTest, RejectsNestingDeeperThanTheLimit) {
  // kMaxNestingDepth + 1 levels of field 1 wrapping field 1.
  Bytes bytes = FromHex("0800");
  for (int level = 0; level <= kMaxNestingDepth; ++level) {
    Bytes outer;
    ProtoWriter(outer).WriteBytesField(1, bytes);
    bytes = std::move(outer);
  }
  Result<ProtoReader> reader = ProtoReader(bytes);
  int depth = 0;
  Status failure;
  while (reader.ok()) {
    Field field;
    ASSERT_TRUE(reader->Next(field).ok());
    if (field.wire_type != WireType::kLengthDelimited) break;
    reader = reader->Nested(field);
    if (reader.ok()) {
      ++depth;
    } else {
      failure = reader.status();
    }
  }
  EXPECT_EQ(depth, kMaxNestingDepth);
  EXPECT_EQ(failure.code(), ErrorCode::kDecodeMalformed);
  EXPECT_NE(failure.message().find("nested too deeply"), std::string::npos);
}

TEST(ProtoWriterTest, WritesVarintsAndTags) {
  struct Case {
    uint64_t value;
    const char* hex;
  };
  for (const Case& c : {Case{0, "00"}, Case{1, "01"}, Case{127, "7f"}, Case{128, "8001"},
                        Case{300, "ac02"}, Case{uint64_t{1} << 63, "80808080808080808001"},
                        Case{std::numeric_limits<uint64_t>::max(), "ffffffffffffffffff01"}}) {
    Bytes out;
    ProtoWriter(out).WriteVarint(c.value);
    EXPECT_EQ(testutil::ToHex(out), c.hex);
    EXPECT_EQ(VarintSize(c.value), out.size());
  }
  Bytes out;
  ProtoWriter writer(out);
  writer.WriteTag(1, WireType::kLengthDelimited);
  writer.WriteTag(2, WireType::kVarint);
  writer.WriteTag(20, WireType::kLengthDelimited);
  EXPECT_EQ(testutil::ToHex(out), "0a10a201");
  EXPECT_EQ(TagSize(20), 2u);
}

TEST(ProtoWriterTest, WritesFieldsAndSubMessages) {
  Bytes out;
  ProtoWriter writer(out);
  writer.WriteVarintField(2, 5);
  writer.WriteStringField(1, "m2");
  writer.WriteBytesField(5, Bytes{});
  const size_t inner_size = LengthDelimitedFieldSize(1, 2) + VarintFieldSize(2, 300);
  writer.WriteMessageField(3, inner_size, [](ProtoWriter& inner) {
    inner.WriteStringField(1, "m1");
    inner.WriteVarintField(2, 300);
  });
  EXPECT_EQ(testutil::ToHex(out), "10050a026d322a001a070a026d3110ac02");
  EXPECT_EQ(writer.size(), out.size());
}

TEST(ProtoWriterTest, LengthPrefixGrowsPastOneByte) {
  Bytes payload(200, 0x61);
  Bytes out;
  ProtoWriter(out).WriteBytesField(6, payload);
  EXPECT_EQ(out.size(), LengthDelimitedFieldSize(6, payload.size()));
  EXPECT_EQ(out[0], 0x32);
  EXPECT_EQ(out[1], 0xc8);
  EXPECT_EQ(out[2], 0x01);
}

TEST(ProtoWriterTest, RandomFieldsRoundTripThroughTheReader) {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 200; ++round) {
    Bytes out;
    ProtoWriter writer(out);
    std::vector<Field> expected;
    const int count = static_cast<int>(rng() % 12);
    for (int i = 0; i < count; ++i) {
      Field field;
      field.number = 1 + static_cast<uint32_t>(rng() % kMaxFieldNumber);
      if (rng() % 2 == 0) {
        field.wire_type = WireType::kVarint;
        field.integer = rng() >> (rng() % 64);
        writer.WriteVarintField(field.number, field.integer);
      } else {
        field.wire_type = WireType::kLengthDelimited;
        Bytes payload(rng() % 300);
        for (uint8_t& b : payload) b = static_cast<uint8_t>(rng());
        writer.WriteBytesField(field.number, payload);
        field.integer = payload.size();
      }
      expected.push_back(field);
    }
    std::vector<Field> read;
    ASSERT_TRUE(ReadAll(out, &read).ok());
    ASSERT_EQ(read.size(), expected.size());
    for (size_t i = 0; i < read.size(); ++i) {
      EXPECT_EQ(read[i].number, expected[i].number);
      EXPECT_EQ(read[i].wire_type, expected[i].wire_type);
      if (read[i].wire_type == WireType::kVarint) {
        EXPECT_EQ(read[i].integer, expected[i].integer);
      } else {
        EXPECT_EQ(read[i].bytes.size(), expected[i].integer);
      }
    }
  }
}

TEST(ProtoReaderTest, NeverReadsOutOfBoundsOnTruncations) {
  // Every prefix of a valid message either parses or fails cleanly (ASan
  // builds catch any overread).
  const Bytes bytes = FromHex(
      "0a026d32 1005 1a0e0a026d311201ab1a05616c696365 22026368 2a03010203 3200 3a03626f62"
      " 6a0b0a026d301a056361726f6c 110102030405060708 250a0b0c0d");
  for (size_t length = 0; length <= bytes.size(); ++length) {
    Bytes prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length));
    Status status = ReadAll(prefix);
    EXPECT_TRUE(status.ok() || status.code() == ErrorCode::kDecodeMalformed);
  }
}

}  // namespace
}  // namespace sds::wire
