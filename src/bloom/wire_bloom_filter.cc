#include "bloom/wire_bloom_filter.h"

#include <algorithm>

namespace sds::internal {

std::vector<int64_t> WireBloomFilter::SizeClasses(int64_t max_capacity) {
  std::vector<int64_t> classes;
  for (int64_t c = kSmallestClass; c < max_capacity; c *= 2) classes.push_back(c);
  classes.push_back(max_capacity);
  return classes;
}

WireBloomFilter::WireBloomFilter(int64_t max_capacity, double error_rate, Dialect dialect)
    : max_capacity_(std::max<int64_t>(max_capacity, 1)),
      error_rate_(error_rate),
      dialect_(dialect),
      classes_(SizeClasses(max_capacity_)) {
  for (int64_t capacity : classes_) {
    Result<BloomParameters> params = BloomParameters::Compute(capacity, error_rate_);
    // Config::Validate accepted (max_capacity, error_rate); smaller capacities
    // of the same error rate are always computable.
    params_.push_back(params.ok() ? *params : BloomParameters{});
  }
}

int64_t WireBloomFilter::ClassFor(size_t ids) const {
  for (int64_t c : classes_) {
    if (static_cast<int64_t>(ids) * 2 <= FillLimit(c, max_capacity_)) return c;
  }
  return classes_.back();
}

void WireBloomFilter::Add(const BloomKey& key, Timestamp at) {
  live_.push_back(Entry{key, at});
  // Beyond the largest class the oldest ids go, as the rolling filter's do.
  while (static_cast<int64_t>(live_.size()) > max_capacity_) live_.pop_front();
  if (stale_ || !filter_) return;
  if (inserted_ < FillLimit(filter_->params().capacity, max_capacity_)) {
    filter_->Insert(key);
    ++inserted_;
  } else {
    stale_ = true;  // full: the next Filter() rebuilds from the live ids
  }
}

void WireBloomFilter::Expire(Timestamp oldest_kept, size_t min_ids, Timestamp now) {
  // Undated ids were loaded before anything new arrived: they lead the queue.
  for (Entry& entry : live_) {
    if (entry.at != kUndated) break;
    entry.at = now;
  }
  while (live_.size() > min_ids && live_.front().at < oldest_kept) live_.pop_front();
}

void WireBloomFilter::Rebuild() {
  const int64_t capacity = ClassFor(live_.size());
  if (capacity == classes_.back()) {
    // The largest class rolls over as the fixed-geometry rolling filter does:
    // keeping the newest 80% leaves room for a fifth of it before the next
    // rebuild, instead of one rebuild per message once it is full.
    const size_t keep = static_cast<size_t>(max_capacity_ - max_capacity_ / 5);
    while (live_.size() > std::max<size_t>(keep, 1)) live_.pop_front();
  }
  const size_t index =
      static_cast<size_t>(std::find(classes_.begin(), classes_.end(), capacity) - classes_.begin());
  BloomFilter rebuilt(params_[index], dialect_);
  for (const Entry& entry : live_) rebuilt.Insert(entry.key);
  filter_ = std::move(rebuilt);
  inserted_ = static_cast<int64_t>(live_.size());
  stale_ = false;
  ++rebuilds_;
}

const BloomFilter& WireBloomFilter::Filter() {
  if (!stale_ && filter_) {
    const int64_t capacity = filter_->params().capacity;
    // Shrink once the live ids would fit a class at most a quarter this size.
    if (capacity > classes_.front() && static_cast<int64_t>(live_.size()) * 8 < capacity) {
      stale_ = true;
    }
  }
  if (stale_ || !filter_) Rebuild();
  return *filter_;
}

}  // namespace sds::internal
