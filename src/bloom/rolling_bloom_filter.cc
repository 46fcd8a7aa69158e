#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "sds/bloom_filter.h"

namespace sds {
namespace {

constexpr int64_t kDefaultCapacity = 10000;
constexpr double kDefaultErrorRate = 0.001;
// nim-sds's CapacityFlexPercent: the filter may hold 20% more ids than its
// capacity before it is rebuilt with 20% fewer.
constexpr double kCapacityFlexPercent = 20.0;

// The geometry for (capacity, error_rate), or nim-sds's defaults if that is
// rejected (only an overflowing capacity can be, after clamping).
BloomParameters ParametersOrDefaults(int64_t capacity, double error_rate) {
  Result<BloomParameters> params = BloomParameters::Compute(capacity, error_rate);
  if (params.ok()) return *params;
  return *BloomParameters::Compute(kDefaultCapacity, kDefaultErrorRate);
}

int64_t ClampCapacity(int64_t capacity) { return capacity <= 0 ? kDefaultCapacity : capacity; }

double ClampErrorRate(double error_rate) {
  // Written so that NaN is replaced too.
  return error_rate > 0.0 && error_rate < 1.0 ? error_rate : kDefaultErrorRate;
}

// int(cap * percent / 100.0) as nim-sds computes it: in floating point, truncated.
int64_t PercentOf(int64_t capacity, double percent) {
  return static_cast<int64_t>(static_cast<double>(capacity) * percent / 100.0);
}

}  // namespace

RollingBloomFilter::RollingBloomFilter(int64_t capacity, double error_rate, Dialect dialect)
    : RollingBloomFilter(
          capacity, error_rate, dialect,
          dialect == Dialect::kNim ? BloomRollOver::kNimSds : BloomRollOver::kFixedGeometry) {}

RollingBloomFilter::RollingBloomFilter(int64_t capacity, double error_rate, Dialect dialect,
                                       BloomRollOver roll_over)
    : filter_(ParametersOrDefaults(ClampCapacity(capacity), ClampErrorRate(error_rate)), dialect),
      capacity_(ClampCapacity(capacity)),
      min_capacity_(PercentOf(capacity_, 100.0 - kCapacityFlexPercent)),
      max_capacity_(PercentOf(capacity_, 100.0 + kCapacityFlexPercent)),
      roll_over_(roll_over),
      rebuild_above_(roll_over == BloomRollOver::kNimSds ? max_capacity_ : capacity_) {}

void RollingBloomFilter::Add(std::string_view id) {
  const BloomKey key = MakeBloomKey(filter_.dialect(), id);
  filter_.Insert(key);
  messages_.emplace_back(id);
  keys_.push_back(key);
  if (static_cast<int64_t>(messages_.size()) > rebuild_above_) Clean();
}

void RollingBloomFilter::Clean() {
  if (static_cast<int64_t>(messages_.size()) <= rebuild_above_) return;

  const BloomParameters params =
      roll_over_ == BloomRollOver::kNimSds
          ? ParametersOrDefaults(max_capacity_, filter_.params().error_rate)
          : filter_.params();
  BloomFilter rebuilt(params, filter_.dialect());

  const size_t keep = static_cast<size_t>(std::max<int64_t>(min_capacity_, 0));
  messages_.erase(messages_.begin(), messages_.end() - static_cast<std::ptrdiff_t>(keep));
  keys_.erase(keys_.begin(), keys_.end() - static_cast<std::ptrdiff_t>(keep));
  // The kept ids' hashes were computed when they were added: a rebuild only
  // sets bits, it does not hash thousands of ids again.
  for (const BloomKey& key : keys_) rebuilt.Insert(key);
  filter_ = std::move(rebuilt);
}

}  // namespace sds
