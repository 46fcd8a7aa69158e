// The order of the local log per dialect (history_order.cc): delivery order
// in nim, (Lamport, id) in spec, and what that order decides: which ids the
// causal history carries and which one is evicted first.
#include <gtest/gtest.h>

#include <memory>
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

TEST(HistoryOrder, SpecDialectOrdersTheLogByLamportThenId) {
  Config config = SpecConfig("alice");
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

TEST(HistoryOrder, NimDialectKeepsDeliveryOrderAsNimSds) {
  Config config = NimConfig("alice");
  config.max_causal_history = 2;
  auto m = Make(config);
  DeliverOutOfOrder(*m, Dialect::kNim);
  EXPECT_EQ(m->History(kCh), (std::vector<MessageId>{"late", "tie-b", "tie-a", "mid"}));
}

TEST(HistoryOrder, SpecDialectEvictsTheLowestLamportFirst) {
  Config config = SpecConfig("alice");
  config.max_message_history = 3;
  auto m = Make(config);
  DeliverOutOfOrder(*m, Dialect::kSpec);
  EXPECT_EQ(m->History(kCh), (std::vector<MessageId>{"tie-b", "mid", "late"}));
  // Evicted from the history, still a duplicate.
  EXPECT_EQ(MustUnwrapOutcome(*m, Wire({.id = "tie-a", .lamport = 10}, Dialect::kSpec), kT0),
            UnwrapOutcome::kDuplicate);
}

TEST(HistoryOrder, SpecDialectOrderSurvivesRestart) {
  auto store = std::make_shared<MemoryStore>();
  {
    auto created = ReliabilityManager::Create(SpecConfig("alice"), store);
    ASSERT_TRUE(created.ok());
    DeliverOutOfOrder(**created, Dialect::kSpec);
  }
  auto created = ReliabilityManager::Create(SpecConfig("alice"), store);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE((*created)->EnsureChannel(kCh).ok());
  EXPECT_EQ((*created)->History(kCh), (std::vector<MessageId>{"tie-a", "tie-b", "mid", "late"}));
}

}  // namespace
}  // namespace sds
