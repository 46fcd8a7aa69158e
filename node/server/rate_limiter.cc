#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sds::node {

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t max_clients)
    : rate_per_s_(rate_per_s), burst_(std::max(burst, 1.0)), max_clients_(max_clients) {}

void RateLimiter::Refill(Bucket& bucket, Clock::time_point now) const {
  if (now <= bucket.updated) return;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_per_s_);
  bucket.updated = now;
}

bool RateLimiter::Allow(const std::string& client, Clock::time_point now) {
  if (!enabled()) return true;
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      for (auto entry = buckets_.begin(); entry != buckets_.end();) {
        Refill(entry->second, now);
        entry = entry->second.tokens >= burst_ ? buckets_.erase(entry) : std::next(entry);
      }
      if (buckets_.size() >= max_clients_) return false;
    }
    it = buckets_.emplace(client, Bucket{burst_, now}).first;
  }
  Refill(it->second, now);
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

uint32_t RateLimiter::RetryAfterMs(const std::string& client, Clock::time_point now) {
  if (!enabled()) return 0;
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) return 1000;  // refused for a full table
  Refill(it->second, now);
  const double missing = std::max(0.0, 1.0 - it->second.tokens);
  return static_cast<uint32_t>(std::min(3.6e6, std::ceil(missing / rate_per_s_ * 1000.0)));
}

size_t RateLimiter::tracked_clients() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace sds::node
