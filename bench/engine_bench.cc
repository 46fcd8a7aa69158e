// Throughput, wire size and memory of the engine on a two-party chat.
//
// The workload (the same as bench/waku_sds_bench.mjs runs on @waku/sds):
// alice sends N messages of ~30 bytes, bob unwraps each, and every 10th
// message bob replies and alice unwraps the reply. Virtual time advances 1 ms
// per message; each side's Tick runs when its deadline is due, and whatever
// the engine asks to broadcast (resends, sync messages, repairs) is delivered
// to the other side. Message ids are hex SHA-256 of the payload, as @waku/sds
// makes them, computed inside the timed loop because @waku/sds does so too.
//
// Conversation sizes come from --sizes=N1,N2,... (default 2000,20000,200000).
// Each runs in the nim dialect with the right-sized bloom filter (the
// default) and with the fixed one (fixed_bloom:1, nim-sds's 18.8 KB), and in
// the spec dialect (whose filter is always fixed).
//
// Reported per benchmark:
//   items_per_second  messages sent by alice per second (the replies ride along);
//                     wall-clock for the conversation (as waku_sds_bench.mjs
//                     measures it), CPU time for BM_Wrap / BM_Unwrap
//   wire_bytes_per_msg  mean size of the content messages both sides sent
//   BM_WireBytes:     the same conversation run once more, untimed, with every
//                     message decoded: per content message its payload, bloom
//                     filter, causal history and other bytes, and the bytes of
//                     sync messages, resends and repairs per content message
//   BM_PeakMemory:    peak RSS of a fresh process that ran the workload once,
//                     and its growth over that process's RSS before the run, so
//                     N = 2,000 and N = 200,000 can be compared directly.
#include <fcntl.h>
#include <openssl/sha.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <benchmark/benchmark.h>

#include "sds/codec.h"
#include "sds/config.h"
#include "sds/events.h"
#include "sds/reliability_manager.h"

extern char** environ;

namespace sds {
namespace {

constexpr char kChannel[] = "bench";
constexpr int64_t kStartMillis = 1700000000000;
constexpr int kReplyEvery = 10;

Config BenchConfig(Dialect dialect, const char* participant, bool fixed_bloom) {
  // kNim: the struct's defaults (nim-sds); kSpec: @waku/sds's values.
  Config config = dialect == Dialect::kNim ? Config{} : Config::ForDialect(Dialect::kSpec);
  config.participant_id = participant;
  if (fixed_bloom) config.bloom_wire_size = BloomWireSize::kFixed;
  config.channel_admission = ChannelAdmission::kAny;  // receivers join on the first message
  return config;
}

std::unique_ptr<ReliabilityManager> MakeManager(Dialect dialect, const char* participant,
                                                bool fixed_bloom = false) {
  Result<std::unique_ptr<ReliabilityManager>> manager =
      ReliabilityManager::Create(BenchConfig(dialect, participant, fixed_bloom));
  if (!manager.ok()) {
    std::fprintf(stderr, "cannot create a manager: %s\n", manager.status().ToString().c_str());
    std::abort();
  }
  return std::move(manager).value();
}

// ~30 bytes, unique per message so that SHA-256 ids are unique too.
std::string Payload(const char* who, int64_t index) {
  char text[64];
  std::snprintf(text, sizeof text, "%s message %08lld, hi!", who, static_cast<long long>(index));
  return text;
}

std::string Sha256Hex(const std::string& payload) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest;
  SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest.data());
  std::string hex(2 * digest.size(), '0');
  for (size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kDigits[digest[i] >> 4];
    hex[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
  return hex;
}

void Check(const Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

// One side of the conversation, with its clock deadline.
struct Party {
  std::unique_ptr<ReliabilityManager> manager;
  Timestamp next_tick = kNoDeadline;
};

struct Totals {
  uint64_t content_messages = 0;
  uint64_t content_bytes = 0;
  uint64_t delivered = 0;
  uint64_t other_broadcasts = 0;  // resends, sync messages, repairs
  // With accounting only: content bytes by field, and the other broadcasts' bytes.
  uint64_t payload_bytes = 0, bloom_bytes = 0, history_bytes = 0;
  uint64_t other_broadcast_bytes = 0;
};

class Conversation {
 public:
  explicit Conversation(Dialect dialect, bool fixed_bloom = false, bool accounting = false)
      : dialect_(dialect), accounting_(accounting) {
    alice_.manager = MakeManager(dialect, "alice", fixed_bloom);
    bob_.manager = MakeManager(dialect, "bob", fixed_bloom);
  }

  void Run(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      now_ += Duration{1};
      Send(alice_, bob_, Payload("alice", i));
      if ((i + 1) % kReplyEvery == 0) Send(bob_, alice_, Payload("bob", i));
      TickIfDue(alice_, bob_);
      TickIfDue(bob_, alice_);
    }
  }

  const Totals& totals() const { return totals_; }

 private:
  void Send(Party& from, Party& to, const std::string& payload) {
    Result<SharedBytes> wire =
        from.manager->Wrap(kChannel, ToBytes(payload), Sha256Hex(payload), now_);
    Check(wire.status(), "Wrap");
    ++totals_.content_messages;
    totals_.content_bytes += wire->size();
    if (accounting_) AccountContent(*wire);
    Drain(from, to);
    Deliver(to, from, *wire);
  }

  void Deliver(Party& to, Party& from, const SharedBytes& wire) {
    Result<UnwrapResult> result = to.manager->Unwrap(wire, now_);
    Check(result.status(), "Unwrap");
    Drain(to, from);
  }

  // Hands the application what the engine produced; broadcasts go to the peer.
  void Drain(Party& party, Party& peer) {
    while (std::optional<Event> event = party.manager->PollEvent()) {
      if (const auto* ready = std::get_if<MessageReady>(&*event)) {
        benchmark::DoNotOptimize(ready->content.data());
        ++totals_.delivered;
      } else if (const auto* resend = std::get_if<RebroadcastDue>(&*event)) {
        Broadcast(peer, resend->wire);
      } else if (const auto* sync = std::get_if<SyncMessageReady>(&*event)) {
        Broadcast(peer, sync->wire);
      } else if (const auto* repair = std::get_if<RepairReady>(&*event)) {
        Broadcast(peer, repair->wire);
      }
    }
    party.next_tick = party.manager->NextDeadline();
  }

  // A broadcast the engine asked for; its answer is drained at the next tick
  // or message, which keeps this from recursing between the two parties.
  void Broadcast(Party& to, const SharedBytes& wire) {
    ++totals_.other_broadcasts;
    totals_.other_broadcast_bytes += wire.size();
    Check(to.manager->Unwrap(wire, now_).status(), "Unwrap of a broadcast");
  }

  void TickIfDue(Party& party, Party& peer) {
    if (now_ < party.next_tick) return;
    party.manager->Tick(now_);
    Drain(party, peer);
  }

  // Field sizes, from encoding the message again without them.
  void AccountContent(const SharedBytes& wire) {
    Result<DecodedMessage> decoded = DecodeAny(wire);
    Check(decoded.status(), "DecodeAny");
    Message stripped = decoded->message;
    stripped.bloom_filter.reset();
    const size_t without_bloom = Encode(stripped, dialect_).size();
    stripped.causal_history.clear();
    const size_t without_history = Encode(stripped, dialect_).size();
    totals_.payload_bytes += stripped.content ? stripped.content->size() : 0;
    totals_.bloom_bytes += wire.size() - without_bloom;
    totals_.history_bytes += without_bloom - without_history;
  }

  Dialect dialect_;
  bool accounting_;
  Party alice_;
  Party bob_;
  Timestamp now_ = TimestampFromUnixMillis(kStartMillis);
  Totals totals_;
};

Dialect DialectArg(int64_t arg) { return arg == 0 ? Dialect::kNim : Dialect::kSpec; }

std::string Label(Dialect dialect, bool fixed_bloom) {
  return std::string(DialectName(dialect)) + (fixed_bloom ? ", fixed filter" : "");
}

void BM_Conversation(benchmark::State& state) {
  const Dialect dialect = DialectArg(state.range(0));
  const int64_t n = state.range(1);
  const bool fixed_bloom = state.range(2) != 0;
  Totals totals;
  for (auto _ : state) {
    Conversation conversation(dialect, fixed_bloom);
    conversation.Run(n);
    totals = conversation.totals();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["wire_bytes_per_msg"] =
      static_cast<double>(totals.content_bytes) / static_cast<double>(totals.content_messages);
  state.counters["other_broadcasts"] = static_cast<double>(totals.other_broadcasts);
  state.SetLabel(Label(dialect, fixed_bloom));
}

void BM_WireBytes(benchmark::State& state) {
  const Dialect dialect = DialectArg(state.range(0));
  const int64_t n = state.range(1);
  const bool fixed_bloom = state.range(2) != 0;
  Totals totals;
  for (auto _ : state) {
    Conversation conversation(dialect, fixed_bloom, /*accounting=*/true);
    conversation.Run(n);
    totals = conversation.totals();
  }
  const auto per = [&](uint64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(totals.content_messages);
  };
  state.counters["wire_bytes_per_msg"] = per(totals.content_bytes);
  state.counters["payload"] = per(totals.payload_bytes);
  state.counters["bloom"] = per(totals.bloom_bytes);
  state.counters["causal_history"] = per(totals.history_bytes);
  state.counters["other_fields"] =
      per(totals.content_bytes - totals.payload_bytes - totals.bloom_bytes - totals.history_bytes);
  state.counters["sync_repair_per_msg"] = per(totals.other_broadcast_bytes);
  state.SetLabel(Label(dialect, fixed_bloom));
}

// Wrap alone: one sender, nobody answers (the outgoing buffer fills towards
// its limit as it would with no peers). Batches of kBatch messages on a fresh
// manager, so every batch does the same work.
constexpr int kBatch = 2000;

void BM_Wrap(benchmark::State& state) {
  const Dialect dialect = DialectArg(state.range(0));
  std::vector<std::string> payloads, ids;
  for (int i = 0; i < kBatch; ++i) {
    payloads.push_back(Payload("alice", i));
    ids.push_back(Sha256Hex(payloads.back()));
  }
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<ReliabilityManager> alice = MakeManager(dialect, "alice");
    Timestamp now = TimestampFromUnixMillis(kStartMillis);
    state.ResumeTiming();
    for (int i = 0; i < kBatch; ++i) {
      now += Duration{1};
      Result<SharedBytes> wire = alice->Wrap(kChannel, ToBytes(payloads[i]), ids[i], now);
      Check(wire.status(), "Wrap");
      bytes += wire->size();
      alice->TakeEvents();
    }
    state.PauseTiming();
    alice.reset();  // destruction is not part of Wrap's cost
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["wire_bytes_per_msg"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * kBatch);
  state.SetLabel(DialectName(dialect));
}
BENCHMARK(BM_Wrap)->ArgName("dialect")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Unwrap alone: a fresh receiver takes kBatch in-order messages from one
// sender, each delivered at once (the common case).
void BM_Unwrap(benchmark::State& state) {
  const Dialect dialect = DialectArg(state.range(0));
  std::vector<SharedBytes> wires;
  {
    std::unique_ptr<ReliabilityManager> alice = MakeManager(dialect, "alice");
    Timestamp now = TimestampFromUnixMillis(kStartMillis);
    for (int i = 0; i < kBatch; ++i) {
      now += Duration{1};
      std::string payload = Payload("alice", i);
      Result<SharedBytes> wire = alice->Wrap(kChannel, ToBytes(payload), Sha256Hex(payload), now);
      Check(wire.status(), "Wrap");
      wires.push_back(*wire);
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<ReliabilityManager> bob = MakeManager(dialect, "bob");
    Timestamp now = TimestampFromUnixMillis(kStartMillis);
    state.ResumeTiming();
    for (const SharedBytes& wire : wires) {
      now += Duration{1};
      Result<UnwrapResult> result = bob->Unwrap(wire, now);
      benchmark::DoNotOptimize(result.ok());
      bob->TakeEvents();
    }
    state.PauseTiming();
    bob.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(DialectName(dialect));
}
BENCHMARK(BM_Unwrap)->ArgName("dialect")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The peak resident set of this process image, in kB. /proc's VmHWM rather
// than getrusage's ru_maxrss: ru_maxrss survives exec, so a child spawned
// after the big benchmarks would report the parent's peak, while VmHWM
// belongs to the address space exec created.
long PeakRssKb() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(status);
  return kb;
}

// Peak memory of the conversation, measured in a fresh process: this binary
// re-executed with --peak-memory-child. A forked child would start with the
// heap the earlier benchmarks left resident and understate the growth.
constexpr char kPeakMemoryChildFlag[] = "--peak-memory-child";

// Child side: runs the conversation once, prints "<peak kB> <growth kB>".
int RunPeakMemoryChild(const char* dialect_arg, const char* n_arg) {
  const Dialect dialect = DialectArg(std::stoll(dialect_arg));
  const int64_t n = std::stoll(n_arg);
  const long before = PeakRssKb();
  {
    Conversation conversation(dialect);
    conversation.Run(n);
  }
  const long peak = PeakRssKb();
  if (before < 0 || peak < 0) return 1;
  std::printf("%ld %ld\n", peak, peak - before);
  return 0;
}

void BM_PeakMemory(benchmark::State& state) {
  const Dialect dialect = DialectArg(state.range(0));
  const int64_t n = state.range(1);
  long peak_kb = 0, growth_kb = 0;
  for (auto _ : state) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      state.SkipWithError("pipe failed");
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::string self = "/proc/self/exe", flag = kPeakMemoryChildFlag;
    std::string dialect_arg = std::to_string(state.range(0)), n_arg = std::to_string(n);
    char* argv[] = {self.data(), flag.data(), dialect_arg.data(), n_arg.data(), nullptr};
    pid_t child = -1;
    int spawn_error = posix_spawn(&child, self.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    std::string output;
    char chunk[256];
    for (ssize_t got; spawn_error == 0 && (got = read(fds[0], chunk, sizeof chunk)) != 0;) {
      if (got > 0)
        output.append(chunk, static_cast<size_t>(got));
      else if (errno != EINTR)
        break;
    }
    close(fds[0]);
    int status = 0;
    if (spawn_error == 0) waitpid(child, &status, 0);
    if (spawn_error != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        std::sscanf(output.c_str(), "%ld %ld", &peak_kb, &growth_kb) != 2) {
      state.SkipWithError("the measuring child process failed");
      return;
    }
  }
  state.counters["peak_rss_kb"] = static_cast<double>(peak_kb);
  state.counters["rss_growth_kb"] = static_cast<double>(growth_kb);
  state.SetLabel(DialectName(dialect));
}

// The conversation sizes: --sizes=2000,20000,200000 unless given.
std::vector<int64_t> TakeSizesFlag(int& argc, char** argv) {
  std::vector<int64_t> sizes = {2000, 20000, 200000};
  const std::string prefix = "--sizes=";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind(prefix, 0) != 0) continue;
    sizes.clear();
    for (size_t start = prefix.size(); start < arg.size();) {
      size_t comma = arg.find(',', start);
      if (comma == std::string::npos) comma = arg.size();
      sizes.push_back(std::stoll(arg.substr(start, comma - start)));
      start = comma + 1;
    }
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    break;
  }
  return sizes;
}

// nim with the right-sized and the fixed filter, spec (always fixed).
void DialectAndBloomArgs(benchmark::internal::Benchmark* b, const std::vector<int64_t>& sizes) {
  b->ArgNames({"dialect", "n", "fixed_bloom"});
  for (int64_t n : sizes) {
    b->Args({0, n, 0});
    b->Args({0, n, 1});
    b->Args({1, n, 0});
  }
}

void RegisterSizedBenchmarks(const std::vector<int64_t>& sizes) {
  auto* conversation = benchmark::RegisterBenchmark("BM_Conversation", BM_Conversation);
  DialectAndBloomArgs(conversation, sizes);
  conversation->Unit(benchmark::kMillisecond)->UseRealTime();
  auto* wire_bytes = benchmark::RegisterBenchmark("BM_WireBytes", BM_WireBytes);
  DialectAndBloomArgs(wire_bytes, sizes);
  wire_bytes->Iterations(1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_PeakMemory", BM_PeakMemory)
      ->ArgNames({"dialect", "n"})
      ->ArgsProduct({{0, 1}, sizes})
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace
}  // namespace sds

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == sds::kPeakMemoryChildFlag) {
    return sds::RunPeakMemoryChild(argv[2], argv[3]);
  }
  sds::RegisterSizedBenchmarks(sds::TakeSizesFlag(argc, argv));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
