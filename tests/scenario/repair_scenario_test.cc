// SDS-R end to end on the deterministic simulator (sim/network.h): one
// scripted loss in a group of eight, where the timers say exactly who requests,
// who answers and when; and lossy runs where repair must fill every gap.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/engine_access.h"
#include "core/repair_timing.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sim/network.h"

namespace sds {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kChannel[] = "room";
constexpr size_t kParticipants = 8;
constexpr size_t kLoser = 7;      // the one participant that misses the message
constexpr char kSender[] = "p0";  // sends the lost message
constexpr char kLost[] = "p0-1";  // sim::Network names ids "<name>-<n>"
constexpr Duration kLatency = milliseconds{100};
const Timestamp kStart = TimestampFromUnixMillis(1'800'000'000'000);

std::string Name(size_t i) { return "p" + std::to_string(i); }

Config ParticipantConfig(size_t i, int response_groups) {
  Config config;  // nim-sds defaults: T_req in [30 s, 300 s), T_resp in [0, 300 s)
  config.participant_id = Name(i);
  config.num_response_groups = response_groups;
  return config;
}

// What went over the wire about kLost, per broadcasting participant.
struct WireLog {
  std::map<size_t, int> requests;  // repair_request entries naming kLost
  std::map<size_t, int> copies;    // broadcasts of kLost itself (original and repairs)
  int total_requests() const {
    int n = 0;
    for (const auto& [who, count] : requests) n += count;
    return n;
  }
};

bool Delivered(sim::Network& network, size_t who, const MessageId& id) {
  const auto& ids = network.DeliveredIds(who);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Every participant holds every message the others sent, each exactly once.
void ExpectEveryoneHasEverything(sim::Network& network) {
  for (size_t who = 0; who < network.size(); ++who) {
    const std::vector<MessageId>& got = network.DeliveredIds(who);
    std::set<MessageId> unique(got.begin(), got.end());
    EXPECT_EQ(unique.size(), got.size()) << Name(who) << " got a message twice";
    const std::string own_prefix = Name(who) + "-";
    size_t expected = 0;
    for (const MessageId& id : network.AllSent()) {
      if (id.rfind(own_prefix, 0) == 0) continue;
      ++expected;
      EXPECT_EQ(unique.count(id), 1u) << Name(who) << " never got " << id;
    }
    EXPECT_EQ(unique.size(), expected) << Name(who);
  }
}

// ---- One loss, scripted ------------------------------------------------------------------
//
// p0 sends kLost at t = 0; only the copy to p7 is lost. p1 .. p6 then send one
// message each, a second apart, so p7 learns of the gap when p1's message
// arrives (t = 1.1 s) and nobody else misses anything: p7 is the only
// requester. Its request goes out at 1.1 s + T_req(p7) (in a sync message,
// since p7 sends nothing) and every holder hears it 100 ms later. Each holder
// in p0's response group for kLost schedules a rebroadcast T_resp after that;
// p0's T_resp is 0. The first rebroadcast reaches everyone 100 ms after it was
// sent and cancels the pending ones, so the responders are the group members
// whose T_resp is below (first T_resp) + 100 ms.
class OneLoss {
 public:
  // `sender_answers` false: p0's own rebroadcast of kLost is lost too, so the
  // rest of its response group must answer.
  OneLoss(int response_groups, bool sender_answers) : response_groups_(response_groups) {
    sim::LinkOptions link;
    link.min_delay = kLatency;
    link.max_delay = kLatency;
    network_ = std::make_unique<sim::Network>(link, kStart);
    for (size_t i = 0; i < kParticipants; ++i) {
      auto index = network_->AddParticipant(ParticipantConfig(i, response_groups));
      EXPECT_TRUE(index.ok());
    }
    network_->SetBroadcastObserver(
        [this](size_t from, const SharedBytes& wire, const MessageId& id) {
          if (id == kLost) ++log_.copies[from];
          auto decoded = DecodeAny(wire);
          ASSERT_TRUE(decoded.ok());
          for (const HistoryEntry& request : decoded->message.repair_request) {
            if (request.message_id == kLost) ++log_.requests[from];
          }
        });

    // The filter is consulted while Send broadcasts, so it can change right after.
    network_->SetDropFilter(
        [](size_t, size_t to, const MessageId& id) { return id == kLost && to == kLoser; });
    EXPECT_TRUE(network_->Send(0, kChannel, "the message p7 will miss").ok());
    if (sender_answers) {
      network_->SetDropFilter(nullptr);
    } else {
      network_->SetDropFilter(
          [](size_t from, size_t, const MessageId& id) { return from == 0 && id == kLost; });
    }
    for (size_t i = 1; i < kLoser; ++i) {
      network_->ScheduleSend(kStart + seconds{static_cast<int64_t>(i)}, i, kChannel,
                             "hello from " + Name(i));
    }

    // The expectation, from the engine's timer functions.
    detected_ = kStart + seconds{1} + kLatency;
    requested_ =
        detected_ + repair::RequestDelay(ParticipantConfig(kLoser, response_groups), kLost);
    heard_ = requested_ + kLatency;
    for (size_t j = 0; j < kLoser; ++j) {
      const Config config = ParticipantConfig(j, response_groups);
      if (!repair::InResponseGroup(config, kSender, kLost)) continue;
      eligible_.push_back(j);
      t_resp_[j] = repair::ResponseDelay(config, kSender, kLost);
    }
    // The first rebroadcast that reaches the others.
    Duration first = Duration::max();
    for (size_t j : eligible_) {
      if (j == 0 && !sender_answers) continue;
      first = std::min(first, t_resp_[j]);
    }
    first_answer_ = first;
    for (size_t j : eligible_) {
      // A T_resp exactly at the arrival would depend on event order: not here.
      EXPECT_NE(t_resp_[j], first + kLatency) << Name(j);
      if (t_resp_[j] < first + kLatency) responders_.insert(j);
    }
  }

  sim::Network& network() { return *network_; }
  const WireLog& log() const { return log_; }
  Timestamp requested() const { return requested_; }
  Timestamp heard() const { return heard_; }
  // When the first answer that is not lost reaches p7.
  Timestamp repaired() const { return heard_ + first_answer_ + kLatency; }
  const std::vector<size_t>& eligible() const { return eligible_; }
  const std::set<size_t>& responders() const { return responders_; }
  Duration t_resp(size_t j) const { return t_resp_.at(j); }
  int response_groups() const { return response_groups_; }

  bool PendingResponse(size_t who) {
    auto& channel = internal::ChannelOf(network_->Manager(who), kChannel);
    return channel.incoming_repair.count(kLost) != 0;
  }

  // Runs the whole exchange and checks the outcome every scenario shares.
  void RunAndCheck() {
    sim::Network& net = *network_;
    if (net.now() < requested_) {  // a test may have looked at an earlier moment
      net.RunUntil(requested_ - milliseconds{1});
      EXPECT_FALSE(Delivered(net, kLoser, kLost));
      EXPECT_EQ(log_.total_requests(), 0);
    }
    net.RunUntil(repaired() - milliseconds{1});
    EXPECT_FALSE(Delivered(net, kLoser, kLost));
    net.RunUntil(repaired());
    EXPECT_TRUE(Delivered(net, kLoser, kLost));

    // Long enough for every timer (T_max 300 s, re-armed requests, resends).
    net.RunUntil(kStart + minutes{60});
    ExpectEveryoneHasEverything(net);

    // One loss, one request: only p7 missed kLost, and it asked once.
    EXPECT_EQ(log_.total_requests(), 1);
    EXPECT_EQ(log_.requests.at(kLoser), 1);
    for (size_t i = 0; i < kParticipants; ++i) {
      EXPECT_EQ(net.Stats(i).repair_requests_sent, i == kLoser ? 1u : 0u) << Name(i);
      // Exactly the expected responders handed out RepairReady, once each.
      const uint64_t expected = responders_.count(i) != 0 ? 1 : 0;
      EXPECT_EQ(net.Stats(i).repairs_sent, expected) << Name(i);
      const int copies = log_.copies.count(i) != 0 ? log_.copies.at(i) : 0;
      EXPECT_EQ(copies, (i == 0 ? 1 : 0) + static_cast<int>(expected)) << Name(i);
      EXPECT_FALSE(PendingResponse(i)) << Name(i);
    }
  }

 private:
  int response_groups_;
  std::unique_ptr<sim::Network> network_;
  WireLog log_;
  Timestamp detected_, requested_, heard_;
  Duration first_answer_{0};
  std::vector<size_t> eligible_;
  std::map<size_t, Duration> t_resp_;
  std::set<size_t> responders_;
};

// The smallest group count > 1 that, for kLost, puts p0 together with at
// least one other holder and leaves at least one holder out: both halves of
// the response-group rule are then visible.
int InterestingGroupCount() {
  for (int groups = 2; groups <= 6; ++groups) {
    int in = 0, out = 0;
    for (size_t j = 1; j < kLoser; ++j) {
      (repair::InResponseGroup(ParticipantConfig(j, groups), kSender, kLost) ? in : out) += 1;
    }
    if (in >= 1 && out >= 1) return groups;
  }
  return 0;
}

TEST(RepairScenario, OneLossWithDefaultsGivesOneRequestAndOneResponse) {
  OneLoss scenario(/*response_groups=*/1, /*sender_answers=*/true);
  // With one group every holder is eligible, and p0 answers at once.
  EXPECT_EQ(scenario.eligible().size(), kLoser);
  EXPECT_EQ(scenario.t_resp(0), Duration::zero());
  // The timers put no other holder within 100 ms of p0's answer.
  EXPECT_EQ(scenario.responders(), std::set<size_t>{0});
  scenario.RunAndCheck();
  EXPECT_EQ(scenario.log().total_requests(), 1);
  EXPECT_EQ(scenario.network().Stats(0).repairs_sent, 1u);
}

TEST(RepairScenario, OnlyTheSendersResponseGroupQueuesAnAnswer) {
  const int groups = InterestingGroupCount();
  ASSERT_GT(groups, 1);
  OneLoss scenario(groups, /*sender_answers=*/true);
  sim::Network& net = scenario.network();

  // Just after the request is heard and before p0's answer arrives, every
  // eligible holder but p0 (which answered at once) has a pending response,
  // and no other participant does.
  net.RunUntil(scenario.heard() + kLatency / 2);
  ASSERT_FALSE(Delivered(net, kLoser, kLost));
  const auto& eligible = scenario.eligible();
  for (size_t j = 0; j < kParticipants; ++j) {
    const bool in_group = std::find(eligible.begin(), eligible.end(), j) != eligible.end();
    EXPECT_EQ(scenario.PendingResponse(j), in_group && j != 0)
        << Name(j) << " with " << groups << " groups";
  }
  EXPECT_EQ(net.Stats(0).repairs_sent, 1u);

  scenario.RunAndCheck();
  EXPECT_EQ(scenario.responders(), std::set<size_t>{0});
}

TEST(RepairScenario, WhenTheSenderIsSilentItsResponseGroupAnswers) {
  const int groups = InterestingGroupCount();
  ASSERT_GT(groups, 1);
  OneLoss scenario(groups, /*sender_answers=*/false);
  // p0 still hands out its answer (which the network loses); the first other
  // group member answers and silences the rest, and nobody outside the group
  // answers at all.
  ASSERT_GE(scenario.responders().size(), 2u);
  EXPECT_EQ(scenario.responders().count(0), 1u);
  for (size_t j : scenario.responders()) {
    const auto& eligible = scenario.eligible();
    EXPECT_NE(std::find(eligible.begin(), eligible.end(), j), eligible.end()) << Name(j);
  }
  EXPECT_LT(scenario.responders().size(), scenario.eligible().size())
      << "the first answer cancels the slower ones";
  scenario.RunAndCheck();
  uint64_t responses = 0;
  for (size_t i = 1; i < kParticipants; ++i) responses += scenario.network().Stats(i).repairs_sent;
  EXPECT_EQ(responses, scenario.responders().size() - 1);
}

// ---- Lossy runs --------------------------------------------------------------------------
//
// Eight participants chat over links that lose 20 % of all copies (and delay
// them 10-200 ms). Each sends 10 messages at seeded moments in the first two
// minutes. Sender resends, sync messages and SDS-R must give everyone every
// message. Defaults throughout except the participant ids.

class RepairScenarioLossy : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RepairScenarioLossy, EveryParticipantEndsWithEveryMessage) {
  const uint64_t seed = GetParam();
  sim::LinkOptions link;
  link.loss = 0.2;
  link.seed = seed;
  sim::Network network(link, kStart);
  for (size_t i = 0; i < kParticipants; ++i) {
    ASSERT_TRUE(network.AddParticipant(ParticipantConfig(i, 1)).ok());
  }
  std::mt19937_64 schedule(seed * 7919 + 3);
  std::uniform_int_distribution<int64_t> moment(0, 120'000);
  for (size_t who = 0; who < kParticipants; ++who) {
    for (int n = 0; n < 10; ++n) {
      network.ScheduleSend(kStart + milliseconds{moment(schedule)}, who, kChannel,
                           Name(who) + " says " + std::to_string(n));
    }
  }
  network.RunUntil(kStart + minutes{180});
  ASSERT_EQ(network.AllSent().size(), kParticipants * 10);
  ExpectEveryoneHasEverything(network);

  uint64_t requests = 0, responses = 0, rebroadcasts = 0;
  for (size_t i = 0; i < kParticipants; ++i) {
    requests += network.Stats(i).repair_requests_sent;
    responses += network.Stats(i).repairs_sent;
    rebroadcasts += network.Stats(i).rebroadcasts;
  }
  // Some copies were lost and repaired; no repair went unasked.
  EXPECT_GT(requests, 0u);
  EXPECT_GT(responses, 0u);
  RecordProperty("repair_requests", std::to_string(requests));
  RecordProperty("repair_responses", std::to_string(responses));
  RecordProperty("sender_rebroadcasts", std::to_string(rebroadcasts));
}

INSTANTIATE_TEST_SUITE_P(Seeds, RepairScenarioLossy, ::testing::Values(1, 2, 3, 4, 5));

}  // namespace
}  // namespace sds
