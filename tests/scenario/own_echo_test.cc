// Own echoes over a transport that hands every broadcast to every subscriber,
// the sender included (as Waku relay does), with the default empty
// participant_id: our own messages coming back must not acknowledge our
// unacknowledged messages, stop resends or SendFailed, or deliver our own
// ephemeral messages to us; a peer's messages still do all of that.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using namespace testutil;  // NOLINT: the shared engine test vocabulary
using std::chrono::seconds;

// Broadcasts reach every attached manager, the sender first.
class EchoingTransport {
 public:
  void Attach(ReliabilityManager* m) { members_.push_back(m); }
  void Broadcast(ByteSpan wire, Timestamp now) {
    for (ReliabilityManager* m : members_) {
      auto result = m->Unwrap(wire, now);
      ASSERT_TRUE(result.ok()) << result.status().ToString();
    }
  }

 private:
  std::vector<ReliabilityManager*> members_;
};

Config EchoConfig(Dialect dialect) {
  Config config = Config::ForDialect(dialect);  // participant_id stays empty
  config.bloom_ack_threshold = 1;
  config.resend_interval = seconds{10};
  config.max_resend_attempts = 2;
  config.sync_message_interval = seconds{5};
  return config;
}

// Runs Tick on `m` until `until`, broadcasting what it hands back.
std::vector<std::string> RunAlone(ReliabilityManager& m, EchoingTransport& bus, Timestamp from,
                                  Timestamp until) {
  std::vector<std::string> names;
  for (Timestamp now = from; now <= until; now += seconds{1}) {
    m.Tick(now);
    for (Event& event : m.TakeEvents()) {
      names.push_back(Describe(event));
      if (auto* resend = std::get_if<RebroadcastDue>(&event)) bus.Broadcast(resend->wire, now);
      if (auto* sync = std::get_if<SyncMessageReady>(&event)) bus.Broadcast(sync->wire, now);
    }
  }
  return names;
}

class OwnEcho : public ::testing::TestWithParam<Dialect> {};

TEST_P(OwnEcho, OwnMessagesEchoedBackAcknowledgeNothing) {
  auto alice = Make(EchoConfig(GetParam()));
  EchoingTransport bus;
  bus.Attach(alice.get());

  SharedBytes m1 = MustWrap(*alice, "m1", kT0);
  bus.Broadcast(m1, kT0);
  auto sync = alice->MakeSyncMessage(kCh, "sync-1", kT0);
  ASSERT_TRUE(sync.ok());
  bus.Broadcast(*sync, kT0);  // lists m1 in its causal history and bloom filter
  EXPECT_TRUE(Names(*alice).empty());
  EXPECT_EQ(alice->OutgoingBuffer(kCh), std::vector<MessageId>{"m1"});

  // Nobody else heard m1: it is resent, then given up on, echoes and all.
  std::vector<std::string> names = RunAlone(*alice, bus, kT0, kT0 + seconds{40});
  EXPECT_EQ(std::count(names.begin(), names.end(), "rebroadcast:m1:1"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "rebroadcast:m1:2"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "failed:m1:2"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ack:m1"), 0);
  for (const std::string& name : names) EXPECT_NE(name.rfind("ready:", 0), 0u) << name;
}

TEST_P(OwnEcho, PeerMessagesStillAcknowledgeOverTheSameTransport) {
  auto alice = Make(EchoConfig(GetParam()));
  auto bob = Make(EchoConfig(GetParam()));
  ASSERT_TRUE(bob->EnsureChannel(kCh).ok());  // bob subscribes to the channel
  EchoingTransport bus;
  bus.Attach(alice.get());
  bus.Attach(bob.get());

  bus.Broadcast(MustWrap(*alice, "m1", kT0), kT0);
  EXPECT_EQ(Names(*bob), std::vector<std::string>{"ready:m1"});
  auto sync = alice->MakeSyncMessage(kCh, "sync-1", kT0);
  ASSERT_TRUE(sync.ok());
  bus.Broadcast(*sync, kT0);
  EXPECT_TRUE(Names(*alice).empty());
  bob->TakeEvents();

  // Bob's sync lists m1 too, and it is his: it acknowledges m1.
  auto bob_sync = bob->MakeSyncMessage(kCh, "sync-b", kT0 + seconds{3});
  ASSERT_TRUE(bob_sync.ok());
  bus.Broadcast(*bob_sync, kT0 + seconds{3});
  EXPECT_EQ(Names(*alice), std::vector<std::string>{"ack:m1"});
}

TEST(OwnEchoSpec, OwnEphemeralMessagesAreNotDeliveredBack) {
  auto alice = Make(EchoConfig(Dialect::kSpec));
  auto bob = Make(EchoConfig(Dialect::kSpec));
  ASSERT_TRUE(bob->EnsureChannel(kCh).ok());
  EchoingTransport bus;
  bus.Attach(alice.get());
  bus.Attach(bob.get());
  auto typing = alice->WrapEphemeral(kCh, ToBytes("typing"), "e1", kT0);
  ASSERT_TRUE(typing.ok());
  bus.Broadcast(*typing, kT0);
  EXPECT_TRUE(Names(*alice).empty());
  EXPECT_EQ(Names(*bob), std::vector<std::string>{"ready:e1"});
}

INSTANTIATE_TEST_SUITE_P(BothDialects, OwnEcho, ::testing::Values(Dialect::kNim, Dialect::kSpec),
                         [](const auto& param_info) {
                           return std::string(DialectName(param_info.param));
                         });

}  // namespace
}  // namespace sds
