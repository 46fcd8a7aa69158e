// What a message costs on the wire: right-sized bloom filters in the nim
// dialect (Config::bloom_wire_size) and fewer, jittered sync messages
// (Config::sync_policy), each against the behaviour they replace.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "sds/bloom_filter.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using namespace testutil;  // NOLINT: the shared engine test vocabulary

// The filter a message of ours carries, as a nim-sds peer reads it.
PeerBloomView BloomOf(const SharedBytes& wire, Message& storage) {
  storage = Decoded(wire);
  auto view = PeerBloomView::ParseNim(*storage.bloom_filter);
  EXPECT_TRUE(view.ok()) << view.status().ToString();
  return *view;
}

bool Carries(const SharedBytes& wire, const MessageId& id) {
  Message message;
  PeerBloomView view = BloomOf(wire, message);
  return view.Contains(MakeBloomKey(Dialect::kNim, id));
}

std::vector<std::string> Acknowledged(ReliabilityManager& m) {
  std::vector<std::string> ids;
  for (const Event& event : m.TakeEvents()) {
    if (const auto* ack = std::get_if<MessageAcknowledged>(&event)) ids.push_back(ack->message_id);
  }
  return ids;
}

// ---- Right-sized bloom filters -------------------------------------------------------------

// Bob's reply carries a 128-id filter (a few hundred bytes instead of 18.8 KB),
// and alice, reading it as any nim-sds peer would (its own geometry), takes
// it as the acknowledgement of the messages beyond the causal history.
TEST(RightSizedBloom, ReplyIsSmallAndAcknowledgesThroughTheFilter) {
  Config fixed = NimConfig("alice");
  fixed.bloom_wire_size = BloomWireSize::kFixed;
  auto alice = Make(fixed);
  auto bob = Make(NimConfig("bob"));
  for (int i = 1; i <= 20; ++i) {
    const SharedBytes wire = MustWrap(*alice, "m" + std::to_string(i), kT0);
    EXPECT_GE(wire.size(), 18768u);  // the fixed filter
    MustUnwrap(*bob, wire, kT0);
  }
  alice->TakeEvents();
  const SharedBytes reply = MustWrap(*bob, "r1", kT0 + seconds{1});
  EXPECT_LT(reply.size(), 1000u);
  Message message;
  PeerBloomView view = BloomOf(reply, message);
  EXPECT_EQ(view.params().capacity, 128);
  EXPECT_EQ(view.params(), *BloomParameters::Compute(128, 0.001));
  EXPECT_EQ(message.causal_history.size(), 10u);  // m11..m20: m1..m10 only in the filter
  MustUnwrap(*alice, reply, kT0 + seconds{1});
  EXPECT_EQ(Acknowledged(*alice).size(), 20u);
  EXPECT_TRUE(alice->OutgoingBuffer(kCh).empty());
}

TEST(RightSizedBloom, FixedSettingAndTheSpecDialectSendTheWholeFilter) {
  Config fixed = NimConfig("bob");
  fixed.bloom_wire_size = BloomWireSize::kFixed;
  auto nim_fixed = Make(fixed);
  EXPECT_GE(MustWrap(*nim_fixed, "a", kT0).size(), 18768u);
  Config spec = SpecConfig("bob");
  spec.bloom_wire_size = BloomWireSize::kRightSized;  // the spec dialect ignores it
  auto spec_manager = Make(spec);
  EXPECT_GE(MustWrap(*spec_manager, "a", kT0).size(), 18752u);
  auto nim_right = Make(NimConfig("bob"));
  EXPECT_LT(MustWrap(*nim_right, "a", kT0).size(), 400u);
}

// A received id stays in the filter for the horizon (resend_interval x
// (max_resend_attempts + 2), 420 s at the defaults), then leaves it unless it
// is among the newest max_causal_history ids. Our own ids never enter it.
TEST(RightSizedBloom, ReceivedIdsLeaveAfterTheHorizonOwnIdsNeverEnter) {
  const Config config = NimConfig("bob");
  ASSERT_EQ(config.BloomWireHorizon(), seconds{420});
  auto bob = Make(config);
  for (int i = 1; i <= 11; ++i) {
    MustUnwrap(*bob, Wire({.id = "old" + std::to_string(i), .sender = "alice"}), kT0);
  }
  const SharedBytes early = MustWrap(*bob, "own1", kT0 + seconds{420});
  EXPECT_TRUE(Carries(early, "old1"));
  EXPECT_FALSE(Carries(early, "own1"));
  // Expired ids' bits linger until the filter is rebuilt (they count against
  // its capacity); 200 new receipts overflow the 128-id class and rebuild it.
  for (int i = 1; i <= 200; ++i) {
    MustUnwrap(*bob, Wire({.id = "new" + std::to_string(i), .sender = "alice"}),
               kT0 + seconds{421});
  }
  const SharedBytes late = MustWrap(*bob, "own2", kT0 + seconds{421});
  EXPECT_FALSE(Carries(late, "old1"));
  EXPECT_FALSE(Carries(late, "old11"));
  EXPECT_TRUE(Carries(late, "new1"));
  EXPECT_TRUE(Carries(late, "new200"));
  Message message;
  EXPECT_EQ(BloomOf(late, message).params().capacity, 1024);  // 3/4 of it holds twice 200
  EXPECT_TRUE(bob->BloomContains(kCh, "old1"));               // the full filter still knows it
  // Nothing new for a while: the newest ten stay whatever their age.
  const SharedBytes much_later = MustWrap(*bob, "own3", kT0 + seconds{5000});
  EXPECT_TRUE(Carries(much_later, "new191"));
  EXPECT_TRUE(Carries(much_later, "new200"));
  EXPECT_EQ(BloomOf(much_later, message).params().capacity, 128);  // shrunk
}

TEST(RightSizedBloom, MarkedAsMetCountsAsReceived) {
  auto bob = Make(NimConfig("bob"));
  ASSERT_TRUE(bob->EnsureChannel(kCh).ok());
  const std::vector<MessageId> ids = {"fetched1"};
  ASSERT_TRUE(bob->MarkDependenciesMet(kCh, ids, kT0).ok());
  EXPECT_TRUE(Carries(MustWrap(*bob, "own1", kT0), "fetched1"));
}

// After a restart the ids received lately are in the filter again: those of
// the stored history from others and the buffered ones.
TEST(RightSizedBloom, RestartKeepsWhatPeersMayWaitFor) {
  auto store = std::make_shared<MemoryStore>();
  Config config = NimConfig("bob");
  {
    auto bob = ReliabilityManager::Create(config, store).value();
    MustUnwrap(*bob, Wire({.id = "a1", .sender = "alice"}), kT0);
    MustUnwrap(*bob, Wire({.id = "a3", .causal = {E("a2")}, .sender = "alice"}), kT0);
  }
  auto bob = ReliabilityManager::Create(config, store).value();
  const SharedBytes wire = MustWrap(*bob, "own1", kT0 + seconds{3600});
  EXPECT_TRUE(Carries(wire, "a1"));
  EXPECT_TRUE(Carries(wire, "a3"));
}

// Over 100,000 messages: alice's messages that bob never received must not
// be acknowledged through bob's filters more often than the error rate
// (0.001) per test of an unacknowledged message against a filter, with the
// right-sized filter as with the fixed one. Every message bob received is
// acknowledged.
struct FalseAcks {
  uint64_t tests = 0, false_acks = 0, received_unacknowledged = 0;
};

FalseAcks CountFalseAcks(BloomWireSize wire_size) {
  Config config = NimConfig("alice");
  config.bloom_wire_size = wire_size;
  config.resend_interval = seconds{10};
  config.max_resend_attempts = 1;
  auto alice = Make(config);
  config.participant_id = "bob";
  auto bob = Make(config);
  FalseAcks result;
  std::set<std::string> unreceived_pending;  // alice's outgoing ids bob never got
  std::set<std::string> received_pending;    // ... and those he got
  auto drain_alice = [&] {
    for (const Event& event : alice->TakeEvents()) {
      if (const auto* ack = std::get_if<MessageAcknowledged>(&event)) {
        result.false_acks += unreceived_pending.erase(ack->message_id);
        received_pending.erase(ack->message_id);
      } else if (const auto* failed = std::get_if<SendFailed>(&event)) {
        unreceived_pending.erase(failed->message_id);
        result.received_unacknowledged += received_pending.erase(failed->message_id);
      }
    }
  };
  Timestamp now = kT0;
  for (int i = 0; i < 100000; ++i) {
    now += milliseconds{100};
    const std::string id = "alice-" + std::to_string(i);
    const SharedBytes wire = MustWrap(*alice, id, now);
    if (i % 2 == 0) {
      MustUnwrap(*bob, wire, now);
      received_pending.insert(id);
    } else {
      unreceived_pending.insert(id);
    }
    bob->TakeEvents();
    if (i % 10 == 9) {
      const SharedBytes reply = MustWrap(*bob, "bob-" + std::to_string(i), now);
      result.tests += unreceived_pending.size();
      MustUnwrap(*alice, reply, now);
    }
    alice->Tick(now);
    drain_alice();
  }
  result.received_unacknowledged += received_pending.size();
  return result;
}

TEST(RightSizedBloom, FalseAcknowledgementsStayWithinTheErrorRate) {
  const FalseAcks right = CountFalseAcks(BloomWireSize::kRightSized);
  const FalseAcks fixed = CountFalseAcks(BloomWireSize::kFixed);
  std::printf(
      "false acknowledgements per filter test: right-sized %llu / %llu, fixed %llu / %llu\n",
      static_cast<unsigned long long>(right.false_acks),
      static_cast<unsigned long long>(right.tests),
      static_cast<unsigned long long>(fixed.false_acks),
      static_cast<unsigned long long>(fixed.tests));
  for (const FalseAcks& r : {right, fixed}) {
    EXPECT_GT(r.tests, 500000u);
    EXPECT_LE(static_cast<double>(r.false_acks), 0.001 * static_cast<double>(r.tests));
    EXPECT_EQ(r.received_unacknowledged, 0u);
  }
}

// ---- Sync messages --------------------------------------------------------------------------

Timestamp SyncDeadlineAfterOneReceipt(Config config) {
  auto carol = Make(config);
  MustUnwrap(*carol, Wire({.id = "a1", .sender = "alice"}), kT0);
  return carol->NextDeadline();
}

// The interval is jittered by +-10% from the injected entropy; kAfterReceipt
// keeps it exact.
TEST(SyncPolicy, IntervalIsJitteredFromTheInjectedEntropy) {
  Config config = NimConfig("carol");
  config.random = [] { return uint64_t{0}; };
  EXPECT_EQ(SyncDeadlineAfterOneReceipt(config), kT0 + seconds{27});
  config.random = [] { return ~uint64_t{0}; };
  const Timestamp high = SyncDeadlineAfterOneReceipt(config);
  EXPECT_GT(high, kT0 + seconds{32});
  EXPECT_LE(high, kT0 + seconds{33});
  config.sync_policy = SyncPolicy::kAfterReceipt;
  EXPECT_EQ(SyncDeadlineAfterOneReceipt(config), kT0 + seconds{30});
  // Without a source: a hash that differs between participants, within +-10%.
  std::set<Timestamp> deadlines;
  for (const char* who : {"p1", "p2", "p3", "p4", "p5"}) {
    Config plain = NimConfig(who);
    const Timestamp due = SyncDeadlineAfterOneReceipt(plain);
    EXPECT_GE(due, kT0 + seconds{27});
    EXPECT_LE(due, kT0 + seconds{33});
    deadlines.insert(due);
  }
  EXPECT_GE(deadlines.size(), 4u);
}

// Carol received a1 from alice; bob's sync says bob has it too, so alice will
// hear of it from bob: carol's sync is no longer due. A message from alice
// herself listing a1 tells alice nothing, and the other policies sync anyway.
TEST(SyncPolicy, SyncIsCancelledOnceAnotherPeerAcknowledgedEverything) {
  const Bytes bob_sync =
      Wire({.id = "sync-bob", .content = "", .sender = "bob", .bloom = BloomWith({"a1"})});
  const Bytes alice_echo =
      Wire({.id = "a2", .causal = {E("a1")}, .sender = "alice", .bloom = BloomWith({"a1", "b1"})});

  Config config = NimConfig("carol");
  config.sync_policy = SyncPolicy::kUnacknowledgedReceipts;
  auto carol = Make(config);
  MustUnwrap(*carol, Wire({.id = "a1", .sender = "alice"}), kT0);
  MustUnwrap(*carol, Wire({.id = "b1", .sender = "bob"}), kT0);
  carol->TakeEvents();
  // alice's a2 acknowledges b1 (bob hears of it) but not a1 to alice.
  MustUnwrap(*carol, alice_echo, kT0 + seconds{1});
  EXPECT_NE(carol->NextDeadline(), kNoDeadline);
  MustUnwrap(*carol, bob_sync, kT0 + seconds{2});
  // a2 itself (from alice) is still unreported: carol's sync stays due for it.
  EXPECT_NE(carol->NextDeadline(), kNoDeadline);
  MustUnwrap(
      *carol,
      Wire({.id = "sync-bob-2", .content = "", .sender = "bob", .bloom = BloomWith({"a1", "a2"})}),
      kT0 + seconds{3});
  EXPECT_EQ(carol->NextDeadline(), kNoDeadline);
  carol->TakeEvents();
  carol->Tick(kT0 + seconds{60});
  EXPECT_TRUE(Names(*carol).empty());

  for (SyncPolicy policy : {SyncPolicy::kAfterReceipt, SyncPolicy::kJitteredAfterReceipt}) {
    Config after = NimConfig("carol");
    after.sync_policy = policy;
    auto old_carol = Make(after);
    MustUnwrap(*old_carol, Wire({.id = "a1", .sender = "alice"}), kT0);
    MustUnwrap(*old_carol, bob_sync, kT0 + seconds{2});
    EXPECT_GE(old_carol->NextDeadline(), kT0 + seconds{27});
    EXPECT_LE(old_carol->NextDeadline(), kT0 + seconds{33});
  }
}

}  // namespace
}  // namespace sds
