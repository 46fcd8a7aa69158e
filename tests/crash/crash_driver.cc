// sds_crash_test [KILLS] [SEED]: kills sds_crash_worker with SIGKILL at random
// moments, KILLS times (default 200), and after each kill reopens its
// SqliteStore and checks it against the worker's journal:
//   - the database passes PRAGMA integrity_check and the engine loads it;
//   - no message is reported delivered (D) twice, across all restarts (each
//     worker re-sends the newest messages of the ones before it), while it is
//     still within the channel's duplicate window;
//   - the history holds only delivered or wrapped messages, at most
//     max_message_history of them (small: it evicts), and always the newest
//     journaled ones;
//   - every wrapped message not acknowledged is in the outgoing buffer;
//   - every buffered message (B) not delivered since is still buffered, its
//     missing dependencies a subset of those reported;
//   - the Lamport clock never goes backwards (journal and previous checks).
// The operation in flight when the worker died (journal "I" without "E") may
// or may not be in the store: its effects (an acknowledgement, a delivery out
// of the buffer) are accepted and then held to, like journaled facts.
// Seeded and reproducible in its schedule: SEED picks the kill delays and the
// workers' seeds (the exact kill points depend on timing).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sds/codec.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"
#include "tests/crash/crash_common.h"

namespace {

int failures = 0;
bool history_evicted = false;  // some channel had more messages than its history holds
bool dedup_evicted = false;    // ... and more than its duplicate window holds
size_t duplicates_of_delivered = 0;
size_t forgotten_and_delivered_again = 0;  // repeats that came after both windows let go  // R
                                           // lines for ids delivered before: redelivery refused
#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      ++failures;                                         \
      std::fprintf(stderr, "CHECK FAILED: " __VA_ARGS__); \
      std::fprintf(stderr, "\n");                         \
    }                                                     \
  } while (0)

struct ChannelModel {
  std::set<std::string> delivered;                        // D
  std::set<std::string> wrapped;                          // W
  std::vector<std::string> entered_history;               // D and W, in order
  std::map<std::string, size_t> delivered_at;             // id -> its entered_history index
  std::set<std::string> unacked;                          // W minus A
  std::map<std::string, std::set<std::string>> buffered;  // B minus D/X
  int64_t lamport = 0;
};

struct Model {
  std::map<std::string, ChannelModel> channels;
  bool in_flight = false;
  std::string in_flight_kind;
  size_t lines = 0;
};

// Applies the journal's complete lines from line `model.lines` on.
void ReadJournal(const std::string& path, Model& model) {
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t line_no = 0, start = 0;
  model.in_flight = false;
  while (true) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) break;  // a torn last line is ignored
    std::string line = content.substr(start, end - start);
    start = end + 1;
    if (line_no++ < model.lines) {
      if (line[0] == 'I') model.in_flight = true;
      if (line[0] == 'E') model.in_flight = false;
      continue;
    }
    std::istringstream fields(line);
    std::string kind, ch, id, deps;
    fields >> kind >> ch >> id >> deps;
    ChannelModel& c = model.channels[ch];
    if (kind == "I") {
      model.in_flight = true;
      model.in_flight_kind = ch;
    } else if (kind == "E") {
      model.in_flight = false;
    } else if (kind == "W") {
      c.wrapped.insert(id);
      c.unacked.insert(id);
      c.entered_history.push_back(id);
    } else if (kind == "A") {
      c.unacked.erase(id);
    } else if (kind == "D") {
      // Alice remembers the newest max(dedup_window, max_message_history)
      // messages of a channel, her own and delivered ones: a message
      // delivered again while still among them was delivered twice. Past
      // them, a repeat is new to her.
      auto before = c.delivered_at.find(id);
      if (before != c.delivered_at.end()) {
        const size_t since = c.entered_history.size() - before->second;
        const sds::Config config = sds::crash::AliceConfig();
        CHECK(since > std::max(config.max_message_history, config.dedup_window),
              "journal line %zu: %s %s delivered a second time, %zu messages after the first",
              line_no, ch.c_str(), id.c_str(), since);
        ++forgotten_and_delivered_again;
      }
      c.delivered.insert(id);
      c.delivered_at[id] = c.entered_history.size();
      c.buffered.erase(id);
      c.entered_history.push_back(id);
    } else if (kind == "R") {
      if (c.delivered.count(id)) ++duplicates_of_delivered;
    } else if (kind == "X") {
      c.buffered.erase(id);
    } else if (kind == "B") {
      std::set<std::string> missing;
      std::stringstream list(deps);
      std::string dep;
      while (std::getline(list, dep, ',')) missing.insert(dep);
      c.buffered[id] = missing;
    } else if (kind == "L") {
      c.lamport = std::max<int64_t>(c.lamport, std::stoll(id));
    }
  }
  model.lines = line_no;
}

void Check(const std::string& db, Model& model, int kill) {
  auto store = sds::SqliteStore::Open(db);
  if (!store.ok()) {
    CHECK(false, "kill %d: reopen: %s", kill, store.status().ToString().c_str());
    return;
  }
  auto integrity = (*store)->IntegrityCheck();
  CHECK(integrity.ok() && *integrity == "ok", "kill %d: integrity_check: %s", kill,
        integrity.ok() ? integrity->c_str() : integrity.status().ToString().c_str());
  auto manager = sds::ReliabilityManager::Create(sds::crash::AliceConfig(), *store);
  CHECK(manager.ok(), "kill %d: create", kill);
  // The in-flight operation may have changed these; only an unwrap, a tick
  // or marking dependencies met acknowledges or delivers out of the buffer.
  const bool excuse = model.in_flight && model.in_flight_kind != "wrap";
  for (const std::string& ch : sds::crash::Channels()) {
    sds::Status loaded = (*manager)->EnsureChannel(ch);
    CHECK(loaded.ok(), "kill %d: engine load of %s: %s", kill, ch.c_str(),
          loaded.ToString().c_str());
    auto data = (*store)->LoadChannel(ch);
    if (!data.ok()) {
      CHECK(false, "kill %d: load %s", kill, ch.c_str());
      continue;
    }
    ChannelModel& c = model.channels[ch];
    std::set<std::string> history;
    std::vector<std::string> history_in_order;  // oldest first, as the store keeps it
    for (const auto& message : data->message_history) {
      auto decoded = sds::DecodeAny(message);
      CHECK(decoded.ok(), "kill %d: stored history message does not decode", kill);
      if (decoded.ok() && history.insert(decoded->message.message_id).second) {
        history_in_order.push_back(decoded->message.message_id);
      }
    }
    std::set<std::string> outgoing;
    for (const auto& o : data->meta.outgoing) outgoing.insert(o.message_id);
    std::map<std::string, std::set<std::string>> incoming;
    for (const auto& in : data->meta.incoming) {
      incoming[in.message_id] =
          std::set<std::string>(in.missing_deps.begin(), in.missing_deps.end());
    }
    CHECK(data->meta.lamport >= c.lamport, "kill %d: %s lamport went back: %lld < %lld", kill,
          ch.c_str(), static_cast<long long>(data->meta.lamport),
          static_cast<long long>(c.lamport));
    c.lamport = std::max(c.lamport, data->meta.lamport);
    // History: only delivered or wrapped messages, at most the configured
    // number, and the newest of those the journal reported. What the
    // operation in flight added without journaling it counts as delivered
    // (or wrapped) from now on: delivering it again is a second delivery.
    // It enters the model in the store's order, which is the order of the
    // deliveries (one unwrap can deliver a chain of buffered messages), so
    // that later checks know which of them leaves the history first.
    const size_t capacity = sds::crash::AliceConfig().max_message_history;
    CHECK(history.size() <= capacity, "kill %d: %s history holds %zu > %zu", kill, ch.c_str(),
          history.size(), capacity);
    const size_t journaled = c.entered_history.size();
    size_t unjournaled = 0;
    for (const auto& id : history_in_order) {
      if (c.delivered.count(id) || c.wrapped.count(id)) continue;
      if (!model.in_flight) {
        CHECK(false, "kill %d: %s history holds %s, never delivered or wrapped", kill, ch.c_str(),
              id.c_str());
        continue;
      }
      ++unjournaled;
      if (model.in_flight_kind == "wrap") {
        c.wrapped.insert(id);
      } else {
        c.delivered.insert(id);
        c.delivered_at[id] = c.entered_history.size();
        c.buffered.erase(id);
      }
      c.entered_history.push_back(id);
    }
    // The newest journaled entries are all there, except as many as the
    // in-flight operation may have evicted by adding its own.
    size_t must_hold = std::min(journaled, capacity);
    must_hold = must_hold > unjournaled ? must_hold - unjournaled : 0;
    for (size_t i = journaled - must_hold; i < journaled; ++i) {
      const std::string& id = c.entered_history[i];
      CHECK(history.count(id), "kill %d: %s history lost %s, one of its %zu newest", kill,
            ch.c_str(), id.c_str(), must_hold);
    }
    const size_t dedup_window = sds::crash::AliceConfig().dedup_window;
    CHECK(data->meta.delivered.size() <= dedup_window, "kill %d: %s duplicate window holds %zu",
          kill, ch.c_str(), data->meta.delivered.size());
    if (c.entered_history.size() > capacity) history_evicted = true;
    if (c.delivered.size() > capacity + dedup_window) dedup_evicted = true;
    for (auto it = c.unacked.begin(); it != c.unacked.end();) {
      if (outgoing.count(*it)) {
        ++it;
      } else if (excuse) {
        it = c.unacked.erase(it);  // acknowledged by the operation in flight
      } else {
        CHECK(false, "kill %d: %s unacknowledged %s not in outgoing buffer", kill, ch.c_str(),
              it->c_str());
        ++it;
      }
    }
    for (auto it = c.buffered.begin(); it != c.buffered.end();) {
      auto stored = incoming.find(it->first);
      if (stored != incoming.end()) {
        for (const auto& dep : stored->second) {
          CHECK(it->second.count(dep), "kill %d: %s buffered %s waits for unreported %s", kill,
                ch.c_str(), it->first.c_str(), dep.c_str());
        }
        it->second = stored->second;
        ++it;
      } else if (excuse && history.count(it->first)) {
        c.delivered.insert(it->first);  // delivered by the operation in flight
        it = c.buffered.erase(it);
      } else {
        CHECK(false, "kill %d: %s buffered %s is neither buffered nor delivered", kill, ch.c_str(),
              it->first.c_str());
        ++it;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int kills = argc > 1 ? std::stoi(argv[1]) : 200;
  const uint64_t seed = argc > 2 ? std::stoull(argv[2]) : 20240601;
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("sds_crash_" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/alice.db";
  const std::string journal = dir + "/journal.txt";
  const std::string wires = dir + "/bob_wires.bin";
  std::mt19937_64 rng(seed);
  Model model;
  auto started = std::chrono::steady_clock::now();
  size_t facts = 0;
  // KILLS kills at least; on a slow machine the workers get less done per
  // life, so go on (up to 4 x KILLS) until both windows have evicted and a
  // delivered message came back, which the checks below require.
  auto exercised = [] { return history_evicted && dedup_evicted && duplicates_of_delivered > 0; };
  int kill = 0;
  for (; (kill < kills || (!exercised() && kill < 4 * kills)) && failures == 0; ++kill) {
    std::string worker_seed = std::to_string(rng() % 1'000'000'000);
    pid_t pid = fork();
    if (pid == 0) {
      execl(SDS_CRASH_WORKER, SDS_CRASH_WORKER, db.c_str(), journal.c_str(), wires.c_str(),
            worker_seed.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int delay_ms = static_cast<int>(rng() % 120) + 5;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      std::fprintf(stderr, "worker exited on its own (status %d) at kill %d\n", status, kill);
      ++failures;
      break;
    }
    ReadJournal(journal, model);
    Check(db, model, kill);
    facts = model.lines;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  size_t delivered = 0, wrapped = 0;
  for (const auto& [ch, c] : model.channels) {
    delivered += c.delivered.size();
    wrapped += c.wrapped.size();
  }
  // The run must have exercised eviction, or the history checks above said
  // little (a full run evicts both windows; a short one at least the history).
  CHECK(history_evicted || kills < 20, "no channel ever evicted from its history");
  CHECK(dedup_evicted || kills < 150, "no channel ever evicted from its duplicate window");
  CHECK(duplicates_of_delivered > 0 || kills < 20,
        "no delivered message was ever sent to alice again: the no-second-delivery check "
        "proved nothing");
  std::printf(
      "crash test: %d kills, %zu journal lines, %zu wrapped, %zu delivered (none twice within "
      "the windows; %zu repeats refused, %zu accepted after leaving them), "
      "history evicted: %s, duplicate window evicted: %s, %.1f s, seed %llu: %s\n",
      kill, facts, wrapped, delivered, duplicates_of_delivered, forgotten_and_delivered_again,
      history_evicted ? "yes" : "no", dedup_evicted ? "yes" : "no", seconds,
      static_cast<unsigned long long>(seed), failures == 0 ? "ok" : "FAILED");
  if (failures == 0) std::filesystem::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
