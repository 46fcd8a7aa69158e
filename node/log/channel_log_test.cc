// ChannelLog behaviour, run on every backend: density, idempotent append,
// what is not stored, retention, reads and the operations that mint epochs.
#include <gtest/gtest.h>

#include <set>

#include "log_test_util.h"

namespace sds::catchup::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

class ChannelLogTest : public BackendTest {};

std::vector<uint64_t> Seqs(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.seq);
  return out;
}

std::vector<Entry> Forward(ChannelLog& log, uint64_t from, ReadLimits limits = {},
                           const ChannelId& channel = "ch") {
  std::vector<Entry> out;
  Status s = log.Read([&](ReadView& v) { return v.ReadForward(channel, from, limits, out); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<Entry> Backward(ChannelLog& log, uint64_t through, ReadLimits limits = {},
                            const ChannelId& channel = "ch") {
  std::vector<Entry> out;
  Status s = log.Read([&](ReadView& v) { return v.ReadBackward(channel, through, limits, out); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST_P(ChannelLogTest, SeqsAreDenseFromOneAndEntriesKeepTheWireBytes) {
  auto log = Open();
  EXPECT_EQ(AppendN(*log, 5), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.low_seq, 1u);
  EXPECT_EQ(meta.head_seq, 5u);
  EXPECT_EQ(meta.retained_count, 5u);
  EXPECT_EQ(meta.max_lamport, 5);
  std::vector<Entry> entries = Forward(*log, 1);
  ASSERT_EQ(Seqs(entries), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(entries[2].message_id, "m3");
  EXPECT_EQ(entries[2].lamport, 3);
  EXPECT_EQ(entries[2].payload, ContentMessage("m3", "ch", 3));
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.payload.size();
  EXPECT_EQ(meta.retained_bytes, bytes);
}

TEST_P(ChannelLogTest, ReappendReturnsTheOriginalSeqAndAddsNothing) {
  auto log = Open();
  AppendN(*log, 3);
  // A rebroadcast, an SDS-R repair (same id, other bytes: another sender's
  // copy) and a second relay path, in one batch with a new message.
  auto results = MustAppend(*log, {ContentMessage("m2", "ch", 2), ContentMessage("m1", "ch", 9, 40),
                                   ContentMessage("m4", "ch", 4), ContentMessage("m4", "ch", 4)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].disposition, AppendDisposition::kDuplicate);
  EXPECT_EQ(results[0].seq, 2u);
  EXPECT_EQ(results[1].disposition, AppendDisposition::kDuplicate);
  EXPECT_EQ(results[1].seq, 1u);
  EXPECT_EQ(results[2].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(results[2].seq, 4u);
  EXPECT_EQ(results[3].disposition, AppendDisposition::kDuplicate);
  EXPECT_EQ(results[3].seq, 4u);
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.head_seq, 4u);
  EXPECT_EQ(meta.retained_count, 4u);
  // The original bytes are kept, not the repair's.
  EXPECT_EQ(Forward(*log, 1)[0].payload, ContentMessage("m1", "ch", 1));
}

TEST_P(ChannelLogTest, ChannelsHaveTheirOwnSeqsEpochsAndIdSpaces) {
  auto log = Open();
  auto results = MustAppend(
      *log, {ContentMessage("x", "a"), ContentMessage("x", "b"), ContentMessage("y", "a")});
  EXPECT_EQ(results[0].seq, 1u);
  EXPECT_EQ(results[1].seq, 1u);
  EXPECT_EQ(results[1].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(results[2].seq, 2u);
  EXPECT_EQ(results[1].channel_id, "b");
  EXPECT_NE(MustMeta(*log, "a").epoch, MustMeta(*log, "b").epoch);
  auto channels = log->Channels();
  ASSERT_TRUE(channels.ok());
  ASSERT_EQ(channels->size(), 2u);
}

TEST_P(ChannelLogTest, BothDialectsAreAccepted) {
  auto log = Open();
  auto results =
      MustAppend(*log, {ContentMessage("n", "ch", 7, 10, Dialect::kNim),
                        ContentMessage("s", "ch", 1'700'000'000'123, 10, Dialect::kSpec)});
  EXPECT_EQ(results[0].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(results[1].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(MustMeta(*log).max_lamport, 1'700'000'000'123);
}

TEST_P(ChannelLogTest, SyncAndEphemeralMessagesAreNotStored) {
  auto log = Open();
  auto results = MustAppend(
      *log, {SyncMessage("s1", "ch", Dialect::kNim), SyncMessage("s2", "ch", Dialect::kSpec),
             EphemeralMessage("e1"), ContentMessage("m1")});
  EXPECT_EQ(results[0].disposition, AppendDisposition::kNotStoredSync);
  EXPECT_EQ(results[1].disposition, AppendDisposition::kNotStoredSync);
  EXPECT_EQ(results[2].disposition, AppendDisposition::kNotStoredEphemeral);
  EXPECT_EQ(results[2].message_id, "e1");
  EXPECT_EQ(results[3].seq, 1u);
  EXPECT_EQ(MustMeta(*log).head_seq, 1u);
}

TEST_P(ChannelLogTest, UndecodableAndOversizedInputIsRejectedAndStoredNowhere) {
  ChannelLogOptions options = Options();
  options.max_payload_bytes = 2000;
  options.max_hint_bytes = 8;
  auto log = Open(options);
  Bytes good = ContentMessage("ok");
  Bytes truncated(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  Bytes hint_too_long(9, 'h');
  std::vector<Bytes> wires = {
      ToBytes("\xff\xff garbage"),     truncated, Bytes{}, ContentMessage("big", "ch", 1, 3000),
      ContentMessage("nochannel", ""), good,      good};
  std::vector<AppendInput> inputs;
  for (const Bytes& w : wires) inputs.push_back(AppendInput{w, {}});
  inputs.back().retrieval_hint = hint_too_long;
  auto results = log->Append(inputs, kT0);
  ASSERT_TRUE(results.ok());
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*results)[i].disposition, AppendDisposition::kRejected) << i;
    EXPECT_FALSE((*results)[i].error.ok()) << i;
    EXPECT_FALSE((*results)[i].error.message().empty()) << i;
  }
  EXPECT_EQ((*results)[3].error.code(), ErrorCode::kMessageTooLarge);
  EXPECT_EQ((*results)[4].error.code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ((*results)[5].disposition, AppendDisposition::kAppended);
  EXPECT_EQ((*results)[6].disposition, AppendDisposition::kRejected);
  EXPECT_EQ((*results)[6].error.code(), ErrorCode::kInvalidArgument);
  auto channels = log->Channels();
  ASSERT_TRUE(channels.ok());
  ASSERT_EQ(channels->size(), 1u) << "a rejected message created a channel";
  EXPECT_EQ(MustMeta(*log).head_seq, 1u);
  EXPECT_EQ(MustMeta(*log).retained_count, 1u);
}

TEST_P(ChannelLogTest, EntriesAreFoundByIdAndByHint) {
  auto log = Open();
  Bytes m1 = ContentMessage("m1"), m2 = ContentMessage("m2");
  Bytes h1 = ToBytes("hash-1"), h2 = ToBytes("hash-2");
  std::vector<AppendInput> inputs = {{m1, h1}, {m2, {}}};
  ASSERT_TRUE(log->Append(inputs, kT0).ok());
  // A second relay path brings the hint of m2.
  ASSERT_TRUE(log->AppendOne(m2, kT0, h2).ok());
  Status s = log->Read([&](ReadView& v) -> Status {
    auto by_id = v.FindById("ch", "m2", true);
    EXPECT_TRUE(by_id.ok() && by_id->has_value());
    if (by_id.ok() && by_id->has_value()) {
      EXPECT_EQ((*by_id)->seq, 2u);
      EXPECT_EQ((*by_id)->payload, m2);
    }
    auto by_hint = v.FindByHint("ch", h1, false);
    EXPECT_TRUE(by_hint.ok() && by_hint->has_value());
    if (by_hint.ok() && by_hint->has_value()) {
      EXPECT_EQ((*by_hint)->message_id, "m1");
      EXPECT_TRUE((*by_hint)->payload.empty());
    }
    auto late_hint = v.FindByHint("ch", h2, false);
    EXPECT_TRUE(late_hint.ok() && late_hint->has_value() && (*late_hint)->seq == 2u);
    auto none = v.FindById("ch", "nope", true);
    EXPECT_TRUE(none.ok() && !none->has_value());
    auto other = v.FindById("other", "m1", true);
    EXPECT_TRUE(other.ok() && !other->has_value());
    auto no_hint = v.FindByHint("ch", ToBytes("hash-3"), true);
    EXPECT_TRUE(no_hint.ok() && !no_hint->has_value());
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok());
}

TEST_P(ChannelLogTest, ReadsHonourEntryAndByteLimitsWithAtLeastOne) {
  auto log = Open();
  AppendN(*log, 10, "ch", "m", kT0, 100);
  uint64_t size = Forward(*log, 1)[0].payload.size();
  EXPECT_EQ(Seqs(Forward(*log, 3, {.max_entries = 4})), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(Seqs(Forward(*log, 3, {.max_entries = 100, .max_bytes = 2 * size + 1})),
            (std::vector<uint64_t>{3, 4}));
  // One entry larger than the byte budget still comes back...
  EXPECT_EQ(Seqs(Forward(*log, 3, {.max_entries = 100, .max_bytes = 1})),
            (std::vector<uint64_t>{3}));
  // ...unless the caller asked for no minimum.
  EXPECT_TRUE(Forward(*log, 3, {.max_entries = 100, .max_bytes = 1, .min_entries = 0}).empty());
  // Without payloads the byte budget does not apply.
  auto ids = Forward(*log, 1, {.max_entries = 100, .max_bytes = 1, .with_payload = false});
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_TRUE(ids[0].payload.empty());
  EXPECT_EQ(ids[9].message_id, "m10");
  EXPECT_TRUE(Forward(*log, 11).empty());
  EXPECT_EQ(Seqs(Backward(*log, 7, {.max_entries = 3})), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(Seqs(Backward(*log, 99, {.max_entries = 2})), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(Seqs(Backward(*log, 2, {.max_entries = 5})), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Seqs(Backward(*log, 8, {.max_entries = 100, .max_bytes = 1})),
            (std::vector<uint64_t>{8}));
  EXPECT_TRUE(Backward(*log, 0).empty());
  EXPECT_TRUE(Forward(*log, 1, {}, "unknown").empty());
}

// ---- Retention -------------------------------------------------------------

TEST_P(ChannelLogTest, RetentionByCountRemovesAPrefixAndMovesLowSeq) {
  ChannelLogOptions options = Options();
  options.retention.max_entries_per_channel = 4;
  options.retention_at_append = false;
  auto log = Open(options);
  AppendN(*log, 10);
  EXPECT_EQ(MustMeta(*log).retained_count, 10u);
  auto removed = log->ApplyRetention(kT0);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 6u);
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.low_seq, 7u);
  EXPECT_EQ(meta.head_seq, 10u);
  EXPECT_EQ(meta.retained_count, 4u);
  EXPECT_EQ(Seqs(Forward(*log, 1)), (std::vector<uint64_t>{7, 8, 9, 10}));
  // A removed message is forgotten: appended again it is new (a new seq).
  auto again = MustAppend(*log, {ContentMessage("m1")});
  EXPECT_EQ(again[0].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(again[0].seq, 11u);
}

TEST_P(ChannelLogTest, RetentionAtAppendKeepsTheCountBound) {
  ChannelLogOptions options = Options();
  options.retention.max_entries_per_channel = 3;
  auto log = Open(options);
  for (int i = 0; i < 4; ++i) AppendN(*log, 2, "ch", "b" + std::to_string(i) + "-");
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.head_seq, 8u);
  EXPECT_EQ(meta.low_seq, 6u);
  EXPECT_EQ(meta.retained_count, 3u);
}

TEST_P(ChannelLogTest, RetentionByAgeUsesTheReceivedTimeAndStopsAtTheFirstYoungEntry) {
  ChannelLogOptions options = Options();
  options.retention.max_age = hours(48);
  auto log = Open(options);
  AppendN(*log, 3, "ch", "old", kT0);
  AppendN(*log, 2, "ch", "new", kT0 + hours(10));
  // Received "earlier" than its predecessor (a clock step back): age alone
  // would remove it, but only a prefix goes.
  AppendN(*log, 1, "ch", "stepback", kT0 - hours(1));
  AppendN(*log, 1, "quiet", "q", kT0);
  auto removed = log->ApplyRetention(kT0 + hours(48));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u) << "exactly max_age old is kept";
  removed = log->ApplyRetention(kT0 + hours(48) + milliseconds(1));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 4u);  // 3 "old" on ch, 1 on the channel nobody writes to
  EXPECT_EQ(MustMeta(*log).low_seq, 4u);
  EXPECT_EQ(MustMeta(*log).retained_count, 3u);
  ChannelMeta quiet = MustMeta(*log, "quiet");
  EXPECT_EQ(quiet.low_seq, 2u);
  EXPECT_EQ(quiet.head_seq, 1u);
  EXPECT_EQ(quiet.retained_count, 0u);
  EXPECT_EQ(quiet.retained_bytes, 0u);
  removed = log->ApplyRetention(kT0 + hours(58) + milliseconds(1));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 3u);
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.low_seq, meta.head_seq + 1) << "an empty log";
  EXPECT_EQ(meta.head_seq, 6u);
  // seqs continue after an emptied log: never reused.
  EXPECT_EQ(AppendN(*log, 1, "ch", "later", kT0 + hours(60)), (std::vector<uint64_t>{7}));
}

TEST_P(ChannelLogTest, RetentionByChannelBytes) {
  ChannelLogOptions options = Options();
  auto probe = Open(options);
  AppendN(*probe, 1, "ch", "m", kT0, 100);
  uint64_t size = MustMeta(*probe).retained_bytes;
  options = Options();
  options.retention.max_bytes_per_channel = 3 * size;  // sizes equal: same id lengths
  auto log = Open(options);
  AppendN(*log, 5, "ch", "m", kT0, 100);
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.low_seq, 3u);
  EXPECT_EQ(meta.retained_count, 3u);
  EXPECT_EQ(meta.retained_bytes, 3 * size);
}

TEST_P(ChannelLogTest, GlobalByteCapRemovesTheOldestEntriesAcrossChannels) {
  ChannelLogOptions options = Options();
  auto probe = Open(options);
  AppendN(*probe, 1, "a", "m", kT0, 100);
  uint64_t size = MustMeta(*probe, "a").retained_bytes;
  options = Options();
  options.retention.max_bytes_total = 4 * size;
  options.retention_at_append = false;
  auto log = Open(options);
  AppendN(*log, 3, "a", "m", kT0, 100);
  AppendN(*log, 3, "b", "m", kT0 + hours(1), 100);
  AppendN(*log, 1, "a", "n", kT0 + hours(2), 100);  // "n1" has the same size as "m1"
  auto removed = log->ApplyRetention(kT0 + hours(3));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 3u);
  EXPECT_EQ(MustMeta(*log, "a").low_seq, 4u);  // a's three oldest
  EXPECT_EQ(MustMeta(*log, "a").head_seq, 4u);
  EXPECT_EQ(MustMeta(*log, "b").low_seq, 1u);
  EXPECT_EQ(MustMeta(*log, "a").retained_bytes + MustMeta(*log, "b").retained_bytes, 4 * size);
}

TEST_P(ChannelLogTest, DisabledLimitsKeepEverything) {
  ChannelLogOptions options = Options();
  options.retention = RetentionPolicy{Duration(0), 0, 0, 0};
  auto log = Open(options);
  AppendN(*log, 20);
  auto removed = log->ApplyRetention(kT0 + hours(10000));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
  EXPECT_EQ(MustMeta(*log).retained_count, 20u);
}

// ---- Operations that mint epochs --------------------------------------------

TEST_P(ChannelLogTest, MarkRestoredMintsANewEpochPerChannelAndKeepsSeqs) {
  auto log = Open();
  AppendN(*log, 3, "a");
  AppendN(*log, 2, "b");
  ChannelMeta a = MustMeta(*log, "a"), b = MustMeta(*log, "b");
  Bytes store_id = log->store_id();
  ASSERT_TRUE(log->MarkRestored().ok());
  ChannelMeta a2 = MustMeta(*log, "a"), b2 = MustMeta(*log, "b");
  EXPECT_NE(a2.epoch, a.epoch);
  EXPECT_NE(b2.epoch, b.epoch);
  EXPECT_NE(a2.epoch, b2.epoch);
  EXPECT_EQ(a2.head_seq, 3u);
  EXPECT_EQ(b2.low_seq, 1u);
  EXPECT_EQ(log->store_id(), store_id) << "a restore does not change the deployment";
}

TEST_P(ChannelLogTest, TruncateRemovesATailUnderANewEpoch) {
  auto log = Open();
  AppendN(*log, 5);
  Epoch before = MustMeta(*log).epoch;
  ASSERT_TRUE(log->Truncate("ch", 5).ok());
  EXPECT_EQ(MustMeta(*log).epoch, before) << "nothing removed, nothing changed";
  ASSERT_TRUE(log->Truncate("ch", 3).ok());
  ChannelMeta meta = MustMeta(*log);
  EXPECT_NE(meta.epoch, before);
  EXPECT_EQ(meta.head_seq, 3u);
  EXPECT_EQ(meta.retained_count, 3u);
  EXPECT_EQ(meta.max_lamport, 3);
  // m4 is gone: appended again it is new.
  auto again = MustAppend(*log, {ContentMessage("m4", "ch", 4)});
  EXPECT_EQ(again[0].disposition, AppendDisposition::kAppended);
  EXPECT_EQ(again[0].seq, 4u);
  EXPECT_EQ(log->Truncate("nope", 1).code(), ErrorCode::kUnknownChannel);
}

TEST_P(ChannelLogTest, ImportReplacesTheChannelUnderANewEpoch) {
  auto log = Open();
  AppendN(*log, 5);
  AppendN(*log, 2, "other");
  Epoch before = MustMeta(*log).epoch;
  std::vector<Bytes> wires = {ContentMessage("x1", "ch", 1), SyncMessage("s"),
                              ContentMessage("x2", "ch", 2), ContentMessage("x1", "ch", 1)};
  std::vector<AppendInput> inputs;
  for (const Bytes& w : wires) inputs.push_back({w, {}});
  ASSERT_TRUE(log->Import("ch", inputs, kT0).ok());
  ChannelMeta meta = MustMeta(*log);
  EXPECT_NE(meta.epoch, before);
  EXPECT_EQ(meta.low_seq, 1u);
  EXPECT_EQ(meta.head_seq, 2u);
  std::vector<Entry> entries = Forward(*log, 1);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].message_id, "x2");
  EXPECT_EQ(MustMeta(*log, "other").head_seq, 2u);

  Bytes garbage = ToBytes("\x08");
  std::vector<AppendInput> bad = {{wires[0], {}}, {garbage, {}}};
  Status s = log->Import("ch", bad, kT0);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("import message 1"), std::string::npos) << s.ToString();
  EXPECT_EQ(MustMeta(*log).epoch, meta.epoch) << "a failed import changes nothing";
  Bytes elsewhere = ContentMessage("y", "other");
  std::vector<AppendInput> foreign = {{elsewhere, {}}};
  EXPECT_EQ(log->Import("ch", foreign, kT0).code(), ErrorCode::kInvalidArgument);
}

TEST_P(ChannelLogTest, DropChannelForgetsIt) {
  auto log = Open();
  AppendN(*log, 2);
  ASSERT_TRUE(log->DropChannel("ch").ok());
  auto meta = log->Meta("ch");
  ASSERT_TRUE(meta.ok());
  EXPECT_FALSE(meta->has_value());
  EXPECT_TRUE(log->DropChannel("ch").ok());
  // Recreated, it is a new history.
  EXPECT_EQ(AppendN(*log, 1), (std::vector<uint64_t>{1}));
}

TEST_P(ChannelLogTest, StoreIdIsConfiguredOrMinted) {
  ChannelLogOptions options = Options();
  options.store_id = ToBytes("deployment-1");
  EXPECT_EQ(Open(options)->store_id(), ToBytes("deployment-1"));
  auto minted = Open(Options(7));
  EXPECT_EQ(minted->store_id().size(), 16u);
  EXPECT_NE(minted->store_id(), Open(Options(8))->store_id());
}

TEST(ChannelLogOptionsTest, EntropyIsRequired) {
  ChannelLogOptions options;
  auto log = MemoryChannelLog::Create(options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), ErrorCode::kInvalidArgument);
}

TEST(MemoryChannelLogTest, CloneIsAnExactBackup) {
  auto log = MemoryChannelLog::Create(Options());
  ASSERT_TRUE(log.ok());
  AppendN(**log, 3);
  auto backup = (*log)->Clone();
  AppendN(**log, 2, "ch", "later");
  EXPECT_EQ(MustMeta(*backup), (ChannelMeta{"ch", MustMeta(**log).epoch, 1, 3, 3, 3,
                                            MustMeta(*backup).retained_bytes}));
  EXPECT_EQ(backup->store_id(), (*log)->store_id());
  EXPECT_EQ(MustMeta(**log).head_seq, 5u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChannelLogTest, ::testing::ValuesIn(Backends()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace sds::catchup::testing
