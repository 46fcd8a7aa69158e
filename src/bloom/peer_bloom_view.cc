// Validation of bloom filters received from peers.
//
// nim-sds trusts the parameters that travel with a filter; a peer can crash it
// (m_bits = 0 divides by zero, m_bits beyond the words indexes out of bounds)
// or make every message look acknowledged (k = 0). Everything is checked here,
// once per received message, so that Contains can run without checks.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "bloom/bit_positions.h"
#include "bloom/bloom_varint.h"
#include "sds/bloom_filter.h"

namespace sds {
namespace {

using bloom_internal::ReadVarint;

// A filter whose values are impossible or hostile (k = 0, m_bits = 0, m_bits
// beyond its words, oversize): the message carrying it is rejected.
Status BadBloom(std::string message) {
  return Status(ErrorCode::kDecodeBadBloomFilter, "bloom filter: " + std::move(message));
}

// A filter that does not parse at all: nim-sds ignores it and processes the
// message without bloom acknowledgements, and so does the engine.
Status MalformedBloom(std::string message) {
  return Status(ErrorCode::kDecodeMalformed, "bloom filter: " + std::move(message));
}

// The five fields of nim-sds's BloomFilter message, as they appeared on the wire.
struct NimBloomFields {
  ByteSpan words;
  uint64_t values[6] = {};  // by field number; [1] unused
  bool present[6] = {};
};

constexpr const char* kNimFieldNames[6] = {"",           "words",    "capacity",
                                           "error_rate", "k_hashes", "m_bits"};

// Reads the nested message with libp2p minprotobuf's rules, which nim-sds
// decodes with: the last occurrence of a field wins, an occurrence with an
// unexpected wire type counts as absent, unknown fields are skipped, and
// groups or truncated values anywhere make the whole message invalid.
Result<NimBloomFields> ReadNimBloomFields(ByteSpan bytes) {
  NimBloomFields fields;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t field_start = pos;
    std::optional<uint64_t> key = ReadVarint(bytes, pos);
    if (!key) return MalformedBloom("malformed key at byte " + std::to_string(field_start));
    const uint64_t field = *key >> 3;
    const auto wire_type = static_cast<uint32_t>(*key & 7);
    if (field == 0) return MalformedBloom("field number 0 at byte " + std::to_string(field_start));

    switch (wire_type) {
      case bloom_internal::kWireVarint: {
        std::optional<uint64_t> value = ReadVarint(bytes, pos);
        if (!value)
          return MalformedBloom("malformed varint at byte " + std::to_string(field_start));
        if (field >= bloom_internal::kFieldCapacity && field <= bloom_internal::kFieldMBits) {
          fields.values[field] = *value;
          fields.present[field] = true;
        }
        break;
      }
      case bloom_internal::kWireLengthDelimited: {
        std::optional<uint64_t> length = ReadVarint(bytes, pos);
        if (!length || *length > bytes.size() - pos) {
          return MalformedBloom("truncated field " + std::to_string(field) + " at byte " +
                                std::to_string(field_start));
        }
        if (field == bloom_internal::kFieldWords) {
          fields.words = bytes.subspan(pos, static_cast<size_t>(*length));
          fields.present[field] = true;
        }
        pos += static_cast<size_t>(*length);
        break;
      }
      case bloom_internal::kWireFixed64:
      case bloom_internal::kWireFixed32: {
        const size_t width = wire_type == bloom_internal::kWireFixed64 ? 8 : 4;
        if (width > bytes.size() - pos) {
          return MalformedBloom("truncated field " + std::to_string(field) + " at byte " +
                                std::to_string(field_start));
        }
        pos += width;
        break;
      }
      default:
        return MalformedBloom("unsupported wire type " + std::to_string(wire_type) + " at byte " +
                              std::to_string(field_start));
    }
  }
  return fields;
}

}  // namespace

Result<PeerBloomView> PeerBloomView::ParseNim(ByteSpan bytes, const BloomParseLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return BadBloom(std::to_string(bytes.size()) + " bytes exceed the limit of " +
                    std::to_string(limits.max_bytes));
  }
  Result<NimBloomFields> read = ReadNimBloomFields(bytes);
  if (!read.ok()) return read.status();
  const NimBloomFields& fields = *read;
  for (uint32_t field = bloom_internal::kFieldWords; field <= bloom_internal::kFieldMBits;
       ++field) {
    if (!fields.present[field]) {
      return Status(ErrorCode::kDecodeMissingField, "bloom filter: field " + std::to_string(field) +
                                                        " (" + kNimFieldNames[field] + ") missing");
    }
  }

  const uint64_t k = fields.values[bloom_internal::kFieldKHashes];
  const uint64_t m_bits = fields.values[bloom_internal::kFieldMBits];
  // nim-sds reads words with `len div 8` and ignores a partial trailing word.
  const size_t word_count = fields.words.size() / sizeof(uint64_t);
  // A max_k below 1 admits nothing (rather than wrapping to a huge bound).
  const uint64_t max_k = limits.max_k > 0 ? static_cast<uint64_t>(limits.max_k) : 0;
  if (k < 1 || k > max_k) {
    return BadBloom("k_hashes " + std::to_string(k) + " outside [1, " +
                    std::to_string(limits.max_k) + "]");
  }
  if (m_bits == 0) return BadBloom("m_bits is 0");
  if (m_bits > static_cast<uint64_t>(word_count) * 64) {
    return BadBloom("m_bits " + std::to_string(m_bits) + " exceeds the " +
                    std::to_string(word_count * 64) + " bits of the " + std::to_string(word_count) +
                    " words present");
  }

  PeerBloomView view;
  view.dialect_ = Dialect::kNim;
  view.words_ = fields.words.first(word_count * sizeof(uint64_t));
  // capacity is informational; a value beyond int64 is kept as the maximum.
  const uint64_t capacity = fields.values[bloom_internal::kFieldCapacity];
  view.params_.capacity = static_cast<int64_t>(
      std::min<uint64_t>(capacity, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  view.params_.error_rate =
      static_cast<double>(fields.values[bloom_internal::kFieldErrorRate]) / 1e6;
  view.params_.k = static_cast<int>(k);
  view.params_.m_bits = static_cast<int64_t>(m_bits);
  return view;
}

Result<PeerBloomView> PeerBloomView::ParseSpec(ByteSpan bytes, const BloomParameters& expected) {
  if (expected.k < 1 || expected.m_bits < 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "bloom filter: expected geometry needs k >= 1 and m_bits >= 1");
  }
  const size_t expected_size = expected.word_count() * sizeof(uint64_t);
  if (bytes.size() != expected_size) {
    // @waku/sds drops such messages too: without parameters on the wire, a
    // filter of another size cannot be interpreted.
    return BadBloom(std::to_string(bytes.size()) + " bytes, expected exactly " +
                    std::to_string(expected_size) + " (capacity " +
                    std::to_string(expected.capacity) + ", m_bits " +
                    std::to_string(expected.m_bits) + ")");
  }
  PeerBloomView view;
  view.dialect_ = Dialect::kSpec;
  view.words_ = bytes;
  view.params_ = expected;
  return view;
}

// `inline` so that Contains, the hot caller, gets it inlined.
inline bool PeerBloomView::TestBit(int64_t bit) const {
  const auto position = static_cast<uint64_t>(bit);
  // Little-endian words (nim) put bit b in byte b/8; big-endian words (spec)
  // mirror the byte order within each 8-byte word, i.e. byte (b/8) XOR 7.
  const uint64_t byte_index = dialect_ == Dialect::kNim ? position / 8 : (position / 8) ^ 7;
  return (words_[byte_index] >> (position % 8)) & 1;
}

bool PeerBloomView::Contains(const BloomKey& key) const {
  // Parsing bounded m_bits by the words present, and ForEachBitIndex only
  // yields bits below m_bits, so TestBit stays inside the buffer.
  return bloom_internal::ForEachBitIndex(key, params_.k, params_.m_bits,
                                         [this](int64_t bit) { return TestBit(bit); });
}

}  // namespace sds
