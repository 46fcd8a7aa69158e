#include "sds/bloom_filter.h"

#include <bit>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <limits>

#include "bloom/bit_positions.h"
#include "bloom/bloom_varint.h"
#include "sds/hash.h"

namespace sds {
namespace {

// Ids up to this length get their " b" variant hashed from a stack buffer; the
// hot paths (Insert, Contains, every ack check) then never touch the heap.
// Real ids are 64-character hex digests or shorter.
constexpr size_t kStackIdLimit = 512;
constexpr std::string_view kSecondHashSuffix = " b";

using bloom_internal::ForEachBitIndex;
using bloom_internal::WrappingAbs;

// uint64(error_rate * 1e6) as Nim writes it (truncation). Out-of-range values
// (a caller-made BloomParameters; Compute never produces them) saturate instead
// of being undefined behaviour.
uint64_t ErrorRateMillionths(double error_rate) {
  const double scaled = error_rate * 1e6;
  if (!(scaled >= 0.0)) return 0;  // negative or NaN
  if (scaled >= 18446744073709551616.0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(scaled);
}

size_t NimHeaderAndTrailerSize(const BloomParameters& params, size_t word_bytes) {
  using bloom_internal::VarintSize;
  return 1 + VarintSize(word_bytes) +                              // field 1 key + length
         1 + VarintSize(static_cast<uint64_t>(params.capacity)) +  // field 2
         1 + VarintSize(ErrorRateMillionths(params.error_rate)) +  // field 3
         1 + VarintSize(static_cast<uint64_t>(params.k)) +         // field 4
         1 + VarintSize(static_cast<uint64_t>(params.m_bits));     // field 5
}

// Appends `words` to `out`, each word in byte order `order`.
void AppendWords(const std::vector<uint64_t>& words, std::endian order, Bytes& out) {
  const size_t word_bytes = words.size() * sizeof(uint64_t);
  if (order == std::endian::native) {
    const auto* first = reinterpret_cast<const uint8_t*>(words.data());
    out.insert(out.end(), first, first + word_bytes);  // one memcpy
    return;
  }
  const size_t start = out.size();
  out.resize(start + word_bytes);
  // Locals, because stores through uint8_t* may alias anything: without them
  // the loop reloads the vector's bounds on every word.
  const uint64_t* source = words.data();
  const size_t count = words.size();
  uint8_t* dest = out.data() + start;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t swapped = __builtin_bswap64(source[i]);
    std::memcpy(dest + i * sizeof(uint64_t), &swapped, sizeof(uint64_t));
  }
}

}  // namespace

BloomKey MakeBloomKey(Dialect dialect, std::string_view id) {
  BloomKey key;
  key.h1 = BloomStringHash(dialect, id);
  const size_t suffixed_size = id.size() + kSecondHashSuffix.size();
  if (id.size() <= kStackIdLimit) {
    char buffer[kStackIdLimit + kSecondHashSuffix.size()];
    std::memcpy(buffer, id.data(), id.size());
    std::memcpy(buffer + id.size(), kSecondHashSuffix.data(), kSecondHashSuffix.size());
    key.h2 = BloomStringHash(dialect, std::string_view(buffer, suffixed_size));
  } else {
    std::string suffixed;
    suffixed.reserve(suffixed_size);
    suffixed.append(id).append(kSecondHashSuffix);
    key.h2 = BloomStringHash(dialect, suffixed);
  }
  return key;
}

int64_t BloomBitIndex(const BloomKey& key, int i, int64_t m_bits) {
  const int64_t hash_a = WrappingAbs(key.h1) % m_bits;
  const int64_t hash_b = WrappingAbs(key.h2) % m_bits;
  // hashA + i * hashB with Nim's wrapping arithmetic (overflow checks are off in
  // nim-sds's hashN). It cannot wrap for any filter that fits in memory, but
  // computing it unsigned keeps hostile parameters from being UB.
  const uint64_t sum =
      static_cast<uint64_t>(hash_a) + static_cast<uint64_t>(i) * static_cast<uint64_t>(hash_b);
  return WrappingAbs(static_cast<int64_t>(sum)) % m_bits;
}

BloomFilter::BloomFilter(const BloomParameters& params, Dialect dialect)
    : params_(params), dialect_(dialect), words_(params.word_count(), 0) {
  assert(params.m_bits >= 1 && "use BloomParameters::Compute for the geometry");
}

void BloomFilter::Insert(const BloomKey& key) {
  ForEachBitIndex(key, params_.k, params_.m_bits, [this](int64_t bit) {
    const auto position = static_cast<uint64_t>(bit);
    words_[position / 64] |= uint64_t{1} << (position % 64);
    return true;
  });
}

bool BloomFilter::Contains(const BloomKey& key) const {
  // k = 0 answers true for everything, as nim-sds's lookup does.
  return ForEachBitIndex(key, params_.k, params_.m_bits, [this](int64_t bit) {
    const auto position = static_cast<uint64_t>(bit);
    return (words_[position / 64] & (uint64_t{1} << (position % 64))) != 0;
  });
}

std::vector<int64_t> BloomFilter::SetBits() const {
  std::vector<int64_t> bits;
  for (size_t w = 0; w < words_.size(); ++w) {
    for (uint64_t word = words_[w]; word != 0; word &= word - 1) {
      bits.push_back(static_cast<int64_t>(w * 64 + std::countr_zero(word)));
    }
  }
  return bits;
}

size_t BloomFilter::SerializedSize() const {
  const size_t word_bytes = words_.size() * sizeof(uint64_t);
  if (dialect_ == Dialect::kSpec) return word_bytes;
  return word_bytes + NimHeaderAndTrailerSize(params_, word_bytes);
}

void BloomFilter::AppendSerialized(Bytes& out) const {
  using bloom_internal::AppendVarint;
  using bloom_internal::Tag;
  out.reserve(out.size() + SerializedSize());
  if (dialect_ == Dialect::kSpec) {
    AppendWords(words_, std::endian::big, out);
    return;
  }

  // nim-sds writes all five fields, in field order, even when zero.
  out.push_back(Tag(bloom_internal::kFieldWords, bloom_internal::kWireLengthDelimited));
  AppendVarint(out, words_.size() * sizeof(uint64_t));
  AppendWords(words_, std::endian::little, out);
  out.push_back(Tag(bloom_internal::kFieldCapacity, bloom_internal::kWireVarint));
  AppendVarint(out, static_cast<uint64_t>(params_.capacity));
  out.push_back(Tag(bloom_internal::kFieldErrorRate, bloom_internal::kWireVarint));
  AppendVarint(out, ErrorRateMillionths(params_.error_rate));
  out.push_back(Tag(bloom_internal::kFieldKHashes, bloom_internal::kWireVarint));
  AppendVarint(out, static_cast<uint64_t>(params_.k));
  out.push_back(Tag(bloom_internal::kFieldMBits, bloom_internal::kWireVarint));
  AppendVarint(out, static_cast<uint64_t>(params_.m_bits));
}

Bytes BloomFilter::Serialize() const {
  Bytes out;
  AppendSerialized(out);
  return out;
}

std::string BloomFilter::ToString() const {
  // Nim's formatFloat(ffScientific, precision = 1) and C's %.1e agree
  // ("1.0e-02"): both print at least two exponent digits.
  char error_rate[32];
  std::snprintf(error_rate, sizeof(error_rate), "%.1e", params_.error_rate);
  const int64_t bits_per_element = params_.capacity != 0 ? params_.m_bits / params_.capacity : 0;
  return "Bloom filter with " + std::to_string(params_.capacity) + " capacity, " + error_rate +
         " error rate, " + std::to_string(params_.k) + " hash functions, and requiring " +
         std::to_string(bits_per_element) + " bits of memory.";
}

}  // namespace sds
