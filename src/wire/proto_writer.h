// An append-only writer for the protobuf wire format.
//
// Writes into a caller-owned sds::Bytes. Nothing is allocated per field: the
// codec computes the encoded size of a message first (see VarintSize and
// LengthDelimitedFieldSize), reserves it once, and sub-messages are written in
// place after a length prefix computed the same way.
#ifndef SDS_WIRE_PROTO_WRITER_H_
#define SDS_WIRE_PROTO_WRITER_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sds/types.h"
#include "wire/proto_reader.h"

namespace sds::wire {

// Bytes needed to encode `value` as a varint (1..10).
constexpr size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

constexpr size_t TagSize(uint32_t field_number) {
  return VarintSize(static_cast<uint64_t>(field_number) << 3);
}

// Encoded size of a varint field: tag + value.
constexpr size_t VarintFieldSize(uint32_t field_number, uint64_t value) {
  return TagSize(field_number) + VarintSize(value);
}

// Encoded size of a length-delimited field with a payload of `payload_size`
// bytes: tag + length prefix + payload.
constexpr size_t LengthDelimitedFieldSize(uint32_t field_number, size_t payload_size) {
  return TagSize(field_number) + VarintSize(payload_size) + payload_size;
}

class ProtoWriter {
 public:
  explicit ProtoWriter(Bytes& out) : out_(out) {}

  // Raw pieces, inline because every field goes through them.
  void WriteVarint(uint64_t value) {
    uint8_t encoded[10];
    size_t length = 0;
    while (value >= 0x80) {
      encoded[length++] = static_cast<uint8_t>(value | 0x80);
      value >>= 7;
    }
    encoded[length++] = static_cast<uint8_t>(value);
    out_.insert(out_.end(), encoded, encoded + length);
  }
  void WriteTag(uint32_t field_number, WireType wire_type) {
    WriteVarint((static_cast<uint64_t>(field_number) << 3) | static_cast<uint8_t>(wire_type));
  }

  // Whole fields.
  void WriteVarintField(uint32_t field_number, uint64_t value);
  void WriteBytesField(uint32_t field_number, ByteSpan payload);
  void WriteStringField(uint32_t field_number, std::string_view payload);

  // A nested message of exactly `payload_size` bytes, written by
  // `write_payload(*this)` after the tag and length prefix. The size must be
  // known up front so that the prefix is written once, without moving bytes.
  template <typename WritePayload>
  void WriteMessageField(uint32_t field_number, size_t payload_size, WritePayload&& write_payload) {
    WriteTag(field_number, WireType::kLengthDelimited);
    WriteVarint(payload_size);
    [[maybe_unused]] const size_t payload_start = out_.size();
    write_payload(*this);
    assert(out_.size() - payload_start == payload_size && "nested message size mismatch");
  }

  size_t size() const { return out_.size(); }
  // The buffer written to, for payloads that serialize themselves in place.
  Bytes& buffer() { return out_; }

 private:
  Bytes& out_;
};

}  // namespace sds::wire

#endif  // SDS_WIRE_PROTO_WRITER_H_
