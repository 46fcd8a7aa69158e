// Right-sized bloom filters change what a message costs, not what the group
// gets: the shipped default scenario and the demo's lossy four-member chat
// deliver the same messages, with the same acknowledgement latency (within
// 5 %), as with nim-sds's fixed filter, for a fraction of the bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "sds/config.h"
#include "sim/network.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace sds {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

sim::RunReport RunDefault(BloomWireSize wire_size) {
  auto scenario = sim::LoadScenarioFile(std::string(SDS_SOURCE_DIR) + "/scenarios/default.toml");
  EXPECT_TRUE(scenario.ok()) << scenario.status().ToString();
  scenario->config.bloom_wire_size = wire_size;
  auto report = sim::RunScenario(*scenario);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return *report;
}

void ExpectWithin5Percent(double right, double fixed, const char* what) {
  EXPECT_LE(std::abs(right - fixed), 0.05 * fixed) << what << ": " << right << " vs " << fixed;
}

TEST(WireOverheadScenario, DefaultScenarioDeliversTheSameForAFractionOfTheBytes) {
  const sim::RunReport right = RunDefault(BloomWireSize::kRightSized);
  const sim::RunReport fixed = RunDefault(BloomWireSize::kFixed);
  EXPECT_EQ(right.messages_sent, fixed.messages_sent);
  EXPECT_EQ(right.delivered, fixed.delivered);
  EXPECT_EQ(right.delivered, right.pairs);
  EXPECT_EQ(right.lost, 0u);
  EXPECT_EQ(right.acknowledged, fixed.acknowledged);
  ExpectWithin5Percent(right.ack_latency.p50, fixed.ack_latency.p50, "ack latency p50");
  ExpectWithin5Percent(right.ack_latency.p90, fixed.ack_latency.p90, "ack latency p90");
  ExpectWithin5Percent(right.latency.p90, fixed.latency.p90, "delivery latency p90");
  EXPECT_LE(right.false_acknowledgements, fixed.false_acknowledgements + 2);
  const double right_bytes = static_cast<double>(right.Total().bytes);
  const double fixed_bytes = static_cast<double>(fixed.Total().bytes);
  EXPECT_LT(right_bytes, fixed_bytes / 5);
  std::printf("default scenario: %.0f vs %.0f bytes per application message\n",
              right_bytes / static_cast<double>(right.messages_sent),
              fixed_bytes / static_cast<double>(fixed.messages_sent));
}

struct DemoRun {
  std::vector<std::vector<MessageId>> delivered;
  uint64_t bytes = 0, acknowledged = 0;
};

// sds_demo's setting: four members, 20 % loss, 20-800 ms delay.
DemoRun RunDemo(Dialect dialect, BloomWireSize wire_size, uint64_t seed) {
  const Timestamp start = TimestampFromUnixMillis(1'800'000'000'000);
  sim::LinkOptions link;
  link.loss = 0.2;
  link.min_delay = milliseconds{20};
  link.max_delay = milliseconds{800};
  link.seed = seed;
  sim::Network network(link, start);
  const std::vector<std::string> names = {"alice", "bob", "carol", "dave"};
  for (const std::string& name : names) {
    Config config = Config::ForDialect(dialect);
    config.participant_id = name;
    config.resend_interval = seconds{10};
    config.max_resend_attempts = 3;
    config.sync_message_interval = seconds{5};
    config.repair_t_min = seconds{1};
    config.repair_t_max = seconds{10};
    config.max_repair_attempts = 6;
    config.bloom_wire_size = wire_size;
    EXPECT_TRUE(network.AddParticipant(config).ok());
  }
  std::mt19937_64 schedule(seed * 7919 + 1);
  std::uniform_int_distribution<int64_t> moment(0, 120'000);
  for (size_t who = 0; who < names.size(); ++who) {
    for (int n = 0; n < 40; ++n) {
      network.ScheduleSend(start + milliseconds{moment(schedule)}, who, "general",
                           names[who] + " says #" + std::to_string(n));
    }
  }
  network.RunUntil(start + std::chrono::minutes{10});
  DemoRun run;
  for (size_t i = 0; i < network.size(); ++i) {
    std::vector<MessageId> ids = network.DeliveredIds(i);
    std::sort(ids.begin(), ids.end());
    run.delivered.push_back(ids);
    run.bytes += network.Stats(i).bytes_broadcast;
    run.acknowledged += network.Stats(i).acknowledged;
  }
  return run;
}

TEST(WireOverheadScenario, DemoDeliversTheSameMessages) {
  for (uint64_t seed : {7, 8, 9}) {
    const DemoRun right = RunDemo(Dialect::kNim, BloomWireSize::kRightSized, seed);
    const DemoRun fixed = RunDemo(Dialect::kNim, BloomWireSize::kFixed, seed);
    EXPECT_EQ(right.delivered, fixed.delivered) << seed;
    for (const auto& ids : right.delivered) EXPECT_EQ(ids.size(), 120u) << seed;
    EXPECT_EQ(right.acknowledged, fixed.acknowledged) << seed;
    // 160 application messages: under 4 KB each on the network, from ~48 KB.
    EXPECT_LT(right.bytes, 160u * 4096u) << seed;
    EXPECT_GT(fixed.bytes, 160u * 30000u) << seed;
  }
}

}  // namespace
}  // namespace sds
