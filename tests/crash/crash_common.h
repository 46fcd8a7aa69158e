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

// Each worker re-sends this many of the newest messages of earlier lifetimes
// (tests/crash/crash_worker.cc): a peer or relay repeating itself after a
// restart, which must never make alice deliver a message twice.
inline constexpr size_t kRedeliveredPerRestart = 15;

inline Config AliceConfig() {
  Config config;
  config.participant_id = "alice";
  config.channel_admission = ChannelAdmission::kAny;  // bob hears of channels from alice
  // Small windows, so that history and duplicate window both evict during
  // the test; the driver tells a repeat within the window (a bug) from one
  // that came after alice forgot the message.
  config.max_message_history = 10;
  config.dedup_window = 25;
  config.resend_interval = std::chrono::hours(24);  // nothing gives up during the test
  config.limits.max_outgoing_buffer = 1'000'000;
  config.limits.max_incoming_buffer = 1'000'000;
  config.bloom_filter_capacity = 2000;  // a small bloom keeps the database small
  config.bloom_filter_error_rate = 0.01;
  return config;
}

}  // namespace sds::crash

#endif  // SDS_TESTS_CRASH_CRASH_COMMON_H_
