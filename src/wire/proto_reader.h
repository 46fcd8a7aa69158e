// A bounds-checked reader for the protobuf wire format.
//
// It reads one field at a time from untrusted bytes and never reads past the
// buffer: every varint is length-checked and every length prefix is compared
// with what remains before it is used. Length-delimited payloads come back as
// views into the input, so reading allocates nothing.
//
// What counts as malformed (ErrorCode::kDecodeMalformed, with the byte offset):
//   - a varint that runs past the end of the buffer, is longer than 10 bytes,
//     or whose 10th byte is above 1 (the value would not fit in 64 bits);
//   - a tag whose value does not fit in 32 bits or whose field number is 0;
//   - wire types 3 and 4 (groups: no SDS message uses them, and skipping them
//     correctly needs recursion an attacker could drive) and 6 and 7 (unused);
//   - a fixed-width value or length-delimited payload that runs past the end;
//   - a sub-message nested deeper than kMaxNestingDepth.
#ifndef SDS_WIRE_PROTO_READER_H_
#define SDS_WIRE_PROTO_READER_H_

#include <cstddef>
#include <cstdint>

#include "sds/status.h"
#include "sds/types.h"

namespace sds::wire {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Largest field number protobuf allows (2^29 - 1).
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

// SDS messages nest at most two levels (message -> history entry, message ->
// bloom filter); the bound leaves room without letting hostile input recurse.
inline constexpr int kMaxNestingDepth = 8;

// One field as read from the wire.
struct Field {
  uint32_t number = 0;
  WireType wire_type = WireType::kVarint;
  // Varint value, or the fixed64 / fixed32 value zero-extended.
  uint64_t integer = 0;
  // Payload of a length-delimited field; a view into the reader's buffer.
  ByteSpan bytes;
  // Offset of the field's tag from the start of the outermost buffer.
  size_t offset = 0;
};

class ProtoReader {
 public:
  // Reads `buffer`, a top-level message.
  explicit ProtoReader(ByteSpan buffer) : ProtoReader(buffer, 0, 0) {}

  // True when every byte has been consumed.
  bool done() const { return position_ == buffer_.size(); }
  // Offset of the next unread byte from the start of the outermost buffer.
  size_t offset() const { return base_offset_ + position_; }
  int depth() const { return depth_; }

  // Reads the next field into `field`. Must not be called when done(). On
  // failure the reader is left where the error was found and should be dropped.
  Status Next(Field& field);

  // A reader over the payload of `field` (length-delimited) read as a nested
  // message, whose offsets and depth continue this reader's. Malformed when the
  // nesting would exceed kMaxNestingDepth.
  Result<ProtoReader> Nested(const Field& field) const;

  // Reads a varint starting at `buffer[*position]`, advancing `*position`.
  // `base_offset` is added to offsets in error messages.
  static Status ReadVarint(ByteSpan buffer, size_t* position, size_t base_offset, uint64_t* value);

 private:
  ProtoReader(ByteSpan buffer, size_t base_offset, int depth)
      : buffer_(buffer), base_offset_(base_offset), depth_(depth) {}

  Status Malformed(size_t at, const char* what) const;

  ByteSpan buffer_;
  size_t position_ = 0;
  size_t base_offset_ = 0;
  int depth_ = 0;
};

}  // namespace sds::wire

#endif  // SDS_WIRE_PROTO_READER_H_
