// Several sds-node processes on one PostgreSQL database (a real server from
// postgres_test_server.h): clients spread over the nodes publish
// concurrently; every subscriber, whichever node it is connected to, ends
// with every message exactly once, in one dense seq order; cursors move
// between nodes; and when a node is SIGKILLed mid-traffic its publisher and
// its subscriber fail over to another node without losing or duplicating
// anything.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "log/log_test_util.h"
#include "log/postgres_test_server.h"
#include "node_process.h"
#include "node_test_util.h"

namespace sds::node {
namespace {

using catchup::testing::ContentMessage;
using catchup::testing::PostgresTestServer;
using namespace sds::node::testing;

const ChannelId kChannel = "room";
// A follower gives up after this many lost connections.
constexpr int kMaxReconnects = 6;

std::string FreshDatabase() {
  std::string error;
  PostgresTestServer* server = PostgresTestServer::Shared(&error);
  if (server == nullptr) {
    ADD_FAILURE() << "PostgreSQL test server: " << error;
    return "";
  }
  std::string conninfo = server->CreateDatabase(&error);
  EXPECT_FALSE(conninfo.empty()) << error;
  return conninfo;
}

// A node on the shared database, on an ephemeral port.
struct PgNode {
  explicit PgNode(const std::string& conninfo)
      : process({"--port", "0", "--postgres", conninfo, "--threads", "2", "--log-level", "warn",
                 "--rate-limit-per-s", "0"}),
        port(process.WaitForPort()) {}
  NodeProcess process;
  uint16_t port;
};

// Publishes batches to one node; when that node is gone, the same batch goes
// to the next one (publish is idempotent by message id, so a batch whose
// answer was lost with the node is never stored twice).
class Publisher {
 public:
  Publisher(std::vector<uint16_t> ports, size_t first) : ports_(std::move(ports)), at_(first) {}

  // Returns after some node acknowledged the batch (false: none could).
  bool Publish(const std::vector<Bytes>& messages) {
    PublishRequest request;
    request.messages = messages;
    const std::string body = ToString(EncodePublishRequest(request));
    for (size_t attempt = 0; attempt < 2 * ports_.size(); ++attempt) {
      try {
        if (!http_) http_ = std::make_unique<HttpClient>(ports_[at_]);
        auto response = http_->TryPost("/v1/publish", body);
        if (response && response->result_int() == 200u) return true;
      } catch (const std::exception&) {
        // Connection refused: the node is gone.
      }
      http_.reset();
      at_ = (at_ + 1) % ports_.size();
      ++failovers_;
    }
    return false;
  }
  int failovers() const { return failovers_; }

 private:
  std::vector<uint16_t> ports_;
  size_t at_;
  std::unique_ptr<HttpClient> http_;
  int failovers_ = 0;
};

// A WebSocket subscriber to kChannel that records every entry it receives
// and, when its node goes away, resubscribes on the next node with the cursor
// of the last entry it has.
class Follower {
 public:
  // Returns once the node answered the subscription (unknown_channel: the
  // channel is new), so that it sees every append from then on.
  Follower(std::vector<uint16_t> ports, size_t first) : ports_(std::move(ports)), at_(first) {
    if (Connect()) {
      EXPECT_EQ(subscriber_->NextOfType("unknown_channel")["type"], "unknown_channel");
    }
  }

  // Reads until `total` entries arrived (false: the socket failed and no node
  // took the subscription, or Abort).
  bool ReadUntil(size_t total) {
    while (seqs.size() < total) {
      if (aborted_) return false;
      std::optional<nlohmann::json> frame;
      try {
        frame = subscriber_->Next();
      } catch (const std::exception&) {
      }
      if (!frame) {
        if (++reconnects > kMaxReconnects) return false;
        at_ = (at_ + 1) % ports_.size();
        if (!Connect()) return false;
        continue;
      }
      if ((*frame)["type"] == "error") return false;
      if ((*frame)["type"] != "entries") continue;
      epoch = EpochFromJson((*frame)["epoch"]);
      for (const auto& e : (*frame)["entries"]) {
        seqs.push_back(e["seq"].get<uint64_t>());
        ids.push_back(e["message_id"].get<std::string>());
      }
    }
    return true;
  }

  // Ends a ReadUntil that waits for what never comes (the watchdog): Asio's
  // blocking reads have no timeout, a shut-down socket ends them.
  void Abort() {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    if (subscriber_) ::shutdown(subscriber_->ws().next_layer().native_handle(), SHUT_RDWR);
  }

  // What arrived, for a failure message: the count, the reconnects and the
  // seqs where the sequence was not dense.
  std::string Describe() const {
    std::string out = std::to_string(seqs.size()) + " entries after " + std::to_string(reconnects) +
                      " reconnects";
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i] != i + 1) {
        out += ", first out of order at index " + std::to_string(i) + ": seq " +
               std::to_string(seqs[i]);
        break;
      }
    }
    if (!seqs.empty()) out += ", last seq " + std::to_string(seqs.back());
    return out;
  }

  std::vector<uint64_t> seqs;
  std::vector<std::string> ids;
  catchup::Epoch epoch{};
  int reconnects = 0;

 private:
  bool Connect() {
    std::lock_guard lock(mutex_);
    if (aborted_) return false;
    try {
      subscriber_ = std::make_unique<Subscriber>(ports_[at_]);
      SubscribeRequest request;
      std::optional<catchup::Cursor> cursor;
      if (!seqs.empty()) cursor = catchup::Cursor{epoch, seqs.back()};
      request.channels.push_back({kChannel, cursor});
      subscriber_->Subscribe(request);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  std::vector<uint16_t> ports_;
  size_t at_;
  std::mutex mutex_;  // subscriber_ replaced (reader) or shut down (watchdog)
  std::atomic<bool> aborted_{false};
  std::unique_ptr<Subscriber> subscriber_;
};

// Aborts the followers if they are not done within a generous deadline, so a
// lost entry fails the test with what each follower got instead of hanging.
class Watchdog {
 public:
  explicit Watchdog(std::vector<std::unique_ptr<Follower>>& followers)
      : thread_([this, &followers] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, std::chrono::seconds(90), [this] { return done_; })) {
            for (auto& f : followers) f->Abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

std::vector<Bytes> Batch(size_t node, int batch, int per_batch) {
  std::vector<Bytes> messages;
  for (int i = 0; i < per_batch; ++i) {
    const std::string id = "n" + std::to_string(node) + "-" + std::to_string(batch * per_batch + i);
    messages.push_back(ContentMessage(id, kChannel, batch * per_batch + i + 1));
  }
  return messages;
}

void ExpectEveryMessageOnceInOneOrder(const Follower& follower, size_t total,
                                      const std::vector<std::string>& reference_ids) {
  ASSERT_EQ(follower.seqs.size(), total);
  for (size_t i = 0; i < total; ++i) ASSERT_EQ(follower.seqs[i], i + 1) << "at " << i;
  EXPECT_EQ(std::set<std::string>(follower.ids.begin(), follower.ids.end()).size(), total);
  // The same seq names the same message on every node.
  EXPECT_EQ(follower.ids, reference_ids);
}

catchup::SyncResponse SyncAt(uint16_t port, const catchup::Cursor& cursor) {
  HttpClient http(port);
  catchup::SyncRequest request;
  request.channels.push_back({kChannel, cursor});
  auto r = http.Post("/v1/sync", ToString(catchup::EncodeSyncRequest(request)));
  EXPECT_EQ(r.result_int(), 200u) << r.body();
  auto decoded = catchup::DecodeSyncResponse(Span(r.body()));
  if (!decoded.ok() || !std::holds_alternative<catchup::SyncResponse>(*decoded)) {
    ADD_FAILURE() << "undecodable Sync response";
    return {};
  }
  return std::get<catchup::SyncResponse>(*decoded);
}

TEST(SdsNodePostgres, ThreeNodesServeEveryMessageOnceAndSurviveAKilledNode) {
  const std::string conninfo = FreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  std::vector<std::unique_ptr<PgNode>> nodes;
  std::vector<uint16_t> ports;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<PgNode>(conninfo));
    ASSERT_NE(nodes.back()->port, 0) << "node " << i << " did not start";
    ports.push_back(nodes.back()->port);
  }

  // One subscriber per node, registered before anything is published.
  std::vector<std::unique_ptr<Follower>> followers;
  for (size_t i = 0; i < 3; ++i) followers.push_back(std::make_unique<Follower>(ports, i));

  constexpr int kBatches = 20;
  constexpr int kPerBatch = 3;
  constexpr size_t kTotal = 3 * kBatches * kPerBatch;
  constexpr size_t kVictim = 2;
  // Read while the publishers run, so no node queue backs up.
  std::vector<std::thread> readers;
  Watchdog watchdog(followers);
  // One bool per thread (std::vector<bool> would pack them into shared words).
  std::array<bool, 3> complete{};
  for (size_t i = 0; i < 3; ++i) {
    readers.emplace_back([&, i] { complete[i] = followers[i]->ReadUntil(kTotal); });
  }
  std::atomic<int> victim_batches{0};
  std::atomic<bool> killed{false};
  std::array<int, 3> failovers{};
  std::array<bool, 3> published{};
  std::vector<std::thread> publishers;
  for (size_t n = 0; n < 3; ++n) {
    publishers.emplace_back([&, n] {
      Publisher publisher(ports, n);
      bool all = true;
      for (int b = 0; b < kBatches; ++b) {
        all = publisher.Publish(Batch(n, b, kPerBatch)) && all;
        if (n == kVictim) ++victim_batches;
        // The victim's publisher keeps going only once the kill happened,
        // so that its later batches must fail over.
        if (n == kVictim && b == kBatches / 2) {
          while (!killed) std::this_thread::yield();
        }
      }
      published[n] = all;
      failovers[n] = publisher.failovers();
    });
  }
  // Mid-traffic: the victim node dies while the others keep appending.
  while (victim_batches < kBatches / 2) std::this_thread::yield();
  nodes[kVictim]->process.Kill();
  killed = true;

  for (auto& t : publishers) t.join();
  for (auto& t : readers) t.join();
  for (size_t n = 0; n < 3; ++n) EXPECT_TRUE(published[n]) << "publisher " << n;
  EXPECT_GT(failovers[kVictim], 0) << "the victim's publisher never had to fail over";
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(complete[i]) << "subscriber " << i << " got " << followers[i]->Describe();
  }
  EXPECT_GT(followers[kVictim]->reconnects, 0);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("subscriber " + std::to_string(i));
    ExpectEveryMessageOnceInOneOrder(*followers[i], kTotal, followers[0]->ids);
    EXPECT_EQ(followers[i]->epoch, followers[0]->epoch);
  }
  std::set<std::string> expected;
  for (size_t n = 0; n < 3; ++n)
    for (int i = 0; i < kBatches * kPerBatch; ++i)
      expected.insert(Base64Encode("n" + std::to_string(n) + "-" + std::to_string(i)));
  EXPECT_EQ(std::set<std::string>(followers[0]->ids.begin(), followers[0]->ids.end()), expected);

  // A cursor is the deployment's, not a node's: both survivors answer the
  // cursor at the head with UP_TO_DATE and name the same store.
  const catchup::Cursor head{followers[0]->epoch, kTotal};
  const catchup::SyncResponse at_0 = SyncAt(ports[0], head);
  const catchup::SyncResponse at_1 = SyncAt(ports[1], head);
  ASSERT_EQ(at_0.channels.size(), 1u);
  ASSERT_EQ(at_1.channels.size(), 1u);
  EXPECT_EQ(at_0.channels[0].status, catchup::SyncStatus::kUpToDate);
  EXPECT_EQ(at_1.channels[0].status, catchup::SyncStatus::kUpToDate);
  EXPECT_EQ(at_0.store_id, at_1.store_id);
  EXPECT_FALSE(at_0.store_id.empty());
}

TEST(SdsNodePostgres, AnUnreachableDatabaseFailsStartWithoutEchoingThePassword) {
  // A unix socket directory with no server in it: libpq fails at once.
  const std::string command = std::string(SDS_NODE_BINARY) +
                              " --port 0 --postgres 'host=/nonexistent-sds-dir dbname=sds "
                              "password=hunter2' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("event=open_log_failed"), std::string::npos) << output;
  EXPECT_NE(output.find("host=/nonexistent-sds-dir"), std::string::npos) << output;
  EXPECT_EQ(output.find("hunter2"), std::string::npos) << output;
  EXPECT_EQ(output.find("listening on"), std::string::npos) << output;
}

}  // namespace
}  // namespace sds::node
