#include "wire/proto_reader.h"

#include <string>

namespace sds::wire {
namespace {

Status MalformedAt(size_t offset, const char* what) {
  return Status(ErrorCode::kDecodeMalformed,
                std::string(what) + " at byte " + std::to_string(offset));
}

}  // namespace

Status ProtoReader::ReadVarint(ByteSpan buffer, size_t* position, size_t base_offset,
                               uint64_t* value) {
  const size_t start = *position;
  uint64_t result = 0;
  // A 64-bit value needs at most 10 groups of 7 bits; the 10th group holds
  // only bit 63, so that byte may be 0 or 1 and must end the varint.
  for (int index = 0; index < 10; ++index) {
    const size_t at = start + static_cast<size_t>(index);
    if (at >= buffer.size()) return MalformedAt(base_offset + start, "truncated varint");
    const uint8_t byte = buffer[at];
    if (index == 9 && byte > 1) {
      return MalformedAt(base_offset + start, "varint overflows 64 bits");
    }
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * index);
    if ((byte & 0x80) == 0) {
      *position = at + 1;
      *value = result;
      return Status::Ok();
    }
  }
  // Unreachable: the 10th byte either ended the varint or was rejected.
  return MalformedAt(base_offset + start, "varint overflows 64 bits");
}

Status ProtoReader::Malformed(size_t at, const char* what) const {
  return MalformedAt(base_offset_ + at, what);
}

Status ProtoReader::Next(Field& field) {
  const size_t tag_position = position_;
  uint64_t tag = 0;
  SDS_RETURN_IF_ERROR(ReadVarint(buffer_, &position_, base_offset_, &tag));
  if (tag > UINT32_MAX) return Malformed(tag_position, "tag does not fit in 32 bits");
  const uint32_t number = static_cast<uint32_t>(tag >> 3);
  if (number == 0) return Malformed(tag_position, "field number 0");

  field.number = number;
  field.offset = base_offset_ + tag_position;
  field.integer = 0;
  field.bytes = {};
  const size_t remaining_after_tag = buffer_.size() - position_;
  switch (static_cast<uint8_t>(tag & 7)) {
    case 0:
      field.wire_type = WireType::kVarint;
      return ReadVarint(buffer_, &position_, base_offset_, &field.integer);
    case 1:
      field.wire_type = WireType::kFixed64;
      if (remaining_after_tag < 8) return Malformed(position_, "truncated fixed64");
      for (int i = 7; i >= 0; --i) {
        field.integer = (field.integer << 8) | buffer_[position_ + static_cast<size_t>(i)];
      }
      position_ += 8;
      return Status::Ok();
    case 2: {
      field.wire_type = WireType::kLengthDelimited;
      const size_t length_position = position_;
      uint64_t length = 0;
      SDS_RETURN_IF_ERROR(ReadVarint(buffer_, &position_, base_offset_, &length));
      if (length > buffer_.size() - position_) {
        return Malformed(length_position, "length runs past the end of the buffer");
      }
      field.bytes = buffer_.subspan(position_, static_cast<size_t>(length));
      position_ += static_cast<size_t>(length);
      return Status::Ok();
    }
    case 5:
      field.wire_type = WireType::kFixed32;
      if (remaining_after_tag < 4) return Malformed(position_, "truncated fixed32");
      for (int i = 3; i >= 0; --i) {
        field.integer = (field.integer << 8) | buffer_[position_ + static_cast<size_t>(i)];
      }
      position_ += 4;
      return Status::Ok();
    case 3:
    case 4:
      return Malformed(tag_position, "group wire type (3/4) not supported");
    default:
      return Malformed(tag_position, "invalid wire type (6/7)");
  }
}

Result<ProtoReader> ProtoReader::Nested(const Field& field) const {
  if (field.wire_type != WireType::kLengthDelimited) {
    return MalformedAt(field.offset, "nested message is not length-delimited");
  }
  if (depth_ + 1 > kMaxNestingDepth) {
    return MalformedAt(field.offset, "messages nested too deeply");
  }
  // The payload is a view into buffer_, so its offset within the outermost
  // buffer follows from the pointer distance.
  const size_t payload_offset =
      base_offset_ + static_cast<size_t>(field.bytes.data() - buffer_.data());
  return ProtoReader(field.bytes, payload_offset, depth_ + 1);
}

}  // namespace sds::wire
