// Shared by the crash worker and the crash test driver: the configuration of
// the persisting participant and the channels of the workload.
#ifndef SDS_TESTS_CRASH_CRASH_COMMON_H_
#define SDS_TESTS_CRASH_CRASH_COMMON_H_

#include <chrono>
#include <string>
#include <vector>

#include "sds/config.h"

namespace sds::crash {

inline const std::vector<std::string>& Channels() {
  static const std::vector<std::string> channels = {"general", "random", "ops"};
  return channels;
}

inline Config AliceConfig() {
  Config config;
  config.participant_id = "alice";
  config.channel_admission = ChannelAdmission::kAny;  // bob hears of channels from alice
  config.max_message_history = 1'000'000;  // nothing is evicted: delivered means in history
  config.dedup_window = 1'000'000;
  config.resend_interval = std::chrono::hours(24);  // nothing gives up during the test
  config.limits.max_outgoing_buffer = 1'000'000;
  config.limits.max_incoming_buffer = 1'000'000;
  config.bloom_filter_capacity = 2000;  // a small bloom keeps the database small
  config.bloom_filter_error_rate = 0.01;
  return config;
}

}  // namespace sds::crash

#endif  // SDS_TESTS_CRASH_CRASH_COMMON_H_
