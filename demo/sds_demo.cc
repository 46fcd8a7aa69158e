// sds demo: four participants chat over a lossy, reordering network on
// virtual time, and the engine makes every message arrive in causal order.
//
//   sds_demo [--dialect nim|spec] [--loss 0.2] [--seed 7] [--messages 40]
//
// Prints, per participant, what it sent, delivered, saw acknowledged, resent
// and gave up on, then a one-line summary. The run is deterministic.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim/network.h"

namespace {

struct Options {
  sds::Dialect dialect = sds::Dialect::kNim;
  double loss = 0.2;
  uint64_t seed = 7;
  int messages = 40;  // per participant
};

bool ParseOptions(int argc, char** argv, Options& options) {
  // Options come in pairs: "--name value".
  for (int i = 1; i < argc; i += 2) {
    std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") return false;
    if (value == nullptr) return false;
    if (arg == "--dialect") {
      if (std::strcmp(value, "nim") == 0) {
        options.dialect = sds::Dialect::kNim;
      } else if (std::strcmp(value, "spec") == 0) {
        options.dialect = sds::Dialect::kSpec;
      } else {
        return false;
      }
    } else if (arg == "--loss") {
      options.loss = std::atof(value);
      if (options.loss < 0 || options.loss >= 1) return false;
    } else if (arg == "--seed") {
      options.seed = std::strtoull(value, nullptr, 10);
    } else if (arg == "--messages") {
      options.messages = std::atoi(value);
      if (options.messages < 1) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: sds_demo [--dialect nim|spec] [--loss 0..1] [--seed N] [--messages N]\n");
    return 2;
  }
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const sds::Timestamp start = sds::TimestampFromUnixMillis(1'800'000'000'000);
  sds::sim::LinkOptions link;
  link.loss = options.loss;
  link.min_delay = milliseconds{20};
  link.max_delay = milliseconds{800};  // wide spread: plenty of reordering
  link.seed = options.seed;
  sds::sim::Network network(link, start);

  const std::vector<std::string> names = {"alice", "bob", "carol", "dave"};
  for (const std::string& name : names) {
    sds::Config config = sds::Config::ForDialect(options.dialect);
    config.participant_id = name;
    config.resend_interval = seconds{10};
    config.max_resend_attempts = 3;
    config.sync_message_interval = seconds{5};
    config.repair_t_min = seconds{1};
    config.repair_t_max = seconds{10};
    config.max_repair_attempts = 6;
    auto index = network.AddParticipant(config);
    if (!index.ok()) {
      std::fprintf(stderr, "cannot create %s: %s\n", name.c_str(),
                   index.status().ToString().c_str());
      return 1;
    }
  }

  // Everyone chats for two virtual minutes at random moments.
  std::mt19937_64 schedule(options.seed * 7919 + 1);
  std::uniform_int_distribution<int64_t> moment(0, 120'000);
  for (size_t who = 0; who < names.size(); ++who) {
    for (int n = 0; n < options.messages; ++n) {
      network.ScheduleSend(start + milliseconds{moment(schedule)}, who, "general",
                           names[who] + " says #" + std::to_string(n));
    }
  }
  network.RunUntil(start + std::chrono::minutes{10});

  std::printf("sds demo: %zu participants, dialect %s, %.0f%% loss, 20-800 ms delay, seed %llu\n\n",
              names.size(), sds::DialectName(options.dialect), options.loss * 100,
              static_cast<unsigned long long>(options.seed));
  std::printf("%-6s %5s %9s %6s %6s %7s %6s %6s %7s %10s\n", "who", "sent", "delivered", "acked",
              "resent", "failed", "syncs", "repair", "dropped", "KB on wire");
  uint64_t expected = 0, delivered = 0, failed = 0, resent = 0, bytes = 0;
  for (size_t i = 0; i < network.size(); ++i) {
    const sds::sim::ParticipantStats& s = network.Stats(i);
    std::printf("%-6s %5llu %9llu %6llu %6llu %7llu %6llu %6llu %7llu %10.1f\n",
                network.Name(i).c_str(), (unsigned long long)s.sent,
                (unsigned long long)s.delivered, (unsigned long long)s.acknowledged,
                (unsigned long long)s.rebroadcasts, (unsigned long long)s.send_failed,
                (unsigned long long)s.syncs_sent, (unsigned long long)s.repairs_sent,
                (unsigned long long)s.dropped, static_cast<double>(s.bytes_broadcast) / 1024.0);
    delivered += s.delivered;
    failed += s.send_failed;
    resent += s.rebroadcasts;
    bytes += s.bytes_broadcast;
    expected += network.AllSent().size() - s.sent;
  }
  std::printf(
      "\nsummary: %llu of %llu deliveries (%.1f%%) despite %.0f%% loss; %llu resends, "
      "%llu sends failed, %.1f KB per application message on the wire\n",
      (unsigned long long)delivered, (unsigned long long)expected,
      expected ? 100.0 * static_cast<double>(delivered) / static_cast<double>(expected) : 100.0,
      options.loss * 100, (unsigned long long)resent, (unsigned long long)failed,
      static_cast<double>(bytes) / 1024.0 /
          static_cast<double>(std::max<size_t>(network.AllSent().size(), 1)));
  return delivered == expected ? 0 : 1;
}
