// sds demo: four participants chat over a lossy, reordering network on
// virtual time, and the engine makes every message arrive in causal order.
//
//   sds_demo [--dialect nim|spec] [--loss 0.2] [--seed 7] [--messages 40]
//            [--bloom-wire right|fixed] [--sync-policy jittered|after-receipt|unacked]
//
// Prints, per participant, what it sent, delivered, saw acknowledged, resent
// and gave up on, then a one-line summary and what the network carried per
// application message: the content messages split into payload, bloom
// filter, causal history and other fields, then sync messages and resends /
// repairs. The run is deterministic.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "sds/codec.h"

#include "sim/network.h"

namespace {

struct Options {
  sds::Dialect dialect = sds::Dialect::kNim;
  double loss = 0.2;
  uint64_t seed = 7;
  int messages = 40;  // per participant
  sds::BloomWireSize bloom_wire = sds::BloomWireSize::kRightSized;
  sds::SyncPolicy sync_policy = sds::SyncPolicy::kJitteredAfterReceipt;
};

// Bytes broadcast (once per publish, not per receiver), by field.
struct Traffic {
  uint64_t messages = 0, bytes = 0, payload = 0, bloom = 0, history = 0;
  // The field sizes come from encoding the message again without them.
  void Add(const sds::Message& message, sds::Dialect dialect, size_t wire_size) {
    sds::Message stripped = message;
    stripped.bloom_filter.reset();
    const size_t without_bloom = sds::Encode(stripped, dialect).size();
    stripped.causal_history.clear();
    const size_t without_history = sds::Encode(stripped, dialect).size();
    ++messages;
    bytes += wire_size;
    payload += message.content ? message.content->size() : 0;
    bloom += wire_size > without_bloom ? wire_size - without_bloom : 0;
    history += without_bloom - without_history;
  }
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
    } else if (arg == "--bloom-wire") {
      if (std::strcmp(value, "right") == 0) {
        options.bloom_wire = sds::BloomWireSize::kRightSized;
      } else if (std::strcmp(value, "fixed") == 0) {
        options.bloom_wire = sds::BloomWireSize::kFixed;
      } else {
        return false;
      }
    } else if (arg == "--sync-policy") {
      if (std::strcmp(value, "jittered") == 0) {
        options.sync_policy = sds::SyncPolicy::kJitteredAfterReceipt;
      } else if (std::strcmp(value, "unacked") == 0) {
        options.sync_policy = sds::SyncPolicy::kUnacknowledgedReceipts;
      } else if (std::strcmp(value, "after-receipt") == 0) {
        options.sync_policy = sds::SyncPolicy::kAfterReceipt;
      } else {
        return false;
      }
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
                 "usage: sds_demo [--dialect nim|spec] [--loss 0..1] [--seed N] [--messages N]\n"
                 "                [--bloom-wire right|fixed] [--sync-policy "
                 "jittered|after-receipt|unacked]\n");
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
    config.bloom_wire_size = options.bloom_wire;
    config.sync_policy = options.sync_policy;
    auto index = network.AddParticipant(config);
    if (!index.ok()) {
      std::fprintf(stderr, "cannot create %s: %s\n", name.c_str(),
                   index.status().ToString().c_str());
      return 1;
    }
  }

  Traffic content, syncs, again;  // again: resends and SDS-R repairs
  std::unordered_set<sds::MessageId> seen;
  network.SetBroadcastObserver([&](size_t, const sds::SharedBytes& wire, const sds::MessageId& id) {
    auto decoded = sds::DecodeAny(wire);
    if (!decoded.ok()) return;
    Traffic& traffic = id == "sync" ? syncs : seen.insert(id).second ? content : again;
    traffic.Add(decoded->message, decoded->dialect, wire.size());
  });

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
  const double app = static_cast<double>(std::max<size_t>(network.AllSent().size(), 1));
  auto per = [&](uint64_t b) { return static_cast<double>(b) / app; };
  std::printf(
      "bytes per application message (bloom filter %s, sync policy %s):\n"
      "  content %.0f = payload %.0f + bloom %.0f + causal history %.0f + other %.0f\n"
      "  sync %.0f (%llu messages), resend and repair %.0f (%llu messages); total %.0f\n",
      options.dialect == sds::Dialect::kSpec             ? "fixed (spec dialect)"
      : options.bloom_wire == sds::BloomWireSize::kFixed ? "fixed"
                                                         : "right-sized",
      options.sync_policy == sds::SyncPolicy::kAfterReceipt             ? "after-receipt"
      : options.sync_policy == sds::SyncPolicy::kUnacknowledgedReceipts ? "unacked"
                                                                        : "jittered",
      per(content.bytes), per(content.payload), per(content.bloom), per(content.history),
      per(content.bytes - content.payload - content.bloom - content.history), per(syncs.bytes),
      (unsigned long long)syncs.messages, per(again.bytes), (unsigned long long)again.messages,
      per(content.bytes + syncs.bytes + again.bytes));
  return delivered == expected ? 0 : 1;
}
