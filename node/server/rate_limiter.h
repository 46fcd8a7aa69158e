// RateLimiter: a token bucket per client address. Each request takes one
// token; a bucket refills at `rate_per_s` up to `burst`. The clock is the
// caller's (a steady time point), so tests drive it without sleeping.
//
// Memory is bounded: at most `max_clients` buckets; when full, buckets that
// have refilled completely (equivalent to a fresh one) are dropped, and if
// none has, the new address is refused (the node answers 429) rather than
// forgetting a client that is being limited.
#ifndef SDS_NODE_SERVER_RATE_LIMITER_H_
#define SDS_NODE_SERVER_RATE_LIMITER_H_

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sds::node {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double rate_per_s, double burst, size_t max_clients);

  bool enabled() const { return rate_per_s_ > 0; }
  // True when `client` may make one more request at `now` (takes a token).
  bool Allow(const std::string& client, Clock::time_point now);
  // Milliseconds until `client` has a token again (for Retry-After).
  uint32_t RetryAfterMs(const std::string& client, Clock::time_point now);
  size_t tracked_clients() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void Refill(Bucket& bucket, Clock::time_point now) const;

  const double rate_per_s_;
  const double burst_;
  const size_t max_clients_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_RATE_LIMITER_H_
