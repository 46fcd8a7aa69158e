// SDS-R against floods: whatever peers send, the repair buffers of a channel
// hold at most limits.max_repair_buffer entries in each direction, requests
// for messages we do not hold create nothing, and a message with more repair
// entries than limits.decode.max_repair_request is rejected outright.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/engine_access.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sds/events.h"
#include "sds/reliability_manager.h"

namespace sds {
namespace {

using std::chrono::seconds;

const ChannelId kCh = "ch";
const Timestamp kT0 = TimestampFromUnixMillis(1'700'000'000'000);

// A nim-dialect message from `sender` with the given causal history and
// repair requests; empty `content` makes it a sync message.
Bytes Wire(const MessageId& id, const ParticipantId& sender, std::vector<HistoryEntry> causal,
           std::vector<HistoryEntry> repair, const std::string& content = "x",
           LamportTime lamport = 1) {
  Message message;
  message.message_id = id;
  message.channel_id = kCh;
  message.sender_id = sender;
  message.lamport_timestamp = lamport;
  message.causal_history = std::move(causal);
  message.repair_request = std::move(repair);
  const Bytes body = ToBytes(content);
  message.content = ByteSpan(body);
  return Encode(message, Dialect::kNim);
}

std::vector<HistoryEntry> Entries(const std::string& prefix, size_t first, size_t count,
                                  const ParticipantId& sender) {
  std::vector<HistoryEntry> out;
  for (size_t i = first; i < first + count; ++i) {
    out.push_back(HistoryEntry{prefix + std::to_string(i), {}, sender});
  }
  return out;
}

class RepairBounds : public ::testing::Test {
 protected:
  void Make(size_t max_repair_buffer) {
    Config config;
    config.participant_id = "bob";
    config.channel_admission = ChannelAdmission::kAny;
    config.limits.max_repair_buffer = max_repair_buffer;
    config_ = config;
    auto made = ReliabilityManager::Create(config);
    ASSERT_TRUE(made.ok());
    m_ = std::move(*made);
    ASSERT_TRUE(m_->EnsureChannel(kCh).ok());
  }

  internal::ChannelState& State() { return internal::ChannelOf(*m_, kCh); }

  void Receive(const Bytes& wire, Timestamp now = kT0) {
    auto result = m_->Unwrap(wire, now);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }

  // Bob delivers `count` messages "a-<i>" from alice: he can answer for them.
  void DeliverFromAlice(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      Receive(Wire("a-" + std::to_string(i), "alice", {}, {}));
    }
    m_->TakeEvents();
    ASSERT_EQ(m_->History(kCh).size(), count);
  }

  // Ticks every second from `from` for `span`; returns the RepairReady ids
  // and the largest repair buffers seen meanwhile.
  struct Sweep {
    std::vector<MessageId> repaired;
    size_t max_incoming = 0;
    size_t max_outgoing = 0;
    size_t requests_sent = 0;  // repair entries on the sync messages Tick made
  };
  Sweep TickThrough(Timestamp from, Duration span) {
    Sweep sweep;
    for (Timestamp now = from; now <= from + span; now += seconds{1}) {
      m_->Tick(now);
      for (Event& event : m_->TakeEvents()) {
        if (auto* ready = std::get_if<RepairReady>(&event)) {
          sweep.repaired.push_back(ready->message_id);
        } else if (auto* sync = std::get_if<SyncMessageReady>(&event)) {
          auto decoded = DecodeAny(sync->wire);
          EXPECT_TRUE(decoded.ok());
          EXPECT_LE(decoded->message.repair_request.size(), config_.max_repair_requests);
          sweep.requests_sent += decoded->message.repair_request.size();
        }
      }
      sweep.max_incoming = std::max(sweep.max_incoming, State().incoming_repair.size());
      sweep.max_outgoing = std::max(sweep.max_outgoing, State().outgoing_repair.size());
    }
    return sweep;
  }

  Config config_;
  std::unique_ptr<ReliabilityManager> m_;
};

// ---- Outgoing (requests we make) ---------------------------------------------------------

TEST_F(RepairBounds, OutgoingBufferStopsAtTheDefaultLimit) {
  Make(Limits{}.max_repair_buffer);
  const size_t limit = config_.limits.max_repair_buffer;
  const size_t per_message = config_.limits.decode.max_causal_history;
  // Enough messages with full causal histories of unknown ids to ask for
  // twice the limit.
  for (size_t n = 0; n * per_message < 2 * limit; ++n) {
    Receive(Wire("gap-" + std::to_string(n), "alice",
                 Entries("missing-", n * per_message, per_message, "alice"), {}));
  }
  EXPECT_EQ(State().outgoing_repair.size(), limit);
  // Sync messages reveal gaps through the same path; still bounded.
  Receive(Wire("sync-1", "carol", Entries("sync-missing-", 0, per_message, "carol"), {}, ""));
  EXPECT_EQ(State().outgoing_repair.size(), limit);
}

TEST_F(RepairBounds, OutgoingBufferStaysBoundedWhileRequestsGoOut) {
  Make(50);
  for (size_t n = 0; n < 20; ++n) {
    Receive(Wire("gap-" + std::to_string(n), "alice", Entries("missing-", n * 10, 10, "alice"), {}),
            kT0 + seconds{static_cast<int64_t>(n)});
  }
  EXPECT_EQ(State().outgoing_repair.size(), 50u);
  // Over the whole life of the requests (first T_req up to give-up after
  // attempts x T_max) the buffer never grows, every sync message carries at
  // most max_repair_requests entries, and everything is given up eventually.
  const Duration life = config_.repair_t_max * (config_.max_repair_attempts + 2);
  Sweep sweep = TickThrough(kT0, life);
  EXPECT_LE(sweep.max_outgoing, 50u);
  EXPECT_GT(sweep.requests_sent, 0u);
  EXPECT_LE(sweep.requests_sent, 50u * static_cast<size_t>(config_.max_repair_attempts));
  EXPECT_TRUE(State().outgoing_repair.empty());
}

// ---- Incoming (answers we owe) -----------------------------------------------------------

TEST_F(RepairBounds, RequestFloodForUnknownIdsCreatesNothing) {
  Make(Limits{}.max_repair_buffer);
  DeliverFromAlice(10);
  const size_t per_message = config_.limits.decode.max_repair_request;
  for (size_t n = 0; n < 200; ++n) {
    // Ids bob never saw, "from" alice (who might have sent them) and from bob.
    const ParticipantId claimed = n % 2 == 0 ? "alice" : "bob";
    Receive(Wire("flood-" + std::to_string(n), "mallory", {},
                 Entries("unknown-", n * per_message, per_message, claimed)));
  }
  EXPECT_TRUE(State().incoming_repair.empty());
  EXPECT_TRUE(State().outgoing_repair.empty());
  m_->TakeEvents();
  Sweep sweep = TickThrough(kT0, config_.repair_t_max + seconds{1});
  EXPECT_TRUE(sweep.repaired.empty());
  EXPECT_EQ(sweep.max_incoming, 0u);
}

TEST_F(RepairBounds, RequestFloodForKnownIdsQueuesAtMostTheLimitAndAnswersEachOnce) {
  Make(50);
  DeliverFromAlice(200);
  const size_t per_message = config_.limits.decode.max_repair_request;
  // 300 messages of 64 requests each, cycling over the 200 known ids, all at
  // the same moment.
  for (size_t n = 0; n < 300; ++n) {
    std::vector<HistoryEntry> requests;
    for (size_t k = 0; k < per_message; ++k) {
      requests.push_back(
          HistoryEntry{"a-" + std::to_string((n * per_message + k) % 200), {}, "alice"});
    }
    Receive(Wire("flood-" + std::to_string(n), "mallory", {}, std::move(requests)));
    ASSERT_LE(State().incoming_repair.size(), 50u);
  }
  EXPECT_EQ(State().incoming_repair.size(), 50u);
  m_->TakeEvents();
  // Every answer is due within T_max; after that nothing is left and nothing
  // more comes, however long we wait.
  Sweep sweep = TickThrough(kT0, 2 * config_.repair_t_max);
  EXPECT_EQ(sweep.repaired.size(), 50u);
  EXPECT_EQ(std::set<MessageId>(sweep.repaired.begin(), sweep.repaired.end()).size(), 50u);
  EXPECT_LE(sweep.max_incoming, 50u);
  EXPECT_TRUE(State().incoming_repair.empty());
}

TEST_F(RepairBounds, BothDirectionsAreBoundedIndependently) {
  Make(20);
  DeliverFromAlice(40);
  // One peer message both reveals 30 gaps and asks for 40 messages we hold.
  std::vector<HistoryEntry> asks = Entries("a-", 0, 40, "alice");
  Receive(Wire("both", "carol", Entries("missing-", 0, 30, "carol"), std::move(asks)));
  EXPECT_EQ(State().outgoing_repair.size(), 20u);
  EXPECT_EQ(State().incoming_repair.size(), 20u);
}

// A repeated request for a message we already plan to send does not postpone
// that answer: the first T_resp stands.
TEST_F(RepairBounds, RepeatedRequestsDoNotPostponeAQueuedAnswer) {
  Make(Limits{}.max_repair_buffer);
  DeliverFromAlice(1);
  Receive(Wire("ask-1", "carol", {}, {HistoryEntry{"a-0", {}, "alice"}}));
  ASSERT_EQ(State().incoming_repair.count("a-0"), 1u);
  const Timestamp due = State().incoming_repair.at("a-0").deadline;
  ASSERT_GT(due, kT0 + seconds{2});
  for (int i = 1; i <= 5; ++i) {
    Receive(Wire("ask-again-" + std::to_string(i), "dave", {}, {HistoryEntry{"a-0", {}, "alice"}}),
            kT0 + seconds{i});
  }
  EXPECT_EQ(State().incoming_repair.at("a-0").deadline, due);
}

// ---- Decode limit ------------------------------------------------------------------------

TEST_F(RepairBounds, MessageWithTooManyRepairEntriesIsRejected) {
  Make(Limits{}.max_repair_buffer);
  DeliverFromAlice(100);
  const size_t limit = config_.limits.decode.max_repair_request;
  const size_t history_before = m_->History(kCh).size();

  auto over = m_->Unwrap(Wire("over", "mallory", {}, Entries("a-", 0, limit + 1, "alice")), kT0);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_TRUE(State().incoming_repair.empty());
  EXPECT_EQ(m_->History(kCh).size(), history_before);
  EXPECT_EQ(m_->PendingEventCount(), 0u);

  // Exactly at the limit it is accepted.
  auto at = m_->Unwrap(Wire("at", "mallory", {}, Entries("a-", 0, limit, "alice")), kT0);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_EQ(State().incoming_repair.size(), std::min<size_t>(limit, 100));
}

TEST(RepairBoundsConfig, ConfiguredRepairEntryLimitApplies) {
  Config config;
  config.participant_id = "bob";
  config.channel_admission = ChannelAdmission::kAny;
  config.limits.decode.max_repair_request = 3;
  auto m = ReliabilityManager::Create(config);
  ASSERT_TRUE(m.ok());
  auto four = (*m)->Unwrap(Wire("four", "mallory", {}, Entries("x-", 0, 4, "alice")), kT0);
  ASSERT_FALSE(four.ok());
  EXPECT_EQ(four.status().code(), ErrorCode::kDecodeLimitExceeded);
  EXPECT_TRUE((*m)->Unwrap(Wire("three", "mallory", {}, Entries("x-", 0, 3, "alice")), kT0).ok());
}

}  // namespace
}  // namespace sds
