// Test helpers for Store implementations: a fault-injecting decorator and
// factories that open a fresh store and "restart" it (reopen the same data).
#ifndef SDS_STORE_STORE_TEST_UTIL_H_
#define SDS_STORE_STORE_TEST_UTIL_H_

#include <unistd.h>
#include <array>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "sds/memory_store.h"
#include "sds/sqlite_store.h"
#include "sds/store.h"

namespace sds::testing_store {

// Forwards to `inner`; any operation can be made to fail, and calls are counted.
class FaultyStore : public Store {
 public:
  explicit FaultyStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}
  void SetFailing(StoreOperation op, bool failing) { failing_[Index(op)] = failing; }
  void ClearFailures() { failing_.fill(false); }
  size_t CallCount(StoreOperation op) const { return calls_[Index(op)]; }
  Store& inner() { return *inner_; }

  Result<ChannelData> LoadChannel(const ChannelId& ch) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kLoadChannel));
    return inner_->LoadChannel(ch);
  }
  Status SaveChannelMeta(const ChannelId& ch, const ChannelMetaDelta& d) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSaveChannelMeta));
    return inner_->SaveChannelMeta(ch, d);
  }
  Status UpdateHistory(const ChannelId& ch, const HistoryUpdate& u) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kUpdateHistory));
    return inner_->UpdateHistory(ch, u);
  }
  Result<std::vector<ChannelId>> ListChannels() override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kListChannels));
    return inner_->ListChannels();
  }
  Status DropChannel(const ChannelId& ch) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kDropChannel));
    return inner_->DropChannel(ch);
  }
  Status SetRetrievalHint(const ChannelId& ch, const MessageId& id, ByteSpan hint) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSetRetrievalHint));
    return inner_->SetRetrievalHint(ch, id, hint);
  }
  Status SaveCatchUpCursor(ByteSpan store_id, const ChannelId& ch, ByteSpan cursor) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kSaveCatchUpCursor));
    return inner_->SaveCatchUpCursor(store_id, ch, cursor);
  }
  Result<std::vector<StoredCatchUpCursor>> LoadCatchUpCursors(ByteSpan store_id) override {
    SDS_RETURN_IF_ERROR(Enter(StoreOperation::kLoadCatchUpCursors));
    return inner_->LoadCatchUpCursors(store_id);
  }
  void BeginOp() override { inner_->BeginOp(); }
  Status CommitOp() override {
    Status injected = Enter(StoreOperation::kCommitOp);
    Status committed = inner_->CommitOp();
    // An injected commit failure must not leave a partial write behind in a
    // store that applies writes at once: the test only injects it where the
    // engine's reaction is checked, not the stored content.
    return injected.ok() ? committed : injected;
  }

 private:
  static size_t Index(StoreOperation op) { return static_cast<size_t>(op); }
  Status Enter(StoreOperation op) {
    ++calls_[Index(op)];
    if (failing_[Index(op)]) {
      return Status(ErrorCode::kPersistence,
                    std::string("injected backend failure: ") + StoreOperationName(op));
    }
    return Status::Ok();
  }
  std::shared_ptr<Store> inner_;
  std::array<bool, kStoreOperationCount> failing_{};
  std::array<size_t, kStoreOperationCount> calls_{};
};

// A unique path in the temp directory, removed (with WAL files) on destruction.
class TempDb {
 public:
  TempDb() {
    static std::atomic<int> counter{0};
    path_ =
        (std::filesystem::temp_directory_path() /
         ("sds_store_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".db"))
            .string();
    Remove();
  }
  ~TempDb() { Remove(); }
  const std::string& path() const { return path_; }
  void Remove() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::error_code ec;
      std::filesystem::remove(path_ + suffix, ec);
    }
  }

 private:
  std::string path_;
};

struct MemoryBackend {
  static constexpr const char* kName = "memory";
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::shared_ptr<Store> Open() { return store; }
  void Close() {}
};

struct SqliteBackend {
  static constexpr const char* kName = "sqlite";
  TempDb db;
  std::shared_ptr<Store> Open() {
    auto opened = SqliteStore::Open(db.path());
    if (!opened.ok()) return nullptr;
    return *opened;
  }
  void Close() {}
};

}  // namespace sds::testing_store

#endif  // SDS_STORE_STORE_TEST_UTIL_H_
