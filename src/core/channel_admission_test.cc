// Remote limits: which channels a peer's message may create, how many, and
// when an idle one is reclaimed; and bloom-filter hits counted once per
// distinct message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sds/config.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace testutil;  // NOLINT: the shared engine test vocabulary
using std::chrono::seconds;

Bytes On(const ChannelId& channel, const MessageId& id) {
  return Wire({.id = id, .channel = channel, .sender = "mallory"});
}

TEST(ChannelAdmission, DefaultAdmitsOnlyTheApplicationsChannels) {
  Config config;
  config.participant_id = "alice";
  EXPECT_EQ(config.channel_admission, ChannelAdmission::kLocal);
  auto m = Make(config);
  auto rejected = m->Unwrap(On("unknown", "x1"), kT0);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), ErrorCode::kUnknownChannel);
  EXPECT_THAT(m->Channels(), IsEmpty());
  EXPECT_EQ(m->PendingEventCount(), 0u);

  ASSERT_TRUE(m->EnsureChannel("subscribed").ok());  // subscribing admits it
  EXPECT_EQ(MustUnwrapOutcome(*m, On("subscribed", "x2"), kT0), UnwrapOutcome::kDelivered);
  MustWrap(*m, "a1", kT0, "mine");  // so does sending on it
  EXPECT_EQ(MustUnwrapOutcome(*m, On("mine", "x3"), kT0), UnwrapOutcome::kDelivered);
  EXPECT_THAT(m->Channels(), ElementsAre("mine", "subscribed"));
}

// With a store, a rejected channel is not persisted either.
TEST(ChannelAdmission, RejectedChannelsAreNotStored) {
  auto store = std::make_shared<MemoryStore>();
  Config config = NimConfig("alice");
  config.channel_admission = ChannelAdmission::kLocal;
  auto created = ReliabilityManager::Create(config, store);
  ASSERT_TRUE(created.ok());
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE((*created)->Unwrap(On("junk" + std::to_string(i), "x"), kT0).ok());
  }
  auto listed = store->ListChannels();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, IsEmpty());
}

// nim-sds's create-on-first-use: a peer flooding random channel ids fills at
// most max_remote_channels, and the application keeps room for its own.
TEST(ChannelAdmission, PeerCannotCrowdOutTheApplicationUnderAny) {
  Config config = NimConfig("alice");
  config.channel_admission = ChannelAdmission::kAny;
  config.limits.max_channels = 8;
  config.limits.max_remote_channels = 4;
  auto m = Make(config);
  int admitted = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = m->Unwrap(On("random-" + std::to_string(i), "x"), kT0);
    admitted += r.ok() ? 1 : 0;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(admitted, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(m->EnsureChannel("own-" + std::to_string(i)).ok()) << i;
  }
  EXPECT_EQ(m->Channels().size(), 8u);
}

TEST(ChannelAdmission, IdleRemoteChannelsAreReclaimedActiveAndOwnOnesKept) {
  Config config = NimConfig("alice");
  config.channel_admission = ChannelAdmission::kAny;
  config.limits.max_remote_channels = 2;
  config.remote_channel_idle_timeout = seconds{60};
  auto store = std::make_shared<MemoryStore>();
  auto created = ReliabilityManager::Create(config, store);
  ASSERT_TRUE(created.ok());
  ReliabilityManager& m = **created;
  std::vector<std::string> logs;
  m.SetLogger([&](LogLevel, std::string_view text) { logs.emplace_back(text); });
  logs.clear();

  MustUnwrap(m, On("r1", "x1"), kT0);
  MustUnwrap(m, On("r2", "x2"), kT0 + seconds{10});
  // Neither is idle yet: the newcomer is refused, nothing is evicted.
  EXPECT_FALSE(m.Unwrap(On("r3", "x3"), kT0 + seconds{30}).ok());
  EXPECT_THAT(m.Channels(), ElementsAre("r1", "r2"));
  // r1 has been idle for 61 s: it makes room (and leaves the store).
  MustUnwrap(m, On("r3", "x3"), kT0 + seconds{61});
  EXPECT_THAT(m.Channels(), ElementsAre("r2", "r3"));
  EXPECT_FALSE(store->HasChannel("r1"));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_THAT(logs[0], ::testing::HasSubstr("reclaimed channel r1"));
  // The application sends on r2: it is its own now (which frees a slot for
  // peers) and never reclaimed, although it is the idlest.
  MustWrap(m, "a1", kT0 + seconds{62}, "r2");
  MustUnwrap(m, On("r4", "x4"), kT0 + seconds{200});
  EXPECT_THAT(m.Channels(), ElementsAre("r2", "r3", "r4"));
  MustUnwrap(m, On("r5", "x5"), kT0 + seconds{300});
  EXPECT_THAT(m.Channels(), ElementsAre("r2", "r4", "r5"));
  EXPECT_THAT(logs.back(), ::testing::HasSubstr("reclaimed channel r3"));
}

// @waku/sds's threshold of 2 bloom hits means two peers' statements: one sync
// message received twice (a relay echo, a rebroadcast) is one.
TEST(BloomHitsPerDistinctMessage, OneSyncReceivedTwiceCountsOnce) {
  Config config = SpecConfig("alice");
  ASSERT_EQ(config.bloom_ack_threshold, 2);
  auto m = Make(config);
  MustWrap(*m, "a1", kT0);
  m->TakeEvents();
  const Bytes sync = Wire({.id = "s1",
                           .content = std::nullopt,
                           .sender = "bob",
                           .bloom = BloomWith({"a1"}, Dialect::kSpec)},
                          Dialect::kSpec);
  MustUnwrap(*m, sync, kT0);
  MustUnwrap(*m, sync, kT0 + seconds{1});
  EXPECT_THAT(Names(*m), ElementsAre("possibly:a1:1"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), ElementsAre("a1"));
  const Bytes other = Wire({.id = "s2",
                            .content = std::nullopt,
                            .sender = "carol",
                            .bloom = BloomWith({"a1"}, Dialect::kSpec)},
                           Dialect::kSpec);
  MustUnwrap(*m, other, kT0 + seconds{2});
  EXPECT_THAT(Names(*m), ElementsAre("ack:a1"));
  EXPECT_THAT(m->OutgoingBuffer(kCh), IsEmpty());
}

}  // namespace
}  // namespace sds
