// PostgresChannelLog beyond the conformance suite (channel_log_test.cc runs
// that on "postgres" too): several nodes on one database, notification across
// nodes, connection failures, the schema and the deployment's store_id.
#include "sds/postgres_channel_log.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "log_test_util.h"
#include "postgres_test_server.h"

namespace sds::catchup::testing {
namespace {

using std::chrono::hours;

class PostgresChannelLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PostgresTestServer::Shared(&error);
    ASSERT_NE(server_, nullptr) << "no PostgreSQL test server: " << error;
    if (!server_->running()) {
      ASSERT_TRUE(server_->Start(&error)) << error;
    }
    conninfo_ = server_->CreateDatabase(&error);
    ASSERT_FALSE(conninfo_.empty()) << error;
  }
  void TearDown() override {
    // A test that failed with the server stopped must not break the next.
    std::string error;
    if (server_ != nullptr && !server_->running()) {
      EXPECT_TRUE(server_->Start(&error)) << error;
    }
  }

  std::unique_ptr<PostgresChannelLog> MustOpen(ChannelLogOptions options = Options()) {
    auto log = PostgresChannelLog::Open(conninfo_, std::move(options));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }

  PostgresTestServer* server_ = nullptr;
  std::string conninfo_;
};

std::vector<Entry> All(ChannelLog& log, const ChannelId& channel) {
  std::vector<Entry> out;
  ReadLimits limits;
  limits.max_entries = 1'000'000;
  limits.max_bytes = uint64_t{1} << 40;
  Status s = log.Read([&](ReadView& v) { return v.ReadForward(channel, 1, limits, out); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Four nodes (connections), one thread each, append batches of 1-5 messages
// over three channels; a quarter of the ids are appended by two nodes at
// once (a message relayed to both). Every message ends up exactly once, at
// the seq its first appender was told, and the seqs of each channel are
// 1..head with no hole.
TEST_F(PostgresChannelLogTest, ConcurrentNodesKeepSeqsDenseAndEachMessageOnce) {
  constexpr int kNodes = 4, kPerNode = 60;
  const std::vector<ChannelId> channels = {"a", "b", "c"};
  std::vector<std::unique_ptr<PostgresChannelLog>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(MustOpen(Options(100 + i)));
    ASSERT_NE(nodes.back(), nullptr);
  }
  // What each node appends: its own ids, plus the shared ones of its pair.
  auto plan = [&](int node) {
    std::vector<std::pair<ChannelId, MessageId>> out;
    for (int i = 0; i < kPerNode; ++i) {
      out.emplace_back(channels[i % 3], "n" + std::to_string(node) + "-" + std::to_string(i));
      if (i % 4 == 0)
        out.emplace_back(channels[i % 3],
                         "shared" + std::to_string(node / 2) + "-" + std::to_string(i));
    }
    return out;
  };
  std::mutex mutex;
  std::map<std::pair<ChannelId, MessageId>, std::set<uint64_t>> seqs_told;
  std::map<ChannelId, std::set<uint64_t>> appended_seqs;
  std::atomic<int> failures{0}, ready{0};
  auto run = [&](int node) {
    std::mt19937 rng(node);
    auto messages = plan(node);
    ready++;
    while (ready.load() < kNodes) std::this_thread::yield();
    for (size_t i = 0; i < messages.size();) {
      size_t n = std::min<size_t>(messages.size() - i, 1 + rng() % 5);
      std::vector<Bytes> wires;
      for (size_t k = 0; k < n; ++k) {
        wires.push_back(ContentMessage(messages[i + k].second, messages[i + k].first, 1));
      }
      std::vector<AppendInput> inputs;
      for (const Bytes& w : wires) inputs.push_back({w, {}});
      auto results = nodes[node]->Append(inputs, kT0);
      if (!results.ok()) {
        ++failures;
        ADD_FAILURE() << results.status().ToString();
        return;
      }
      std::lock_guard lock(mutex);
      for (size_t k = 0; k < n; ++k) {
        const AppendResult& r = (*results)[k];
        seqs_told[messages[i + k]].insert(r.seq);
        if (r.disposition == AppendDisposition::kAppended) {
          if (!appended_seqs[r.channel_id].insert(r.seq).second) ++failures;
        } else if (r.disposition != AppendDisposition::kDuplicate) {
          ++failures;
        }
      }
      i += n;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) threads.emplace_back(run, i);
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<std::pair<ChannelId, MessageId>> expected;
  for (int i = 0; i < kNodes; ++i) {
    for (auto& m : plan(i)) expected.insert(m);
  }
  auto reader = MustOpen(Options(200));
  size_t total = 0;
  for (const ChannelId& channel : channels) {
    std::vector<Entry> entries = All(*reader, channel);
    ChannelMeta meta = MustMeta(*reader, channel);
    EXPECT_EQ(meta.low_seq, 1u);
    EXPECT_EQ(meta.head_seq, entries.size());
    EXPECT_EQ(meta.retained_count, entries.size());
    EXPECT_EQ(appended_seqs[channel].size(), entries.size()) << "an append reported twice";
    std::set<MessageId> ids;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(entries[i].seq, i + 1) << channel << ": a hole or a duplicate seq";
      EXPECT_TRUE(ids.insert(entries[i].message_id).second) << "stored twice";
      auto told = seqs_told.find({channel, entries[i].message_id});
      ASSERT_NE(told, seqs_told.end()) << "never appended: " << entries[i].message_id;
      EXPECT_EQ(told->second, std::set<uint64_t>{entries[i].seq})
          << "every appender of " << entries[i].message_id << " is told its one seq";
      EXPECT_EQ(entries[i].payload, ContentMessage(entries[i].message_id, channel, 1));
    }
    total += entries.size();
  }
  EXPECT_EQ(total, expected.size()) << "every message exactly once";
}

// Two nodes append to their own channels at once while the global byte cap
// bites on every append: the cap is trimmed across both channels without the
// appenders waiting on each other's rows (no deadlock, no retry storm), each
// channel still loses a prefix only, and once both are done the cap holds.
TEST_F(PostgresChannelLogTest, TheGlobalCapBitesWhileNodesAppendToOtherChannels) {
  const size_t message_bytes = ContentMessage("n0-1", "a").size();
  ChannelLogOptions options = Options();
  options.retention.max_bytes_total = 20 * message_bytes;
  std::unique_ptr<PostgresChannelLog> nodes[2] = {MustOpen(options), MustOpen(options)};
  ASSERT_TRUE(nodes[0] && nodes[1]);
  std::atomic<int> failures{0};
  auto run = [&](int node) {
    ChannelId channel = node == 0 ? "a" : "b";
    for (int i = 1; i <= 60; ++i) {
      auto r = nodes[node]->AppendOne(
          ContentMessage("n" + std::to_string(node) + "-" + std::to_string(i), channel, i),
          kT0 + std::chrono::milliseconds(i));
      if (!r.ok() || r->disposition != AppendDisposition::kAppended ||
          r->seq != static_cast<uint64_t>(i)) {
        ++failures;
      }
    }
  };
  std::thread first(run, 0), second(run, 1);
  first.join();
  second.join();
  EXPECT_EQ(failures.load(), 0);
  // The last appender saw every other commit: the cap holds now.
  ASSERT_TRUE(nodes[0]->AppendOne(ContentMessage("last", "a", 61), kT0 + hours(1)).ok());
  uint64_t total = 0;
  for (const ChannelId channel : {"a", "b"}) {
    ChannelMeta meta = MustMeta(*nodes[1], channel);
    std::vector<Entry> entries = All(*nodes[1], channel);
    ASSERT_EQ(entries.size(), meta.retained_count);
    for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].seq, meta.low_seq + i);
    EXPECT_EQ(meta.head_seq + 1 - meta.low_seq, meta.retained_count);
    EXPECT_GT(meta.low_seq, 1u) << channel << " was trimmed too";
    total += meta.retained_bytes;
  }
  EXPECT_LE(total, options.retention.max_bytes_total);
  EXPECT_GE(total, options.retention.max_bytes_total - 2 * message_bytes);
  EXPECT_LT(nodes[0]->retries() + nodes[1]->retries(), 10u);
}

// A second node sees the first one's appends at once: nothing is cached
// between calls.
TEST_F(PostgresChannelLogTest, ANodeSeesAnotherNodesWritesAndEpochs) {
  auto a = MustOpen(Options(1));
  auto b = MustOpen(Options(2));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->store_id(), b->store_id()) << "store_id names the database";
  AppendN(*a, 3);
  EXPECT_EQ(MustMeta(*b).head_seq, 3u);
  EXPECT_EQ(AppendN(*b, 2, "ch", "x"), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(All(*a, "ch").size(), 5u);
  ASSERT_TRUE(b->Truncate("ch", 4).ok());
  EXPECT_EQ(MustMeta(*a).epoch, MustMeta(*b).epoch);
  EXPECT_EQ(MustMeta(*a).head_seq, 4u);
}

// Waits (at most 10 s) until `listener` has delivered `want` notifications.
std::vector<std::pair<ChannelId, uint64_t>> Receive(PostgresAppendListener& listener, size_t want) {
  std::vector<std::pair<ChannelId, uint64_t>> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    Status waited = listener.Wait(std::chrono::milliseconds(200));
    EXPECT_TRUE(waited.ok()) << waited.ToString();
    auto drained = listener.Drain(
        [&](const ChannelId& channel, uint64_t head) { got.emplace_back(channel, head); });
    EXPECT_TRUE(drained.ok()) << drained.status().ToString();
    if (!drained.ok()) break;
  }
  return got;
}

TEST_F(PostgresChannelLogTest, AnAppendOnOneNodeIsNotifiedToAListenerOfAnother) {
  auto a = MustOpen(Options(1));
  auto b = MustOpen(Options(2));
  ASSERT_TRUE(a && b);
  auto listener = PostgresAppendListener::Open(conninfo_);
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  EXPECT_GE((*listener)->socket(), 0);
  // One notification per channel per committed batch, with the new head.
  MustAppend(*a, {ContentMessage("m1", "ch"), ContentMessage("m2", "ch"),
                  ContentMessage("m1", std::string("\0\xff bin", 6))});
  // Only duplicates and a sync message: nothing new, nothing notified.
  MustAppend(*a, {ContentMessage("m1", "ch"), SyncMessage("s", "ch")});
  AppendN(*b, 1, "other");
  auto got = Receive(**listener, 3);
  std::set<std::pair<ChannelId, uint64_t>> first(got.begin(),
                                                 got.begin() + std::min<size_t>(2, got.size()));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(first, (std::set<std::pair<ChannelId, uint64_t>>{{"ch", 2},
                                                             {std::string("\0\xff bin", 6), 1}}));
  EXPECT_EQ(got[2], (std::pair<ChannelId, uint64_t>{"other", 1}));
  // Nothing else arrives (the duplicate batch sent none).
  auto drained = (*listener)->Drain([&](const ChannelId& c, uint64_t h) {
    ADD_FAILURE() << "unexpected notification " << c << " " << h;
  });
  ASSERT_TRUE(drained.ok());
  EXPECT_FALSE(drained->resubscribed);
  EXPECT_EQ((*listener)->malformed(), 0u);
  // A rolled-back transaction notifies nobody; a payload that is not ours is
  // counted, not delivered.
  EXPECT_EQ(PostgresTestServer::Execute(conninfo_,
                                        "BEGIN; NOTIFY sds_log_append, '1 00';"
                                        " ROLLBACK; NOTIFY sds_log_append, 'junk'"),
            "");
  AppendN(*a, 1, "late");
  got = Receive(**listener, 1);
  EXPECT_EQ(got, (std::vector<std::pair<ChannelId, uint64_t>>{{"late", 1}}));
  EXPECT_EQ((*listener)->malformed(), 1u);
}

// The server goes away mid-test: every call fails cleanly (kPersistence,
// saying postgres), nothing is half-written, and once it is back the same
// objects work again, from where the durable state was.
TEST_F(PostgresChannelLogTest, CallsFailCleanlyWhileTheServerIsDownAndWorkAfterward) {
  auto log = MustOpen();
  ASSERT_NE(log, nullptr);
  auto listener = PostgresAppendListener::Open(conninfo_);
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  AppendN(*log, 3);
  std::string error;
  ASSERT_TRUE(server_->Stop(&error)) << error;

  for (int attempt = 0; attempt < 2; ++attempt) {  // a broken and a refused connection
    auto appended = log->AppendOne(ContentMessage("m4"), kT0);
    ASSERT_FALSE(appended.ok());
    EXPECT_EQ(appended.status().code(), ErrorCode::kPersistence);
    EXPECT_NE(appended.status().message().find("postgres"), std::string::npos)
        << appended.status().ToString();
    auto meta = log->Meta("ch");
    EXPECT_EQ(meta.status().code(), ErrorCode::kPersistence);
    EXPECT_FALSE(log->Channels().ok());
  }
  auto drained = (*listener)->Drain([](const ChannelId&, uint64_t) {});
  EXPECT_FALSE(drained.ok());
  EXPECT_EQ((*listener)->socket(), -1);
  auto refused = PostgresChannelLog::Open(conninfo_, Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cannot connect"), std::string::npos)
      << refused.status().ToString();

  ASSERT_TRUE(server_->Start(&error)) << error;
  ChannelMeta meta = MustMeta(*log);
  EXPECT_EQ(meta.head_seq, 3u) << "the failed append stored nothing";
  // m1..m3 are there (duplicates), m4 was never stored and is now.
  EXPECT_EQ(AppendN(*log, 4), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(MustMeta(*log).head_seq, 4u);
  // The listener reconnects, says it may have missed some, and hears again.
  drained = (*listener)->Drain([](const ChannelId&, uint64_t) {});
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  EXPECT_TRUE(drained->resubscribed);
  AppendN(*log, 1, "after");
  auto got = Receive(**listener, 1);
  EXPECT_EQ(got, (std::vector<std::pair<ChannelId, uint64_t>>{{"after", 1}}));
}

TEST_F(PostgresChannelLogTest, ANewerSchemaIsRefusedAndLeftAlone) {
  ASSERT_NE(MustOpen(), nullptr);
  ASSERT_EQ(PostgresTestServer::Execute(conninfo_, "UPDATE sds_log_schema SET version = 99"), "");
  auto log = PostgresChannelLog::Open(conninfo_, Options());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), ErrorCode::kPersistence);
  EXPECT_NE(log.status().message().find("newer"), std::string::npos) << log.status().ToString();
  EXPECT_EQ(
      PostgresTestServer::Execute(conninfo_,
                                  "DO $$ BEGIN IF (SELECT version FROM sds_log_schema) <> 99 THEN"
                                  " RAISE 'modified'; END IF; END $$"),
      "");
}

TEST_F(PostgresChannelLogTest, TheDatabaseKeepsItsStoreIdAndRefusesAnother) {
  ChannelLogOptions configured = Options();
  configured.store_id = ToBytes("deployment-1");
  auto first = MustOpen(configured);
  ASSERT_NE(first, nullptr);
  auto minted_elsewhere = MustOpen(Options(5));
  ASSERT_NE(minted_elsewhere, nullptr);
  EXPECT_EQ(minted_elsewhere->store_id(), ToBytes("deployment-1"));
  ChannelLogOptions other = Options();
  other.store_id = ToBytes("deployment-2");
  auto refused = PostgresChannelLog::Open(conninfo_, other);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(PostgresChannelLogTest, NodesOpeningAtOnceCreateTheSchemaOnce) {
  std::vector<std::thread> threads;
  std::vector<Bytes> ids(4);
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto log = PostgresChannelLog::Open(conninfo_, Options(10 + i));
      if (!log.ok()) {
        ++failures;
        return;
      }
      ids[i] = (*log)->store_id();
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  for (const Bytes& id : ids) EXPECT_EQ(id, ids[0]) << "one deployment, one store_id";
}

}  // namespace
}  // namespace sds::catchup::testing
