// Just enough protobuf for nim-sds's nested bloom filter message.
//
// Private to src/bloom: the general protobuf reader and writer live in src/wire
// and are being written alongside this module; once both settle this file
// should be replaced by them.
#ifndef SDS_BLOOM_BLOOM_VARINT_H_
#define SDS_BLOOM_BLOOM_VARINT_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "sds/types.h"

namespace sds::bloom_internal {

// Field numbers of nim-sds's BloomFilter message (nim-sds.md section 3.3).
inline constexpr uint32_t kFieldWords = 1;
inline constexpr uint32_t kFieldCapacity = 2;
inline constexpr uint32_t kFieldErrorRate = 3;
inline constexpr uint32_t kFieldKHashes = 4;
inline constexpr uint32_t kFieldMBits = 5;

inline constexpr uint32_t kWireVarint = 0;
inline constexpr uint32_t kWireFixed64 = 1;
inline constexpr uint32_t kWireLengthDelimited = 2;
inline constexpr uint32_t kWireFixed32 = 5;

inline constexpr uint8_t Tag(uint32_t field, uint32_t wire_type) {
  return static_cast<uint8_t>((field << 3) | wire_type);
}

inline size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

inline void AppendVarint(Bytes& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

// Reads a varint at `pos`, advancing it. nullopt if the bytes end first or the
// value does not fit in 64 bits (more than ten bytes, or a tenth byte above 1).
inline std::optional<uint64_t> ReadVarint(ByteSpan bytes, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= bytes.size()) return std::nullopt;
    uint8_t byte = bytes[pos++];
    if (shift == 63 && byte > 1) return std::nullopt;
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

}  // namespace sds::bloom_internal

#endif  // SDS_BLOOM_BLOOM_VARINT_H_
