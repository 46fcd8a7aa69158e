// Where sds deliberately departs from nim-sds (nim-sds.md §1.1, §2; the SDS
// specification, spec-and-peers.md §1.3): dependency cascade order, real
// resends, duplicate detection, possibly-acknowledged, sync and ephemeral
// messages, MarkDependenciesMet, SDS-R re-arming and bounded buffers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/engine_access.h"
#include "core/repair_timing.h"
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
using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace testutil;  // NOLINT: the shared engine test vocabulary

// ---- Cascade order ------------------------------------------------------------------------

// nim-sds reports ack:own1, ready:b, ready:c, ready:a.
TEST(DeliberateDifferences, CascadeReportsUnblockingMessageFirstDiffersFromNim) {
  auto m = Make(NimConfig());
  MustWrap(*m, "own1", kT0);
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "c", .lamport = 3, .causal = {E("b")}}), kT0),
            UnwrapOutcome::kBuffered);
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "b", .lamport = 2, .causal = {E("a")}}), kT0),
            UnwrapOutcome::kBuffered);
  EXPECT_THAT(Names(*m), ElementsAre("missing:c[b]", "missing:b[a]"));
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "a", .lamport = 1, .causal = {E("own1")}}), kT0),
            UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*m), ElementsAre("ack:own1", "ready:a", "ready:b", "ready:c"));
  EXPECT_THAT(m->History(kCh), ElementsAre("own1", "a", "b", "c"));
  EXPECT_THAT(m->IncomingBuffer(kCh), IsEmpty());
}

// ---- Resends ------------------------------------------------------------------------------

// nim-sds only counts attempts (no rebroadcast request) and reports a give-up
// as onMessageSent, indistinguishable from an acknowledgement.
TEST(DeliberateDifferences, ResendsRealBytesThenSendFailedDiffersFromNim) {
  auto m = Make(NimConfig());
  const SharedBytes wire = MustWrap(*m, "m1", kT0);
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{60});
  EXPECT_EQ(m->Tick(kT0 + seconds{60} - milliseconds{1}), kT0 + seconds{60});
  EXPECT_EQ(m->PendingEventCount(), 0u);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const Timestamp now = kT0 + seconds{60} * attempt;
    EXPECT_EQ(m->Tick(now), now + seconds{60}) << attempt;
    auto events = m->TakeEvents();
    ASSERT_EQ(events.size(), 1u) << attempt;
    const auto* due = std::get_if<RebroadcastDue>(&events[0]);
    ASSERT_NE(due, nullptr) << Describe(events[0]);
    EXPECT_EQ(due->channel_id, kCh);
    EXPECT_EQ(due->message_id, "m1");
    EXPECT_EQ(due->attempt, attempt);
    EXPECT_EQ(due->wire, wire);  // the very bytes Wrap returned
    EXPECT_EQ(m->NextDeadline(), now + seconds{60});
  }
  EXPECT_EQ(m->Tick(kT0 + seconds{360}), kNoDeadline);
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* failed = std::get_if<SendFailed>(&events[0]);
  ASSERT_NE(failed, nullptr) << Describe(events[0]);
  EXPECT_EQ(failed->message_id, "m1");
  EXPECT_EQ(failed->resend_attempts, 5);
  EXPECT_FALSE(failed->evicted);
  EXPECT_THAT(m->OutgoingBuffer(kCh), IsEmpty());
  EXPECT_THAT(m->History(kCh), ElementsAre("m1"));
  EXPECT_EQ(m->Tick(kT0 + seconds{3600}), kNoDeadline);
  EXPECT_EQ(m->PendingEventCount(), 0u);
}

TEST(DeliberateDifferences, ResendDeadlinesInterleaveAcrossMessages) {
  Config config = NimConfig();
  config.sync_message_interval = Duration::zero();
  auto m = Make(config);
  MustWrap(*m, "m1", kT0);
  MustWrap(*m, "m2", kT0 + seconds{30});
  MustWrap(*m, "m3", kT0 + seconds{40});
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{60});
  EXPECT_EQ(m->Tick(kT0 + seconds{60}), kT0 + seconds{90});
  EXPECT_THAT(Names(*m), ElementsAre("rebroadcast:m1:1"));
  // m2 acknowledged meanwhile: never rebroadcast.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "p", .lamport = 9, .causal = {E("m2")}}), kT0),
            UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*m), ElementsAre("ack:m2", "ready:p"));
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{100});
  EXPECT_EQ(m->Tick(kT0 + seconds{120}), kT0 + seconds{180});
  EXPECT_THAT(Names(*m), ElementsAre("rebroadcast:m3:1", "rebroadcast:m1:2"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m3", "m1"));
}

TEST(DeliberateDifferences, ZeroResendAttemptsFailsAtFirstInterval) {
  Config config = NimConfig();
  config.max_resend_attempts = 0;
  auto m = Make(config);
  MustWrap(*m, "m1", kT0);
  EXPECT_EQ(m->Tick(kT0 + seconds{60}), kNoDeadline);
  EXPECT_THAT(Names(*m), ElementsAre("failed:m1:0"));
}

// ---- Duplicates ---------------------------------------------------------------------------

// nim-sds re-processes a buffered message (second onMissingDependencies).
TEST(DeliberateDifferences, BufferedMessageAgainIsDuplicateDiffersFromNim) {
  auto m = Make(NimConfig());
  const Bytes b = Wire({.id = "b", .lamport = 5, .causal = {E("a")}});
  EXPECT_EQ(MustUnwrapOutcome(*m, b, kT0), UnwrapOutcome::kBuffered);
  EXPECT_THAT(Names(*m), ElementsAre("missing:b[a]"));
  const LamportTime lamport = *m->Lamport(kCh);
  EXPECT_EQ(MustUnwrapOutcome(*m, b, kT0), UnwrapOutcome::kDuplicate);
  EXPECT_EQ(m->PendingEventCount(), 0u);
  EXPECT_THAT(m->IncomingBuffer(kCh), ElementsAre("b"));
  EXPECT_EQ(m->Lamport(kCh), lamport);
  // Still delivered exactly once when its dependency arrives.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "a", .lamport = 4}), kT0), UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*m), ElementsAre("ready:a", "ready:b"));
}

// nim-sds delivers a message again once it left the 1000-entry history.
TEST(DeliberateDifferences, EvictedFromHistoryStillDuplicateDiffersFromNim) {
  Config config = NimConfig();
  config.max_message_history = 2;
  auto m = Make(config);
  const Bytes x1 = Wire({.id = "x1", .lamport = 1});
  MustUnwrapOutcome(*m, x1, kT0);
  MustUnwrapOutcome(*m, Wire({.id = "x2", .lamport = 2}), kT0);
  MustUnwrapOutcome(*m, Wire({.id = "x3", .lamport = 3}), kT0);
  EXPECT_THAT(m->History(kCh), ElementsAre("x2", "x3"));
  m->TakeEvents();
  EXPECT_EQ(MustUnwrapOutcome(*m, x1, kT0), UnwrapOutcome::kDuplicate);
  EXPECT_EQ(m->PendingEventCount(), 0u);
  EXPECT_THAT(m->History(kCh), ElementsAre("x2", "x3"));
  // ... and still counts as delivered for dependency checks.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "x4", .lamport = 4, .causal = {E("x1")}}), kT0),
            UnwrapOutcome::kDelivered);
}

TEST(DeliberateDifferences, ZeroDedupWindowMeansHistoryOnly) {
  Config config = NimConfig();
  config.max_message_history = 2;
  config.dedup_window = 0;
  auto m = Make(config);
  const Bytes x1 = Wire({.id = "x1", .lamport = 1});
  MustUnwrapOutcome(*m, x1, kT0);
  MustUnwrapOutcome(*m, Wire({.id = "x2", .lamport = 2}), kT0);
  MustUnwrapOutcome(*m, Wire({.id = "x3", .lamport = 3}), kT0);
  m->TakeEvents();
  EXPECT_EQ(MustUnwrapOutcome(*m, x1, kT0), UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*m), ElementsAre("ready:x1"));
}

TEST(DeliberateDifferences, OwnMessageEchoedBackIsDuplicate) {
  auto m = Make(NimConfig());
  const SharedBytes wire = MustWrap(*m, "m1", kT0);
  auto result = m->Unwrap(wire, kT0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDuplicate);
  EXPECT_EQ(m->PendingEventCount(), 0u);
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m1"));  // not acknowledged by itself
  EXPECT_THAT(m->History(kCh), ElementsAre("m1"));
}

// Relays (Waku relay among them) hand a node its own broadcasts. Our own sync
// message lists our own messages and carries our bloom filter, which holds
// them: processing it acknowledges every unacknowledged message of ours.
// The spec says receivers SHOULD ignore messages whose sender_id is their
// own; sync ids are not in `delivered`, so the content-message duplicate
// check alone would not catch them.
TEST(DeliberateDifferences, OwnSyncEchoedBackAcknowledgesNothing) {
  auto m = Make(NimConfig());
  MustWrap(*m, "m1", kT0);
  auto sync = m->MakeSyncMessage(kCh, "sync-1", kT0 + seconds{1});
  ASSERT_TRUE(sync.ok());
  (void)m->Unwrap(*sync, kT0 + seconds{1});  // kDuplicate or kSync: either way, no ack
  EXPECT_THAT(Names(*m), IsEmpty());
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m1"));
}

// ---- Possibly acknowledged ----------------------------------------------------------------

// nim-sds acknowledges at the first bloom hit (a false positive loses the message).
TEST(DeliberateDifferences, BloomThresholdTwoGivesPossiblyAcknowledgedFirstDiffersFromNim) {
  Config config = NimConfig();
  config.bloom_ack_threshold = 2;
  auto m = Make(config);
  MustWrap(*m, "m1", kT0);
  MustWrap(*m, "m2", kT0);
  MustUnwrapOutcome(*m, Wire({.id = "p1", .lamport = 5, .bloom = BloomWith({"m1"})}), kT0);
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  const auto* possibly = std::get_if<MessagePossiblyAcknowledged>(&events[0]);
  ASSERT_NE(possibly, nullptr) << Describe(events[0]);
  EXPECT_EQ(possibly->message_id, "m1");
  EXPECT_EQ(possibly->bloom_hits, 1);
  EXPECT_EQ(Describe(events[1]), "ready:p1");
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m1", "m2"));

  MustUnwrapOutcome(*m, Wire({.id = "p2", .lamport = 6, .bloom = BloomWith({"m1"})}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ack:m1", "ready:p2"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m2"));

  // A causal-history listing acknowledges at once.
  MustUnwrapOutcome(*m, Wire({.id = "p3", .lamport = 7, .causal = {E("m2")}}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ack:m2", "ready:p3"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), IsEmpty());
}

TEST(DeliberateDifferences, SpecDefaultThresholdIsTwoThroughSpecBloom) {
  auto m = Make(SpecConfig());
  MustWrap(*m, "m1", kT0);
  const Bytes p1 =
      Wire({.id = "p1", .lamport = 5, .bloom = BloomWith({"m1"}, Dialect::kSpec)}, Dialect::kSpec);
  const Bytes p2 =
      Wire({.id = "p2", .lamport = 6, .bloom = BloomWith({"m1"}, Dialect::kSpec)}, Dialect::kSpec);
  MustUnwrapOutcome(*m, p1, kT0);
  EXPECT_THAT(Names(*m), ElementsAre("possibly:m1:1", "ready:p1"));
  MustUnwrapOutcome(*m, p2, kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ack:m1", "ready:p2"));
}

// ---- Sync messages ------------------------------------------------------------------------

// nim-sds builds no sync messages (its app cannot even wrap empty content).
TEST(DeliberateDifferences, MakeSyncMessageNimShapeDiffersFromNim) {
  auto m = Make(NimConfig());
  MustWrap(*m, "a1", kT0);
  MustUnwrapOutcome(*m, Wire({.id = "p1", .lamport = 5}), kT0);
  m->TakeEvents();
  const LamportTime before = *m->Lamport(kCh);
  auto sync = m->MakeSyncMessage(kCh, "sync-1", kT0 + seconds{1});
  ASSERT_TRUE(sync.ok());
  const Message message = Decoded(*sync);
  EXPECT_EQ(message.kind(), MessageKind::kSync);
  ASSERT_TRUE(message.content.has_value());  // nim-sds requires field 5: present, empty
  EXPECT_TRUE(message.content->empty());
  EXPECT_EQ(message.message_id, "sync-1");
  EXPECT_EQ(message.sender_id, "alice");
  EXPECT_EQ(message.lamport_timestamp, before + 1);  // nim rule: max(now_s, l) + 1
  EXPECT_THAT(Ids(message.causal_history), ElementsAre("a1", "p1"));
  ASSERT_TRUE(message.bloom_filter.has_value());
  auto bloom = PeerBloomView::ParseNim(*message.bloom_filter);
  ASSERT_TRUE(bloom.ok());
  EXPECT_TRUE(bloom->Contains(MakeBloomKey(Dialect::kNim, "p1")));
  // Not ours to track: no outgoing entry, no history, no bloom.
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("a1"));
  EXPECT_THAT(m->History(kCh), ElementsAre("a1", "p1"));
  EXPECT_FALSE(m->BloomContains(kCh, "sync-1"));
  EXPECT_EQ(m->Lamport(kCh), before + 1);
  EXPECT_EQ(m->PendingEventCount(), 0u);
}

TEST(DeliberateDifferences, MakeSyncMessageSpecHasNoContentField) {
  auto m = Make(SpecConfig());
  MustWrap(*m, "a1", kT0);
  const LamportTime before = *m->Lamport(kCh);
  EXPECT_EQ(before, UnixMillis(kT0));
  auto sync = m->MakeSyncMessage(kCh, "sync-1", kT0);  // same ms: l + 1 wins
  ASSERT_TRUE(sync.ok());
  const Message message = Decoded(*sync, Dialect::kSpec);
  EXPECT_FALSE(message.content.has_value());  // no field 20 at all
  EXPECT_EQ(message.kind(), MessageKind::kSync);
  EXPECT_EQ(message.lamport_timestamp, before + 1);
  EXPECT_THAT(Ids(message.causal_history), ElementsAre("a1"));
  EXPECT_TRUE(message.bloom_filter.has_value());
  // Field 20 (key bytes a2 01) must not appear; re-encoding the decoded
  // message reproduces the bytes exactly.
  EXPECT_EQ(Encode(message, Dialect::kSpec), sync->ToBytes());
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("a1"));
  EXPECT_FALSE(m->BloomContains(kCh, "sync-1"));
}

TEST(DeliberateDifferences, ReceivedSyncAcknowledgesButDeliversNothing) {
  auto alice = Make(NimConfig("alice"));
  auto bob = Make(NimConfig("bob"));
  const SharedBytes a1 = MustWrap(*alice, "a1", kT0);
  const SharedBytes a2 = MustWrap(*alice, "a2", kT0);
  MustUnwrapOutcome(*bob, a1, kT0);
  auto sync = bob->MakeSyncMessage(kCh, "sync", kT0 + seconds{1});
  ASSERT_TRUE(sync.ok());
  auto result = alice->Unwrap(*sync, kT0 + seconds{1});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kSync);
  EXPECT_THAT(result->missing_dependencies, IsEmpty());
  EXPECT_THAT(Names(*alice), ElementsAre("ack:a1"));
  EXPECT_THAT(alice->OutgoingBuffer(kCh), ElementsAre("a2"));
  EXPECT_THAT(alice->History(kCh), ElementsAre("a1", "a2"));
  EXPECT_FALSE(alice->BloomContains(kCh, "sync"));
  EXPECT_THAT(alice->IncomingBuffer(kCh), IsEmpty());
  // A sync schedules no sync of our own: the next deadline is a2's resend.
  EXPECT_EQ(alice->NextDeadline(), kT0 + seconds{60});

  // Sync ids may be reused: the next one is processed too.
  MustUnwrapOutcome(*bob, a2, kT0 + seconds{2});
  auto sync2 = bob->MakeSyncMessage(kCh, "sync", kT0 + seconds{3});
  ASSERT_TRUE(sync2.ok());
  EXPECT_EQ(MustUnwrapOutcome(*alice, *sync2, kT0 + seconds{3}), UnwrapOutcome::kSync);
  EXPECT_THAT(Names(*alice), ElementsAre("ack:a2"));
}

TEST(DeliberateDifferences, TickProducesSyncAfterQuietInterval) {
  Config config = NimConfig();
  config.sync_policy = SyncPolicy::kAfterReceipt;  // exactly the interval (wire_overhead_test.cc
                                                   // covers the jittered default)
  auto m = Make(config);
  MustUnwrapOutcome(*m, Wire({.id = "p1", .lamport = 5}), kT0);
  m->TakeEvents();
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{30});
  EXPECT_EQ(m->Tick(kT0 + seconds{30} - milliseconds{1}), kT0 + seconds{30});
  EXPECT_EQ(m->PendingEventCount(), 0u);
  EXPECT_EQ(m->Tick(kT0 + seconds{30}), kNoDeadline);
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* sync = std::get_if<SyncMessageReady>(&events[0]);
  ASSERT_NE(sync, nullptr) << Describe(events[0]);
  EXPECT_EQ(sync->channel_id, kCh);
  const Message message = Decoded(sync->wire);
  EXPECT_EQ(message.kind(), MessageKind::kSync);
  EXPECT_EQ(message.sender_id, "alice");
  EXPECT_THAT(Ids(message.causal_history), ElementsAre("p1"));
  EXPECT_THAT(m->History(kCh), ElementsAre("p1"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), IsEmpty());
  // Once sent, nothing more until something new arrives.
  EXPECT_EQ(m->Tick(kT0 + seconds{600}), kNoDeadline);
  EXPECT_EQ(m->PendingEventCount(), 0u);
  MustUnwrapOutcome(*m, Wire({.id = "p2", .lamport = 6}), kT0 + seconds{700});
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{730});
}

TEST(DeliberateDifferences, WrapCancelsPendingSync) {
  auto m = Make(NimConfig());
  MustUnwrapOutcome(*m, Wire({.id = "p1", .lamport = 5}), kT0);
  MustWrap(*m, "a1", kT0 + seconds{10});
  m->TakeEvents();
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{70});  // a1's resend, no sync
  EXPECT_EQ(m->Tick(kT0 + seconds{30}), kT0 + seconds{70});
  EXPECT_EQ(m->PendingEventCount(), 0u);
}

TEST(DeliberateDifferences, ZeroSyncIntervalDisablesSync) {
  Config config = NimConfig();
  config.sync_message_interval = Duration::zero();
  auto m = Make(config);
  MustUnwrapOutcome(*m, Wire({.id = "p1", .lamport = 5}), kT0);
  m->TakeEvents();
  EXPECT_EQ(m->Tick(kT0 + seconds{3600}), kNoDeadline);
  EXPECT_EQ(m->PendingEventCount(), 0u);
}

TEST(DeliberateDifferences, PeerSyncRevealsMissingMessages) {
  auto m = Make(NimConfig("alice"));
  MustUnwrapOutcome(*m, Wire({.id = "b", .lamport = 3, .causal = {E("buffered-dep")}}), kT0);
  m->TakeEvents();
  const Bytes sync = Wire({.id = "bob-sync",
                           .lamport = 9,
                           .causal = {E("x", "carol"), E("b"), E("buffered-dep", "carol")},
                           .content = "",
                           .sender = "bob"});
  auto result = m->Unwrap(sync, kT0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kSync);
  // "b" is buffered, so not missing; "buffered-dep" is missing but already requested.
  EXPECT_THAT(Ids(result->missing_dependencies), ElementsAre("x", "buffered-dep"));
  EXPECT_THAT(Names(*m), ElementsAre("missing:bob-sync[x,buffered-dep]"));
  auto& repair = State(*m).outgoing_repair;
  ASSERT_EQ(repair.count("x"), 1u);
  EXPECT_EQ(repair.at("x").entry.sender_id, "carol");
  EXPECT_EQ(repair.at("x").deadline,
            kT0 + repair::NimRequestDelay("alice", "x", seconds{30}, seconds{300}));
  EXPECT_THAT(m->History(kCh), IsEmpty());
  EXPECT_THAT(m->IncomingBuffer(kCh), ElementsAre("b"));

  // Without a participant id: the event, but no repair entry.
  auto anonymous = Make(NimConfig(""));
  EXPECT_EQ(MustUnwrapOutcome(*anonymous, sync, kT0), UnwrapOutcome::kSync);
  EXPECT_THAT(Names(*anonymous), ElementsAre("missing:bob-sync[x,b,buffered-dep]"));
  EXPECT_THAT(State(*anonymous).outgoing_repair, IsEmpty());
}

// ---- Ephemeral messages -------------------------------------------------------------------

TEST(DeliberateDifferences, EphemeralMessagesSpecDialect) {
  auto alice = Make(SpecConfig("alice"));
  auto bob = Make(SpecConfig("bob"));
  const SharedBytes b1 = MustWrap(*bob, "b1", kT0);
  auto eph = alice->WrapEphemeral(kCh, ToBytes("hi"), "e1", kT0);
  ASSERT_TRUE(eph.ok()) << eph.status().ToString();
  const Message message = Decoded(*eph, Dialect::kSpec);
  EXPECT_EQ(message.kind(), MessageKind::kEphemeral);
  EXPECT_FALSE(message.lamport_timestamp.has_value());
  EXPECT_THAT(message.causal_history, IsEmpty());
  EXPECT_FALSE(message.bloom_filter.has_value());
  ASSERT_TRUE(message.content.has_value());
  EXPECT_EQ(ToString(*message.content), "hi");
  EXPECT_EQ(message.sender_id, "alice");
  EXPECT_THAT(alice->OutgoingBuffer(kCh), IsEmpty());
  EXPECT_THAT(alice->History(kCh), IsEmpty());
  EXPECT_EQ(alice->NextDeadline(), kNoDeadline);

  const LamportTime bob_lamport = *bob->Lamport(kCh);
  auto result = bob->Unwrap(*eph, kT0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kEphemeral);
  auto events = bob->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* ready = std::get_if<MessageReady>(&events[0]);
  ASSERT_NE(ready, nullptr) << Describe(events[0]);
  EXPECT_EQ(ready->message_id, "e1");
  EXPECT_EQ(ready->kind, MessageKind::kEphemeral);
  EXPECT_EQ(ready->lamport_timestamp, 0);
  EXPECT_EQ(ready->sender_id, "alice");
  EXPECT_EQ(ToString(ready->content), "hi");
  EXPECT_THAT(bob->History(kCh), ElementsAre("b1"));
  EXPECT_FALSE(bob->BloomContains(kCh, "e1"));
  EXPECT_THAT(bob->IncomingBuffer(kCh), IsEmpty());
  EXPECT_THAT(bob->OutgoingBuffer(kCh), ElementsAre("b1"));
  EXPECT_EQ(bob->Lamport(kCh), bob_lamport);
  EXPECT_EQ(bob->NextDeadline(), kT0 + seconds{60});  // b1's resend; no sync scheduled
  (void)b1;

  // Nim-dialect managers cannot send them ...
  auto nim = Make(NimConfig("carol"));
  auto refused = nim->WrapEphemeral(kCh, ToBytes("hi"), "e2", kT0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(nim->HasChannel(kCh));
  // ... but deliver a spec peer's at once.
  EXPECT_EQ(MustUnwrapOutcome(*nim, *eph, kT0), UnwrapOutcome::kEphemeral);
  EXPECT_THAT(Names(*nim), ElementsAre("ready:e1"));
  EXPECT_THAT(nim->History(kCh), IsEmpty());
}

TEST(DeliberateDifferences, EphemeralNotBufferedDespiteUnknownDependencies) {
  auto m = Make(SpecConfig("bob"));
  // Even a hand-made ephemeral message listing unknown ids is delivered at once.
  const Bytes eph =
      Wire({.id = "e1", .lamport = std::nullopt, .causal = {E("unknown")}}, Dialect::kSpec);
  EXPECT_EQ(MustUnwrapOutcome(*m, eph, kT0), UnwrapOutcome::kEphemeral);
  EXPECT_THAT(Names(*m), ElementsAre("ready:e1"));
  EXPECT_THAT(m->IncomingBuffer(kCh), IsEmpty());
}

// ---- MarkDependenciesMet ------------------------------------------------------------------

// nim-sds only adds the ids to the bloom filter: a later message listing them
// reports them missing again.
TEST(DeliberateDifferences, MarkDependenciesMetCountsAsDeliveredDiffersFromNim) {
  auto m = Make(NimConfig());
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  const std::vector<MessageId> ids = {"x", "y"};
  ASSERT_TRUE(m->MarkDependenciesMet(kCh, ids, kT0).ok());
  EXPECT_EQ(m->PendingEventCount(), 0u);
  EXPECT_TRUE(m->BloomContains(kCh, "x"));
  EXPECT_TRUE(m->BloomContains(kCh, "y"));
  EXPECT_THAT(m->History(kCh), IsEmpty());
  auto result = m->Unwrap(Wire({.id = "m", .lamport = 3, .causal = {E("x"), E("y")}}), kT0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDelivered);
  EXPECT_THAT(result->missing_dependencies, IsEmpty());
  EXPECT_THAT(Names(*m), ElementsAre("ready:m"));
  EXPECT_THAT(m->History(kCh), ElementsAre("m"));
  // The marked ids also count as duplicates.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "x", .lamport = 1}), kT0), UnwrapOutcome::kDuplicate);

  // nim-sds: reInvalidArgument.
  EXPECT_EQ(m->MarkDependenciesMet("unknown", ids, kT0).code(), ErrorCode::kUnknownChannel);
  EXPECT_FALSE(m->HasChannel("unknown"));
}

// nim-sds's filter grows at its first roll-over (and so does every message
// after it); by default the engine keeps the geometry and the size.
TEST(DeliberateDifferences, BloomRollOverKeepsMessageSizeDiffersFromNim) {
  for (BloomRollOver roll_over : {BloomRollOver::kFixedGeometry, BloomRollOver::kNimSds}) {
    Config config = NimConfig("alice");
    config.bloom_filter_capacity = 100;
    config.bloom_filter_error_rate = 0.01;
    config.max_causal_history = 0;  // only the filter varies in size
    config.bloom_roll_over = roll_over;
    config.bloom_wire_size = BloomWireSize::kFixed;  // the rolling filter itself goes out
    auto m = Make(config);
    const size_t first = MustWrap(*m, "m000", kT0).size();
    size_t last = 0;
    for (int i = 1; i < 150; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "m%03d", i);
      last = MustWrap(*m, id, kT0).size();
    }
    if (roll_over == BloomRollOver::kFixedGeometry) {
      EXPECT_EQ(last, first);
    } else {
      EXPECT_GT(last, first);  // capacity 120 after the roll-over
    }
  }
}

// An empty participant id disables SDS-R: the logger is told so when it is
// set, and once more when a gap goes unrequested.
TEST(DeliberateDifferences, DisabledRepairIsReportedNotSilent) {
  Config config;  // no participant id
  config.channel_admission = ChannelAdmission::kAny;
  auto m = Make(config);
  std::vector<std::pair<LogLevel, std::string>> logged;
  m->SetLogger([&](LogLevel level, std::string_view text) {
    logged.emplace_back(level, std::string(text));
  });
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].first, LogLevel::kInfo);
  EXPECT_NE(logged[0].second.find("SDS-R repair is disabled"), std::string::npos);
  for (int i = 0; i < 2; ++i) {
    MustUnwrapOutcome(
        *m, Wire({.id = "b" + std::to_string(i), .lamport = 2, .causal = {E("gap", "alice")}}),
        kT0);
  }
  ASSERT_EQ(logged.size(), 2u);  // once, not per message
  EXPECT_EQ(logged[1].first, LogLevel::kInfo);
  EXPECT_TRUE(State(*m).outgoing_repair.empty());
}

// ---- SDS-R re-arming ----------------------------------------------------------------------

class DeliberateDifferencesRepairRearm : public ::testing::Test {
 protected:
  void Start(int max_repair_attempts) {
    Config config = NimConfig("bob");
    config.sync_message_interval = Duration::zero();  // only repair syncs
    config.max_repair_attempts = max_repair_attempts;
    m_ = Make(config);
    ASSERT_EQ(
        MustUnwrapOutcome(
            *m_, Wire({.id = "m2", .lamport = 2, .causal = {E("m1", "alice")}, .sender = "alice"}),
            kT0),
        UnwrapOutcome::kBuffered);
    m_->TakeEvents();
    deadline_ = kT0 + repair::NimRequestDelay("bob", "m1", seconds{30}, seconds{300});
    ASSERT_EQ(State(*m_).outgoing_repair.count("m1"), 1u);
    EXPECT_EQ(State(*m_).outgoing_repair.at("m1").deadline, deadline_);
    EXPECT_EQ(m_->NextDeadline(), deadline_);
  }

  // Ticks at `now` and expects exactly one sync message requesting m1.
  void ExpectRequestSync(Timestamp now) {
    m_->Tick(now);
    auto events = m_->TakeEvents();
    ASSERT_EQ(events.size(), 1u);
    const auto* sync = std::get_if<SyncMessageReady>(&events[0]);
    ASSERT_NE(sync, nullptr) << Describe(events[0]);
    const Message message = Decoded(sync->wire);
    EXPECT_EQ(message.kind(), MessageKind::kSync);
    EXPECT_THAT(message.repair_request, ElementsAre(E("m1", "alice")));
  }

  std::unique_ptr<ReliabilityManager> m_;
  Timestamp deadline_;
};

// nim-sds sends a request once and forgets it: a lost answer leaves the gap.
TEST_F(DeliberateDifferencesRepairRearm, AttachedRequestRearmedUntilMaxAttemptsDiffersFromNim) {
  Start(3);
  EXPECT_EQ(m_->Tick(deadline_ - milliseconds{1}), deadline_);
  EXPECT_EQ(m_->PendingEventCount(), 0u);
  ExpectRequestSync(deadline_);
  auto& repair = State(*m_).outgoing_repair;
  ASSERT_EQ(repair.count("m1"), 1u);
  EXPECT_EQ(repair.at("m1").attempts, 1);
  EXPECT_EQ(repair.at("m1").deadline, deadline_ + seconds{300});
  EXPECT_EQ(m_->NextDeadline(), deadline_ + seconds{300});
  EXPECT_EQ(m_->Tick(deadline_ + seconds{299}), deadline_ + seconds{300});
  EXPECT_EQ(m_->PendingEventCount(), 0u);

  ExpectRequestSync(deadline_ + seconds{300});
  ASSERT_EQ(repair.count("m1"), 1u);
  EXPECT_EQ(repair.at("m1").attempts, 2);
  EXPECT_EQ(repair.at("m1").deadline, deadline_ + seconds{600});

  ExpectRequestSync(deadline_ + seconds{600});
  EXPECT_EQ(repair.count("m1"), 0u);
  EXPECT_EQ(m_->NextDeadline(), kNoDeadline);
}

TEST_F(DeliberateDifferencesRepairRearm, SingleAttemptBehavesAsNim) {
  Start(1);
  ExpectRequestSync(deadline_);
  EXPECT_EQ(State(*m_).outgoing_repair.count("m1"), 0u);
  EXPECT_EQ(m_->NextDeadline(), kNoDeadline);
}

// For apps that never broadcast SyncMessageReady (the C ABI without its
// extension events): a due request waits for the next wrap, as in nim-sds,
// and Tick only expires it T_max after its deadline.
TEST(DeliberateDifferences, RepairRequestWaitsForNextWrapWithoutRepairSyncs) {
  Config config = NimConfig("bob");
  config.sync_message_interval = Duration::zero();
  config.repair_requests_in_sync_messages = false;
  auto m = Make(config);
  ASSERT_EQ(
      MustUnwrapOutcome(
          *m, Wire({.id = "m2", .lamport = 2, .causal = {E("m1", "alice")}, .sender = "alice"}),
          kT0),
      UnwrapOutcome::kBuffered);
  m->TakeEvents();
  const Timestamp deadline = kT0 + repair::NimRequestDelay("bob", "m1", seconds{30}, seconds{300});
  const Timestamp expiry = deadline + seconds{300} + milliseconds{1};
  EXPECT_EQ(m->NextDeadline(), expiry);
  EXPECT_EQ(m->Tick(deadline + seconds{1}), expiry);
  EXPECT_THAT(Names(*m), IsEmpty());  // no sync message spends the request
  EXPECT_EQ(State(*m).outgoing_repair.at("m1").attempts, 0);

  const SharedBytes wire = MustWrap(*m, "b1", deadline + seconds{2});
  EXPECT_THAT(Decoded(wire).repair_request, ElementsAre(E("m1", "alice")));
  EXPECT_EQ(State(*m).outgoing_repair.at("m1").attempts, 1);

  // Re-armed for T_max later; with nothing sent it expires T_max after that
  // (b1's resends meanwhile carry no request: none is due before then).
  const Timestamp rearmed = deadline + seconds{2} + seconds{300};
  EXPECT_EQ(State(*m).outgoing_repair.at("m1").deadline, rearmed);
  m->Tick(rearmed + seconds{300});
  EXPECT_EQ(State(*m).outgoing_repair.count("m1"), 1u);
  m->Tick(rearmed + seconds{300} + milliseconds{1});
  EXPECT_EQ(State(*m).outgoing_repair.count("m1"), 0u);
}

TEST_F(DeliberateDifferencesRepairRearm, WrapCarriesDueRequestAndRearms) {
  Start(3);
  const SharedBytes wire = MustWrap(*m_, "b1", deadline_ + seconds{1});
  EXPECT_THAT(Decoded(wire).repair_request, ElementsAre(E("m1", "alice")));
  ASSERT_EQ(State(*m_).outgoing_repair.count("m1"), 1u);
  EXPECT_EQ(State(*m_).outgoing_repair.at("m1").deadline, deadline_ + seconds{301});
  // A wrap before the deadline carries nothing.
  Start(3);
  EXPECT_THAT(Decoded(MustWrap(*m_, "b0", deadline_ - milliseconds{1})).repair_request, IsEmpty());
}

// nim-sds drops its own request when a peer asks for the same message.
TEST_F(DeliberateDifferencesRepairRearm, PeerRequestPostponesOursDiffersFromNim) {
  Start(3);
  const Timestamp t1 = kT0 + seconds{5};
  MustUnwrapOutcome(
      *m_, Wire({.id = "c1", .lamport = 3, .sender = "carol", .repair = {E("m1", "alice")}}), t1);
  ASSERT_EQ(State(*m_).outgoing_repair.count("m1"), 1u);
  EXPECT_EQ(State(*m_).outgoing_repair.at("m1").deadline, std::max(deadline_, t1 + seconds{300}));
  EXPECT_EQ(State(*m_).outgoing_repair.at("m1").attempts, 0);

  Start(1);
  MustUnwrapOutcome(
      *m_, Wire({.id = "c1", .lamport = 3, .sender = "carol", .repair = {E("m1", "alice")}}), t1);
  EXPECT_EQ(State(*m_).outgoing_repair.count("m1"), 0u);
}

// nim-sds test_reliability #60 keeps a request due "now" until a message
// carries it; here Tick sends it at once in a sync message, and one T_max
// overdue (the engine was not ticked meanwhile) goes out too, most overdue
// first, where nim-sds drops it.
TEST(DeliberateDifferences, DueRepairRequestGoesOutInSyncDiffersFromNim) {
  Config config = NimConfig("bob");
  auto m = Make(config);
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  auto& repair = State(*m).outgoing_repair;
  repair["m-stale"] = {E("m-stale", "alice"), kT0 - seconds{600}, 0};
  repair["m-fresh"] = {E("m-fresh", "alice"), kT0, 0};
  m->Tick(kT0);
  for (const char* id : {"m-stale", "m-fresh"}) {
    ASSERT_EQ(repair.count(id), 1u) << id;
    EXPECT_EQ(repair.at(id).attempts, 1) << id;
    EXPECT_EQ(repair.at(id).deadline, kT0 + seconds{300}) << id;
  }
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* sync = std::get_if<SyncMessageReady>(&events[0]);
  ASSERT_NE(sync, nullptr) << Describe(events[0]);
  EXPECT_THAT(Decoded(sync->wire).repair_request,
              ElementsAre(E("m-stale", "alice"), E("m-fresh", "alice")));
}

// A participant suspended (or offline) for longer than T_max, whose repair
// request was never sent: at its first Tick back the request goes out, and
// the answer releases what waited for it. (Dropping it, nim-sds's expiry,
// left m2 buffered for good: nothing names m1 again.)
TEST(RepairAfterSuspension, OverdueRequestGoesOutAtFirstTickAndTheAnswerDelivers) {
  auto store = std::make_shared<MemoryStore>();
  Config config = NimConfig("bob");
  {
    auto created = ReliabilityManager::Create(config, store);
    ASSERT_TRUE(created.ok());
    ASSERT_EQ(
        MustUnwrapOutcome(
            **created,
            Wire({.id = "m2", .lamport = 2, .causal = {E("m1", "alice")}, .sender = "alice"}), kT0),
        UnwrapOutcome::kBuffered);
  }  // the process stops before T_req
  auto created = ReliabilityManager::Create(config, store);
  ASSERT_TRUE(created.ok());
  auto& m = **created;
  ASSERT_TRUE(m.EnsureChannel(kCh).ok());
  const Timestamp back = kT0 + config.repair_t_max * 3;
  m.Tick(back);
  std::vector<Event> events = m.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* sync = std::get_if<SyncMessageReady>(&events[0]);
  ASSERT_NE(sync, nullptr) << Describe(events[0]);
  EXPECT_THAT(Decoded(sync->wire).repair_request, ElementsAre(E("m1", "alice")));
  MustUnwrap(m, Wire({.id = "m1", .lamport = 1, .sender = "alice"}), back + seconds{1});
  EXPECT_THAT(m.IncomingBuffer(kCh), IsEmpty());
  EXPECT_THAT(m.PendingDependencies(kCh), IsEmpty());
}

// Without repair sync messages a request waits for the application's next
// message; one T_max overdue gives up as in nim-sds (see
// RepairRequestWaitsForNextWrapWithoutRepairSyncs), suspended or not.
TEST(RepairAfterSuspension, WithoutRepairSyncsAnOverdueRequestStillExpires) {
  Config config = NimConfig("bob");
  config.repair_requests_in_sync_messages = false;
  auto m = Make(config);
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  auto& repair = State(*m).outgoing_repair;
  repair["m-stale"] = {E("m-stale", "alice"), kT0 - seconds{600}, 0};
  m->Tick(kT0);
  EXPECT_EQ(repair.count("m-stale"), 0u);
}

// ---- Bounded buffers and the bloom filter -------------------------------------------------

TEST(DeliberateDifferences, BufferedMessageInBloomAndIncomingOverflowDropsOldest) {
  Config config = NimConfig();
  config.limits.max_incoming_buffer = 2;
  auto m = Make(config);
  const Bytes b1 = Wire({.id = "b1", .lamport = 2, .causal = {E("x")}});
  EXPECT_EQ(MustUnwrapOutcome(*m, b1, kT0), UnwrapOutcome::kBuffered);
  EXPECT_TRUE(m->BloomContains(kCh, "b1"));  // peers may stop resending it
  MustUnwrapOutcome(*m, Wire({.id = "b2", .lamport = 3, .causal = {E("x")}}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("missing:b1[x]", "missing:b2[x]"));
  MustUnwrapOutcome(*m, Wire({.id = "b3", .lamport = 4, .causal = {E("y")}}), kT0);
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  const auto* dropped = std::get_if<MessageDropped>(&events[0]);
  ASSERT_NE(dropped, nullptr) << Describe(events[0]);
  EXPECT_EQ(dropped->message_id, "b1");
  EXPECT_FALSE(dropped->reason.empty());
  EXPECT_EQ(Describe(events[1]), "missing:b3[y]");
  EXPECT_THAT(m->IncomingBuffer(kCh), ElementsAre("b2", "b3"));
  EXPECT_TRUE(m->BloomContains(kCh, "b1"));

  // x unblocks b2 only: the dropped b1 is gone for good ...
  MustUnwrapOutcome(*m, Wire({.id = "x", .lamport = 1}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ready:x", "ready:b2"));
  EXPECT_THAT(m->IncomingBuffer(kCh), ElementsAre("b3"));
  // ... unless it is received again, which is not a duplicate.
  EXPECT_EQ(MustUnwrapOutcome(*m, b1, kT0), UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*m), ElementsAre("ready:b1"));
}

TEST(DeliberateDifferences, OutgoingOverflowGivesUpOnOldest) {
  Config config = NimConfig();
  config.limits.max_outgoing_buffer = 2;
  auto m = Make(config);
  MustWrap(*m, "m1", kT0);
  MustWrap(*m, "m2", kT0);
  EXPECT_EQ(m->PendingEventCount(), 0u);
  MustWrap(*m, "m3", kT0);
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* failed = std::get_if<SendFailed>(&events[0]);
  ASSERT_NE(failed, nullptr) << Describe(events[0]);
  EXPECT_EQ(failed->message_id, "m1");
  EXPECT_TRUE(failed->evicted);
  EXPECT_EQ(failed->resend_attempts, 0);
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("m2", "m3"));
  EXPECT_THAT(m->History(kCh), ElementsAre("m1", "m2", "m3"));
  // A late acknowledgement of m1 reports nothing for it.
  MustUnwrapOutcome(*m, Wire({.id = "p", .lamport = 9, .causal = {E("m1"), E("m2")}}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ack:m2", "ready:p"));
}

}  // namespace
}  // namespace sds
