// The bloom filter a nim-dialect message carries when it is right-sized
// (Config::bloom_wire_size = kRightSized): only the ids a peer may still be
// waiting to hear acknowledged, in a filter just large enough for them.
//
// A peer resends a message every resend_interval, max_resend_attempts times,
// and then gives up: an id received longer ago than that (the horizon) can no
// longer help anyone, yet nim-sds sends the last 10,000 ids ever received in
// an 18.8 KB filter. This filter holds the ids received within the horizon
// (never fewer than `min_ids`, the newest, so the causal history window is
// always covered), in one of a few size classes:
//
//   capacity 128, 256, 512, ... (doubling), and finally `max_capacity` itself,
//   each with nim-sds's geometry for (capacity, error_rate).
//
// Every id ever set in the current filter counts towards its fill, expired or
// not (bits cannot be cleared), and the filter is rebuilt before that count
// exceeds its class's fill limit, so its false-positive rate stays at or below
// error_rate. The limit is three quarters of the capacity: nim-sds's double
// hashing (bit_i = hA + i*hB mod m) collides more in small filters, and at
// full capacity a 64-id filter measures 0.0023 and a 256-id one 0.0011 for a
// 0.001 target, while at three quarters every class stays under 0.00065
// (wire_bloom_filter_test.cc measures it). The last class, the fixed geometry
// itself, fills up to its capacity (0.00075 measured) as the rolling filter does.
// A rebuild picks the smallest class whose limit has room for twice the live
// ids (so the next rebuild is at least as many insertions away), and a filter
// whose live ids shrank below an eighth of its capacity is rebuilt smaller.
//
// nim-sds receivers read capacity, k and m_bits from every filter and test
// membership with the sender's geometry, so any class is read correctly.
#ifndef SDS_BLOOM_WIRE_BLOOM_FILTER_H_
#define SDS_BLOOM_WIRE_BLOOM_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "sds/bloom_filter.h"
#include "sds/types.h"

namespace sds::internal {

class WireBloomFilter {
 public:
  static constexpr int64_t kSmallestClass = 128;

  // `max_capacity` and `error_rate` are the configured (validated) geometry.
  WireBloomFilter(int64_t max_capacity, double error_rate, Dialect dialect);

  // The size classes for `max_capacity`, smallest first (the last is max_capacity).
  static std::vector<int64_t> SizeClasses(int64_t max_capacity);

  // How many ids a filter of class `capacity` may have set (see above).
  static int64_t FillLimit(int64_t capacity, int64_t max_capacity) {
    return capacity >= max_capacity ? capacity : capacity * 3 / 4;
  }

  // An id received at `at` (its key in this filter's dialect).
  void Add(const BloomKey& key, Timestamp at);
  // An id whose time of receipt is unknown (state loaded from a store): it
  // counts as received at the next Expire's `now`.
  void AddUndated(const BloomKey& key) { Add(key, kUndated); }
  // Forgets ids received before `oldest_kept`, except the newest `min_ids`.
  void Expire(Timestamp oldest_kept, size_t min_ids, Timestamp now);
  // The filter to send now, rebuilt first if its class no longer fits.
  const BloomFilter& Filter();

  size_t live_ids() const { return live_.size(); }
  int64_t inserted() const { return inserted_; }  // ids set in the current filter
  uint64_t rebuilds() const { return rebuilds_; }
  // The capacity of the current filter's class (0 before the first Filter()).
  int64_t current_class() const { return filter_ ? filter_->params().capacity : 0; }

 private:
  static constexpr Timestamp kUndated = Timestamp::min();
  struct Entry {
    BloomKey key;
    Timestamp at;
  };
  int64_t ClassFor(size_t ids) const;
  void Rebuild();

  int64_t max_capacity_;
  double error_rate_;
  Dialect dialect_;
  std::vector<int64_t> classes_;
  std::vector<BloomParameters> params_;  // per class
  std::deque<Entry> live_;               // oldest first
  std::optional<BloomFilter> filter_;
  int64_t inserted_ = 0;
  bool stale_ = true;
  uint64_t rebuilds_ = 0;
};

}  // namespace sds::internal

#endif  // SDS_BLOOM_WIRE_BLOOM_FILTER_H_
