// Persistence through a Store: GoogleTest counterparts of nim-sds
// tests/test_persistence.nim (nim-sds.md §8.3, tests 1-20), run against
// MemoryStore and SqliteStore, plus what sds persists beyond nim-sds and
// failure injection for every store operation.
//
// nim's "restart" (cleanup + new manager on the same backend) is: destroy the
// manager, reopen the store (SqliteStore: close and open the file again).
// nim's direct addToHistory is an unwrap of a message without dependencies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/engine_access.h"
#include "sds/codec.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"
#include "store/store_test_util.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using testing_store::FaultyStore;

const ChannelId kCh = "test-channel";
Timestamp At(int64_t ms) { return TimestampFromUnixMillis(ms); }
const Timestamp kNow = At(1'000'000);

Bytes NimMessage(const MessageId& id, LamportTime lamport, std::vector<HistoryEntry> causal,
                 const std::string& content, const ParticipantId& sender,
                 const ChannelId& channel = kCh) {
  Bytes body = ToBytes(content);
  Message message;
  message.message_id = id;
  message.channel_id = channel;
  message.sender_id = sender;
  message.lamport_timestamp = lamport;
  message.causal_history = std::move(causal);
  message.content = ByteSpan(body);
  message.bloom_filter = ByteSpan();
  return Encode(message, Dialect::kNim);
}

HistoryEntry Dep(const MessageId& id, const ParticipantId& sender = "") {
  return HistoryEntry{id, {}, sender};
}

MessageId IdOf(const SharedBytes& message) {
  auto decoded = DecodeAny(message);
  return decoded.ok() ? decoded->message.message_id : "<undecodable>";
}

template <typename Backend>
class PersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.participant_id = "alice";
    config_.channel_admission = ChannelAdmission::kAny;  // bob's channels are created on first use
    Start();
  }

  // Starts (or restarts) the manager on the same stored data.
  void Start() {
    manager_.reset();
    store_.reset();
    auto inner = backend_.Open();
    ASSERT_NE(inner, nullptr);
    store_ = std::make_shared<FaultyStore>(inner);
    auto created = ReliabilityManager::Create(config_, store_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    manager_ = std::move(*created);
    manager_->SetLogger([this](LogLevel level, std::string_view message) {
      logs_.push_back(std::string(LogLevelName(level)) + ": " + std::string(message));
    });
  }
  void Restart() { Start(); }

  ReliabilityManager& m() { return *manager_; }
  internal::ChannelState& State() { return internal::ChannelOf(m(), kCh); }

  // What the store holds for the channel.
  ChannelData Stored(const ChannelId& ch = kCh) {
    auto data = store_->inner().LoadChannel(ch);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    return data.ok() ? *data : ChannelData{};
  }
  std::vector<MessageId> StoredOutgoing() {
    std::vector<MessageId> ids;
    for (const auto& o : Stored().meta.outgoing) ids.push_back(o.message_id);
    return ids;
  }
  std::vector<MessageId> StoredHistory() {
    std::vector<MessageId> ids;
    for (const auto& h : Stored().message_history) ids.push_back(IdOf(h));
    return ids;
  }
  std::vector<MessageId> PendingAppends() {
    const auto& ids = State().persist.history_appends.ids();
    return std::vector<MessageId>(ids.begin(), ids.end());
  }

  void WrapOk(const MessageId& id, Timestamp now = kNow) {
    auto wire = m().Wrap(kCh, ToBytes("payload"), id, now);
    ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  }
  UnwrapOutcome UnwrapOk(const Bytes& wire, Timestamp now = kNow) {
    auto result = m().Unwrap(wire, now);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->outcome : UnwrapOutcome::kDuplicate;
  }
  // nim's addToHistory + flush: a message from bob with no dependencies.
  void Deliver(const MessageId& id, LamportTime lamport) {
    EXPECT_EQ(UnwrapOk(NimMessage(id, lamport, {}, "x", "bob")), UnwrapOutcome::kDelivered);
  }

  Config config_;
  Backend backend_;
  std::shared_ptr<FaultyStore> store_;
  std::unique_ptr<ReliabilityManager> manager_;
  std::vector<std::string> logs_;
};

using Backends = ::testing::Types<testing_store::MemoryBackend, testing_store::SqliteBackend>;
class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
TYPED_TEST_SUITE(PersistenceTest, Backends, BackendNames);

// ---- "Persistence: write → restart → read-back" ------------------------------------------

TYPED_TEST(PersistenceTest, OutgoingBufferSurvivesRestart) {  // nim 1
  this->WrapOk("msg-1");
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("msg-1"));
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), ElementsAre("msg-1"));
}

TYPED_TEST(PersistenceTest, LamportClockSurvivesRestart) {  // nim 2
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  this->State().lamport = 42;  // nim updateLamportTimestamp(42): memory only
  this->WrapOk("tick");
  LamportTime stored = this->Stored().meta.lamport;
  EXPECT_GE(stored, 43);
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_EQ(this->m().Lamport(kCh), stored);
}

TYPED_TEST(PersistenceTest, DeliveredMessagesSurviveRestartAndRebuildBloom) {  // nim 3
  this->Deliver("delivered-1", 1);
  EXPECT_THAT(this->StoredHistory(), ElementsAre("delivered-1"));
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().History(kCh), ElementsAre("delivered-1"));
  EXPECT_TRUE(this->m().BloomContains(kCh, "delivered-1"));
}

TYPED_TEST(PersistenceTest, AckRemovesOutgoingEntryFromStore) {  // nim 4
  this->WrapOk("msg-x");
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("msg-x"));
  this->UnwrapOk(NimMessage("ack-bearer", 5, {Dep("msg-x")}, "", "bob"));
  EXPECT_THAT(this->StoredOutgoing(), IsEmpty());
}

TYPED_TEST(PersistenceTest, RemoveChannelDropsOnceAndWipesState) {  // nim 5
  this->WrapOk("msg-r");
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("msg-r"));
  EXPECT_GT(this->Stored().meta.lamport, 0);
  ASSERT_TRUE(this->m().RemoveChannel(kCh).ok());
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kDropChannel), 1u);
  ChannelData stored = this->Stored();
  EXPECT_EQ(stored.meta.lamport, 0);
  EXPECT_THAT(stored.meta.outgoing, IsEmpty());
  EXPECT_THAT(stored.meta.incoming, IsEmpty());
  EXPECT_THAT(stored.meta.outgoing_repair, IsEmpty());
  EXPECT_THAT(stored.meta.incoming_repair, IsEmpty());
  EXPECT_THAT(stored.meta.delivered, IsEmpty());
  EXPECT_THAT(stored.message_history, IsEmpty());
}

TEST(PersistenceNoStore, ManagerWithoutStoreKeepsWorking) {  // nim 6
  Config config;
  auto m = ReliabilityManager::Create(config, nullptr);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Wrap(kCh, ToBytes("x"), "msg-n", kNow).ok());
  EXPECT_THAT((*m)->OutgoingBuffer(kCh), ElementsAre("msg-n"));
  EXPECT_TRUE((*m)->TryReset().ok());
}

TYPED_TEST(PersistenceTest, LamportStaysMonotonicAfterRestart) {  // nim 7
  this->WrapOk("m1");
  LamportTime stored = this->Stored().meta.lamport;
  EXPECT_GT(stored, 0);
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_EQ(this->m().Lamport(kCh), stored);
  this->WrapOk("m2");
  EXPECT_GT(this->Stored().meta.lamport, stored);
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), ElementsAre("m1", "m2"));
}

TYPED_TEST(PersistenceTest, MultipleRestartCyclesPreserveState) {  // nim 8
  for (int i = 1; i <= 3; ++i) {
    this->WrapOk("m" + std::to_string(i), kNow + std::chrono::milliseconds(i));
    this->Restart();
  }
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), ElementsAre("m1", "m2", "m3"));
}

TYPED_TEST(PersistenceTest, IncomingBufferSurvivesRestartWithMissingDeps) {  // nim 9
  EXPECT_EQ(this->UnwrapOk(NimMessage("msg-with-deps", 10, {Dep("missing-dep")}, "x", "carol")),
            UnwrapOutcome::kBuffered);
  ASSERT_EQ(this->Stored().meta.incoming.size(), 1u);
  EXPECT_EQ(this->Stored().meta.incoming[0].message_id, "msg-with-deps");
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().IncomingBuffer(kCh), ElementsAre("msg-with-deps"));
  auto& entry = *this->State().incoming.begin();
  EXPECT_THAT(entry.missing, UnorderedElementsAre("missing-dep"));
  EXPECT_TRUE(this->m().BloomContains(kCh, "msg-with-deps"));
}

TYPED_TEST(PersistenceTest, RemoveChannelThenRecreateHasNoStaleLamport) {  // nim 10
  this->WrapOk("m-old");
  ASSERT_TRUE(this->m().RemoveChannel(kCh).ok());
  EXPECT_EQ(this->Stored().meta.lamport, 0);
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_EQ(this->m().Lamport(kCh), 0);
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), IsEmpty());
}

TYPED_TEST(PersistenceTest, OutgoingRepairSurvivesRestartWithAbsoluteDeadline) {  // nim 11
  this->UnwrapOk(NimMessage("msg-needs-repair", 5, {Dep("missing-dep", "bob")}, "x", "bob"));
  auto stored = this->Stored().meta.outgoing_repair;
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].message_id, "missing-dep");
  EXPECT_GT(stored[0].deadline, kNow);
  Timestamp deadline = this->State().outgoing_repair.at("missing-dep").deadline;
  EXPECT_EQ(stored[0].deadline, deadline);
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  ASSERT_EQ(this->State().outgoing_repair.count("missing-dep"), 1u);
  EXPECT_EQ(this->State().outgoing_repair.at("missing-dep").deadline, deadline);
  EXPECT_EQ(this->State().outgoing_repair.at("missing-dep").entry.sender_id, "bob");
  ASSERT_TRUE(this->State().sync_due.has_value());
  EXPECT_EQ(this->m().NextDeadline(),
            std::min(deadline, *this->State().sync_due));  // timers resume
}

TYPED_TEST(PersistenceTest, FifoEvictionSurvivesRestart) {  // nim 12
  this->config_.max_message_history = 3;
  this->config_.bloom_filter_capacity = 3;
  this->Restart();
  for (int i = 1; i <= 5; ++i) this->Deliver("m" + std::to_string(i), i);
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m3", "m4", "m5"));
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().History(kCh), ElementsAre("m3", "m4", "m5"));
  this->Deliver("m6", 6);
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m4", "m5", "m6"));
}

TYPED_TEST(PersistenceTest, DependencyCascadeResumesAfterRestart) {  // nim 13
  EXPECT_EQ(this->UnwrapOk(NimMessage("c", 30, {Dep("b")}, "x", "bob")), UnwrapOutcome::kBuffered);
  EXPECT_EQ(this->UnwrapOk(NimMessage("b", 20, {Dep("a")}, "x", "bob")), UnwrapOutcome::kBuffered);
  EXPECT_EQ(this->Stored().meta.incoming.size(), 2u);
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().IncomingBuffer(kCh), ElementsAre("c", "b"));
  EXPECT_EQ(this->UnwrapOk(NimMessage("a", 10, {}, "x", "bob")), UnwrapOutcome::kDelivered);
  EXPECT_THAT(this->m().History(kCh), ElementsAre("a", "b", "c"));
  EXPECT_THAT(this->m().IncomingBuffer(kCh), IsEmpty());
  EXPECT_THAT(this->Stored().meta.incoming, IsEmpty());
  EXPECT_THAT(this->StoredHistory(), ElementsAre("a", "b", "c"));
}

// ---- "Persistence: failure policy" -------------------------------------------------------

TYPED_TEST(PersistenceTest, LoadFailureIsPersistenceErrorOnBootstrap) {  // nim 14
  this->store_->SetFailing(StoreOperation::kLoadChannel, true);
  Status status = this->m().EnsureChannel(kCh);
  EXPECT_EQ(status.code(), ErrorCode::kPersistence);
  EXPECT_FALSE(this->m().HasChannel(kCh));
  auto wrap = this->m().Wrap(kCh, ToBytes("x"), "m1", kNow);
  EXPECT_EQ(wrap.status().code(), ErrorCode::kPersistence);
  auto unwrap = this->m().Unwrap(NimMessage("u1", 1, {}, "x", "bob"), kNow);
  EXPECT_EQ(unwrap.status().code(), ErrorCode::kPersistence);
  EXPECT_FALSE(this->m().HasChannel(kCh));
  this->store_->ClearFailures();
  EXPECT_TRUE(this->m().EnsureChannel(kCh).ok());
}

TYPED_TEST(PersistenceTest, SaveMetaFailureDuringSendDoesNotSurface) {  // nim 15
  this->store_->SetFailing(StoreOperation::kSaveChannelMeta, true);
  this->WrapOk("m1");
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), ElementsAre("m1"));
  EXPECT_THAT(this->logs_, ::testing::Contains(::testing::HasSubstr("saving channel meta failed")));
  this->store_->ClearFailures();
  this->WrapOk("m2", kNow + std::chrono::milliseconds(1));
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("m1", "m2"));
}

TYPED_TEST(PersistenceTest, UpdateHistoryFailureDuringSendDoesNotSurface) {  // nim 16
  this->store_->SetFailing(StoreOperation::kUpdateHistory, true);
  this->WrapOk("m1");
  EXPECT_EQ(this->m().History(kCh).size(), 1u);
  EXPECT_THAT(this->logs_, ::testing::Contains(::testing::HasSubstr("updating history failed")));
}

TYPED_TEST(PersistenceTest, UpdateHistoryFailureIsRetriedByPendingQueue) {  // nim 17
  this->store_->SetFailing(StoreOperation::kUpdateHistory, true);
  this->WrapOk("m1");
  EXPECT_EQ(this->m().History(kCh).size(), 1u);
  EXPECT_THAT(this->StoredHistory(), IsEmpty());
  EXPECT_THAT(this->PendingAppends(), ElementsAre("m1"));
  this->WrapOk("m2");
  EXPECT_THAT(this->PendingAppends(), ElementsAre("m1", "m2"));
  EXPECT_THAT(this->StoredHistory(), IsEmpty());
  this->store_->ClearFailures();
  this->WrapOk("m3");
  EXPECT_THAT(this->PendingAppends(), IsEmpty());
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m1", "m2", "m3"));
}

TYPED_TEST(PersistenceTest, EvictThenReAddKeepsTheReAddedMessage) {  // nim 18
  this->config_.max_message_history = 2;
  this->config_.bloom_filter_capacity = 2;
  this->config_.dedup_window = 0;  // the window is the history: m1 may come again
  this->Restart();
  this->store_->SetFailing(StoreOperation::kUpdateHistory, true);
  this->Deliver("m1", 1);
  this->Deliver("m2", 2);
  this->Deliver("m3", 3);
  auto& p = this->State().persist;
  EXPECT_THAT(this->m().History(kCh), ElementsAre("m2", "m3"));
  EXPECT_TRUE(p.history_evicts.Contains("m1"));
  EXPECT_FALSE(p.history_appends.Contains("m1"));
  this->Deliver("m1", 4);
  EXPECT_THAT(this->m().History(kCh), ElementsAre("m3", "m1"));
  EXPECT_FALSE(p.history_evicts.Contains("m1"));
  EXPECT_TRUE(p.history_appends.Contains("m1"));
  this->store_->ClearFailures();
  const MessageId none[] = {"nonexistent"};
  ASSERT_TRUE(this->m().MarkDependenciesMet(kCh, none, kNow).ok());
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m3", "m1"));
}

TYPED_TEST(PersistenceTest, PendingQueueIsFlushedByAnIdleOp) {  // nim 19
  this->store_->SetFailing(StoreOperation::kUpdateHistory, true);
  this->WrapOk("m1");
  EXPECT_EQ(this->PendingAppends().size(), 1u);
  this->store_->ClearFailures();
  const MessageId none[] = {"nonexistent"};
  ASSERT_TRUE(this->m().MarkDependenciesMet(kCh, none, kNow).ok());
  EXPECT_THAT(this->PendingAppends(), IsEmpty());
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m1"));
}

TYPED_TEST(PersistenceTest, DropFailureDuringRemoveChannelIsPersistenceError) {  // nim 20
  this->WrapOk("m1");
  this->store_->SetFailing(StoreOperation::kDropChannel, true);
  EXPECT_EQ(this->m().RemoveChannel(kCh).code(), ErrorCode::kPersistence);
  EXPECT_TRUE(this->m().HasChannel(kCh));
  EXPECT_THAT(this->m().OutgoingBuffer(kCh), ElementsAre("m1"));
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("m1"));
}

// ---- Beyond nim-sds ----------------------------------------------------------------------

TYPED_TEST(PersistenceTest, ResetFailureIsPersistenceErrorAndKeepsChannel) {
  this->WrapOk("m1");
  this->store_->SetFailing(StoreOperation::kDropChannel, true);
  EXPECT_EQ(this->m().TryReset().code(), ErrorCode::kPersistence);
  EXPECT_TRUE(this->m().HasChannel(kCh));
  this->store_->ClearFailures();
  EXPECT_TRUE(this->m().TryReset().ok());
  EXPECT_FALSE(this->m().HasChannel(kCh));
  EXPECT_THAT(this->StoredOutgoing(), IsEmpty());
}

TYPED_TEST(PersistenceTest, CommitFailureKeepsEverythingPending) {
  this->store_->SetFailing(StoreOperation::kCommitOp, true);
  this->WrapOk("m1");
  EXPECT_THAT(this->PendingAppends(), ElementsAre("m1"));
  EXPECT_TRUE(this->State().persist.outgoing.Contains("m1"));
  this->store_->ClearFailures();
  this->WrapOk("m2", kNow + std::chrono::milliseconds(1));
  EXPECT_THAT(this->StoredOutgoing(), ElementsAre("m1", "m2"));
  EXPECT_THAT(this->StoredHistory(), ElementsAre("m1", "m2"));
}

TYPED_TEST(PersistenceTest, RetrievalHintsSurviveRestart) {
  this->Deliver("h1", 1);
  ASSERT_TRUE(this->m().SetRetrievalHint(kCh, "h1", ToBytes("hash-1")).ok());
  int calls = 0;
  this->m().SetRetrievalHintProvider([&](const ChannelId&, const MessageId& id) {
    ++calls;
    return id == "m-own" ? ToBytes("hash-own") : Bytes();
  });
  this->WrapOk("m-own");
  this->WrapOk("m-next");  // lists m-own: the provider's hint is remembered and saved
  this->Restart();
  this->m().SetRetrievalHintProvider([](const ChannelId&, const MessageId&) { return Bytes(); });
  auto wire = this->m().Wrap(kCh, ToBytes("x"), "m-after", kNow);
  ASSERT_TRUE(wire.ok());
  auto decoded = DecodeAny(*wire);
  ASSERT_TRUE(decoded.ok());
  std::map<MessageId, std::string> hints;
  for (const HistoryEntry& e : decoded->message.causal_history) {
    hints[e.message_id] = ToString(e.retrieval_hint);
  }
  EXPECT_EQ(hints["h1"], "hash-1");
  EXPECT_EQ(hints["m-own"], "hash-own");
}

TYPED_TEST(PersistenceTest, SetRetrievalHintFailureIsLoggedAndRetried) {
  this->Deliver("h1", 1);
  this->store_->SetFailing(StoreOperation::kSetRetrievalHint, true);
  EXPECT_TRUE(this->m().SetRetrievalHint(kCh, "h1", ToBytes("hash-1")).ok());
  EXPECT_THAT(this->logs_, ::testing::Contains(::testing::HasSubstr("retrieval hints failed")));
  this->store_->ClearFailures();
  this->WrapOk("m1");
  EXPECT_THAT(this->Stored().retrieval_hints,
              ElementsAre(RetrievalHintRecord{"h1", ToBytes("hash-1")}));
}

TYPED_TEST(PersistenceTest, DuplicateWindowSurvivesRestart) {
  this->config_.max_message_history = 2;
  this->Restart();
  for (int i = 1; i <= 4; ++i) this->Deliver("d" + std::to_string(i), i);
  const MessageId met[] = {"fetched-elsewhere"};
  ASSERT_TRUE(this->m().MarkDependenciesMet(kCh, met, kNow).ok());
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_THAT(this->m().History(kCh), ElementsAre("d3", "d4"));
  // d1 left the history but is still known: delivered again it is a duplicate.
  EXPECT_EQ(this->UnwrapOk(NimMessage("d1", 1, {}, "x", "bob")), UnwrapOutcome::kDuplicate);
  EXPECT_EQ(this->UnwrapOk(NimMessage("late", 9, {Dep("fetched-elsewhere")}, "x", "bob")),
            UnwrapOutcome::kDelivered);
  EXPECT_TRUE(this->m().BloomContains(kCh, "d1"));
}

TYPED_TEST(PersistenceTest, BloomHitsSyncDueAndRepairAttemptsSurviveRestart) {
  this->config_.bloom_ack_threshold = 2;
  this->Restart();
  this->WrapOk("mine");
  // bob's filter lists "mine": one hit of two.
  Config bob_config;
  bob_config.channel_admission = ChannelAdmission::kAny;
  auto bob = ReliabilityManager::Create(bob_config);
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE((*bob)->Unwrap(*this->m().Wrap(kCh, ToBytes("y"), "mine2", kNow), kNow).ok());
  auto bob_wire = (*bob)->Wrap(kCh, ToBytes("z"), "bob-1", kNow);
  ASSERT_TRUE(bob_wire.ok());
  // Strip the causal history so that only the bloom filter acknowledges.
  auto decoded = DecodeAny(*bob_wire);
  ASSERT_TRUE(decoded.ok());
  Message msg = decoded->message;
  msg.causal_history.clear();
  this->UnwrapOk(Encode(msg, Dialect::kNim));
  int hits = this->State().outgoing_index.at("mine2")->bloom_hits;
  EXPECT_EQ(hits, 1);
  ASSERT_TRUE(this->State().sync_due.has_value());
  Timestamp sync_due = *this->State().sync_due;
  this->UnwrapOk(NimMessage("needs", 7, {Dep("gap", "carol")}, "x", "bob"));
  this->State().outgoing_repair.at("gap").attempts = 2;
  this->State().persist.outgoing_repair.Insert("gap");  // as TakeDueRepairRequests marks it
  ASSERT_TRUE(this->m().MarkDependenciesMet(kCh, std::vector<MessageId>{"other"}, kNow).ok());
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  EXPECT_EQ(this->State().outgoing_index.at("mine2")->bloom_hits, 1);
  EXPECT_EQ(this->State().sync_due, sync_due);
  EXPECT_EQ(this->State().outgoing_repair.at("gap").attempts, 2);
}

TYPED_TEST(PersistenceTest, IncomingRepairSurvivesRestart) {
  this->WrapOk("mine");
  // carol asks for "mine" (originally sent by alice).
  Message request;
  Bytes content = ToBytes("x");
  request.message_id = "carol-1";
  request.channel_id = kCh;
  request.sender_id = "carol";
  request.lamport_timestamp = 3;
  request.content = ByteSpan(content);
  request.bloom_filter = ByteSpan();
  request.repair_request = {HistoryEntry{"mine", {}, "alice"}};
  this->UnwrapOk(Encode(request, Dialect::kNim));
  ASSERT_EQ(this->State().incoming_repair.count("mine"), 1u);
  Timestamp deadline = this->State().incoming_repair.at("mine").deadline;
  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  ASSERT_EQ(this->State().incoming_repair.count("mine"), 1u);
  EXPECT_EQ(this->State().incoming_repair.at("mine").deadline, deadline);
  this->m().Tick(deadline);
  bool repaired = false;
  for (const Event& e : this->m().TakeEvents()) {
    if (auto* r = std::get_if<RepairReady>(&e)) repaired = IdOf(r->wire) == "mine";
  }
  EXPECT_TRUE(repaired);
}

TYPED_TEST(PersistenceTest, OneSaveAndOneHistoryUpdatePerOpAndQuietTicksSaveNothing) {
  this->WrapOk("m1");
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kSaveChannelMeta), 1u);
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kUpdateHistory), 1u);
  // A cascade delivering three messages is still one update.
  this->UnwrapOk(NimMessage("c", 30, {Dep("b")}, "x", "bob"));
  this->UnwrapOk(NimMessage("b", 20, {Dep("a")}, "x", "bob"));
  size_t saves = this->store_->CallCount(StoreOperation::kSaveChannelMeta);
  size_t updates = this->store_->CallCount(StoreOperation::kUpdateHistory);
  this->UnwrapOk(NimMessage("a", 10, {}, "x", "bob"));
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kSaveChannelMeta), saves + 1);
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kUpdateHistory), updates + 1);
  // Nothing due: Tick saves nothing.
  saves = this->store_->CallCount(StoreOperation::kSaveChannelMeta);
  this->m().Tick(kNow);
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kSaveChannelMeta), saves);
  // A resend is due: Tick saves that channel once.
  this->m().Tick(kNow + this->config_.resend_interval);
  EXPECT_EQ(this->store_->CallCount(StoreOperation::kSaveChannelMeta), saves + 1);
  EXPECT_EQ(this->Stored().meta.outgoing.at(0).resend_attempts, 1u);
}

TYPED_TEST(PersistenceTest, LoadsStateExportedByNimSds) {
  // A ChannelData as nim-sds writes it (vector channel_data/lamport3_two_history
  // plus an outgoing entry), imported into the store, then bootstrapped.
  ChannelData data;
  data.meta.lamport = 3;
  data.message_history.emplace_back(NimMessage("h1", 1, {}, "", "alice", "chan"));
  data.message_history.emplace_back(NimMessage("h2", 2, {}, "", "alice", "chan"));
  SnapshotOutgoing out;
  out.message = SharedBytes(NimMessage("o1", 3, {}, "c", "alice", "chan"));
  out.send_time = kNow;
  out.resend_attempts = 1;
  data.meta.outgoing.push_back(out);
  auto decoded = DecodeChannelData(EncodeChannelData(data));
  ASSERT_TRUE(decoded.ok());
  auto* memory = dynamic_cast<MemoryStore*>(&this->store_->inner());
  auto* sqlite = dynamic_cast<SqliteStore*>(&this->store_->inner());
  ASSERT_TRUE(memory ? memory->ImportChannel("chan", *decoded).ok()
                     : sqlite->ImportChannel("chan", *decoded).ok());
  ASSERT_TRUE(this->m().EnsureChannel("chan").ok());
  EXPECT_EQ(this->m().Lamport("chan"), 3);
  EXPECT_THAT(this->m().History("chan"), ElementsAre("h1", "h2"));
  EXPECT_THAT(this->m().OutgoingBuffer("chan"), ElementsAre("o1"));
  EXPECT_TRUE(this->m().BloomContains("chan", "h2"));
}

TEST(MemoryStoreTest, InjectsFailuresPerOperationAndCountsCalls) {
  MemoryStore store;
  ChannelMetaDelta delta;
  delta.lamport = 5;
  for (size_t i = 0; i < kStoreOperationCount; ++i) {
    auto op = static_cast<StoreOperation>(i);
    store.SetFailing(op, true);
    Status status;
    switch (op) {
      case StoreOperation::kSaveChannelMeta:
        status = store.SaveChannelMeta(kCh, delta);
        break;
      case StoreOperation::kUpdateHistory:
        status = store.UpdateHistory(kCh, HistoryUpdate{{}, {"x"}});
        break;
      case StoreOperation::kLoadChannel:
        status = store.LoadChannel(kCh).status();
        break;
      case StoreOperation::kDropChannel:
        status = store.DropChannel(kCh);
        break;
      case StoreOperation::kSetRetrievalHint:
        status = store.SetRetrievalHint(kCh, "x", ByteSpan());
        break;
      case StoreOperation::kCommitOp:
        status = store.CommitOp();
        break;
      case StoreOperation::kListChannels:
        status = store.ListChannels().status();
        break;
      case StoreOperation::kSaveCatchUpCursor:
        status = store.SaveCatchUpCursor(ToBytes("store"), kCh, ToBytes("cursor"));
        break;
      case StoreOperation::kLoadCatchUpCursors:
        status = store.LoadCatchUpCursors(ToBytes("store")).status();
        break;
    }
    EXPECT_EQ(status.code(), ErrorCode::kPersistence) << StoreOperationName(op);
    EXPECT_THAT(status.message(), ::testing::HasSubstr(StoreOperationName(op)));
    EXPECT_EQ(store.CallCount(op), 1u);
    store.SetFailing(op, false);
  }
  EXPECT_FALSE(store.HasChannel(kCh));  // a failed save changed nothing
  EXPECT_TRUE(store.SaveChannelMeta(kCh, delta).ok());
  EXPECT_EQ(store.LoadChannel(kCh)->meta.lamport, 5);
}

// Stored state in which a buffered message waits for what the stored history
// already holds (the history was saved, the buffer entry was not updated):
// the message is delivered at load, once, and not left waiting for ever.
TYPED_TEST(PersistenceTest, BufferedMessageWithStoredDependenciesIsReleasedAtLoad) {
  const Bytes a = NimMessage("a", 1, {}, "x", "bob");
  const Bytes b = NimMessage("b", 2, {Dep("a")}, "y", "bob");
  EXPECT_EQ(this->UnwrapOk(b), UnwrapOutcome::kBuffered);
  this->m().TakeEvents();
  HistoryUpdate update;
  update.append.push_back(HistoryAppend{"a", SharedBytes(a), {}});
  ASSERT_TRUE(this->store_->inner().UpdateHistory(kCh, update).ok());

  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  std::vector<MessageId> ready;
  for (const Event& event : this->m().TakeEvents()) {
    if (const auto* r = std::get_if<MessageReady>(&event)) ready.push_back(r->message_id);
  }
  EXPECT_THAT(ready, ElementsAre("b"));
  EXPECT_THAT(this->m().IncomingBuffer(kCh), IsEmpty());
  EXPECT_THAT(this->m().History(kCh), ElementsAre("a", "b"));
  EXPECT_THAT(this->Stored().meta.incoming, IsEmpty());

  this->Restart();
  ASSERT_TRUE(this->m().EnsureChannel(kCh).ok());
  for (const Event& event : this->m().TakeEvents()) {
    EXPECT_FALSE(std::holds_alternative<MessageReady>(event)) << "delivered again after restart";
  }
  EXPECT_THAT(this->m().History(kCh), ElementsAre("a", "b"));
}

}  // namespace
}  // namespace sds
