#include "wire/proto_writer.h"

namespace sds::wire {

void ProtoWriter::WriteVarintField(uint32_t field_number, uint64_t value) {
  WriteTag(field_number, WireType::kVarint);
  WriteVarint(value);
}

void ProtoWriter::WriteBytesField(uint32_t field_number, ByteSpan payload) {
  WriteTag(field_number, WireType::kLengthDelimited);
  WriteVarint(payload.size());
  out_.insert(out_.end(), payload.begin(), payload.end());
}

void ProtoWriter::WriteStringField(uint32_t field_number, std::string_view payload) {
  // Ids are arbitrary bytes on the wire; no UTF-8 check, as in both peers.
  WriteBytesField(field_number,
                  ByteSpan(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
}

}  // namespace sds::wire
