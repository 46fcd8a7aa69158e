// Delivery against an oracle: random message graphs, resends, marks and ticks
// over many seeds, configurations and operation mixes. The oracle knows which
// ids were delivered or marked and what the engine promises to remember:
// the last max(dedup_window, max_message_history) delivered ids and as many
// marked ids. It predicts every Unwrap outcome and checks every delivery:
//   - no id is delivered while it is remembered as delivered or marked
//     (in particular never twice while it is still in the history);
//   - a message is delivered only after every id of its causal history was
//     delivered or marked (causal order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "sds/codec.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using namespace testutil;  // NOLINT: the shared engine test vocabulary

// A window of ids in first-insertion order, as the engine's duplicate window.
class Window {
 public:
  explicit Window(size_t capacity) : capacity_(capacity) {}
  bool Contains(const MessageId& id) const { return ids_.count(id) != 0; }
  void Insert(const MessageId& id) {
    if (Contains(id)) return;
    order_.push_back(id);
    ids_.insert(id);
    while (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  const std::deque<MessageId>& order() const { return order_; }

 private:
  size_t capacity_;
  std::unordered_set<MessageId> ids_;
  std::deque<MessageId> order_;
};

struct Shape {
  const char* name;
  size_t max_message_history;
  size_t dedup_window;
  size_t max_incoming_buffer;
};

// Relative weights of the operations of one run.
struct Mix {
  const char* name;
  int new_message;  // unwrap the next message of the graph
  int resend;       // unwrap any earlier message again
  int recent;       // unwrap a message delivered lately (a resend we must catch)
  int mark;         // MarkDependenciesMet on a few ids
  int tick;         // advance virtual time
  int peer_sync;    // a peer's sync listing a few ids
};

struct GraphMessage {
  MessageId id;
  std::vector<MessageId> deps;
  Bytes wire;
};

std::vector<GraphMessage> MakeGraph(std::mt19937_64& rng, Dialect dialect, int count) {
  std::vector<GraphMessage> graph;
  for (int i = 0; i < count; ++i) {
    GraphMessage m;
    m.id = "m" + std::to_string(i);
    std::set<MessageId> deps;
    const int wanted = static_cast<int>(rng() % 4);
    for (int d = 0; d < wanted && i > 0; ++d) {
      // Mostly recent messages, sometimes anything earlier.
      int back = rng() % 4 == 0 ? static_cast<int>(rng() % i) : static_cast<int>(rng() % 3);
      int dep = std::max(0, i - 1 - back);
      deps.insert(graph[dep].id);
    }
    m.deps.assign(deps.begin(), deps.end());
    Msg msg;
    msg.id = m.id;
    msg.lamport = i + 1;
    msg.sender = "p" + std::to_string(rng() % 3);
    for (const MessageId& dep : m.deps) msg.causal.push_back(E(dep));
    msg.content = "content of " + m.id;
    m.wire = Wire(msg, dialect);
    graph.push_back(std::move(m));
  }
  return graph;
}

// What the engine must remember: the delivered window, the marked window and
// the history, whose order (so which entry is evicted) is Config::history_order.
class Oracle {
 public:
  Oracle(size_t window, size_t history, HistoryOrder order)
      : delivered_(window), marked_(window), history_capacity_(history), order_(order) {}
  bool Remembered(const MessageId& id) const {
    return delivered_.Contains(id) || marked_.Contains(id) || in_history_.count(id) != 0;
  }
  void Delivered(const MessageId& id, LamportTime lamport) {
    delivered_.Insert(id);
    ever_.insert(id);
    // Delivery order, or (Lamport, id). The first entry leaves first.
    history_.emplace(order_ == HistoryOrder::kLamport ? lamport : sequence_, id);
    ++sequence_;
    in_history_.insert(id);
    while (history_.size() > history_capacity_) {
      in_history_.erase(history_.begin()->second);
      history_.erase(history_.begin());
    }
  }
  void Marked(const MessageId& id) {
    if (Remembered(id)) return;
    marked_.Insert(id);
    ever_.insert(id);
  }
  bool EverKnown(const MessageId& id) const { return ever_.count(id) != 0; }
  const std::deque<MessageId>& recent() const { return delivered_.order(); }

 private:
  Window delivered_;
  Window marked_;
  size_t history_capacity_;
  HistoryOrder order_;
  int64_t sequence_ = 0;
  std::set<std::pair<int64_t, MessageId>> history_;
  std::unordered_set<MessageId> in_history_;
  std::unordered_set<MessageId> ever_;
};

void RunOne(uint64_t seed, Dialect dialect, HistoryOrder order, const Shape& shape,
            const Mix& mix) {
  SCOPED_TRACE(std::string("seed ") + std::to_string(seed) + ", " + DialectName(dialect) +
               (order == HistoryOrder::kLamport ? " lamport-ordered" : "") + ", shape " +
               shape.name + ", mix " + mix.name);
  std::mt19937_64 rng(seed);
  Config config = Config::ForDialect(dialect);
  config.history_order = order;
  config.participant_id = seed % 2 ? "r" : "";
  config.max_message_history = shape.max_message_history;
  config.dedup_window = shape.dedup_window;
  config.limits.max_incoming_buffer = shape.max_incoming_buffer;
  config.max_causal_history = 3;
  config.bloom_filter_capacity = 64;
  config.sync_message_interval = std::chrono::seconds{5};
  config.repair_t_min = std::chrono::seconds{1};
  config.repair_t_max = std::chrono::seconds{10};
  auto manager = Make(config);
  ReliabilityManager& m = *manager;
  ASSERT_TRUE(m.EnsureChannel(kCh).ok());

  const std::vector<GraphMessage> graph = MakeGraph(rng, dialect, 60);
  std::unordered_map<MessageId, const GraphMessage*> by_id;
  for (const GraphMessage& g : graph) by_id[g.id] = &g;
  Oracle oracle(std::max(shape.dedup_window, shape.max_message_history), shape.max_message_history,
                order);

  Timestamp now = kT0;
  size_t next = 0;
  int external = 0;
  const int total = mix.new_message + mix.resend + mix.recent + mix.mark + mix.tick + mix.peer_sync;

  auto check_events = [&]() {
    for (Event& event : m.TakeEvents()) {
      auto* ready = std::get_if<MessageReady>(&event);
      if (ready == nullptr || ready->kind != MessageKind::kContent) continue;
      const MessageId& id = ready->message_id;
      ASSERT_FALSE(oracle.Remembered(id)) << id << " delivered again";
      auto g = by_id.find(id);
      ASSERT_NE(g, by_id.end()) << id;
      for (const MessageId& dep : g->second->deps) {
        ASSERT_TRUE(oracle.EverKnown(dep)) << id << " delivered before its dependency " << dep;
      }
      oracle.Delivered(id, ready->lamport_timestamp);
    }
  };

  auto unwrap = [&](const GraphMessage& g) {
    const std::vector<MessageId> buffered = m.IncomingBuffer(kCh);
    const bool is_buffered = std::find(buffered.begin(), buffered.end(), g.id) != buffered.end();
    UnwrapOutcome expected = UnwrapOutcome::kDelivered;
    if (oracle.Remembered(g.id) || is_buffered) {
      expected = UnwrapOutcome::kDuplicate;
    } else {
      for (const MessageId& dep : g.deps) {
        if (!oracle.Remembered(dep)) expected = UnwrapOutcome::kBuffered;
      }
    }
    auto result = m.Unwrap(g.wire, now);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(static_cast<int>(result->outcome), static_cast<int>(expected)) << g.id;
  };

  for (int op = 0; op < 400; ++op) {
    int pick = static_cast<int>(rng() % total);
    if ((pick -= mix.new_message) < 0) {
      if (next < graph.size()) unwrap(graph[next++]);
    } else if ((pick -= mix.resend) < 0) {
      if (next > 0) unwrap(graph[rng() % next]);
    } else if ((pick -= mix.recent) < 0) {
      const auto& recent = oracle.recent();
      if (!recent.empty()) unwrap(*by_id.at(recent[rng() % recent.size()]));
    } else if ((pick -= mix.mark) < 0) {
      // One id per call: the oracle then knows which mark released what.
      const int count = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < count; ++i) {
        MessageId id = rng() % 3 == 0 ? "ext" + std::to_string(external++)  // never sent
                                      : graph[rng() % graph.size()].id;     // any state
        std::vector<MessageId> ids = {id};
        ASSERT_TRUE(m.MarkDependenciesMet(kCh, ids, now).ok());
        oracle.Marked(id);
        check_events();
      }
    } else if ((pick -= mix.tick) < 0) {
      now += std::chrono::milliseconds(static_cast<int64_t>(rng() % 20'000));
      m.Tick(now);
    } else {
      Msg sync;
      sync.id = "sync" + std::to_string(op);
      sync.lamport = 1;
      sync.sender = "p9";
      sync.content = dialect == Dialect::kNim ? std::optional<std::string>("") : std::nullopt;
      for (int i = 0; i < 3 && !graph.empty(); ++i) {
        sync.causal.push_back(E(graph[rng() % graph.size()].id));
      }
      ASSERT_TRUE(m.Unwrap(Wire(sync, dialect), now).ok());
    }
    check_events();
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(DeliveryDifferential, NoDoubleDeliveryAndCausalOrderAgainstOracle) {
  const Shape shapes[] = {
      {"history 3, dedup 0, buffer 4", 3, 0, 4}, {"history 1, dedup 0, buffer 2", 1, 0, 2},
      {"history 8, dedup 2", 8, 2, 1000},        {"history 4, dedup 12", 4, 12, 1000},
      {"history 50, dedup 200", 50, 200, 1000},
  };
  const Mix mixes[] = {
      {"balanced", 4, 2, 2, 2, 1, 1},
      {"marks", 3, 1, 2, 6, 1, 0},
      {"resends", 3, 4, 4, 1, 1, 1},
  };
  for (const Shape& shape : shapes) {
    for (const Mix& mix : mixes) {
      const std::pair<Dialect, HistoryOrder> variants[] = {
          {Dialect::kNim, HistoryOrder::kDelivery},
          {Dialect::kSpec, HistoryOrder::kDelivery},
          {Dialect::kSpec, HistoryOrder::kLamport}};
      for (const auto& [dialect, order] : variants) {
        for (uint64_t seed = 1; seed <= 40; ++seed) {
          RunOne(seed, dialect, order, shape, mix);
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
}

// The two ways the engine used to deliver a message twice, each on its own.

TEST(DeliveryDedup, MarksDoNotPushDeliveredIdsOutOfTheDuplicateCheck) {
  Config config = NimConfig("r");
  config.max_message_history = 2;
  config.dedup_window = 0;
  auto m = Make(config);
  const Bytes a = Wire({.id = "a"});
  ASSERT_EQ(MustUnwrapOutcome(*m, a, kT0), UnwrapOutcome::kDelivered);
  std::vector<MessageId> marks = {"x1", "x2", "x3", "x4"};
  ASSERT_TRUE(m->MarkDependenciesMet(kCh, marks, kT0).ok());
  EXPECT_EQ(m->History(kCh), std::vector<MessageId>{"a"});
  EXPECT_EQ(MustUnwrapOutcome(*m, a, kT0), UnwrapOutcome::kDuplicate);
  std::vector<std::string> names = Names(*m);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ready:a"), 1);
}

TEST(DeliveryDedup, MarkedBufferedMessageIsNeverDelivered) {
  auto m = Make(NimConfig("r"));
  const Bytes b = Wire({.id = "b", .causal = {E("a")}});
  ASSERT_EQ(MustUnwrapOutcome(*m, b, kT0), UnwrapOutcome::kBuffered);
  std::vector<MessageId> marks = {"b"};
  m->TakeEvents();
  ASSERT_TRUE(m->MarkDependenciesMet(kCh, marks, kT0).ok());
  EXPECT_TRUE(m->IncomingBuffer(kCh).empty());
  // The application learns that the copy it was told about is gone.
  EXPECT_EQ(Names(*m), std::vector<std::string>{"dropped:b"});
  ASSERT_EQ(MustUnwrapOutcome(*m, Wire({.id = "a"}), kT0), UnwrapOutcome::kDelivered);
  EXPECT_EQ(MustUnwrapOutcome(*m, b, kT0), UnwrapOutcome::kDuplicate);
  std::vector<std::string> names = Names(*m);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ready:b"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ready:a"), 1);
}

}  // namespace
}  // namespace sds
