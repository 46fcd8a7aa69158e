// Bloom filters as both deployed SDS implementations build them, bit for bit.
//
// Geometry (nim-sds rules, shared by @waku/sds):
//   bits_per_element = ceil(-ln(error_rate) / ln(2)^2)
//   k                = round(ln(2) * bits_per_element)      (half away from zero)
//   m_bits           = capacity * bits_per_element
//   words            = 1 + m_bits / 64                      (always one spare word)
// Defaults 10000 / 0.001 give k = 10, m = 150000 bits, 2344 words (18,752 bytes).
//
// Bit positions use Kirsch-Mitzenmacher double hashing over a string hash h:
//   hA = |h(id)| mod m,  hB = |h(id + " b")| mod m,  bit_i = |hA + i*hB| mod m
// where h is, per dialect (see hash.h):
//   kNim   FarmHash Fingerprint64 read as int64 (Nim >= 2.2 `hash(string)`)
//   kSpec  MurmurHash3 x86_32, seed 0, read as int32 (Nim's hash compiled to JS)
// Bit b lives in 64-bit word b / 64 at bit b % 64 (LSB first).
//
// Wire forms:
//   kNim   nested protobuf {1: words little-endian, 2: capacity,
//          3: uint64(error_rate * 1e6), 4: k, 5: m_bits}, all five always written.
//   kSpec  the raw words, each big-endian, no parameters: both sides must use
//          the same geometry, and receivers reject any other size.
#ifndef SDS_BLOOM_FILTER_H_
#define SDS_BLOOM_FILTER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "sds/message.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds {

struct BloomParameters {
  int64_t capacity = 10000;
  double error_rate = 0.001;
  int k = 10;
  int64_t m_bits = 150000;

  size_t word_count() const { return 1 + static_cast<size_t>(m_bits / 64); }

  // Computes the geometry for `capacity` and `error_rate` with nim-sds's rules.
  // With k >= 1, bits per element come from `force_bits_per_element` if >= 1,
  // else from nim-sds's false-positive table (GetMOverNBitsForK).
  // kInvalidArgument for capacity < 1, error_rate outside (0, 1), or a k / error
  // rate combination the table cannot satisfy (nim-sds's messages).
  static Result<BloomParameters> Compute(int64_t capacity, double error_rate, int k = 0,
                                         int force_bits_per_element = 0);

  friend bool operator==(const BloomParameters&, const BloomParameters&) = default;
};

// nim-sds `getMOverNBitsForK`: the smallest bits-per-element (2..) whose
// tabulated false-positive rate for `k` hashes is below `error_rate`.
Result<int> GetMOverNBitsForK(int k, double error_rate);

// The two hash values an id contributes to any filter of its dialect,
// computed once and reusable against filters of any size.
struct BloomKey {
  int64_t h1 = 0;  // h(id)
  int64_t h2 = 0;  // h(id + " b")
};
BloomKey MakeBloomKey(Dialect dialect, std::string_view id);

// Bit index i (0 <= i < k) of `key` in a filter of `m_bits` (>= 1) bits.
int64_t BloomBitIndex(const BloomKey& key, int i, int64_t m_bits);

class BloomFilter {
 public:
  // An empty filter with the given geometry, hashing as `dialect` does.
  // Requires params.m_bits >= 1 (anything from BloomParameters::Compute).
  BloomFilter(const BloomParameters& params, Dialect dialect);

  void Insert(std::string_view id) { Insert(MakeBloomKey(dialect_, id)); }
  void Insert(const BloomKey& key);
  bool Contains(std::string_view id) const { return Contains(MakeBloomKey(dialect_, id)); }
  bool Contains(const BloomKey& key) const;

  const BloomParameters& params() const { return params_; }
  Dialect dialect() const { return dialect_; }
  const std::vector<uint64_t>& words() const { return words_; }
  std::vector<int64_t> SetBits() const;  // ascending bit indices, for tests and tools

  // Appends the dialect's wire form (see the file comment) to `out`.
  void AppendSerialized(Bytes& out) const;
  Bytes Serialize() const;
  size_t SerializedSize() const;

  // nim-sds `$`: "Bloom filter with <cap> capacity, <err> error rate, <k> hash
  // functions, and requiring <m/cap> bits of memory."
  std::string ToString() const;

 private:
  BloomParameters params_;
  Dialect dialect_;
  std::vector<uint64_t> words_;
};

// Limits applied to a peer's filter before it is used.
struct BloomParseLimits {
  size_t max_bytes = 256 * 1024;
  int max_k = 64;
};

// A received filter, validated, read in place from the message bytes (no copy).
// Used to decide which of our messages a peer has seen.
class PeerBloomView {
 public:
  // nim wire form. kDecodeMalformed when the bytes do not parse and
  // kDecodeMissingField when one of the five fields is absent (nim-sds then
  // ignores the filter, and so does the engine); kDecodeBadBloomFilter for more
  // than max_bytes, k outside [1, max_k], m_bits = 0, or m_bits beyond the words
  // present: values that make nim-sds crash or treat every message as
  // acknowledged. A partial trailing word is ignored, as nim-sds does.
  // `bytes` must outlive the view.
  static Result<PeerBloomView> ParseNim(ByteSpan bytes, const BloomParseLimits& limits = {});
  // spec wire form: must be exactly `expected.word_count() * 8` bytes
  // (kDecodeBadBloomFilter otherwise; kInvalidArgument if `expected` has k or
  // m_bits below 1). `bytes` must outlive the view.
  static Result<PeerBloomView> ParseSpec(ByteSpan bytes, const BloomParameters& expected);

  bool Contains(const BloomKey& key) const;
  Dialect dialect() const { return dialect_; }
  const BloomParameters& params() const { return params_; }

 private:
  PeerBloomView() = default;
  bool TestBit(int64_t bit) const;

  ByteSpan words_;  // raw word bytes, endianness per dialect
  BloomParameters params_;
  Dialect dialect_ = Dialect::kNim;
};

// How a RollingBloomFilter rebuilds itself once it holds too many ids.
enum class BloomRollOver : uint8_t {
  // nim-sds: rebuild when more than max_capacity (capacity + 20%) ids were
  // added, with capacity max_capacity. The wire form grows from 18,768 to
  // 22,520 bytes after the first roll-over, and between roll-overs the filter
  // holds up to 20% more ids than its geometry was sized for.
  kNimSds,
  // Keep the configured geometry and rebuild as soon as more than capacity
  // ids were added, so the false-positive rate never exceeds its target and
  // the wire size never changes. Spec receivers accept only the configured
  // size; nim receivers read the geometry from the filter and accept any.
  kFixedGeometry,
};

// A bloom filter that stays near its false-positive target as ids keep coming:
// once it holds too many ids (see BloomRollOver) it is rebuilt with only the
// newest min_capacity (capacity - 20%) ids.
class RollingBloomFilter {
 public:
  // nim-sds clamping: capacity <= 0 becomes 10000; error_rate outside (0, 1)
  // becomes 0.001. The roll-over defaults to kNimSds for the nim dialect and
  // kFixedGeometry for the spec dialect.
  RollingBloomFilter(int64_t capacity, double error_rate, Dialect dialect);
  RollingBloomFilter(int64_t capacity, double error_rate, Dialect dialect, BloomRollOver roll_over);

  void Add(std::string_view id);
  bool Contains(std::string_view id) const { return filter_.Contains(id); }
  // Rebuilds if more ids were added than the roll-over allows (Add already does).
  void Clean();
  BloomRollOver roll_over() const { return roll_over_; }

  const BloomFilter& filter() const { return filter_; }
  int64_t capacity() const { return capacity_; }
  int64_t min_capacity() const { return min_capacity_; }
  int64_t max_capacity() const { return max_capacity_; }
  // Ids added since the last rebuild, oldest first (duplicates kept, as nim-sds).
  const std::deque<std::string>& messages() const { return messages_; }

 private:
  BloomFilter filter_;
  int64_t capacity_;
  int64_t min_capacity_;
  int64_t max_capacity_;
  BloomRollOver roll_over_;
  int64_t rebuild_above_;  // more ids than this trigger Clean
  std::deque<std::string> messages_;
  std::deque<BloomKey> keys_;  // the hashes of messages_, in step
};

}  // namespace sds

#endif  // SDS_BLOOM_FILTER_H_
