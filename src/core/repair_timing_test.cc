// SDS-R timing functions: the nim-sds test_reliability computation tests
// (#28-#34, #45-#51) and every golden vector of computeTReq, computeTResp and
// isInResponseGroup produced by nim-sds itself.
#include "core/repair_timing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "sds/config.h"
#include "tests/testutil/vectors.h"

namespace sds::repair {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kTMin = seconds{30};
constexpr Duration kTMax = seconds{300};

// ---- Golden vectors ----------------------------------------------------------------------

TEST(RepairTimingVectors, ComputeTReqMatchesEveryNimVector) {
  const auto records = testutil::NimVectors("computeTReq");
  ASSERT_EQ(records.size(), 20u);
  for (const auto& r : records) {
    const auto p = r.at("participantId").get<std::string>();
    const auto m = r.at("messageId").get<std::string>();
    const Duration t_min{r.at("tMinMs").get<int64_t>()};
    const Duration t_max{r.at("tMaxMs").get<int64_t>()};
    EXPECT_EQ(NimRequestDelay(p, m, t_min, t_max).count(), r.at("resultMs").get<int64_t>())
        << r.dump();
  }
}

TEST(RepairTimingVectors, ComputeTRespMatchesEveryNimVector) {
  const auto records = testutil::NimVectors("computeTResp");
  ASSERT_EQ(records.size(), 68u);
  for (const auto& r : records) {
    const auto p = r.at("participantId").get<std::string>();
    const auto s = r.at("senderId").get<std::string>();
    const auto m = r.at("messageId").get<std::string>();
    const Duration t_max{r.at("tMaxMs").get<int64_t>()};
    EXPECT_EQ(NimResponseDelay(p, s, m, t_max).count(), r.at("resultMs").get<int64_t>())
        << r.dump();
  }
}

TEST(RepairTimingVectors, IsInResponseGroupMatchesEveryNimVector) {
  const auto records = testutil::NimVectors("isInResponseGroup");
  ASSERT_EQ(records.size(), 288u);
  int in_group = 0;
  for (const auto& r : records) {
    const auto p = r.at("participantId").get<std::string>();
    const auto s = r.at("senderId").get<std::string>();
    const auto m = r.at("messageId").get<std::string>();
    const int64_t groups = r.at("numResponseGroups").get<int64_t>();
    const bool expected = r.at("result").get<bool>();
    in_group += expected ? 1 : 0;
    EXPECT_EQ(NimInResponseGroup(p, s, m, groups), expected) << r.dump();
  }
  // The vectors exercise both answers, so a constant function cannot pass.
  EXPECT_GT(in_group, 0);
  EXPECT_LT(in_group, 288);
}

// The three values quoted in nim-sds.md §2.9.
TEST(RepairTimingVectors, DocumentedExamples) {
  EXPECT_EQ(NimRequestDelay("alice", "msg1", kTMin, kTMax), milliseconds{119016});
  EXPECT_EQ(NimResponseDelay("bob", "alice", "msg1", kTMax), milliseconds{275232});
  EXPECT_TRUE(NimInResponseGroup("bob", "alice", "msg1", 10));
}

// ---- nim-sds test_reliability "SDS-R: Computation Functions" ------------------------------

// nim-sds test_reliability #28
TEST(RepairTiming, ComputeTReqReturnsDurationInTMinTMax) {
  const Duration d = NimRequestDelay("participant1", "msg1", kTMin, kTMax);
  EXPECT_GE(d, kTMin);
  EXPECT_LT(d, kTMax);
}

// nim-sds test_reliability #29
TEST(RepairTiming, ComputeTReqIsDeterministic) {
  EXPECT_EQ(NimRequestDelay("p1", "m1", kTMin, kTMax), NimRequestDelay("p1", "m1", kTMin, kTMax));
}

// nim-sds test_reliability #30 (nim asserts only the lower bound; the two
// participants do get different delays, which is the point of the hash).
TEST(RepairTiming, ComputeTReqVariesWithParticipant) {
  const Duration a = NimRequestDelay("participant-A", "msg1", kTMin, kTMax);
  const Duration b = NimRequestDelay("participant-B", "msg1", kTMin, kTMax);
  EXPECT_GE(a, kTMin);
  EXPECT_GE(b, kTMin);
  EXPECT_NE(a, b);
}

// nim-sds test_reliability #31
TEST(RepairTiming, ComputeTRespOriginalSenderHasZeroDistance) {
  EXPECT_EQ(NimResponseDelay("sender1", "sender1", "msg1", kTMax), Duration::zero());
}

// nim-sds test_reliability #32
TEST(RepairTiming, ComputeTRespNonSenderHasBackoffBelowTMax) {
  const Duration d = NimResponseDelay("other-node", "sender1", "msg1", kTMax);
  EXPECT_GT(d, Duration::zero());
  EXPECT_LT(d, kTMax);
}

// nim-sds test_reliability #33
TEST(RepairTiming, IsInResponseGroupAllInOneGroupWhenOneGroup) {
  EXPECT_TRUE(NimInResponseGroup("p1", "sender1", "msg1", 1));
  EXPECT_TRUE(NimInResponseGroup("p2", "sender1", "msg1", 1));
}

// nim-sds test_reliability #34
TEST(RepairTiming, IsInResponseGroupSenderAlwaysInOwnGroup) {
  for (int64_t g = 1; g <= 10; ++g) {
    EXPECT_TRUE(NimInResponseGroup("sender1", "sender1", "msg1", g)) << g;
    EXPECT_TRUE(SpecInResponseGroup("sender1", "sender1", "msg1", g)) << g;
  }
}

// ---- nim-sds test_reliability "SDS-R: Edge Cases and Defensive Branches" ------------------

// nim-sds test_reliability #45
TEST(RepairTiming, ComputeTReqReturnsTMinWhenRangeDegenerate) {
  EXPECT_EQ(NimRequestDelay("p", "m", seconds{30}, seconds{30}), seconds{30});
  EXPECT_EQ(NimRequestDelay("p", "m", seconds{30}, seconds{10}), seconds{30});
  EXPECT_EQ(SpecRequestDelay("p", "m", seconds{30}, seconds{30}), seconds{30});
  EXPECT_EQ(SpecRequestDelay("p", "m", seconds{30}, seconds{10}), seconds{30});
}

// nim-sds test_reliability #46
TEST(RepairTiming, ComputeTRespReturnsZeroWhenTMaxIsZero) {
  EXPECT_EQ(NimResponseDelay("p", "other", "m", Duration::zero()), Duration::zero());
  EXPECT_EQ(SpecResponseDelay("p", "other", "m", Duration::zero()), Duration::zero());
}

// nim-sds test_reliability #47
TEST(RepairTiming, ComputeTRespStaysWithinZeroTMax) {
  for (int i = 0; i < 500; ++i) {
    const std::string p = "participant-" + std::to_string(i);
    const std::string s = "sender-" + std::to_string(13 * i);
    const std::string m = "msg-" + std::to_string(31 * i);
    for (Duration d : {NimResponseDelay(p, s, m, kTMax), SpecResponseDelay(p, s, m, kTMax)}) {
      EXPECT_GE(d, Duration::zero()) << i;
      EXPECT_LT(d, kTMax) << i;
    }
  }
}

// nim-sds test_reliability #48
TEST(RepairTiming, IsInResponseGroupTrueForNonPositiveGroups) {
  for (int64_t g : {0, -1}) {
    EXPECT_TRUE(NimInResponseGroup("p", "s", "m", g));
    EXPECT_TRUE(SpecInResponseGroup("p", "s", "m", g));
  }
}

// nim-sds test_reliability #49
TEST(RepairTiming, ComputeTReqBoundsAcrossManyInputs) {
  for (int i = 0; i < 200; ++i) {
    const std::string p = "p-" + std::to_string(i);
    const std::string m = "m-" + std::to_string(i);
    for (Duration d : {NimRequestDelay(p, m, kTMin, kTMax), SpecRequestDelay(p, m, kTMin, kTMax)}) {
      EXPECT_GE(d, kTMin) << i;
      EXPECT_LT(d, kTMax) << i;
    }
  }
}

// nim-sds test_reliability #50
TEST(RepairTiming, ResponseGroupDistributionRoughlyUniform) {
  int nim_in = 0;
  int spec_in = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string p = "participant-" + std::to_string(i);
    nim_in += NimInResponseGroup(p, "alice", "msg-xyz", 10) ? 1 : 0;
    spec_in += SpecInResponseGroup(p, "alice", "msg-xyz", 10) ? 1 : 0;
  }
  EXPECT_GE(nim_in, 50);
  EXPECT_LE(nim_in, 200);
  EXPECT_GE(spec_in, 50);
  EXPECT_LE(spec_in, 200);
}

// nim-sds test_reliability #51
TEST(RepairTiming, SelfAlwaysFastestResponder) {
  EXPECT_EQ(NimResponseDelay("alice", "alice", "msg-xyz", kTMax), Duration::zero());
  for (int i = 0; i < 50; ++i) {
    const Duration d = NimResponseDelay("other-" + std::to_string(i), "alice", "msg-xyz", kTMax);
    EXPECT_GE(d, Duration::zero()) << i;
    EXPECT_LT(d, kTMax) << i;
  }
}

// ---- Config dispatch and the truncated exponential timer ----------------------------------

// The engine asks through the Config; with the spec dialect that must give
// exactly what @waku/sds 0.0.8 computes (recorded offline from the library,
// see tests/vectors/SOURCE.md), and with the nim dialect what nim-sds does.
Config SpecConfigFor(const std::string& participant_id) {
  Config config = Config::ForDialect(Dialect::kSpec);
  config.participant_id = participant_id;
  return config;
}

TEST(RepairTimingVectors, SpecConfigRequestDelayMatchesEveryWakuSdsVector) {
  const auto& records = testutil::WakuRepairTimingVectors().at("tReq");
  ASSERT_EQ(records.size(), 150u);
  int64_t at_window_start = 0;
  for (const auto& r : records) {
    Config config = SpecConfigFor(r.at("participantId").get<std::string>());
    config.repair_t_min = Duration{r.at("tMinMs").get<int64_t>()};
    config.repair_t_max = Duration{r.at("tMaxMs").get<int64_t>()};
    const int64_t expected = r.at("resultMs").get<int64_t>();
    at_window_start += expected == config.repair_t_min.count() ? 1 : 0;
    EXPECT_EQ(RequestDelay(config, r.at("messageId").get<std::string>()).count(), expected)
        << r.dump();
  }
  // Spread over the windows, not pinned to their start (only [0, 1) and
  // [5, 6) windows force it: 2 of 6 windows x 25 pairs).
  EXPECT_EQ(at_window_start, 50);
}

TEST(RepairTimingVectors, SpecConfigResponseDelayMatchesEveryWakuSdsVector) {
  const auto& records = testutil::WakuRepairTimingVectors().at("tResp");
  ASSERT_EQ(records.size(), 750u);
  for (const auto& r : records) {
    Config config = SpecConfigFor(r.at("participantId").get<std::string>());
    config.repair_t_max = Duration{r.at("tMaxMs").get<int64_t>()};
    const auto sender = r.at("senderId").get<std::string>();
    const auto message = r.at("messageId").get<std::string>();
    EXPECT_EQ(ResponseDelay(config, sender, message).count(), r.at("resultMs").get<int64_t>())
        << r.dump();
  }
}

TEST(RepairTimingVectors, SpecConfigResponseGroupMatchesEveryWakuSdsVector) {
  const auto& records = testutil::WakuRepairTimingVectors().at("responseGroup");
  ASSERT_EQ(records.size(), 625u);
  int in_group_of_several = 0;
  int out_of_group = 0;
  for (const auto& r : records) {
    Config config = SpecConfigFor(r.at("participantId").get<std::string>());
    config.num_response_groups = r.at("groups").get<int>();
    const bool expected = r.at("result").get<bool>();
    if (config.num_response_groups > 1) (expected ? in_group_of_several : out_of_group) += 1;
    EXPECT_EQ(InResponseGroup(config, r.at("senderId").get<std::string>(),
                              r.at("messageId").get<std::string>()),
              expected)
        << r.dump();
  }
  // Both answers occur among the vectors with more than one group.
  EXPECT_GT(in_group_of_several, 0);
  EXPECT_GT(out_of_group, 0);
}

TEST(RepairTimingVectors, NimConfigMatchesEveryNimVector) {
  for (const auto& r : testutil::NimVectors("computeTReq")) {
    Config config;
    config.participant_id = r.at("participantId").get<std::string>();
    config.repair_t_min = Duration{r.at("tMinMs").get<int64_t>()};
    config.repair_t_max = Duration{r.at("tMaxMs").get<int64_t>()};
    EXPECT_EQ(RequestDelay(config, r.at("messageId").get<std::string>()).count(),
              r.at("resultMs").get<int64_t>())
        << r.dump();
  }
  for (const auto& r : testutil::NimVectors("computeTResp")) {
    Config config;
    config.participant_id = r.at("participantId").get<std::string>();
    config.repair_t_max = Duration{r.at("tMaxMs").get<int64_t>()};
    EXPECT_EQ(ResponseDelay(config, r.at("senderId").get<std::string>(),
                            r.at("messageId").get<std::string>())
                  .count(),
              r.at("resultMs").get<int64_t>())
        << r.dump();
  }
  for (const auto& r : testutil::NimVectors("isInResponseGroup")) {
    Config config;
    config.participant_id = r.at("participantId").get<std::string>();
    config.num_response_groups = r.at("numResponseGroups").get<int>();
    EXPECT_EQ(InResponseGroup(config, r.at("senderId").get<std::string>(),
                              r.at("messageId").get<std::string>()),
              r.at("result").get<bool>())
        << r.dump();
  }
}

TEST(RepairTiming, TruncatedExponentialStaysInWindowAndIsMonotone) {
  EXPECT_EQ(TruncatedExponentialDelay(0.0, 128, kTMin, kTMax), kTMin);
  Duration previous = kTMin;
  for (int i = 0; i <= 1000; ++i) {
    const double unit = i / 1000.0 * 0.999999;
    const Duration d = TruncatedExponentialDelay(unit, 128, kTMin, kTMax);
    EXPECT_GE(d, previous) << unit;
    EXPECT_LT(d, kTMax) << unit;
    previous = d;
  }
  // Most of the mass sits late: the median draw is past the window's middle.
  EXPECT_GT(TruncatedExponentialDelay(0.5, 128, kTMin, kTMax), kTMin + (kTMax - kTMin) / 2);
  EXPECT_EQ(TruncatedExponentialDelay(0.7, 128, seconds{5}, seconds{5}), seconds{5});

  Config config;
  config.participant_id = "bob";
  config.repair_request_timer = RepairRequestTimer::kTruncatedExponential;
  for (int i = 0; i < 100; ++i) {
    const Duration d = RequestDelay(config, "m" + std::to_string(i));
    EXPECT_GE(d, config.repair_t_min);
    EXPECT_LT(d, config.repair_t_max);
  }
}

// The specification's default group count: one response group per 128
// participants, i.e. n / 128 + 1 (@waku/sds's max(1, n / 128) is one lower
// from 128 on).
TEST(RepairTiming, SpecResponseGroupsIsOneGroupPer128Participants) {
  static_assert(Config::SpecResponseGroups(1) == 1);
  EXPECT_EQ(Config::SpecResponseGroups(0), 1);
  EXPECT_EQ(Config::SpecResponseGroups(-5), 1);
  EXPECT_EQ(Config::SpecResponseGroups(2), 1);
  EXPECT_EQ(Config::SpecResponseGroups(127), 1);
  EXPECT_EQ(Config::SpecResponseGroups(128), 2);
  EXPECT_EQ(Config::SpecResponseGroups(255), 2);
  EXPECT_EQ(Config::SpecResponseGroups(256), 3);
  EXPECT_EQ(Config::SpecResponseGroups(1000), 8);
  EXPECT_EQ(Config::SpecResponseGroups(10000), 79);
  EXPECT_EQ(Config::SpecResponseGroups(int64_t{1} << 62), INT32_MAX);
  // A group of n then holds about n / groups <= 128 members on average.
  for (int64_t n : {10, 100, 128, 1000, 10000, 100000}) {
    EXPECT_LE(n / Config::SpecResponseGroups(n), 128) << n;
  }
  // Every member is still in exactly one group: the original sender's group
  // has members for the spec count as for any other.
  Config config = Config::ForDialect(Dialect::kSpec);
  config.num_response_groups = Config::SpecResponseGroups(1000);
  int in_group = 0;
  for (int i = 0; i < 1000; ++i) {
    config.participant_id = "p" + std::to_string(i);
    in_group += InResponseGroup(config, "p0", "msg-xyz") ? 1 : 0;
  }
  EXPECT_GE(in_group, 1000 / 8 / 2);
  EXPECT_LE(in_group, 1000 / 8 * 2);
}

}  // namespace
}  // namespace sds::repair
