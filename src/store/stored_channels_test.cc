// Stored channels after a restart: the store lists them, the manager loads
// them at creation, and their resends, repair answers and sync messages
// happen on time although the application never names them again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"
#include "store/store_test_util.h"
#include "tests/testutil/engine.h"

namespace sds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing_store::FaultyStore;
using testing_store::MemoryBackend;
using testing_store::SqliteBackend;
using namespace testutil;  // NOLINT: the shared engine test vocabulary
using std::chrono::seconds;

template <typename Backend>
class StoredChannelsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReliabilityManager> Open(const Config& config) {
    std::shared_ptr<Store> store = backend_.Open();
    EXPECT_NE(store, nullptr);
    auto created = ReliabilityManager::Create(config, store);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? std::move(*created) : nullptr;
  }
  Backend backend_;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend>;
TYPED_TEST_SUITE(StoredChannelsTest, Backends);

TYPED_TEST(StoredChannelsTest, StoreListsEverySavedChannelAndForgetsDropped) {
  std::shared_ptr<Store> store = this->backend_.Open();
  ASSERT_NE(store, nullptr);
  auto empty = store->ListChannels();
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
  ChannelMetaDelta meta;
  meta.lamport = 3;
  ASSERT_TRUE(store->SaveChannelMeta("zeta", meta).ok());
  ASSERT_TRUE(store->SaveChannelMeta("alpha", meta).ok());
  HistoryUpdate history;  // history written before the channel's first meta save
  Bytes body = Wire({.id = "h1", .channel = "mid"});
  history.append.push_back(HistoryAppend{"h1", SharedBytes(body), {}});
  ASSERT_TRUE(store->UpdateHistory("mid", history).ok());
  auto listed = store->ListChannels();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, ElementsAre("alpha", "mid", "zeta"));
  ASSERT_TRUE(store->DropChannel("mid").ok());
  listed = store->ListChannels();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, ElementsAre("alpha", "zeta"));
}

// The reproduction: restart, call nothing but Tick, and the
// unacknowledged message is resent on time.
TYPED_TEST(StoredChannelsTest, RestartResendsOnTimeWithNothingButTick) {
  Config config = NimConfig("alice");
  config.resend_interval = seconds{60};
  {
    auto m = this->Open(config);
    ASSERT_NE(m, nullptr);
    MustWrap(*m, "a1", kT0, "quiet");
    MustWrap(*m, "b1", kT0 + seconds{5}, "other");
  }
  this->backend_.Close();
  auto m = this->Open(config);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->NextDeadline(), kT0 + seconds{60});
  EXPECT_EQ(m->Tick(kT0 + seconds{59}), kT0 + seconds{60});
  EXPECT_THAT(Names(*m), IsEmpty());
  EXPECT_EQ(m->Tick(kT0 + seconds{60}), kT0 + seconds{65});
  EXPECT_THAT(Names(*m), ElementsAre("rebroadcast:quiet/a1:1"));
  m->Tick(kT0 + seconds{65});
  EXPECT_THAT(Names(*m), ElementsAre("rebroadcast:other/b1:1"));
}

// A repair answer and a sync message that were due when the process stopped
// go out after the restart, again without naming the channel.
TYPED_TEST(StoredChannelsTest, RestartAnswersRepairsAndSyncsWithNothingButTick) {
  Config config = NimConfig("alice");
  config.repair_t_min = seconds{0};
  config.repair_t_max = seconds{10};
  config.sync_message_interval = seconds{30};
  {
    auto m = this->Open(config);
    ASSERT_NE(m, nullptr);
    MustWrap(*m, "a1", kT0);
    // bob asks for a1 (we are its sender: we answer at once) and sends news.
    MustUnwrap(*m,
               Wire({.id = "b1",
                     .causal = {E("a1", "alice")},
                     .sender = "bob",
                     .repair = {E("a1", "alice")}}),
               kT0);
    m->TakeEvents();
  }
  this->backend_.Close();
  auto m = this->Open(config);
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->NextDeadline(), kNoDeadline);
  Timestamp now = kT0;
  std::vector<std::string> names;
  for (int i = 0; i < 10 && now <= kT0 + seconds{30}; ++i) {
    now = std::max(now, m->NextDeadline());
    if (now > kT0 + seconds{30}) break;
    m->Tick(now);
    for (const std::string& name : Names(*m)) names.push_back(name);
  }
  EXPECT_THAT(names, ::testing::Contains("repair:a1"));
  EXPECT_THAT(names, ::testing::Contains("sync"));
}

// TryReset drops every stored channel, also those no operation touched since
// the restart.
TYPED_TEST(StoredChannelsTest, TryResetDropsChannelsNotTouchedSinceRestart) {
  Config config = NimConfig("alice");
  {
    auto m = this->Open(config);
    ASSERT_NE(m, nullptr);
    MustWrap(*m, "a1", kT0, "one");
    MustWrap(*m, "a2", kT0, "two");
  }
  this->backend_.Close();
  {
    auto m = this->Open(config);
    ASSERT_NE(m, nullptr);
    EXPECT_THAT(m->Channels(), ElementsAre("one", "two"));
    ASSERT_TRUE(m->TryReset().ok());
  }
  this->backend_.Close();
  auto m = this->Open(config);
  ASSERT_NE(m, nullptr);
  EXPECT_THAT(m->Channels(), IsEmpty());
  EXPECT_EQ(m->NextDeadline(), kNoDeadline);
  MustWrap(*m, "a1", kT0, "one");  // the id is free again
}

TEST(StoredChannels, CreateFailsWhenTheStoreCannotList) {
  auto store = std::make_shared<FaultyStore>(std::make_shared<MemoryStore>());
  store->SetFailing(StoreOperation::kListChannels, true);
  auto created = ReliabilityManager::Create(NimConfig("alice"), store);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kPersistence);
  store->ClearFailures();
  EXPECT_TRUE(ReliabilityManager::Create(NimConfig("alice"), store).ok());
}

TEST(StoredChannels, CreateFailsWhenAStoredChannelCannotLoad) {
  auto inner = std::make_shared<MemoryStore>();
  {
    auto created = ReliabilityManager::Create(NimConfig("alice"), inner);
    ASSERT_TRUE(created.ok());
    MustWrap(**created, "a1", kT0);
  }
  auto store = std::make_shared<FaultyStore>(inner);
  store->SetFailing(StoreOperation::kLoadChannel, true);
  auto created = ReliabilityManager::Create(NimConfig("alice"), store);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), ErrorCode::kPersistence);
}

}  // namespace
}  // namespace sds
