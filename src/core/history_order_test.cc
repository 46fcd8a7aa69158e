// The order of the local log (history_order.cc, Config::history_order):
// delivery order by default, (Lamport, id) as the specification when asked,
// and what that order decides: which ids the causal history carries and which
// one is evicted first.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sds/config.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using namespace testutil;  // NOLINT: the shared engine test vocabulary

// Three peers' messages, delivered out of Lamport order, one Lamport tie.
void DeliverOutOfOrder(ReliabilityManager& m, Dialect dialect) {
  ASSERT_EQ(MustUnwrapOutcome(m, Wire({.id = "late", .lamport = 30}, dialect), kT0),
            UnwrapOutcome::kDelivered);
  ASSERT_EQ(MustUnwrapOutcome(m, Wire({.id = "tie-b", .lamport = 10}, dialect), kT0),
            UnwrapOutcome::kDelivered);
  ASSERT_EQ(MustUnwrapOutcome(m, Wire({.id = "tie-a", .lamport = 10}, dialect), kT0),
            UnwrapOutcome::kDelivered);
  ASSERT_EQ(MustUnwrapOutcome(m, Wire({.id = "mid", .lamport = 20}, dialect), kT0),
            UnwrapOutcome::kDelivered);
}

Config LamportOrdered() {
  Config config = SpecConfig("alice");
  config.history_order = HistoryOrder::kLamport;
  return config;
}

TEST(HistoryOrder, LamportOrderSortsTheLogByLamportThenId) {
  Config config = LamportOrdered();
  config.max_causal_history = 2;
  auto m = Make(config);
  DeliverOutOfOrder(*m, Dialect::kSpec);
  EXPECT_EQ(m->History(kCh), (std::vector<MessageId>{"tie-a", "tie-b", "mid", "late"}));
  // The causal history is the newest by Lamport, as @waku/sds sends it.
  SharedBytes wire = MustWrap(*m, "own", kT0);
  EXPECT_EQ(Ids(Decoded(wire, Dialect::kSpec).causal_history),
            (std::vector<MessageId>{"mid", "late"}));
  EXPECT_EQ(m->History(kCh).back(), "own");
}

TEST(HistoryOrder, DeliveryOrderIsTheDefaultInBothDialects) {
  for (Dialect dialect : {Dialect::kNim, Dialect::kSpec}) {
    Config config = dialect == Dialect::kNim ? NimConfig("alice") : SpecConfig("alice");
    EXPECT_EQ(config.history_order, HistoryOrder::kDelivery);
    config.max_causal_history = 2;
    auto m = Make(config);
    DeliverOutOfOrder(*m, dialect);
    EXPECT_EQ(m->History(kCh), (std::vector<MessageId>{"late", "tie-b", "tie-a", "mid"}));
  }
}

// Why delivery order is the default: a message that reaches us late (a
// resend, a repair) with an old timestamp is named in our next causal
// history, so a peer that missed it too learns that it exists; under Lamport
// order it is out of the window at once.
TEST(HistoryOrder, ALateMessageIsAdvertisedOnlyUnderDeliveryOrder) {
  for (HistoryOrder order : {HistoryOrder::kDelivery, HistoryOrder::kLamport}) {
    Config config = SpecConfig("alice");
    config.history_order = order;
    config.max_causal_history = 2;
    auto m = Make(config);
    for (int i = 1; i <= 3; ++i) {
      MustUnwrapOutcome(
          *m, Wire({.id = "on-time-" + std::to_string(i), .lamport = 100 + i}, Dialect::kSpec),
          kT0);
    }
    ASSERT_EQ(MustUnwrapOutcome(*m, Wire({.id = "repaired", .lamport = 5}, Dialect::kSpec), kT0),
              UnwrapOutcome::kDelivered);
    std::vector<MessageId> advertised =
        Ids(Decoded(MustWrap(*m, "own", kT0), Dialect::kSpec).causal_history);
    const bool named =
        std::find(advertised.begin(), advertised.end(), "repaired") != advertised.end();
    EXPECT_EQ(named, order == HistoryOrder::kDelivery);
  }
}

TEST(HistoryOrder, LamportOrderEvictsTheLowestLamportFirst) {
  Config config = LamportOrdered();
  config.max_message_history = 3;
  auto m = Make(config);
  DeliverOutOfOrder(*m, Dialect::kSpec);
  EXPECT_EQ(m->History(kCh), (std::vector<MessageId>{"tie-b", "mid", "late"}));
  // Evicted from the history, still a duplicate.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "tie-a", .lamport = 10}, Dialect::kSpec), kT0),
            UnwrapOutcome::kDuplicate);
}

TEST(HistoryOrder, LamportOrderSurvivesRestart) {
  auto store = std::make_shared<MemoryStore>();
  {
    auto created = ReliabilityManager::Create(LamportOrdered(), store);
    ASSERT_TRUE(created.ok());
    DeliverOutOfOrder(**created, Dialect::kSpec);
  }
  auto created = ReliabilityManager::Create(LamportOrdered(), store);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE((*created)->EnsureChannel(kCh).ok());
  EXPECT_EQ((*created)->History(kCh), (std::vector<MessageId>{"tie-a", "tie-b", "mid", "late"}));
}

}  // namespace
}  // namespace sds
