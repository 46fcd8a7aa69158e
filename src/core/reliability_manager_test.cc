// ReliabilityManager behaviour: GoogleTest counterparts of nim-sds
// tests/test_reliability.nim (nim-sds.md §8.2, tests 1-27 and 35-40, 52-67;
// the timing functions 28-34 and 45-51 are in repair_timing_test.cc), and a
// conversation run in both wire dialects.
//
// nim callbacks map to events: onMessageReady -> MessageReady, onMessageSent ->
// MessageAcknowledged (SendFailed on give-up), onMissingDependencies ->
// MissingDependencies, onRepairReady -> RepairReady; runRepairSweep and the
// periodic tasks -> Tick(now). Time is virtual throughout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/engine_access.h"
#include "core/repair_timing.h"
#include "sds/bloom_filter.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace testutil;  // NOLINT: the shared engine test vocabulary

constexpr LamportTime kT0Seconds = 1'700'000'000;

// nim's seedBloom: ids added straight to the channel's filter.
void SeedBloom(ReliabilityManager& m, int count, const std::string& prefix = "seed-",
               const ChannelId& channel = kCh) {
  for (int i = 0; i < count; ++i) State(m, channel).bloom.Add(prefix + std::to_string(i));
}

// The nim suites' fixture: manager "alice" with channel "ch", sending the
// whole filter as nim-sds does (these suites port nim-sds's tests).
class ReliabilityManagerNim : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = NimConfig("alice");
    config.bloom_wire_size = BloomWireSize::kFixed;
    m_ = Make(config);
    ASSERT_TRUE(m_->EnsureChannel(kCh).ok());
  }
  std::unique_ptr<ReliabilityManager> m_;
};

// ---- Core Operations ----------------------------------------------------------------------

// nim-sds test_reliability #1
TEST(ReliabilityManagerNimConfig, DefaultConfig) {
  const Config c;
  EXPECT_EQ(c.dialect, Dialect::kNim);
  EXPECT_EQ(c.lamport_unit, LamportUnit::kSeconds);
  EXPECT_EQ(c.bloom_filter_capacity, 10000);
  EXPECT_DOUBLE_EQ(c.bloom_filter_error_rate, 0.001);
  EXPECT_EQ(c.bloom_ack_threshold, 1);
  EXPECT_EQ(c.max_message_history, 1000u);
  EXPECT_EQ(c.max_causal_history, 10u);
  EXPECT_EQ(c.resend_interval, seconds{60});
  EXPECT_EQ(c.max_resend_attempts, 5);
  EXPECT_EQ(c.sync_message_interval, seconds{30});
  EXPECT_EQ(c.repair_t_min, seconds{30});
  EXPECT_EQ(c.repair_t_max, seconds{300});
  EXPECT_EQ(c.num_response_groups, 1);
  EXPECT_EQ(c.max_repair_requests, 3u);
  EXPECT_FALSE(c.repair_enabled());
  const Config spec = Config::ForDialect(Dialect::kSpec);
  EXPECT_EQ(spec.dialect, Dialect::kSpec);
  EXPECT_EQ(spec.lamport_unit, LamportUnit::kMilliseconds);
  EXPECT_EQ(spec.bloom_ack_threshold, 2);
  EXPECT_EQ(spec.repair_t_max, seconds{120});
  EXPECT_NE(Make(c), nullptr);
}

// nim-sds test_reliability #2 and #3
TEST_F(ReliabilityManagerNim, WrapAndUnwrapOwnMessage) {
  for (bool seeded : {false, true}) {
    SetUp();
    if (seeded) SeedBloom(*m_, 50);
    auto wire = m_->Wrap(kCh, Bytes{1, 2, 3}, "test-msg-1", kT0);
    ASSERT_TRUE(wire.ok());
    const Message message = Decoded(*wire);
    EXPECT_EQ(message.message_id, "test-msg-1");
    EXPECT_EQ(message.channel_id, kCh);
    EXPECT_EQ(message.sender_id, "alice");
    EXPECT_EQ(message.lamport_timestamp, kT0Seconds + 1);
    EXPECT_EQ(Bytes(message.content->begin(), message.content->end()), (Bytes{1, 2, 3}));
    ASSERT_TRUE(message.bloom_filter.has_value());
    auto bloom = PeerBloomView::ParseNim(*message.bloom_filter);
    ASSERT_TRUE(bloom.ok());
    EXPECT_EQ(bloom->Contains(MakeBloomKey(Dialect::kNim, "seed-0")), seeded);
    EXPECT_EQ(bloom->Contains(MakeBloomKey(Dialect::kNim, "seed-49")), seeded);

    const UnwrapResult result = MustUnwrap(*m_, *wire, kT0);
    EXPECT_EQ(result.outcome, UnwrapOutcome::kDuplicate);
    EXPECT_EQ(ToString(result.content), std::string("\x01\x02\x03"));
    EXPECT_THAT(result.missing_dependencies, IsEmpty());
    EXPECT_EQ(result.channel_id, kCh);
    EXPECT_EQ(result.message_id, "test-msg-1");
    EXPECT_EQ(m_->PendingEventCount(), 0u);
  }
}

// Bytes already shared (one received buffer handed to several managers)
// are kept by reference: the delivered message and the history hold the
// caller's buffer, not a copy, and the result equals the copying Unwrap's.
TEST(ReliabilityManagerSharedUnwrap, KeepsTheCallersBufferAndMatchesTheCopyingUnwrap) {
  auto alice = Make(NimConfig("alice"));
  auto bob = Make(NimConfig("bob"));
  auto carol = Make(NimConfig("carol"));
  auto wire = alice->Wrap(kCh, Bytes{7, 8, 9}, "shared-1", kT0);
  ASSERT_TRUE(wire.ok());
  const SharedBytes& shared = *wire;
  auto by_reference = bob->Unwrap(shared, kT0);
  auto by_copy = carol->Unwrap(ByteSpan(shared), kT0);
  ASSERT_TRUE(by_reference.ok()) << by_reference.status().ToString();
  ASSERT_TRUE(by_copy.ok());
  EXPECT_EQ(by_reference->outcome, UnwrapOutcome::kDelivered);
  EXPECT_EQ(by_copy->outcome, UnwrapOutcome::kDelivered);
  EXPECT_EQ(by_reference->wire.data(), shared.data());
  EXPECT_NE(by_copy->wire.data(), shared.data());
  EXPECT_EQ(by_reference->wire, by_copy->wire);
  EXPECT_EQ(ToString(by_reference->content), std::string("\x07\x08\x09"));
  auto events = bob->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* ready = std::get_if<MessageReady>(&events[0]);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->wire.data(), shared.data());
  // Limits apply the same way: an oversized shared buffer is refused.
  Config tight = NimConfig("dave");
  tight.limits.decode.max_message_bytes = shared.size() - 1;
  auto dave = Make(tight);
  auto refused = dave->Unwrap(shared, kT0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kMessageTooLarge);
}

// nim-sds test_reliability #4: lamport = max(msg, lamport) + 1 on receipt.
TEST_F(ReliabilityManagerNim, MessageOrdering) {
  MustUnwrap(*m_, Wire({.id = "msg2", .lamport = 5, .content = "\x02"}), kT0);
  EXPECT_EQ(m_->Lamport(kCh), 6);
  MustUnwrap(*m_, Wire({.id = "msg1", .lamport = 1, .content = "\x01"}), kT0);
  EXPECT_EQ(m_->Lamport(kCh), 7);
  EXPECT_THAT(Names(*m_), ElementsAre("ready:msg2", "ready:msg1"));
}

// ---- Reliability Mechanisms ---------------------------------------------------------------

// nim-sds test_reliability #5
TEST_F(ReliabilityManagerNim, DependencyDetectionAndResolution) {
  const UnwrapResult r3 =
      MustUnwrap(*m_, Wire({.id = "msg3", .lamport = 3, .causal = {E("msg1"), E("msg2")}}), kT0);
  EXPECT_EQ(r3.outcome, UnwrapOutcome::kBuffered);
  EXPECT_THAT(Ids(r3.missing_dependencies), ElementsAre("msg1", "msg2"));
  const UnwrapResult r2 =
      MustUnwrap(*m_, Wire({.id = "msg2", .lamport = 2, .causal = {E("msg1")}}), kT0);
  EXPECT_THAT(Ids(r2.missing_dependencies), ElementsAre("msg1"));
  EXPECT_THAT(Names(*m_), ElementsAre("missing:msg3[msg1,msg2]", "missing:msg2[msg1]"));
  const std::vector<MessageId> met = {"msg1"};
  ASSERT_TRUE(m_->MarkDependenciesMet(kCh, met, kT0).ok());
  EXPECT_THAT(Names(*m_), ElementsAre("ready:msg2", "ready:msg3"));
  EXPECT_THAT(m_->IncomingBuffer(kCh), IsEmpty());
  EXPECT_THAT(m_->History(kCh), ElementsAre("msg2", "msg3"));
}

// nim-sds test_reliability #6: the bloom filter is not used for dependency checks.
TEST_F(ReliabilityManagerNim, DependencyDetectionIgnoresOwnBloom) {
  SeedBloom(*m_, 30);
  State(*m_).bloom.Add("msg1");
  const UnwrapResult r =
      MustUnwrap(*m_, Wire({.id = "msg2", .lamport = 2, .causal = {E("msg1")}}), kT0);
  EXPECT_EQ(r.outcome, UnwrapOutcome::kBuffered);
  EXPECT_THAT(Ids(r.missing_dependencies), ElementsAre("msg1"));
  EXPECT_THAT(Names(*m_), ElementsAre("missing:msg2[msg1]"));
}

// nim-sds test_reliability #7 and #8
TEST_F(ReliabilityManagerNim, AcknowledgmentViaCausalHistory) {
  for (bool seeded : {false, true}) {
    SetUp();
    if (seeded) SeedBloom(*m_, 50);
    MustWrap(*m_, "msg1", kT0);
    const LamportTime l = *m_->Lamport(kCh);
    MustUnwrap(*m_,
               Wire({.id = "msg2",
                     .lamport = l + 1,
                     .causal = {E("msg1")},
                     .content = "\x02",
                     .bloom = Bytes{}}),
               kT0);
    EXPECT_THAT(Names(*m_), ElementsAre("ack:msg1", "ready:msg2"));
    EXPECT_THAT(m_->OutgoingBuffer(kCh), IsEmpty());
  }
}

// nim-sds test_reliability #9 and #10
TEST_F(ReliabilityManagerNim, AcknowledgmentViaBloomFilter) {
  for (int noise : {0, 100}) {
    SetUp();
    MustWrap(*m_, "msg1", kT0);
    MustWrap(*m_, "other", kT0);
    std::vector<MessageId> ids = {"msg1"};
    for (int i = 0; i < noise; ++i) ids.push_back("peer-noise-" + std::to_string(i));
    MustUnwrap(*m_, Wire({.id = "msg2", .lamport = 2, .bloom = BloomWith(ids)}), kT0);
    EXPECT_THAT(Names(*m_), ElementsAre("ack:msg1", "ready:msg2"));
    EXPECT_THAT(m_->OutgoingBuffer(kCh), ElementsAre("other"));
  }
}

// nim-sds test_reliability #11: the filter in a wrapped message is taken
// before the message's own id is added.
TEST_F(ReliabilityManagerNim, OutgoingBloomSnapshotReflectsChannelState) {
  SeedBloom(*m_, 40, "delivered-");
  MustUnwrap(*m_, Wire({.id = "incoming-1", .lamport = 1, .content = "\x09"}), kT0);
  const SharedBytes wire = MustWrap(*m_, "outgoing-1", kT0);
  const Message message = Decoded(wire);
  auto bloom = PeerBloomView::ParseNim(*message.bloom_filter);
  ASSERT_TRUE(bloom.ok());
  for (const char* id : {"delivered-0", "delivered-39", "incoming-1"}) {
    EXPECT_TRUE(bloom->Contains(MakeBloomKey(Dialect::kNim, id))) << id;
  }
  EXPECT_FALSE(bloom->Contains(MakeBloomKey(Dialect::kNim, "outgoing-1")));
  EXPECT_TRUE(m_->BloomContains(kCh, "outgoing-1"));
}

// nim-sds test_reliability #12
TEST_F(ReliabilityManagerNim, RetrievalHints) {
  int calls = 0;
  m_->SetRetrievalHintProvider([&](const ChannelId& channel, const MessageId& id) {
    ++calls;
    EXPECT_EQ(channel, kCh);
    return ToBytes("hint:" + id);
  });
  MustWrap(*m_, "msg1", kT0);
  const Message msg2 = Decoded(MustWrap(*m_, "msg2", kT0));
  ASSERT_EQ(msg2.causal_history.size(), 1u);
  EXPECT_EQ(msg2.causal_history[0], E("msg1", "alice", "hint:msg1"));
  // A non-empty hint is remembered: the provider is not asked again.
  const Message msg2b = Decoded(MustWrap(*m_, "msg2b", kT0));
  EXPECT_EQ(msg2b.causal_history[0], E("msg1", "alice", "hint:msg1"));
  EXPECT_EQ(calls, 2);  // msg1 once, msg2 once

  const UnwrapResult r3 =
      MustUnwrap(*m_, Wire({.id = "msg3", .lamport = 3, .causal = {E("missing-dep")}}), kT0);
  EXPECT_THAT(r3.missing_dependencies, ElementsAre(E("missing-dep")));
  const UnwrapResult r4 = MustUnwrap(
      *m_, Wire({.id = "msg4", .lamport = 4, .causal = {E("another-missing", "", "remote-hint")}}),
      kT0);
  EXPECT_THAT(r4.missing_dependencies, ElementsAre(E("another-missing", "", "remote-hint")));
  auto events = m_->TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  const auto* missing = std::get_if<MissingDependencies>(&events[1]);
  ASSERT_NE(missing, nullptr);
  EXPECT_THAT(missing->missing, ElementsAre(E("another-missing", "", "remote-hint")));
}

TEST_F(ReliabilityManagerNim, SetRetrievalHint) {
  MustWrap(*m_, "msg1", kT0);
  ASSERT_TRUE(m_->SetRetrievalHint(kCh, "msg1", ToBytes("store-hash")).ok());
  EXPECT_EQ(Decoded(MustWrap(*m_, "msg2", kT0)).causal_history[0],
            E("msg1", "alice", "store-hash"));
  EXPECT_EQ(m_->SetRetrievalHint("nope", "msg1", {}).code(), ErrorCode::kUnknownChannel);
  EXPECT_EQ(m_->SetRetrievalHint(kCh, "nope", {}).code(), ErrorCode::kInvalidArgument);
}

// ---- Periodic Tasks & Buffer Management ---------------------------------------------------

// nim-sds test_reliability #13
TEST_F(ReliabilityManagerNim, OutgoingBufferManagement) {
  for (int i = 0; i < 6; ++i) MustWrap(*m_, "msg" + std::to_string(i), kT0);
  EXPECT_EQ(m_->OutgoingBuffer(kCh).size(), 6u);
  MustUnwrap(*m_,
             Wire({.id = "ack1",
                   .lamport = 2,
                   .causal = {E("msg0"), E("msg2"), E("msg4")},
                   .content = "\x64"}),
             kT0);
  EXPECT_THAT(Names(*m_), ElementsAre("ack:msg0", "ack:msg2", "ack:msg4", "ready:ack1"));
  EXPECT_THAT(m_->OutgoingBuffer(kCh), ElementsAre("msg1", "msg3", "msg5"));
}

// nim-sds test_reliability #14 (virtual time instead of sleeping 500 ms).
TEST(ReliabilityManagerNimPeriodic, BufferSweepAndBloomClean) {
  Config config = NimConfig("alice");
  config.resend_interval = milliseconds{100};
  config.bloom_filter_capacity = 2;
  config.max_resend_attempts = 3;
  auto m = Make(config);
  MustWrap(*m, "msg1", kT0);
  EXPECT_EQ(State(*m).outgoing.front().resend_attempts, 0);
  EXPECT_TRUE(m->BloomContains(kCh, "msg1"));
  for (int i = 1; i <= 5; ++i) m->Tick(kT0 + milliseconds{100 * i});
  EXPECT_THAT(Names(*m), ElementsAre("rebroadcast:msg1:1", "rebroadcast:msg1:2",
                                     "rebroadcast:msg1:3", "failed:msg1:3"));
  MustWrap(*m, "msg2", kT0 + milliseconds{500});
  MustWrap(*m, "msg3", kT0 + milliseconds{500});
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("msg2", "msg3"));
  EXPECT_EQ(State(*m).outgoing.front().resend_attempts, 0);
  // Capacity 2 (min 1, max 2): the third add rolled the filter, keeping msg3 only.
  EXPECT_FALSE(m->BloomContains(kCh, "msg1"));
  EXPECT_TRUE(m->BloomContains(kCh, "msg3"));
}

// nim-sds test_reliability #15: nim calls onPeriodicSync on a timer; here
// Tick builds the sync message itself once the channel has been quiet.
TEST(ReliabilityManagerNimPeriodic, PeriodicSync) {
  Config config = NimConfig("alice");
  config.sync_policy = SyncPolicy::kAfterReceipt;  // exactly the interval, unjittered
  auto m = Make(config);
  MustUnwrap(*m, Wire({.id = "p1", .lamport = 1}), kT0);
  m->TakeEvents();
  EXPECT_EQ(m->Tick(kT0 + seconds{30}), kNoDeadline);
  EXPECT_THAT(Names(*m), ElementsAre("sync"));
}

// ---- Special Cases Handling ---------------------------------------------------------------

// nim-sds test_reliability #16
TEST_F(ReliabilityManagerNim, MessageHistoryLimits) {
  for (int i = 0; i <= 1005; ++i) MustWrap(*m_, "msg" + std::to_string(i), kT0);
  const auto history = m_->History(kCh);
  ASSERT_EQ(history.size(), 1000u);
  EXPECT_EQ(history.front(), "msg6");
  EXPECT_EQ(history.back(), "msg1005");
  // The last wrap listed the 10 before it.
  const auto& last = State(*m_).history.at("msg1005");
  const Message message = Decoded(last.wire);
  EXPECT_EQ(Ids(message.causal_history).front(), "msg995");
  EXPECT_EQ(Ids(message.causal_history).back(), "msg1004");
}

// nim-sds test_reliability #17 is
// ReliabilityManagerBadInput.UnparseableNimBloomIgnoredAndMessageDelivered
// (reliability_manager_limits_test.cc).

// nim-sds test_reliability #18
TEST_F(ReliabilityManagerNim, DuplicateMessageHandling) {
  const Bytes wire = Wire({.id = "dup-msg", .lamport = 1});
  EXPECT_EQ(MustUnwrap(*m_, wire, kT0).outcome, UnwrapOutcome::kDelivered);
  const UnwrapResult second = MustUnwrap(*m_, wire, kT0);
  EXPECT_EQ(second.outcome, UnwrapOutcome::kDuplicate);
  EXPECT_THAT(second.missing_dependencies, IsEmpty());
  EXPECT_THAT(Names(*m_), ElementsAre("ready:dup-msg"));
}

// nim-sds test_reliability #19
TEST_F(ReliabilityManagerNim, ErrorHandling) {
  EXPECT_EQ(m_->Wrap(kCh, Bytes{}, "e1", kT0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(m_->Wrap(kCh, Bytes(1'048'577, 1), "e2", kT0).status().code(),
            ErrorCode::kMessageTooLarge);
  EXPECT_TRUE(m_->Wrap(kCh, Bytes(1'048'576, 1), "e3", kT0).ok());
}

// nim-sds test_reliability #20 (cleanup) and #56 (reset clears SDS-R state).
TEST_F(ReliabilityManagerNim, ResetClearsEverything) {
  MustWrap(*m_, "test-msg-1", kT0);
  State(*m_).outgoing_repair["a"] = {E("a", "bob"), kT0, 0};
  State(*m_).incoming_repair["b"] = {E("b", "bob"), SharedBytes(Bytes{1}), kT0};
  MustUnwrap(*m_, Wire({.id = "c", .lamport = 1}), kT0);
  EXPECT_GT(m_->PendingEventCount(), 0u);
  m_->Reset();
  EXPECT_EQ(m_->PendingEventCount(), 0u);
  EXPECT_THAT(m_->Channels(), IsEmpty());
  EXPECT_THAT(m_->OutgoingBuffer(kCh), IsEmpty());
  EXPECT_THAT(m_->History(kCh), IsEmpty());
  EXPECT_EQ(m_->NextDeadline(), kNoDeadline);
  ASSERT_TRUE(m_->EnsureChannel(kCh).ok());
  EXPECT_THAT(State(*m_).outgoing_repair, IsEmpty());
  EXPECT_THAT(State(*m_).incoming_repair, IsEmpty());
  EXPECT_THAT(m_->History(kCh), IsEmpty());
  EXPECT_EQ(m_->Lamport(kCh), 0);
  EXPECT_FALSE(m_->BloomContains(kCh, "c"));
}

// ---- Multi-Channel ------------------------------------------------------------------------

// nim-sds test_reliability #21 and #22
TEST(ReliabilityManagerNimMultiChannel, ChannelManagement) {
  auto m = Make(NimConfig("alice"));
  EXPECT_THAT(m->Channels(), IsEmpty());
  ASSERT_TRUE(m->EnsureChannel("channel1").ok());
  ASSERT_TRUE(m->EnsureChannel("channel2").ok());
  ASSERT_TRUE(m->EnsureChannel("channel2").ok());
  EXPECT_THAT(m->Channels(), ElementsAre("channel1", "channel2"));
  ASSERT_TRUE(m->RemoveChannel("channel1").ok());
  EXPECT_THAT(m->Channels(), ElementsAre("channel2"));
  EXPECT_FALSE(m->HasChannel("channel1"));
  EXPECT_TRUE(m->HasChannel("channel2"));
  EXPECT_TRUE(m->RemoveChannel("never-existed").ok());
  EXPECT_EQ(m->EnsureChannel("").code(), ErrorCode::kInvalidArgument);
}

TEST(ReliabilityManagerNimMultiChannel, RemoveChannelReportsBufferedAsDropped) {
  auto m = Make(NimConfig("alice"));
  MustUnwrap(*m, Wire({.id = "b", .lamport = 1, .causal = {E("a")}, .channel = "c1"}), kT0);
  m->TakeEvents();
  ASSERT_TRUE(m->RemoveChannel("c1").ok());
  EXPECT_THAT(Names(*m), ElementsAre("dropped:c1/b"));
  EXPECT_FALSE(m->HasChannel("c1"));
}

// nim-sds test_reliability #23 (on the wrapping manager the unwrap is a
// duplicate, as in nim; a second manager sees real deliveries).
TEST(ReliabilityManagerNimMultiChannel, UnwrapExtractsChannel) {
  auto alice = Make(NimConfig("alice"));
  auto bob = Make(NimConfig("bob"));
  auto w1 = alice->Wrap("test-channel-1", Bytes{1, 2, 3}, "msg1", kT0);
  auto w2 = alice->Wrap("test-channel-2", Bytes{4, 5, 6}, "msg2", kT0);
  ASSERT_TRUE(w1.ok() && w2.ok());
  for (ReliabilityManager* m : {alice.get(), bob.get()}) {
    const UnwrapResult r1 = MustUnwrap(*m, *w1, kT0);
    const UnwrapResult r2 = MustUnwrap(*m, *w2, kT0);
    EXPECT_EQ(r1.channel_id, "test-channel-1");
    EXPECT_EQ(r2.channel_id, "test-channel-2");
    EXPECT_EQ(ToString(r1.content), std::string("\x01\x02\x03"));
    EXPECT_EQ(ToString(r2.content), std::string("\x04\x05\x06"));
    EXPECT_THAT(r1.missing_dependencies, IsEmpty());
    EXPECT_THAT(r2.missing_dependencies, IsEmpty());
  }
  EXPECT_EQ(alice->PendingEventCount(), 0u);
  EXPECT_THAT(Names(*bob), ElementsAre("ready:test-channel-1/msg1", "ready:test-channel-2/msg2"));
  EXPECT_THAT(bob->Channels(), ElementsAre("test-channel-1", "test-channel-2"));
}

// nim-sds test_reliability #24 and #25
TEST(ReliabilityManagerNimMultiChannel, ChannelIsolation) {
  auto m = Make(NimConfig("alice"));
  ASSERT_TRUE(m->EnsureChannel("isolated-channel-1").ok());
  ASSERT_TRUE(m->EnsureChannel("isolated-channel-2").ok());
  SeedBloom(*m, 25, "ch1-", "isolated-channel-1");
  SeedBloom(*m, 25, "ch2-", "isolated-channel-2");
  const Message m1 = Decoded(MustWrap(*m, "iso-msg-1", kT0, "isolated-channel-1"));
  const Message m2 = Decoded(MustWrap(*m, "iso-msg-2", kT0 + seconds{5}, "isolated-channel-2"));
  EXPECT_THAT(m->History("isolated-channel-1"), ElementsAre("iso-msg-1"));
  EXPECT_THAT(m->History("isolated-channel-2"), ElementsAre("iso-msg-2"));
  EXPECT_TRUE(m->BloomContains("isolated-channel-1", "ch1-0"));
  EXPECT_TRUE(m->BloomContains("isolated-channel-1", "iso-msg-1"));
  EXPECT_FALSE(m->BloomContains("isolated-channel-1", "ch2-0"));
  EXPECT_FALSE(m->BloomContains("isolated-channel-1", "iso-msg-2"));
  EXPECT_TRUE(m->BloomContains("isolated-channel-2", "ch2-0"));
  EXPECT_TRUE(m->BloomContains("isolated-channel-2", "iso-msg-2"));
  EXPECT_FALSE(m->BloomContains("isolated-channel-2", "ch1-0"));
  EXPECT_FALSE(m->BloomContains("isolated-channel-2", "iso-msg-1"));
  // Per-channel Lamport clocks: both start from 0 at their own wrap.
  EXPECT_EQ(m1.lamport_timestamp, kT0Seconds + 1);
  EXPECT_EQ(m2.lamport_timestamp, kT0Seconds + 6);
  EXPECT_THAT(m2.causal_history, IsEmpty());
}

// nim-sds test_reliability #26
TEST(ReliabilityManagerNimMultiChannel, MultiChannelEvents) {
  auto m = Make(NimConfig("alice"));
  MustWrap(*m, "callback-msg1", kT0, "channel1");
  MustWrap(*m, "callback-msg2", kT0, "channel2");
  MustUnwrap(*m,
             Wire({.id = "ack1",
                   .lamport = 2,
                   .causal = {E("callback-msg1")},
                   .content = "\x64",
                   .channel = "channel1"}),
             kT0);
  MustUnwrap(*m,
             Wire({.id = "ack2",
                   .lamport = 2,
                   .causal = {E("callback-msg2")},
                   .content = "\x65",
                   .channel = "channel2"}),
             kT0);
  EXPECT_THAT(Names(*m), ElementsAre("ack:channel1/callback-msg1", "ready:channel1/ack1",
                                     "ack:channel2/callback-msg2", "ready:channel2/ack2"));
}

// nim-sds test_reliability #27
TEST(ReliabilityManagerNimMultiChannel, ChannelSpecificDependencyManagement) {
  auto m = Make(NimConfig("alice"));
  ASSERT_TRUE(m->EnsureChannel("dep-channel-1").ok());
  ASSERT_TRUE(m->EnsureChannel("dep-channel-2").ok());
  const std::vector<MessageId> ids = {"dep1", "dep2", "dep3"};
  ASSERT_TRUE(m->MarkDependenciesMet("dep-channel-1", ids, kT0).ok());
  for (const auto& id : ids) {
    EXPECT_TRUE(m->BloomContains("dep-channel-1", id)) << id;
    EXPECT_FALSE(m->BloomContains("dep-channel-2", id)) << id;
  }
}

// ---- SDS-R: Repair Buffer Management ------------------------------------------------------

class ReliabilityManagerSdsr : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = Make(NimConfig("test-participant"));
    ASSERT_TRUE(m_->EnsureChannel(kCh).ok());
  }
  std::map<MessageId, internal::OutgoingRepairEntry>& Outgoing() {
    outgoing_.clear();
    for (const auto& [id, e] : State(*m_).outgoing_repair) outgoing_.emplace(id, e);
    return outgoing_;
  }
  std::unique_ptr<ReliabilityManager> m_;
  std::map<MessageId, internal::OutgoingRepairEntry> outgoing_;
};

// nim-sds test_reliability #35, #36 and #37
TEST_F(ReliabilityManagerSdsr, MissingDepsEnterRepairBufferUntilReceivedOrMet) {
  const Bytes msg2 = Wire({.id = "msg2", .lamport = 2, .causal = {E("msg1", "sender-A")}});
  for (int variant = 0; variant < 2; ++variant) {
    SetUp();
    MustUnwrap(*m_, msg2, kT0);
    ASSERT_EQ(Outgoing().count("msg1"), 1u);
    EXPECT_EQ(Outgoing().at("msg1").entry, E("msg1", "sender-A"));
    EXPECT_EQ(Outgoing().at("msg1").deadline,
              kT0 + repair::NimRequestDelay("test-participant", "msg1", seconds{30}, seconds{300}));
    if (variant == 0) {
      MustUnwrap(*m_, Wire({.id = "msg1", .lamport = 1}), kT0);
      EXPECT_THAT(Names(*m_), ElementsAre("missing:msg2[msg1]", "ready:msg1", "ready:msg2"));
    } else {
      const std::vector<MessageId> met = {"msg1"};
      ASSERT_TRUE(m_->MarkDependenciesMet(kCh, met, kT0).ok());
    }
    EXPECT_EQ(Outgoing().count("msg1"), 0u) << variant;
  }
}

// nim-sds test_reliability #38 and #39
TEST_F(ReliabilityManagerSdsr, DueRequestsAttachedMostOverdueFirst) {
  auto& repair = State(*m_).outgoing_repair;
  const std::vector<std::pair<MessageId, int>> entries = {
      {"newest", 10}, {"fourth", 20}, {"third", 30}, {"second", 40}, {"oldest", 50}};
  for (const auto& [id, age] : entries) {
    repair[id] = {E(id, "orig-sender"), kT0 - seconds{age}, 0};
  }
  repair["not-due"] = {E("not-due", "orig-sender"), kT0 + seconds{1}, 0};
  const Message out = Decoded(MustWrap(*m_, "outbound", kT0));
  EXPECT_THAT(out.repair_request,
              ElementsAre(E("oldest", "orig-sender"), E("second", "orig-sender"),
                          E("third", "orig-sender")));
  // Attached ones are re-armed (max_repair_attempts 3; nim-sds deletes them).
  EXPECT_EQ(repair.at("oldest").attempts, 1);
  EXPECT_EQ(repair.at("oldest").deadline, kT0 + seconds{300});
  EXPECT_EQ(repair.at("fourth").attempts, 0);
  EXPECT_EQ(repair.at("newest").attempts, 0);
  EXPECT_EQ(repair.at("not-due").attempts, 0);
  // The next message carries the remaining two.
  const Message next = Decoded(MustWrap(*m_, "outbound-2", kT0));
  EXPECT_THAT(Ids(next.repair_request), ElementsAre("fourth", "newest"));
}

// nim-sds test_reliability #40 and #53
TEST_F(ReliabilityManagerSdsr, IncomingRepairRequestWhenEligible) {
  const SharedBytes cached = MustWrap(*m_, "cached-msg", kT0);
  MustUnwrap(*m_,
             Wire({.id = "requester-msg",
                   .lamport = 5,
                   .content = "\x03",
                   .sender = "bob",
                   .repair = {E("cached-msg", "test-participant"), E("unknown", "x"),
                              E("cached-msg-no-sender")}}),
             kT0);
  auto& incoming = State(*m_).incoming_repair;
  ASSERT_EQ(incoming.size(), 1u);
  ASSERT_EQ(incoming.count("cached-msg"), 1u);
  EXPECT_EQ(incoming.at("cached-msg").wire, cached);
  // We are the original sender: T_resp is 0.
  EXPECT_EQ(incoming.at("cached-msg").deadline, kT0);

  // #53: an empty sender id in the request is ignored.
  SetUp();
  MustWrap(*m_, "m-wanted", kT0);
  MustUnwrap(*m_, Wire({.id = "r", .lamport = 5, .repair = {E("m-wanted", "")}}), kT0);
  EXPECT_THAT(State(*m_).incoming_repair, IsEmpty());
}

// ---- SDS-R: Lifecycle and State -----------------------------------------------------------

// nim-sds test_reliability #52
TEST(ReliabilityManagerSdsrLifecycle, EmptyParticipantDisablesRepair) {
  auto m = Make(NimConfig(""));
  MustUnwrap(*m, Wire({.id = "m2", .lamport = 2, .causal = {E("m1-missing", "alice")}}), kT0);
  EXPECT_THAT(Names(*m), ElementsAre("missing:m2[m1-missing]"));
  EXPECT_THAT(State(*m).outgoing_repair, IsEmpty());
  // Nor are requests answered.
  MustWrap(*m, "mine", kT0);
  MustUnwrap(*m, Wire({.id = "r", .lamport = 5, .repair = {E("mine", "alice")}}), kT0);
  EXPECT_THAT(State(*m).incoming_repair, IsEmpty());
  EXPECT_TRUE(Decoded(MustWrap(*m, "mine2", kT0)).sender_id.empty());
}

// nim-sds test_reliability #54 and #55
TEST(ReliabilityManagerSdsrLifecycle, OwnMessagesCarryOurSenderId) {
  auto m = Make(NimConfig("alice"));
  const SharedBytes w1 = MustWrap(*m, "m1", kT0, kCh, "\x01\x02\x03");
  const auto& record = State(*m).history.at("m1");
  EXPECT_EQ(record.sender_id, "alice");
  EXPECT_EQ(record.wire, w1);
  EXPECT_EQ(record.lamport_timestamp, kT0Seconds + 1);
  EXPECT_EQ(ToString(*Decoded(record.wire).content), "\x01\x02\x03");
  MustWrap(*m, "m2", kT0);
  const Message m3 = Decoded(MustWrap(*m, "m3", kT0));
  EXPECT_THAT(m3.causal_history, ElementsAre(E("m1", "alice"), E("m2", "alice")));
}

// nim-sds test_reliability #57
TEST(ReliabilityManagerSdsrLifecycle, RepairStateIsolatedPerChannel) {
  auto m = Make(NimConfig("alice"));
  ASSERT_TRUE(m->EnsureChannel("ch-A").ok());
  ASSERT_TRUE(m->EnsureChannel("ch-B").ok());
  MustUnwrap(
      *m, Wire({.id = "m2", .lamport = 2, .causal = {E("m1-missing", "bob")}, .channel = "ch-A"}),
      kT0);
  EXPECT_EQ(State(*m, "ch-A").outgoing_repair.size(), 1u);
  EXPECT_EQ(State(*m, "ch-B").outgoing_repair.size(), 0u);
}

// nim-sds test_reliability #58
TEST(ReliabilityManagerSdsrLifecycle, DuplicateArrivalCancelsIncomingRepair) {
  auto m = Make(NimConfig("carol"));
  const Bytes m1 = Wire({.id = "m1", .lamport = 1, .sender = "alice"});
  MustUnwrap(*m, m1, kT0);
  State(*m).incoming_repair["m1"] = {E("m1", "alice"), SharedBytes(m1), kT0 + seconds{10}};
  EXPECT_EQ(MustUnwrap(*m, m1, kT0).outcome, UnwrapOutcome::kDuplicate);
  EXPECT_THAT(State(*m).incoming_repair, IsEmpty());
}

// ---- SDS-R: Repair Sweep ------------------------------------------------------------------

// nim-sds test_reliability #59
TEST(ReliabilityManagerSdsrSweep, TickFiresRepairReadyForExpiredResponses) {
  auto m = Make(NimConfig("bob"));
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  auto& incoming = State(*m).incoming_repair;
  incoming["m-ready"] = {E("m-ready", "alice"), SharedBytes(Bytes{1, 2, 3}), kT0 - seconds{1}};
  incoming["m-not-ready"] = {E("m-not-ready", "alice"), SharedBytes(Bytes{9, 9, 9}),
                             kT0 + minutes{10}};
  EXPECT_EQ(m->Tick(kT0), kT0 + minutes{10});
  auto events = m->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* ready = std::get_if<RepairReady>(&events[0]);
  ASSERT_NE(ready, nullptr) << Describe(events[0]);
  EXPECT_EQ(ready->message_id, "m-ready");
  EXPECT_EQ(ready->wire.ToBytes(), (Bytes{1, 2, 3}));
  EXPECT_EQ(incoming.count("m-ready"), 0u);
  EXPECT_EQ(incoming.count("m-not-ready"), 1u);
}

// nim-sds test_reliability #60 drops a request T_max past its T_req. With
// requests in sync messages (the default) one can only be that late because
// the engine was not ticked, so it goes out now instead (see
// DeliberateDifferences.DueRepairRequestGoesOutInSyncDiffersFromNim); in
// nim-sds's mode it is dropped as there
// (RepairAfterSuspension.WithoutRepairSyncsAnOverdueRequestStillExpires).
TEST(ReliabilityManagerSdsrSweep, TickSendsOutgoingRequestsPastTMaxInSyncMode) {
  auto m = Make(NimConfig("bob"));
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  auto& repair = State(*m).outgoing_repair;
  repair["m-stale"] = {E("m-stale"), kT0 - seconds{600}, 0};
  repair["m-fresh"] = {E("m-fresh"), kT0 + seconds{1}, 0};
  EXPECT_EQ(m->Tick(kT0), kT0 + seconds{1});
  ASSERT_EQ(repair.count("m-stale"), 1u);
  EXPECT_EQ(repair.at("m-stale").attempts, 1);
  EXPECT_EQ(repair.count("m-fresh"), 1u);
  EXPECT_EQ(repair.at("m-fresh").attempts, 0);
  EXPECT_EQ(m->PendingEventCount(), 1u);  // the sync message carrying m-stale
}

// nim-sds test_reliability #61
TEST(ReliabilityManagerSdsrSweep, TickNoOpWhenEmpty) {
  auto m = Make(NimConfig("bob"));
  EXPECT_EQ(m->Tick(kT0), kNoDeadline);
  ASSERT_TRUE(m->EnsureChannel(kCh).ok());
  EXPECT_EQ(m->Tick(kT0), kNoDeadline);
  EXPECT_EQ(m->PendingEventCount(), 0u);
}

// ---- SDS-R: Multi-Participant Integration -------------------------------------------------

// nim's in-process bus, on virtual time and through the public API only:
// a broadcast is Wrap at the sender and Unwrap at every other peer the drop
// filter lets through; RunUntil moves the clock from deadline to deadline,
// ticking each peer when its NextDeadline is due and broadcasting the sync
// messages and repair answers that produces. What a test checks is what
// crossed the wire (repair requests, copies of a message) and what each peer
// delivered or holds in its public buffers.
class Bus {
 public:
  using DropFilter =
      std::function<bool(const ParticipantId& from, const ParticipantId& to, const MessageId& id)>;

  Bus(const std::vector<ParticipantId>& ids, Config base) {
    for (const auto& id : ids) {
      Config config = base;
      config.participant_id = id;
      peers_[id] = Make(config);
      EXPECT_TRUE(peers_[id]->EnsureChannel(kCh).ok());
    }
  }

  ReliabilityManager& operator[](const ParticipantId& id) { return *peers_.at(id); }
  Timestamp now() const { return now_; }
  void SetDropFilter(DropFilter filter) { drop_ = std::move(filter); }

  SharedBytes Broadcast(const ParticipantId& sender, const MessageId& id,
                        const std::set<ParticipantId>& drop_at = {}) {
    SharedBytes wire = MustWrap(*peers_.at(sender), id, now_);
    Pump(sender);
    Send(sender, wire, drop_at);
    Flush();
    return wire;
  }
  // Runs every peer's timers up to `until`, in deadline order.
  void RunUntil(Timestamp until) {
    for (int guard = 0; guard < 100'000; ++guard) {
      Timestamp next = kNoDeadline;
      for (auto& [id, peer] : peers_) next = std::min(next, peer->NextDeadline());
      if (next > until) break;
      now_ = std::max(now_, next);
      for (auto& [id, peer] : peers_) {
        if (peer->NextDeadline() > now_) continue;
        EXPECT_GT(peer->Tick(now_), now_) << id << ": the deadline must move forward";
        Pump(id);
      }
      Flush();
    }
    now_ = std::max(now_, until);
  }

  std::vector<MessageId> delivered(const ParticipantId& id) { return delivered_[id]; }
  // Repair-request entries naming `id` that `from` put on the wire.
  int RequestsFrom(const ParticipantId& from, const MessageId& id) const {
    auto it = requests_.find({from, id});
    return it == requests_.end() ? 0 : it->second;
  }
  int Requests(const MessageId& id) const {
    int n = 0;
    for (const auto& [key, count] : requests_) n += key.second == id ? count : 0;
    return n;
  }
  // Broadcasts of message `id` itself (the original and rebroadcasts), by sender.
  int CopiesFrom(const ParticipantId& from, const MessageId& id) const {
    auto it = copies_.find({from, id});
    return it == copies_.end() ? 0 : it->second;
  }
  int WireCount(const MessageId& id) const {
    int n = 0;
    for (const auto& [key, count] : copies_) n += key.second == id ? count : 0;
    return n;
  }

 private:
  void Send(const ParticipantId& sender, const SharedBytes& wire,
            const std::set<ParticipantId>& drop_at = {}) {
    const Message message = Decoded(wire);
    ++copies_[{sender, message.message_id}];
    for (const HistoryEntry& request : message.repair_request) {
      ++requests_[{sender, request.message_id}];
    }
    for (auto& [id, peer] : peers_) {
      if (id == sender || drop_at.count(id) != 0) continue;
      if (drop_ && drop_(sender, id, message.message_id)) continue;
      MustUnwrap(*peer, wire, now_);
      Pump(id);
    }
  }
  void Pump(const ParticipantId& id) {
    for (Event& event : peers_.at(id)->TakeEvents()) {
      if (auto* ready = std::get_if<MessageReady>(&event)) {
        delivered_[id].push_back(ready->message_id);
      } else if (auto* repair = std::get_if<RepairReady>(&event)) {
        outbox_.emplace_back(id, repair->wire);
      } else if (auto* sync = std::get_if<SyncMessageReady>(&event)) {
        outbox_.emplace_back(id, sync->wire);
      }
    }
  }
  void Flush() {
    while (!outbox_.empty()) {
      auto [sender, wire] = outbox_.front();
      outbox_.pop_front();
      Send(sender, wire);
    }
  }

  Timestamp now_ = kT0;
  DropFilter drop_;
  std::map<ParticipantId, std::unique_ptr<ReliabilityManager>> peers_;
  std::map<ParticipantId, std::vector<MessageId>> delivered_;
  std::map<std::pair<ParticipantId, MessageId>, int> requests_;
  std::map<std::pair<ParticipantId, MessageId>, int> copies_;
  std::deque<std::pair<ParticipantId, SharedBytes>> outbox_;
};

Config BusConfig(int max_repair_attempts = 3) {
  Config config;  // nim-sds timing: T_req in [30 s, 300 s), T_resp in [0, 300 s)
  config.max_repair_attempts = max_repair_attempts;
  return config;
}

// nim-sds test_reliability #62: bob misses m1, learns of it from carol's m2,
// asks for it when his T_req comes (in a sync message), and alice, its
// sender, answers at once.
TEST(ReliabilityManagerSdsrIntegration, BasicSingleGapRepair) {
  Bus bus({"alice", "bob", "carol"}, BusConfig());
  bus.Broadcast("alice", "m1", {"bob"});
  EXPECT_THAT(bus.delivered("carol"), ElementsAre("m1"));
  EXPECT_THAT(bus.delivered("bob"), IsEmpty());
  bus.Broadcast("carol", "m2");
  EXPECT_THAT(bus["bob"].IncomingBuffer(kCh), ElementsAre("m2"));
  EXPECT_THAT(bus.delivered("bob"), IsEmpty());
  const Timestamp t_req = kT0 + repair::RequestDelay(bus["bob"].config(), "m1");

  bus.RunUntil(t_req - milliseconds{1});
  EXPECT_EQ(bus.Requests("m1"), 0);  // nobody asks before T_req
  bus.RunUntil(t_req);
  EXPECT_EQ(bus.RequestsFrom("bob", "m1"), 1);
  EXPECT_EQ(bus.CopiesFrom("alice", "m1"), 2);  // the original and the answer, at once
  EXPECT_THAT(bus.delivered("bob"), ElementsAre("m1", "m2"));
  EXPECT_THAT(bus["bob"].IncomingBuffer(kCh), IsEmpty());
  bus.RunUntil(kT0 + minutes{60});
  EXPECT_EQ(bus.Requests("m1"), 1);  // answered: never asked again
  EXPECT_THAT(bus.delivered("bob"), ElementsAre("m1", "m2"));
}

// nim-sds test_reliability #63: carol holds m1 too and would answer later;
// alice's answer reaches her first and cancels hers.
TEST(ReliabilityManagerSdsrIntegration, ResponseCancellationOnlyOneRebroadcast) {
  Bus bus({"alice", "bob", "carol"}, BusConfig());
  bus.Broadcast("alice", "m1", {"bob"});
  bus.Broadcast("carol", "m2");
  bus.RunUntil(kT0 + minutes{60});
  EXPECT_EQ(bus.RequestsFrom("bob", "m1"), 1);
  EXPECT_EQ(bus.WireCount("m1"), 2);  // the original and alice's rebroadcast
  EXPECT_EQ(bus.CopiesFrom("carol", "m1"), 0);
  EXPECT_THAT(bus.delivered("bob"), ElementsAre("m1", "m2"));
}

// nim-sds test_reliability #64 (nim behaviour: max_repair_attempts 1; with
// more attempts the peer's request postpones ours, see
// DeliberateDifferencesRepairRearm.PeerRequestPostponesOursDiffersFromNim):
// bob and carol both miss m1; whoever asks first cancels the other's request.
// Nobody answers here (alice's answers are lost), so only that cancels.
TEST(ReliabilityManagerSdsrIntegration, PeerRequestCancelsOwnPendingRequest) {
  Bus bus({"alice", "bob", "carol"}, BusConfig(1));
  bus.Broadcast("alice", "m1", {"bob", "carol"});
  bus.Broadcast("alice", "m2");
  bus.SetDropFilter([](const ParticipantId& from, const ParticipantId&, const MessageId& id) {
    return from == "alice" && id == "m1";
  });
  bus.RunUntil(kT0 + minutes{60});
  EXPECT_EQ(bus.Requests("m1"), 1);
  EXPECT_EQ(bus.RequestsFrom("bob", "m1") + bus.RequestsFrom("carol", "m1"), 1);
  EXPECT_THAT(bus["bob"].IncomingBuffer(kCh), ElementsAre("m2"));
  EXPECT_THAT(bus["carol"].IncomingBuffer(kCh), ElementsAre("m2"));
}

// nim-sds test_reliability #65: only members of the original sender's
// response group answer a request.
TEST(ReliabilityManagerSdsrIntegration, ResponseGroupFiltering) {
  Config config = BusConfig();
  config.num_response_groups = 10;
  Bus bus({"alice", "bob", "carol"}, config);
  std::string chosen;
  for (int i = 0; i < 1000 && chosen.empty(); ++i) {
    const std::string id = "probe-" + std::to_string(i);
    if (repair::NimInResponseGroup("bob", "alice", id, 10) &&
        !repair::NimInResponseGroup("carol", "alice", id, 10)) {
      chosen = id;
    }
  }
  ASSERT_FALSE(chosen.empty());
  bus.Broadcast("alice", chosen);
  // dave (not on the bus) asks for it; alice does not hear him.
  const Bytes request = Wire({.id = "dave-msg",
                              .lamport = 10,
                              .content = "\x09",
                              .sender = "dave",
                              .repair = {E(chosen, "alice")}});
  MustUnwrap(bus["bob"], request, bus.now());
  MustUnwrap(bus["carol"], request, bus.now());
  bus.RunUntil(kT0 + minutes{60});
  EXPECT_EQ(bus.CopiesFrom("bob", chosen), 1);
  EXPECT_EQ(bus.CopiesFrom("carol", chosen), 0);
}

// nim-sds test_reliability #66: five gaps due at once; each outgoing message
// carries at most max_repair_requests (3) of them. Requests wait for bob's
// own messages here (no sync messages), and nobody hears bob.
TEST(ReliabilityManagerSdsrIntegration, MultiGapBatchRepair) {
  for (int attempts : {1, 3}) {
    Config config = BusConfig(attempts);
    config.repair_t_min = seconds{30};
    config.repair_t_max = seconds{30};  // an empty window: every T_req is 30 s
    config.repair_requests_in_sync_messages = false;
    config.sync_message_interval = Duration::zero();  // a sync would carry them too
    Bus bus({"alice", "bob"}, config);
    for (int i = 1; i <= 5; ++i) bus.Broadcast("alice", "m" + std::to_string(i), {"bob"});
    bus.Broadcast("alice", "m6");
    bus.SetDropFilter([](const ParticipantId& from, const ParticipantId&, const MessageId&) {
      return from == "bob";
    });
    bus.RunUntil(kT0 + seconds{30});
    EXPECT_EQ(bus.Requests("m1"), 0) << "requests wait for bob's next message";
    EXPECT_EQ(Decoded(bus.Broadcast("bob", "bob-1")).repair_request.size(), 3u) << attempts;
    EXPECT_EQ(Decoded(bus.Broadcast("bob", "bob-2")).repair_request.size(), 2u) << attempts;
    EXPECT_EQ(Decoded(bus.Broadcast("bob", "bob-3")).repair_request.size(), 0u) << attempts;
    // nim forgets a request once sent; with re-arming all five are asked
    // again after T_max, three per message.
    bus.RunUntil(kT0 + seconds{60});
    EXPECT_EQ(Decoded(bus.Broadcast("bob", "bob-4")).repair_request.size(), attempts == 1 ? 0u : 3u)
        << attempts;
  }
}

// nim-sds test_reliability #67: the application got m1 elsewhere; bob never
// asks for it.
TEST(ReliabilityManagerSdsrIntegration, MarkDependenciesMetClearsPendingRepair) {
  Bus bus({"alice", "bob"}, BusConfig());
  bus.Broadcast("alice", "m1", {"bob"});
  bus.Broadcast("alice", "m2");
  EXPECT_THAT(bus["bob"].IncomingBuffer(kCh), ElementsAre("m2"));
  const std::vector<MessageId> met = {"m1"};
  ASSERT_TRUE(bus["bob"].MarkDependenciesMet(kCh, met, bus.now()).ok());
  EXPECT_THAT(bus["bob"].IncomingBuffer(kCh), IsEmpty());
  bus.RunUntil(kT0 + minutes{60});
  EXPECT_EQ(bus.Requests("m1"), 0);
}

// ---- Both dialects ------------------------------------------------------------------------

// alice and bob, out-of-order delivery, acknowledgement, in each dialect.
// Lamport rules: nim max(now_s, l) + 1 on send, max(msg, l) + 1 on receipt
// (buffered too); spec max(now_ms, l + 1) on send, max(msg, l) on delivery.
class ReliabilityManagerDialects : public ::testing::TestWithParam<Dialect> {};

TEST_P(ReliabilityManagerDialects, Conversation) {
  const Dialect dialect = GetParam();
  const bool nim = dialect == Dialect::kNim;
  Config base = Config::ForDialect(dialect);
  base.participant_id = "alice";
  base.channel_admission = ChannelAdmission::kAny;
  auto alice = Make(base);
  base.participant_id = "bob";
  auto bob = Make(base);
  const LamportTime ms = UnixMillis(kT0);

  const SharedBytes a1 = MustWrap(*alice, "a1", kT0);
  EXPECT_EQ(alice->Lamport(kCh), nim ? kT0Seconds + 1 : ms);
  const SharedBytes a2 = MustWrap(*alice, "a2", kT0);
  EXPECT_EQ(alice->Lamport(kCh), nim ? kT0Seconds + 2 : ms + 1);
  const Message a2_message = Decoded(a2, dialect);
  EXPECT_EQ(a2_message.lamport_timestamp, nim ? kT0Seconds + 2 : ms + 1);
  EXPECT_THAT(a2_message.causal_history, ElementsAre(E("a1", "alice")));

  // bob gets a2 first.
  const UnwrapResult r2 = MustUnwrap(*bob, a2, kT0 + milliseconds{5});
  EXPECT_EQ(r2.dialect, dialect);
  EXPECT_EQ(r2.outcome, UnwrapOutcome::kBuffered);
  EXPECT_THAT(Names(*bob), ElementsAre("missing:a2[a1]"));
  EXPECT_EQ(bob->Lamport(kCh), nim ? kT0Seconds + 3 : 0);
  EXPECT_TRUE(bob->BloomContains(kCh, "a2"));

  MustUnwrap(*bob, a1, kT0 + milliseconds{6});
  EXPECT_THAT(Names(*bob), ElementsAre("ready:a1", "ready:a2"));
  EXPECT_EQ(bob->Lamport(kCh), nim ? kT0Seconds + 4 : ms + 1);
  EXPECT_THAT(bob->History(kCh), ElementsAre("a1", "a2"));

  const SharedBytes b1 = MustWrap(*bob, "b1", kT0 + milliseconds{10});
  EXPECT_EQ(bob->Lamport(kCh), nim ? kT0Seconds + 5 : ms + 10);
  const Message b1_message = Decoded(b1, dialect);
  EXPECT_THAT(b1_message.causal_history, ElementsAre(E("a1", "alice"), E("a2", "alice")));

  MustUnwrap(*alice, b1, kT0 + milliseconds{11});
  EXPECT_THAT(Names(*alice), ElementsAre("ack:a1", "ack:a2", "ready:b1"));
  EXPECT_EQ(alice->Lamport(kCh), nim ? kT0Seconds + 6 : ms + 10);
  EXPECT_THAT(alice->OutgoingBuffer(kCh), IsEmpty());
  EXPECT_THAT(bob->OutgoingBuffer(kCh), ElementsAre("b1"));

  // alice's next message acknowledges b1 (its history lists it).
  const SharedBytes a3 = MustWrap(*alice, "a3", kT0 + milliseconds{20});
  EXPECT_EQ(alice->Lamport(kCh), nim ? kT0Seconds + 7 : ms + 20);
  MustUnwrap(*bob, a3, kT0 + milliseconds{21});
  EXPECT_THAT(Names(*bob), ElementsAre("ack:b1", "ready:a3"));
  EXPECT_THAT(bob->OutgoingBuffer(kCh), IsEmpty());
  EXPECT_THAT(alice->History(kCh), ElementsAre("a1", "a2", "b1", "a3"));
  EXPECT_THAT(bob->History(kCh), ElementsAre("a1", "a2", "b1", "a3"));

  // Spec: a received Lamport ahead of ours is taken over on delivery only.
  if (!nim) {
    MustUnwrap(*bob, Wire({.id = "far", .lamport = ms + 1000, .causal = {E("x")}}, dialect), kT0);
    EXPECT_EQ(bob->Lamport(kCh), ms + 20);
    const std::vector<MessageId> met = {"x"};
    ASSERT_TRUE(bob->MarkDependenciesMet(kCh, met, kT0).ok());
    EXPECT_EQ(bob->Lamport(kCh), ms + 1000);
  }
}

INSTANTIATE_TEST_SUITE_P(ReliabilityManager, ReliabilityManagerDialects,
                         ::testing::Values(Dialect::kNim, Dialect::kSpec),
                         [](const ::testing::TestParamInfo<Dialect>& param_info) {
                           return std::string(DialectName(param_info.param));
                         });

// A nim-dialect manager reads a spec peer's message (accept_other_dialect
// defaults to true) and takes its acknowledgement from the spec bloom filter.
TEST(ReliabilityManagerDialectsMixed, NimManagerAcknowledgedThroughSpecBloom) {
  Config nim = NimConfig("alice");
  nim.max_causal_history = 0;  // both sides acknowledge through bloom filters only
  auto alice = Make(nim);
  Config spec = Config::ForDialect(Dialect::kSpec);
  spec.participant_id = "bob";
  spec.channel_admission = ChannelAdmission::kAny;
  spec.max_causal_history = 0;
  auto bob = Make(spec);

  const SharedBytes a1 = MustWrap(*alice, "a1", kT0);
  const UnwrapResult at_bob = MustUnwrap(*bob, a1, kT0);
  EXPECT_EQ(at_bob.dialect, Dialect::kNim);
  EXPECT_EQ(at_bob.outcome, UnwrapOutcome::kDelivered);
  EXPECT_THAT(Names(*bob), ElementsAre("ready:a1"));
  EXPECT_TRUE(bob->BloomContains(kCh, "a1"));

  const SharedBytes b1 = MustWrap(*bob, "b1", kT0 + seconds{1});
  const Message b1_message = Decoded(b1, Dialect::kSpec);
  EXPECT_THAT(b1_message.causal_history, IsEmpty());
  const UnwrapResult at_alice = MustUnwrap(*alice, b1, kT0 + seconds{1});
  EXPECT_EQ(at_alice.dialect, Dialect::kSpec);
  EXPECT_THAT(Names(*alice), ElementsAre("ack:a1", "ready:b1"));
  EXPECT_THAT(alice->OutgoingBuffer(kCh), IsEmpty());

  // The other way: bob (threshold 2) sees b1 in alice's nim bloom once.
  const SharedBytes a2 = MustWrap(*alice, "a2", kT0 + seconds{2});
  MustUnwrap(*bob, a2, kT0 + seconds{2});
  EXPECT_THAT(Names(*bob), ElementsAre("possibly:b1:1", "ready:a2"));
}

}  // namespace
}  // namespace sds
