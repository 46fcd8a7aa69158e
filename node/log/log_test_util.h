// Helpers for the ChannelLog and LogService suites: seeded entropy, wire
// messages built with the project's codec, and a fixture that runs one suite
// on every backend.
#ifndef SDS_NODE_LOG_LOG_TEST_UTIL_H_
#define SDS_NODE_LOG_LOG_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sds/channel_log.h"
#include "sds/codec.h"
#include "sds/memory_channel_log.h"

namespace sds::catchup::testing {

inline Timestamp At(int64_t ms) { return TimestampFromUnixMillis(ms); }
inline const Timestamp kT0 = At(1'700'000'000'000);

// Deterministic "randomness" for epochs and store ids.
inline EntropySource SeededEntropy(uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
  };
}

inline ChannelLogOptions Options(uint64_t seed = 1) {
  ChannelLogOptions options;
  options.entropy = SeededEntropy(seed);
  return options;
}

// A content message `id` on `channel`, its content `content_bytes` long.
inline Bytes ContentMessage(const MessageId& id, const ChannelId& channel = "ch",
                            LamportTime lamport = 1, size_t content_bytes = 16,
                            Dialect dialect = Dialect::kNim) {
  Bytes content(content_bytes, static_cast<uint8_t>('a' + id.size() % 26));
  Message m;
  m.message_id = id;
  m.channel_id = channel;
  m.sender_id = "alice";
  m.lamport_timestamp = lamport;
  m.content = ByteSpan(content);
  return Encode(m, dialect);
}

// A sync message (Lamport timestamp, no content).
inline Bytes SyncMessage(const MessageId& id, const ChannelId& channel = "ch",
                         Dialect dialect = Dialect::kNim) {
  Message m;
  m.message_id = id;
  m.channel_id = channel;
  m.sender_id = "alice";
  m.lamport_timestamp = 5;
  if (dialect == Dialect::kNim) m.content = ByteSpan();
  return Encode(m, dialect);
}

// An ephemeral message (spec dialect: no Lamport timestamp).
inline Bytes EphemeralMessage(const MessageId& id, const ChannelId& channel = "ch") {
  static const Bytes kContent = ToBytes("typing...");
  Message m;
  m.message_id = id;
  m.channel_id = channel;
  m.sender_id = "alice";
  m.content = ByteSpan(kContent);
  return Encode(m, Dialect::kSpec);
}

// A unique path under the test temp dir, removed (with -wal/-shm) on exit.
class TempPath {
 public:
  explicit TempPath(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("sds_log_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + name))
                .string();
    Remove();
  }
  ~TempPath() { Remove(); }
  const std::string& str() const { return path_; }
  void Remove() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::error_code ec;
      std::filesystem::remove(path_ + suffix, ec);
    }
  }

 private:
  std::string path_;
};

// Appends, failing the test on a storage error; returns the results.
inline std::vector<AppendResult> MustAppend(ChannelLog& log, const std::vector<Bytes>& wires,
                                            Timestamp now = kT0) {
  std::vector<AppendInput> inputs;
  for (const Bytes& w : wires) inputs.push_back(AppendInput{w, {}});
  auto results = log.Append(inputs, now);
  EXPECT_TRUE(results.ok()) << results.status().ToString();
  return results.ok() ? *results : std::vector<AppendResult>{};
}

// Appends content messages "<prefix>1".."<prefix>n" on `channel`; returns the seqs.
inline std::vector<uint64_t> AppendN(ChannelLog& log, size_t n, const ChannelId& channel = "ch",
                                     const std::string& prefix = "m", Timestamp now = kT0,
                                     size_t content_bytes = 16) {
  std::vector<Bytes> wires;
  for (size_t i = 1; i <= n; ++i) {
    wires.push_back(ContentMessage(prefix + std::to_string(i), channel, static_cast<LamportTime>(i),
                                   content_bytes));
  }
  std::vector<uint64_t> seqs;
  for (const AppendResult& r : MustAppend(log, wires, now)) seqs.push_back(r.seq);
  return seqs;
}

inline ChannelMeta MustMeta(ChannelLog& log, const ChannelId& channel = "ch") {
  auto meta = log.Meta(channel);
  EXPECT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_TRUE(meta.ok() && meta->has_value()) << "no channel " << channel;
  return meta.ok() && meta->has_value() ? **meta : ChannelMeta{};
}

// Open() opens a fresh log (a new file for sqlite, a new database on the
// shared test server for postgres) of the backend named by the test parameter
// ("memory", "sqlite" or "postgres"); Reopen() closes the last one and opens
// its file / database again (persistent backends only).
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Fails the test, clearly, when its backend's server cannot be started.
  void SetUp() override;
  std::shared_ptr<ChannelLog> Open(ChannelLogOptions options = Options());
  bool persistent() const { return GetParam() != "memory"; }
  std::shared_ptr<ChannelLog> Reopen(ChannelLogOptions options = Options(99));

  // The file of the last Open (sqlite).
  const std::string& path() const { return paths_.back()->str(); }

  std::vector<std::unique_ptr<TempPath>> paths_;
  std::string conninfo_;  // of the last Open (postgres)
  std::shared_ptr<ChannelLog> log_;
};

std::vector<std::string> Backends();

}  // namespace sds::catchup::testing

#endif  // SDS_NODE_LOG_LOG_TEST_UTIL_H_
