// ReliabilityManager against hostile or unusable input: every rejection must
// name the right error code and leave the engine exactly as it was (history,
// buffers, Lamport clock, bloom filter, channels, events, deadlines).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine_access.h"
#include "sds/bloom_filter.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace testutil;  // NOLINT: the shared engine test vocabulary

void AppendVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// A nim-sds bloom filter message with arbitrary (possibly hostile) fields;
// every word has all bits set.
Bytes NimBloomRaw(size_t words, uint64_t capacity, uint64_t error_millionths, uint64_t k,
                  uint64_t m_bits) {
  Bytes out{0x0a};
  AppendVarint(out, words * 8);
  out.insert(out.end(), words * 8, 0xff);
  out.push_back(0x10);
  AppendVarint(out, capacity);
  out.push_back(0x18);
  AppendVarint(out, error_millionths);
  out.push_back(0x20);
  AppendVarint(out, k);
  out.push_back(0x28);
  AppendVarint(out, m_bits);
  return out;
}

// Everything observable about a manager (and its channel "ch").
struct Snapshot {
  std::vector<ChannelId> channels;
  std::vector<MessageId> history;
  std::vector<MessageId> outgoing;
  std::vector<MessageId> incoming;
  std::optional<LamportTime> lamport;
  std::vector<bool> bloom;
  size_t pending_events = 0;
  Timestamp deadline;
  size_t outgoing_repair = 0;
  size_t incoming_repair = 0;
};

const std::vector<MessageId> kProbeIds = {"own1", "p1",  "p2",  "bad",  "dep-x",
                                          "x",    "new", "big", "many", "spec-msg"};

Snapshot Take(ReliabilityManager& m) {
  Snapshot s;
  s.channels = m.Channels();
  s.history = m.History(kCh);
  s.outgoing = m.OutgoingBuffer(kCh);
  s.incoming = m.IncomingBuffer(kCh);
  s.lamport = m.Lamport(kCh);
  for (const auto& id : kProbeIds) s.bloom.push_back(m.BloomContains(kCh, id));
  s.pending_events = m.PendingEventCount();
  s.deadline = m.NextDeadline();
  if (m.HasChannel(kCh)) {
    auto& channel = internal::ChannelOf(m, kCh);
    s.outgoing_repair = channel.outgoing_repair.size();
    s.incoming_repair = channel.incoming_repair.size();
  }
  return s;
}

void ExpectSame(const Snapshot& before, const Snapshot& after) {
  EXPECT_EQ(before.channels, after.channels);
  EXPECT_EQ(before.history, after.history);
  EXPECT_EQ(before.outgoing, after.outgoing);
  EXPECT_EQ(before.incoming, after.incoming);
  EXPECT_EQ(before.lamport, after.lamport);
  EXPECT_EQ(before.bloom, after.bloom);
  EXPECT_EQ(before.pending_events, after.pending_events);
  EXPECT_EQ(before.deadline, after.deadline);
  EXPECT_EQ(before.outgoing_repair, after.outgoing_repair);
  EXPECT_EQ(before.incoming_repair, after.incoming_repair);
}

// A manager with some state on "ch": an unacknowledged own message, a
// delivered peer message and a buffered one (with an SDS-R request).
class ReliabilityManagerBadInput : public ::testing::Test {
 protected:
  void SetUp() override { Populate(NimConfig()); }

  void Populate(const Config& config) {
    m_ = Make(config);
    ASSERT_NE(m_, nullptr);
    ASSERT_TRUE(m_->Wrap(kCh, ToBytes("hello"), "own1", kT0).ok());
    ASSERT_TRUE(m_->Unwrap(Wire({.id = "p1", .lamport = 5}), kT0).ok());
    ASSERT_TRUE(
        m_->Unwrap(Wire({.id = "p2", .lamport = 6, .causal = {E("dep-x", "bob")}}), kT0).ok());
    m_->TakeEvents();
    ASSERT_THAT(m_->History(kCh), ElementsAre("own1", "p1"));
    ASSERT_THAT(m_->OutgoingBuffer(kCh), ElementsAre("own1"));
    ASSERT_THAT(m_->IncomingBuffer(kCh), ElementsAre("p2"));
  }

  // Unwraps `wire`, expects `code`, and checks that nothing changed.
  void ExpectRejected(const Bytes& wire, ErrorCode code) {
    const Snapshot before = Take(*m_);
    auto result = m_->Unwrap(wire, kT0 + std::chrono::seconds{1});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status().ToString();
    ExpectSame(before, Take(*m_));
    EXPECT_EQ(m_->PendingEventCount(), 0u);
  }

  std::unique_ptr<ReliabilityManager> m_;
};

// ---- Lamport ------------------------------------------------------------------------------

// nim-sds crashes on 2^63 - 1 (its `+ 1` overflows) and on anything above.
TEST_F(ReliabilityManagerBadInput, LamportInt64MaxRejected) {
  ExpectRejected(Wire({.id = "bad", .lamport = std::numeric_limits<int64_t>::max()}),
                 ErrorCode::kDecodeLamportOutOfRange);
  ExpectRejected(
      Wire({.id = "bad", .lamport = std::numeric_limits<int64_t>::max()}, Dialect::kSpec),
      ErrorCode::kDecodeLamportOutOfRange);
}

TEST_F(ReliabilityManagerBadInput, LamportAboveMaxLamportRejected) {
  const LamportTime max = m_->config().limits.max_lamport;
  ExpectRejected(Wire({.id = "bad", .lamport = max + 1}), ErrorCode::kDecodeLamportOutOfRange);
  // Values >= 2^63 travel as uint64 and read back negative.
  ExpectRejected(Wire({.id = "bad", .lamport = std::numeric_limits<int64_t>::min()}),
                 ErrorCode::kDecodeLamportOutOfRange);
  ExpectRejected(Wire({.id = "bad", .lamport = -1}), ErrorCode::kDecodeLamportOutOfRange);
  // The limit itself is accepted, and the nim clock moves to limit + 1.
  auto ok = m_->Unwrap(Wire({.id = "new", .lamport = max}), kT0);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->outcome, UnwrapOutcome::kDelivered);
  EXPECT_EQ(m_->Lamport(kCh), max + 1);
}

TEST_F(ReliabilityManagerBadInput, ConfiguredSmallMaxLamport) {
  Config config = NimConfig();
  config.limits.max_lamport = 1'000'000;
  Populate(config);
  ExpectRejected(Wire({.id = "bad", .lamport = 1'000'001}), ErrorCode::kDecodeLamportOutOfRange);
  ASSERT_TRUE(m_->Unwrap(Wire({.id = "new", .lamport = 1'000'000}), kT0).ok());
}

// Raising limits.max_lamport to INT64_MAX must not let 2^63 - 1 through:
// the nim receive rule (max + 1) and both send rules would overflow. The
// configuration itself is refused, so no manager can ever hold such a clock;
// the largest accepted limit (2^62) still admits exactly up to itself.
TEST(ReliabilityManagerBadInputConfig, MaxLamportCannotAdmitInt64Max) {
  for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
    Config config = Config::ForDialect(dialect);
    config.channel_admission = ChannelAdmission::kAny;
    for (LamportTime too_large :
         {std::numeric_limits<int64_t>::max(), (LamportTime{1} << 62) + 1}) {
      config.limits.max_lamport = too_large;
      auto created = ReliabilityManager::Create(config);
      ASSERT_FALSE(created.ok()) << too_large;
      EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(created.status().message().find("limits.max_lamport"), std::string::npos)
          << created.status().ToString();
    }

    const LamportTime largest = LamportTime{1} << 62;
    config.limits.max_lamport = largest;
    auto created = ReliabilityManager::Create(config);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    auto over = (*created)->Unwrap(Wire({.id = "over", .lamport = largest + 1}, dialect), kT0);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.status().code(), ErrorCode::kDecodeLamportOutOfRange);
    auto at = (*created)->Unwrap(Wire({.id = "at", .lamport = largest}, dialect), kT0);
    ASSERT_TRUE(at.ok()) << at.status().ToString();
    EXPECT_EQ(at->outcome, UnwrapOutcome::kDelivered);
  }
}

// ---- Bloom filters ------------------------------------------------------------------------

// nim-sds's lookup with k = 0 is always true: every outgoing message would
// count as acknowledged.
TEST_F(ReliabilityManagerBadInput, NimBloomWithZeroHashesRejectedAndAcknowledgesNothing) {
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .bloom = NimBloomRaw(2, 10, 1000, 0, 100)}),
                 ErrorCode::kDecodeBadBloomFilter);
  EXPECT_THAT(m_->OutgoingBuffer(kCh), ElementsAre("own1"));
}

TEST_F(ReliabilityManagerBadInput, NimBloomWithZeroBitsRejected) {
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .bloom = NimBloomRaw(2, 10, 1000, 7, 0)}),
                 ErrorCode::kDecodeBadBloomFilter);
}

TEST_F(ReliabilityManagerBadInput, NimBloomWithBitsBeyondItsWordsRejected) {
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .bloom = NimBloomRaw(2, 10, 1000, 7, 129)}),
                 ErrorCode::kDecodeBadBloomFilter);
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .bloom = NimBloomRaw(0, 10, 1000, 7, 1)}),
                 ErrorCode::kDecodeBadBloomFilter);
  // 2 words = 128 bits is a legal (tiny, all-ones) filter: it parses and acknowledges own1.
  auto ok =
      m_->Unwrap(Wire({.id = "new", .lamport = 7, .bloom = NimBloomRaw(2, 10, 1000, 7, 128)}), kT0);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_THAT(m_->OutgoingBuffer(kCh), IsEmpty());
}

// nim-sds test_reliability #17: a filter that does not parse at all is
// ignored (no acknowledgement), the message itself is delivered.
TEST_F(ReliabilityManagerBadInput, UnparseableNimBloomIgnoredAndMessageDelivered) {
  auto result =
      m_->Unwrap(Wire({.id = "new", .lamport = 7, .bloom = Bytes{0x01, 0x02, 0x03}}), kT0);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDelivered);
  EXPECT_THAT(result->missing_dependencies, IsEmpty());
  EXPECT_THAT(m_->OutgoingBuffer(kCh), ElementsAre("own1"));
  EXPECT_THAT(m_->History(kCh), ElementsAre("own1", "p1", "new"));
}

// ---- Sizes and counts ---------------------------------------------------------------------

TEST_F(ReliabilityManagerBadInput, OversizeMessageRejected) {
  const size_t limit = m_->config().limits.decode.max_message_bytes;
  Msg big{.id = "big", .lamport = 7};
  big.content->assign(limit, 'a');
  const Bytes wire = Wire(big);
  ASSERT_GT(wire.size(), limit);
  ExpectRejected(wire, ErrorCode::kMessageTooLarge);
}

TEST_F(ReliabilityManagerBadInput, ContentOverLimitRejected) {
  Config config = NimConfig();
  config.limits.decode.max_content_bytes = 100;
  Populate(config);
  Msg big{.id = "big", .lamport = 7};
  big.content->assign(101, 'a');
  const Snapshot before = Take(*m_);
  auto result = m_->Unwrap(Wire(big), kT0);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().code() == ErrorCode::kDecodeLimitExceeded ||
              result.status().code() == ErrorCode::kMessageTooLarge)
      << result.status().ToString();
  ExpectSame(before, Take(*m_));
  big.content->assign(100, 'a');
  EXPECT_TRUE(m_->Unwrap(Wire(big), kT0).ok());
}

TEST_F(ReliabilityManagerBadInput, TooManyCausalHistoryEntriesRejected) {
  Msg many{.id = "many", .lamport = 7};
  for (size_t i = 0; i <= m_->config().limits.decode.max_causal_history; ++i) {
    many.causal.push_back(E("h" + std::to_string(i)));
  }
  ExpectRejected(Wire(many), ErrorCode::kDecodeLimitExceeded);
}

TEST_F(ReliabilityManagerBadInput, OverlongIdsRejected) {
  const std::string longer(m_->config().limits.decode.max_id_bytes + 1, 'i');
  ExpectRejected(Wire({.id = longer, .lamport = 7}), ErrorCode::kDecodeLimitExceeded);
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .channel = longer}),
                 ErrorCode::kDecodeLimitExceeded);
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .causal = {E(longer)}}),
                 ErrorCode::kDecodeLimitExceeded);
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .sender = longer}),
                 ErrorCode::kDecodeLimitExceeded);
}

TEST_F(ReliabilityManagerBadInput, GarbageRejected) {
  const Snapshot before = Take(*m_);
  for (const Bytes& garbage : {Bytes{}, Bytes{0xff, 0xff, 0xff}, Bytes{0x0a, 0x05, 0x61}}) {
    auto result = m_->Unwrap(garbage, kT0);
    EXPECT_FALSE(result.ok());
  }
  ExpectSame(before, Take(*m_));
}

TEST_F(ReliabilityManagerBadInput, ChannelAutoCreationStopsAtMaxChannels) {
  Config config = NimConfig();
  config.limits.max_channels = 2;
  Populate(config);
  ASSERT_TRUE(m_->EnsureChannel("ch2").ok());
  ExpectRejected(Wire({.id = "bad", .lamport = 7, .channel = "ch3"}), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(m_->HasChannel("ch3"));

  const Snapshot before = Take(*m_);
  EXPECT_EQ(m_->EnsureChannel("ch3").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(m_->Wrap("ch3", ToBytes("x"), "new", kT0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(m_->MakeSyncMessage("ch3", "sync", kT0).status().code(), ErrorCode::kInvalidArgument);
  ExpectSame(before, Take(*m_));
  EXPECT_THAT(m_->Channels(), ElementsAre("ch", "ch2"));
  // Existing channels keep working.
  EXPECT_TRUE(m_->Unwrap(Wire({.id = "new", .lamport = 7, .channel = "ch2"}), kT0).ok());
}

TEST_F(ReliabilityManagerBadInput, OtherDialectRejectedWhenNotAccepted) {
  Config config = NimConfig();
  config.accept_other_dialect = false;
  Populate(config);
  ExpectRejected(Wire({.id = "spec-msg", .lamport = 7}, Dialect::kSpec),
                 ErrorCode::kDecodeDialectMismatch);
  // The manager's own dialect is still accepted.
  EXPECT_TRUE(m_->Unwrap(Wire({.id = "new", .lamport = 7}), kT0).ok());
}

TEST(ReliabilityManagerBadInputConfig, SpecManagerRejectsNimWhenNotAccepted) {
  Config config = Config::ForDialect(Dialect::kSpec);
  config.accept_other_dialect = false;
  auto m = Make(config);
  auto result = m->Unwrap(Wire({.id = "nim-msg", .lamport = 7}), kT0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kDecodeDialectMismatch);
  EXPECT_THAT(m->Channels(), IsEmpty());
}

// ---- Wrap ---------------------------------------------------------------------------------

TEST_F(ReliabilityManagerBadInput, WrapRejectionsLeaveStateUntouched) {
  const Snapshot before = Take(*m_);
  const Timestamp later = kT0 + std::chrono::seconds{10};
  EXPECT_EQ(m_->Wrap(kCh, ByteSpan(), "new", later).status().code(), ErrorCode::kInvalidArgument);
  const Bytes too_big(m_->config().limits.decode.max_content_bytes + 1, 0x61);
  EXPECT_EQ(m_->Wrap(kCh, too_big, "new", later).status().code(), ErrorCode::kMessageTooLarge);
  EXPECT_EQ(m_->Wrap(kCh, ToBytes("x"), "", later).status().code(), ErrorCode::kInvalidArgument);
  // Ids already used: our own, a delivered peer message, a buffered one.
  for (const char* used : {"own1", "p1", "p2"}) {
    EXPECT_EQ(m_->Wrap(kCh, ToBytes("x"), used, later).status().code(), ErrorCode::kInvalidArgument)
        << used;
  }
  EXPECT_EQ(m_->Wrap("", ToBytes("x"), "new", later).status().code(), ErrorCode::kInvalidArgument);
  ExpectSame(before, Take(*m_));
  // A wrap of an empty content on an unknown channel creates nothing.
  EXPECT_FALSE(m_->Wrap("other", ByteSpan(), "new", later).ok());
  EXPECT_FALSE(m_->HasChannel("other"));
  // The maximum content size itself is fine.
  const Bytes max_size(m_->config().limits.decode.max_content_bytes, 0x61);
  EXPECT_TRUE(m_->Wrap(kCh, max_size, "new", later).ok());
}

TEST_F(ReliabilityManagerBadInput, MarkDependenciesMetOnUnknownChannel) {
  const Snapshot before = Take(*m_);
  const std::vector<MessageId> ids = {"dep-x"};
  EXPECT_EQ(m_->MarkDependenciesMet("nope", ids, kT0).code(), ErrorCode::kUnknownChannel);
  EXPECT_FALSE(m_->HasChannel("nope"));
  ExpectSame(before, Take(*m_));
}

// ---- Config::Validate ---------------------------------------------------------------------

TEST(ReliabilityManagerBadInputConfig, ValidateRejections) {
  EXPECT_TRUE(Config{}.Validate().ok());
  EXPECT_TRUE(Config::ForDialect(Dialect::kSpec).Validate().ok());
  const std::vector<std::pair<const char*, void (*)(Config&)>> cases = {
      {"capacity 0", [](Config& c) { c.bloom_filter_capacity = 0; }},
      {"error rate 0", [](Config& c) { c.bloom_filter_error_rate = 0.0; }},
      {"error rate 1", [](Config& c) { c.bloom_filter_error_rate = 1.0; }},
      {"ack threshold 0", [](Config& c) { c.bloom_ack_threshold = 0; }},
      {"history 0", [](Config& c) { c.max_message_history = 0; }},
      {"resend 0", [](Config& c) { c.resend_interval = Duration::zero(); }},
      {"resend attempts -1", [](Config& c) { c.max_resend_attempts = -1; }},
      {"sync interval -1", [](Config& c) { c.sync_message_interval = Duration{-1}; }},
      {"t_min -1", [](Config& c) { c.repair_t_min = Duration{-1}; }},
      {"t_max -1", [](Config& c) { c.repair_t_max = Duration{-1}; }},
      {"repair attempts 0", [](Config& c) { c.max_repair_attempts = 0; }},
      {"group estimate 0", [](Config& c) { c.repair_group_size_estimate = 0; }},
      {"participant too long",
       [](Config& c) { c.participant_id.assign(c.limits.decode.max_id_bytes + 1, 'p'); }},
      {"max_channels 0", [](Config& c) { c.limits.max_channels = 0; }},
      {"incoming 0", [](Config& c) { c.limits.max_incoming_buffer = 0; }},
      {"outgoing 0", [](Config& c) { c.limits.max_outgoing_buffer = 0; }},
      {"max_lamport 0", [](Config& c) { c.limits.max_lamport = 0; }},
  };
  for (const auto& [name, mutate] : cases) {
    Config config;
    mutate(config);
    const Status status = config.Validate();
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << name;
    auto created = ReliabilityManager::Create(config);
    ASSERT_FALSE(created.ok()) << name;
    EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument) << name;
  }
  // Boundaries that are allowed.
  Config edge;
  edge.max_resend_attempts = 0;
  edge.sync_message_interval = Duration::zero();
  edge.repair_t_min = Duration::zero();
  edge.max_repair_attempts = 1;
  EXPECT_TRUE(edge.Validate().ok());
}

// A peer floods the channel with messages that each wait for many ids that
// never come: the incoming buffer stays at its cap, and the dependency map
// forgets the ids of every dropped message instead of growing for ever.
TEST(ReliabilityManagerFlood, DroppedMessagesLeaveNoDependencyState) {
  Config config = NimConfig("bob");
  config.limits.max_incoming_buffer = 10;
  auto m = Make(config);
  for (int i = 0; i < 200; ++i) {
    std::vector<HistoryEntry> deps;
    for (int d = 0; d < 50; ++d)
      deps.push_back(E("ghost-" + std::to_string(i) + "-" + std::to_string(d)));
    MustUnwrap(*m, Wire({.id = "f" + std::to_string(i), .lamport = 1, .causal = deps}), kT0);
  }
  internal::ChannelState& channel = State(*m);
  EXPECT_EQ(channel.incoming.size(), 10u);
  EXPECT_EQ(channel.waiting_on.size(), 10u * 50u);  // only the buffered messages' deps
  size_t bytes = 0;
  for (const auto& entry : channel.incoming) bytes += entry.decoded.wire.size();
  EXPECT_EQ(channel.incoming_bytes, bytes);
}

TEST(ReliabilityManagerFlood, IncomingBufferBytesAreCapped) {
  Config config = NimConfig("bob");
  config.limits.decode.max_message_bytes = 4096;
  config.limits.decode.max_content_bytes = 4000;
  config.limits.max_incoming_buffer_bytes = 10'000;  // room for three 3 KB messages
  auto m = Make(config);
  for (int i = 0; i < 5; ++i) {
    Msg big{.id = "big" + std::to_string(i), .lamport = 1, .causal = {E("missing")}};
    big.content = std::string(3000, 'x');
    MustUnwrap(*m, Wire(big), kT0);
  }
  EXPECT_THAT(m->IncomingBuffer(kCh), ElementsAre("big2", "big3", "big4"));
  EXPECT_LE(State(*m).incoming_bytes, 10'000u);
  std::vector<std::string> dropped;
  for (const std::string& name : Names(*m)) {
    if (name.rfind("dropped:", 0) == 0) dropped.push_back(name);
  }
  EXPECT_THAT(dropped, ElementsAre("dropped:big0", "dropped:big1"));
  // Delivering the dependency releases the survivors and empties the count.
  ASSERT_TRUE(m->MarkDependenciesMet(kCh, std::vector<MessageId>{"missing"}, kT0).ok());
  EXPECT_THAT(m->IncomingBuffer(kCh), IsEmpty());
  EXPECT_EQ(State(*m).incoming_bytes, 0u);
  EXPECT_TRUE(State(*m).waiting_on.empty());
}

}  // namespace
}  // namespace sds
