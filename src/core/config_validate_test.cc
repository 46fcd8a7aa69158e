// Config::Validate against configurations that make the engine busy-loop,
// overflow its deadlines or send what peers reject, and the property behind
// it: with any validated configuration the engine's next deadline is always
// in the future and the messages it produces are bounded by what caused them.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "sds/config.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using namespace testutil;  // NOLINT: the shared engine test vocabulary

TEST(ConfigValidate, RejectsBusyLoopsOverflowsAndWhatPeersReject) {
  const std::vector<std::pair<const char*, void (*)(Config&)>> cases = {
      {"max_repair_requests 0", [](Config& c) { c.max_repair_requests = 0; }},
      {"max_repair_requests over the decode limit",
       [](Config& c) { c.max_repair_requests = c.limits.decode.max_repair_request + 1; }},
      {"repair_t_max 0", [](Config& c) { c.repair_t_max = Duration::zero(); }},
      {"num_response_groups 0", [](Config& c) { c.num_response_groups = 0; }},
      {"resend_interval INT64_MAX", [](Config& c) { c.resend_interval = Duration::max(); }},
      {"sync interval INT64_MAX", [](Config& c) { c.sync_message_interval = Duration::max(); }},
      {"t_min INT64_MAX", [](Config& c) { c.repair_t_min = Duration::max(); }},
      {"t_max INT64_MAX", [](Config& c) { c.repair_t_max = Duration::max(); }},
      {"resend just over the cap",
       [](Config& c) { c.resend_interval = Config::kMaxInterval + Duration{1}; }},
      {"causal history over the decode limit",
       [](Config& c) { c.max_causal_history = c.limits.decode.max_causal_history + 1; }},
      {"bloom geometry over max_bloom_bytes", [](Config& c) { c.bloom_filter_capacity = 200'000; }},
      {"bloom geometry over a lowered max_bloom_bytes",
       [](Config& c) { c.limits.decode.max_bloom_bytes = 10'000; }},
      {"nim roll-over growth over max_bloom_bytes",
       [](Config& c) {
         c.bloom_roll_over = BloomRollOver::kNimSds;
         c.limits.decode.max_bloom_bytes = 20'000;  // 18,768 fits, 22,520 does not
       }},
      {"absurd bloom capacity", [](Config& c) { c.bloom_filter_capacity = INT64_MAX; }},
      {"participant id leaving no room for sync message ids",
       [](Config& c) { c.participant_id.assign(c.limits.decode.max_id_bytes - 40, 'p'); }},
  };
  for (const auto& [name, mutate] : cases) {
    Config config;
    mutate(config);
    EXPECT_EQ(config.Validate().code(), ErrorCode::kInvalidArgument) << name;
  }
  // The largest accepted values still leave deadline arithmetic in range.
  Config edge;
  edge.resend_interval = Config::kMaxInterval;
  edge.sync_message_interval = Config::kMaxInterval;
  edge.repair_t_min = Config::kMaxInterval;
  edge.repair_t_max = Config::kMaxInterval;
  edge.max_repair_requests = edge.limits.decode.max_repair_request;
  edge.max_causal_history = edge.limits.decode.max_causal_history;
  edge.repair_t_max = Duration{1};
  EXPECT_TRUE(edge.Validate().ok()) << edge.Validate().ToString();
  Config fixed;  // the default fixed geometry (18,768 bytes) fits 20,000
  fixed.limits.decode.max_bloom_bytes = 20'000;
  EXPECT_TRUE(fixed.Validate().ok()) << fixed.Validate().ToString();
}

int CountSyncs(const std::vector<Event>& events) {
  int n = 0;
  for (const Event& e : events) n += std::holds_alternative<SyncMessageReady>(e) ? 1 : 0;
  return n;
}

// State saved while a participant id was configured holds SDS-R requests;
// reloaded without an id they can never be sent. They must not be "due" for
// ever, which made every Tick return a past deadline and produce a sync.
TEST(ConfigBusyLoop, RepairStateReloadedWithoutParticipantIdDoesNotSpin) {
  auto store = std::make_shared<MemoryStore>();
  Config with_id = NimConfig("alice");
  with_id.repair_t_min = std::chrono::seconds{1};
  with_id.repair_t_max = std::chrono::seconds{60};
  {
    auto created = ReliabilityManager::Create(with_id, store);
    ASSERT_TRUE(created.ok());
    auto& m = **created;
    MustUnwrap(m, Wire({.id = "b2", .causal = {E("b1", "bob")}, .sender = "bob"}), kT0);
    ASSERT_EQ(State(m).outgoing_repair.size(), 1u);
  }
  Config without_id = with_id;
  without_id.participant_id.clear();
  auto created = ReliabilityManager::Create(without_id, store);
  ASSERT_TRUE(created.ok());
  auto& m = **created;
  ASSERT_TRUE(m.EnsureChannel(kCh).ok());
  // The request is due (T_req < 60 s) and not yet expired (T_max after it).
  Timestamp now = kT0 + std::chrono::seconds{61};
  int ticks = 0;
  int syncs = 0;
  for (; ticks < 100; ++ticks) {
    const Timestamp next = m.Tick(now);
    syncs += CountSyncs(m.TakeEvents());
    if (next == kNoDeadline) break;
    ASSERT_GT(next, now) << "tick " << ticks;
    now = next;
  }
  EXPECT_LE(syncs, 1);  // at most the one sync_due the channel saved
  EXPECT_LT(ticks, 100);
}

// More requests due at once than one message may carry: the rest wait for a
// later message instead of keeping the deadline at `now`.
TEST(ConfigBusyLoop, RequestsBeyondOneMessageAreDeferredNotDueNow) {
  Config config = NimConfig("alice");
  config.repair_t_min = std::chrono::seconds{10};
  config.repair_t_max = std::chrono::seconds{10};  // every request due at the same instant
  config.max_repair_requests = 1;
  auto m = Make(config);
  MustUnwrap(*m,
             Wire({.id = "b9",
                   .causal = {E("b1", "bob"), E("b2", "bob"), E("b3", "bob"), E("b4", "bob")},
                   .sender = "bob"}),
             kT0);
  m->TakeEvents();
  Timestamp now = kT0 + std::chrono::seconds{10};
  for (int i = 0; i < 20; ++i) {
    const Timestamp next = m->Tick(now);
    if (next == kNoDeadline) break;
    ASSERT_GT(next, now) << "tick " << i;
    now = next;
  }
}

// ---- The property --------------------------------------------------------------------------

struct Counters {
  int64_t content_received = 0;
  int64_t missing_reported = 0;
  int64_t wraps = 0;
  int64_t repair_entries_received = 0;
  int64_t syncs = 0;
  int64_t rebroadcasts = 0;
  int64_t repairs_sent = 0;
};

Config RandomConfig(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto ms = [&](int64_t lo, int64_t hi) { return Duration{pick(lo, hi)}; };
  const bool spec = pick(0, 1) == 1;
  Config c = Config::ForDialect(spec ? Dialect::kSpec : Dialect::kNim);
  if (pick(0, 3) != 0) c.participant_id = "me";
  c.lamport_unit = pick(0, 1) ? LamportUnit::kSeconds : LamportUnit::kMilliseconds;
  c.bloom_filter_capacity = pick(1, 2000);
  c.bloom_ack_threshold = static_cast<int>(pick(1, 3));
  c.max_message_history = static_cast<size_t>(pick(1, 50));
  c.max_causal_history = static_cast<size_t>(pick(0, 12));
  c.dedup_window = static_cast<size_t>(pick(0, 100));
  c.resend_interval = ms(1, 600'000);
  c.max_resend_attempts = static_cast<int>(pick(0, 8));
  c.sync_message_interval = pick(0, 4) == 0 ? Duration::zero() : ms(1, 300'000);
  c.repair_t_min = ms(0, 60'000);
  c.repair_t_max = pick(0, 1) ? ms(1, 5) : ms(1, 300'000);
  c.num_response_groups = static_cast<int>(pick(1, 4));
  c.max_repair_requests = static_cast<size_t>(pick(1, 5));
  c.max_repair_attempts = static_cast<int>(pick(1, 5));
  c.repair_requests_in_sync_messages = pick(0, 1) == 1;
  c.repair_request_timer =
      pick(0, 1) ? RepairRequestTimer::kUniform : RepairRequestTimer::kTruncatedExponential;
  c.repair_group_size_estimate = pick(1, 1000);
  c.limits.max_repair_buffer = static_cast<size_t>(pick(1, 50));
  c.limits.max_outgoing_buffer = static_cast<size_t>(pick(1, 50));
  c.limits.max_incoming_buffer = static_cast<size_t>(pick(1, 50));
  return c;
}

void Count(const std::vector<Event>& events, Counters& counters) {
  for (const Event& e : events) {
    if (std::holds_alternative<SyncMessageReady>(e)) ++counters.syncs;
    if (std::holds_alternative<RebroadcastDue>(e)) ++counters.rebroadcasts;
    if (std::holds_alternative<RepairReady>(e)) ++counters.repairs_sent;
  }
}

TEST(ConfigProperty, EveryValidatedConfigMovesForwardAndNeverFloods) {
  constexpr int kSeeds = 60;
  constexpr auto kRun = std::chrono::hours{3};
  int validated = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    const Config config = RandomConfig(rng);
    if (!config.Validate().ok()) continue;
    ++validated;
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto m = Make(config);
    ASSERT_TRUE(m->EnsureChannel(kCh).ok());
    const Dialect dialect = config.dialect;
    auto pick = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    Counters counters;
    std::vector<MessageId> ours;
    int peer_seq = 0;
    Timestamp now = kT0;
    Timestamp next_input = kT0;
    Timestamp deadline = kNoDeadline;
    const Timestamp end = kT0 + kRun;
    int64_t ticks = 0;
    while (now < end) {
      if (now >= next_input) {
        const int64_t action = pick(0, 9);
        if (action < 3) {
          const MessageId id = "m" + std::to_string(counters.wraps++);
          MustWrap(*m, id, now);
          ours.push_back(id);
        } else {
          // The peer's next message; some of its predecessors never arrive.
          Msg msg;
          msg.sender = "peer";
          msg.lamport = peer_seq + 1;
          for (int back = 1; back <= 3 && peer_seq - back >= 0; ++back) {
            msg.causal.push_back(E("p" + std::to_string(peer_seq - back), "peer"));
          }
          if (!ours.empty() && pick(0, 1)) msg.causal.push_back(E(ours.back(), "me"));
          if (!ours.empty() && pick(0, 2) == 0) {
            msg.repair.push_back(
                E(ours[static_cast<size_t>(pick(0, static_cast<int64_t>(ours.size() - 1)))], "me"));
          }
          const bool sync = action == 9;
          if (sync) {
            msg.id = "s" + std::to_string(peer_seq);
            msg.content = dialect == Dialect::kNim ? std::optional<std::string>("")
                                                   : std::optional<std::string>();
            if (!ours.empty()) msg.bloom = BloomWith({ours.back()}, dialect);
          } else {
            msg.id = "p" + std::to_string(peer_seq);
          }
          ++peer_seq;
          const bool lost = !sync && pick(0, 3) == 0;
          if (!lost) {
            counters.repair_entries_received += static_cast<int64_t>(msg.repair.size());
            UnwrapResult r = MustUnwrap(*m, Wire(msg, dialect), now);
            if (!sync) ++counters.content_received;
            counters.missing_reported += static_cast<int64_t>(r.missing_dependencies.size());
          }
        }
        next_input = now + Duration{pick(1, 120'000)};
      }
      deadline = m->Tick(now);
      ++ticks;
      Count(m->TakeEvents(), counters);
      ASSERT_EQ(deadline, m->NextDeadline());
      ASSERT_GT(deadline, now) << "the next deadline does not move forward";
      now = std::min(deadline, next_input);
    }
    // Every message the engine produced on its own has a cause, bounded.
    EXPECT_LE(counters.syncs,
              counters.content_received + counters.missing_reported * config.max_repair_attempts)
        << "sync flood";
    EXPECT_LE(counters.rebroadcasts, counters.wraps * config.max_resend_attempts);
    EXPECT_LE(counters.repairs_sent, counters.repair_entries_received);
    // A tick is either an input or something due; never a spin.
    EXPECT_LE(ticks, 2 * (counters.wraps + peer_seq) + counters.syncs + counters.rebroadcasts +
                         counters.repairs_sent +
                         counters.missing_reported * (config.max_repair_attempts + 2) +
                         counters.wraps * (config.max_resend_attempts + 1) + 10);
  }
  EXPECT_GT(validated, kSeeds / 2);
}

}  // namespace
}  // namespace sds
