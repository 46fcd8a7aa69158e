// Scenario files and settings: every shipped scenario loads and validates,
// and bad values are refused with a message naming the key.
#include "sim/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sds::sim {
namespace {

TEST(Scenario, DurationsParseWithUnits) {
  EXPECT_EQ(ParseDuration("250ms")->count(), 250);
  EXPECT_EQ(ParseDuration("5s")->count(), 5000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(ParseDuration("10m")->count(), 600000);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200000);
  EXPECT_EQ(ParseDuration("42")->count(), 42);
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_EQ(FormatDuration(std::chrono::minutes{10}), "10m");
}

TEST(Scenario, TomlSetsEveryKindOfValue) {
  auto s = ParseScenarioToml(R"(
name = "t"
participants = 26
recovery = "sds"
period = "4s"
[traffic]
rate = 0.5
arrival = "constant"
[link]
model = "gilbert-elliott"
p_good_to_bad = 0.02
[config]
resend_interval = "7s"
dialect = "spec"
repair_request_timer = "truncated-exponential"
[config.limits]
max_incoming_buffer = 77
[[partition]]
start = "1m"
end = "2m"
fraction = 0.25
[[churn]]
fraction = 0.25
at = "30s"
duration = "10m"
keep_state = false
)",
                             "inline");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->participants, 26u);
  EXPECT_EQ(s->recovery, Recovery::kSds);
  EXPECT_EQ(s->period.count(), 4000);
  EXPECT_EQ(s->traffic.arrival, Traffic::Arrival::kConstant);
  EXPECT_EQ(s->loss.kind, LossModel::Kind::kGilbertElliott);
  // The dialect is applied first, so resend_interval survives it.
  EXPECT_EQ(s->config.dialect, Dialect::kSpec);
  EXPECT_EQ(s->config.resend_interval.count(), 7000);
  EXPECT_EQ(s->config.repair_request_timer, RepairRequestTimer::kTruncatedExponential);
  EXPECT_EQ(s->config.limits.max_incoming_buffer, 77u);
  ASSERT_EQ(s->partitions.size(), 1u);
  EXPECT_EQ(s->partitions[0].start.count(), 60000);
  EXPECT_DOUBLE_EQ(s->partitions[0].fraction, 0.25);
  ASSERT_EQ(s->churn.size(), 1u);
  EXPECT_FALSE(s->churn[0].keep_state);
  EXPECT_EQ(s->churn[0].duration.count(), 600000);
  EXPECT_TRUE(s->Validate().ok());
}

TEST(Scenario, BadInputIsRefusedWithTheKey) {
  auto unknown = ParseScenarioToml("[link]\nlos = 0.1\n", "f.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("link.los"), std::string::npos);
  auto syntax = ParseScenarioToml("participants = = 3\n", "f.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("f.toml:1"), std::string::npos);
  Scenario s;
  EXPECT_FALSE(ApplySetting(s, "link.loss", "1.5").ok());
  EXPECT_FALSE(ApplySetting(s, "config.bloom_roll_over", "sometimes").ok());
  EXPECT_FALSE(ApplySetting(s, "config.sync_policy", "often").ok());
  EXPECT_TRUE(ApplySetting(s, "config.history_order", "lamport").ok());
  EXPECT_EQ(s.config.history_order, HistoryOrder::kLamport);
  EXPECT_TRUE(ApplySetting(s, "config.bloom_wire_size", "fixed").ok());
  EXPECT_EQ(s.config.bloom_wire_size, BloomWireSize::kFixed);
  EXPECT_TRUE(ApplySetting(s, "link.loss", "5%").ok());
  EXPECT_DOUBLE_EQ(s.loss.loss, 0.05);
  EXPECT_TRUE(ApplySetting(s, "config.resend_interval", "0s").ok());
  EXPECT_FALSE(s.Validate().ok());  // the engine's own validation is applied
}

TEST(Scenario, EveryConfigFieldHasAKey) {
  std::vector<std::string> keys = SettingKeys();
  for (const char* key : {"config.dialect",
                          "config.accept_other_dialect",
                          "config.lamport_unit",
                          "config.bloom_filter_capacity",
                          "config.bloom_filter_error_rate",
                          "config.bloom_roll_over",
                          "config.bloom_ack_threshold",
                          "config.bloom_wire_size",
                          "config.bloom_wire_horizon",
                          "config.sync_policy",
                          "config.history_order",
                          "config.max_message_history",
                          "config.max_causal_history",
                          "config.dedup_window",
                          "config.resend_interval",
                          "config.max_resend_attempts",
                          "config.sync_message_interval",
                          "config.repair_t_min",
                          "config.repair_t_max",
                          "config.num_response_groups",
                          "config.max_repair_requests",
                          "config.max_repair_attempts",
                          "config.repair_requests_in_sync_messages",
                          "config.repair_request_timer",
                          "config.repair_group_size_estimate",
                          "config.limits.max_channels",
                          "config.limits.max_incoming_buffer",
                          "config.limits.max_incoming_buffer_bytes",
                          "config.limits.max_outgoing_buffer",
                          "config.limits.max_repair_buffer",
                          "config.limits.max_lamport",
                          "config.limits.decode.max_message_bytes",
                          "config.limits.decode.max_content_bytes",
                          "config.limits.decode.max_causal_history",
                          "config.limits.decode.max_repair_request",
                          "config.limits.decode.max_id_bytes",
                          "config.limits.decode.max_hint_bytes",
                          "config.limits.decode.max_bloom_bytes"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
}

TEST(Scenario, EveryShippedScenarioLoadsAndValidates) {
  size_t count = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(SDS_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    auto s = LoadScenarioFile(entry.path().string());
    ASSERT_TRUE(s.ok()) << entry.path() << ": " << s.status().ToString();
    EXPECT_TRUE(s->Validate().ok()) << entry.path() << ": " << s->Validate().ToString();
  }
  EXPECT_GE(count, 10u);
}

}  // namespace
}  // namespace sds::sim
