// sds_crash_worker DB JOURNAL WIRES SEED: runs a random multi-channel
// exchange between alice (persisting to SqliteStore at DB) and bob (in
// memory) over a lossy, reordering in-process bus, until it is killed.
//
// Every message bob sends is also appended to WIRES; a new worker starts by
// queueing the newest kRedeliveredPerRestart of them for alice again, as a
// network that repeats itself across alice's restarts.
//
// After each operation of alice returns, the facts it observed are appended
// to JOURNAL (O_DSYNC), one line each, so the journal never claims more than
// happened:
//   I <kind>                 an operation of alice starts (wrap|unwrap|mdm|tick)
//   W <ch> <id>              alice wrapped id
//   D <ch> <id>              id delivered to alice (MessageReady): the app's
//                            durable record of the delivery, written before
//                            the worker does anything else
//   B <ch> <id> <dep,dep>    id buffered waiting for the listed dependencies
//   A <ch> <id>              alice's id acknowledged (or given up): out of the buffer
//   X <ch> <id>              a buffered id was dropped
//   R <ch> <id>              alice recognised id as a duplicate (kDuplicate)
//   L <ch> <lamport>         alice's clock after the operation
//   E                        the operation's facts are complete
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"
#include "tests/crash/crash_common.h"

namespace {

int journal_fd = -1;

void Journal(const std::string& line) {
  std::string out = line + "\n";
  if (::write(journal_fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    std::perror("journal write");
    std::_Exit(2);
  }
}

// WIRES: [u32 length, little-endian][bytes], appended; a torn last record is
// ignored.
int wires_fd = -1;

void ArchiveWire(const sds::SharedBytes& wire) {
  std::string record(4, '\0');
  const auto size = static_cast<uint32_t>(wire.size());
  for (int i = 0; i < 4; ++i) record[static_cast<size_t>(i)] = static_cast<char>(size >> (8 * i));
  record.append(reinterpret_cast<const char*>(wire.data()), wire.size());
  if (::write(wires_fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
    std::perror("wires write");
    std::_Exit(2);
  }
}

std::vector<sds::SharedBytes> NewestArchivedWires(const char* path, size_t count) {
  std::vector<sds::SharedBytes> wires;
  FILE* in = std::fopen(path, "rb");
  if (in == nullptr) return wires;
  for (;;) {
    unsigned char header[4];
    if (std::fread(header, 1, 4, in) != 4) break;
    const uint32_t size =
        header[0] | header[1] << 8 | header[2] << 16 | static_cast<uint32_t>(header[3]) << 24;
    sds::Bytes bytes(size);
    if (std::fread(bytes.data(), 1, size, in) != size) break;
    wires.emplace_back(std::move(bytes));
  }
  std::fclose(in);
  if (wires.size() > count)
    wires.erase(wires.begin(), wires.end() - static_cast<std::ptrdiff_t>(count));
  return wires;
}

sds::Timestamp Now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DB JOURNAL WIRES SEED\n", argv[0]);
    return 2;
  }
  const std::string seed = argv[4];
  journal_fd = ::open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_DSYNC, 0644);
  if (journal_fd < 0) {
    std::perror("journal open");
    return 2;
  }
  std::vector<sds::SharedBytes> repeated =
      NewestArchivedWires(argv[3], sds::crash::kRedeliveredPerRestart);
  wires_fd = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (wires_fd < 0) {
    std::perror("wires open");
    return 2;
  }
  auto store = sds::SqliteStore::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 3;
  }
  auto alice_or = sds::ReliabilityManager::Create(sds::crash::AliceConfig(), *store);
  sds::Config bob_config = sds::crash::AliceConfig();
  bob_config.participant_id = "bob-" + seed;
  auto bob_or = sds::ReliabilityManager::Create(bob_config);
  if (!alice_or.ok() || !bob_or.ok()) return 3;
  auto& alice = **alice_or;
  auto& bob = **bob_or;

  std::mt19937_64 rng(std::stoull(seed));
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const auto& channels = sds::crash::Channels();
  std::deque<sds::SharedBytes> to_alice, to_bob, late_to_alice;
  late_to_alice.insert(late_to_alice.end(), repeated.begin(), repeated.end());
  uint64_t n = 0;

  // Records what alice's operation produced, then closes it.
  auto finish = [&](const std::string& channel) {
    for (const sds::Event& event : alice.TakeEvents()) {
      if (auto* e = std::get_if<sds::MessageReady>(&event)) {
        if (e->kind == sds::MessageKind::kContent)
          Journal("D " + e->channel_id + " " + e->message_id);
      } else if (auto* a = std::get_if<sds::MessageAcknowledged>(&event)) {
        Journal("A " + a->channel_id + " " + a->message_id);
      } else if (auto* f = std::get_if<sds::SendFailed>(&event)) {
        Journal("A " + f->channel_id + " " + f->message_id);
      } else if (auto* x = std::get_if<sds::MessageDropped>(&event)) {
        Journal("X " + x->channel_id + " " + x->message_id);
      } else if (auto* s = std::get_if<sds::SyncMessageReady>(&event)) {
        to_bob.push_back(s->wire);
      } else if (auto* r = std::get_if<sds::RepairReady>(&event)) {
        to_bob.push_back(r->wire);
      }
    }
    for (const std::string& ch : channels) {
      if (!channel.empty() && ch != channel) continue;
      if (auto lamport = alice.Lamport(ch)) Journal("L " + ch + " " + std::to_string(*lamport));
    }
    Journal("E");
  };

  while (true) {
    const std::string& ch = channels[rng() % channels.size()];
    double r = std::uniform_real_distribution<double>(0, 1)(rng);
    if (r < 0.30) {
      std::string id = "a-" + seed + "-" + std::to_string(n++);
      Journal("I wrap");
      auto wire = alice.Wrap(ch, sds::ToBytes("hello " + id), id, Now());
      if (!wire.ok()) {
        std::fprintf(stderr, "wrap: %s\n", wire.status().ToString().c_str());
        return 4;
      }
      Journal("W " + ch + " " + id);
      finish(ch);
      if (!chance(0.3)) to_bob.push_back(*wire);
    } else if (r < 0.60) {
      std::string id = "b-" + seed + "-" + std::to_string(n++);
      auto wire = bob.Wrap(ch, sds::ToBytes("hi " + id), id, Now());
      bob.TakeEvents();
      if (!wire.ok()) return 4;
      ArchiveWire(*wire);
      (chance(0.25) ? late_to_alice : to_alice).push_back(*wire);
    } else if (r < 0.85 && (!to_alice.empty() || !late_to_alice.empty())) {
      auto& queue =
          (late_to_alice.empty() || chance(0.7)) && !to_alice.empty() ? to_alice : late_to_alice;
      size_t pick = rng() % queue.size();
      sds::SharedBytes wire = queue[pick];
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(pick));
      Journal("I unwrap");
      auto result = alice.Unwrap(wire, Now());
      if (!result.ok()) {
        std::fprintf(stderr, "unwrap: %s\n", result.status().ToString().c_str());
        return 4;
      }
      if (result->outcome == sds::UnwrapOutcome::kDuplicate) {
        Journal("R " + result->channel_id + " " + result->message_id);
      }
      if (result->outcome == sds::UnwrapOutcome::kBuffered) {
        std::string deps;
        for (const auto& dep : result->missing_dependencies) {
          deps += (deps.empty() ? "" : ",") + dep.message_id;
        }
        Journal("B " + result->channel_id + " " + result->message_id + " " + deps);
      }
      finish(result->channel_id);
    } else if (r < 0.93 && !to_bob.empty()) {
      sds::SharedBytes wire = to_bob.front();
      to_bob.pop_front();
      (void)bob.Unwrap(wire, Now());
      for (const sds::Event& event : bob.TakeEvents()) {
        if (auto* s = std::get_if<sds::SyncMessageReady>(&event)) to_alice.push_back(s->wire);
      }
    } else if (r < 0.96) {
      Journal("I tick");
      alice.Tick(Now());
      finish("");
    } else {
      if (!alice.HasChannel(ch)) continue;
      std::vector<sds::MessageId> ids = alice.IncomingBuffer(ch);
      if (ids.empty()) continue;
      // Pretend the app fetched one missing dependency elsewhere: take the
      // first buffered message's dependency from a bob message still lost.
      std::vector<sds::MessageId> met;
      for (const auto& wire : late_to_alice) {
        auto decoded = sds::DecodeAny(wire);
        if (decoded.ok() && decoded->message.channel_id == ch) {
          met.push_back(decoded->message.message_id);
          break;
        }
      }
      if (met.empty()) continue;
      Journal("I mdm");
      if (!alice.MarkDependenciesMet(ch, met, Now()).ok()) return 4;
      finish(ch);
    }
  }
}
