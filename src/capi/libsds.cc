// The libsds.h entry points: check arguments as nim-sds does, copy them, and
// hand a request to the manager's worker. No protocol logic lives here.
//
// Handles are not pointers to managers but serial numbers looked up in a
// registry, so a handle that was cleaned up can never reach another manager,
// even one allocated at the same address.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "capi/config_json.h"
#include "capi/manager.h"
#include "capi/payloads.h"
#include "libsds.h"
#include "sds/log.h"
#include "sds/sqlite_store.h"

namespace sds::capi {
namespace {

// Registry of live managers. Intentionally never destroyed: managers still
// alive at exit keep running threads that must not see it go away.
class Registry {
 public:
  static Registry& Get() {
    static Registry* registry = new Registry();
    return *registry;
  }

  void* Add(std::shared_ptr<Manager> manager) {
    std::lock_guard<std::mutex> lock(mu_);
    // Never 0, never reused, 16-aligned like a heap pointer would be.
    const uintptr_t handle = kFirstHandle + 16 * next_++;
    managers_.emplace(handle, std::move(manager));
    return reinterpret_cast<void*>(handle);
  }

  std::shared_ptr<Manager> Find(void* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = managers_.find(reinterpret_cast<uintptr_t>(ctx));
    return it == managers_.end() ? nullptr : it->second;
  }

  std::shared_ptr<Manager> Remove(void* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = managers_.find(reinterpret_cast<uintptr_t>(ctx));
    if (it == managers_.end()) return nullptr;
    std::shared_ptr<Manager> manager = std::move(it->second);
    managers_.erase(it);
    return manager;
  }

 private:
  static constexpr uintptr_t kFirstHandle = 0x5d50000;
  std::mutex mu_;
  uintptr_t next_ = 0;
  std::unordered_map<uintptr_t, std::shared_ptr<Manager>> managers_;
};

// Reports a synchronous error: the callback fires on the calling thread.
// Texts are string literals, so they stay valid after the callback returns.
int Fail(SdsCallBack callback, void* user_data, const char* text) {
  callback(RET_ERR, text, std::strlen(text), user_data);
  return RET_ERR;
}

constexpr char kNullMessage[] = "libsds error: message pointer is NULL but length > 0";
constexpr char kNullMessageId[] = "libsds error: message ID pointer is NULL";
constexpr char kNullChannelId[] = "libsds error: channel ID pointer is NULL";
constexpr char kEmptyChannelId[] = "libsds error: channel ID is empty string";
constexpr char kNullMessageIds[] = "libsds error: MessageIDs pointer is NULL but count > 0";
constexpr char kCleanedUp[] = "libsds error: reliability manager was cleaned up";
constexpr char kCleanupFromCallback[] =
    "libsds error: a manager cannot be cleaned up from its own callback";
constexpr char kOutOfMemory[] = "libsds error: out of memory";

int CheckChannelId(const char* channel_id, SdsCallBack callback, void* user_data) {
  if (channel_id == nullptr) return Fail(callback, user_data, kNullChannelId);
  if (channel_id[0] == '\0') return Fail(callback, user_data, kEmptyChannelId);
  return RET_OK;
}

// Queues `request` on the manager behind `ctx`. Invalid ctx: RET_ERR without
// a callback (nim-sds's behaviour for a context it does not know).
int Dispatch(void* ctx, Request request) {
  std::shared_ptr<Manager> manager = Registry::Get().Find(ctx);
  if (!manager) return RET_ERR;
  SdsCallBack callback = request.callback;
  void* user_data = request.user_data;
  if (!manager->Submit(std::move(request))) return Fail(callback, user_data, kCleanedUp);
  return RET_OK;
}

// Runs an entry point's body, turning an exception (only std::bad_alloc can
// occur) into nim-sds's dispatch failure.
template <typename Body>
int Guard(SdsCallBack callback, void* user_data, Body body) {
  try {
    return body();
  } catch (...) {
    return Fail(callback, user_data, kOutOfMemory);
  }
}

Request MakeRequest(const char* name, SdsCallBack callback, void* user_data) {
  Request request;
  request.name = name;
  request.callback = callback;
  request.user_data = user_data;
  return request;
}

// The engine for `options`: with "storePath", on the SQLite store, opened
// here on the calling thread so that every reason it cannot be used (an
// unwritable directory, a file that is not ours, one locked by another
// manager, a newer schema) fails creation synchronously.
Result<std::unique_ptr<ReliabilityManager>> CreateEngine(const ManagerOptions& options) {
  // The engine draws no randomness: its timer jitter comes from here. Only
  // the manager's worker thread runs the engine, so the generator needs no lock.
  Config config = options.config;
  config.random = [rng = std::make_shared<std::mt19937_64>(std::random_device{}())] {
    return (*rng)();
  };
  if (options.store_path.empty()) return ReliabilityManager::Create(config);
  auto store = SqliteStore::Open(options.store_path);
  if (!store.ok()) return store.status();
  auto engine = ReliabilityManager::Create(config, std::move(*store));
  if (!engine.ok()) return engine.status();
  // Store failures the engine survives (a save that will be retried with the
  // next one) have no caller to return to; nim-sds logs them too.
  (*engine)->SetLogger([](LogLevel level, std::string_view message) {
    if (level < LogLevel::kWarning) return;
    std::fprintf(stderr, "libsds %s: %.*s\n", LogLevelName(level), static_cast<int>(message.size()),
                 message.data());
  });
  return engine;
}

void* CreateManager(const char* participant_id, const char* config_json, SdsCallBack callback,
                    void* user_data) {
  if (callback == nullptr) return nullptr;
  try {
    auto options =
        ParseManagerOptions(participant_id ? participant_id : "", config_json ? config_json : "");
    auto engine = options.ok() ? CreateEngine(*options)
                               : Result<std::unique_ptr<ReliabilityManager>>(options.status());
    if (!engine.ok()) {
      const std::string text = "Failed creating reliability manager: " + engine.status().message();
      callback(RET_ERR, text.c_str(), text.size(), user_data);
      return nullptr;
    }
    auto manager = std::make_shared<Manager>(std::move(*engine), std::move(*options));
    void* handle = Registry::Get().Add(manager);  // valid before the first callback
    manager->Start(callback, user_data);
    return handle;
  } catch (const std::exception& e) {
    const std::string text = std::string("Failed creating reliability manager: ") + e.what();
    callback(RET_ERR, text.c_str(), text.size(), user_data);
    return nullptr;
  }
}

}  // namespace
}  // namespace sds::capi

using sds::Bytes;
using sds::ByteSpan;
using sds::Result;
using sds::Timestamp;
using sds::capi::CheckChannelId;
using sds::capi::Dispatch;
using sds::capi::Fail;
using sds::capi::Guard;
using sds::capi::MakeRequest;
using sds::capi::Manager;
using sds::capi::Registry;

extern "C" {

SDS_EXPORT void* SdsNewReliabilityManager(SdsCallBack callback, void* userData) {
  return sds::capi::CreateManager(nullptr, nullptr, callback, userData);
}

SDS_EXPORT void* SdsNewReliabilityManagerWithConfig(const char* participantId,
                                                    const char* configJson, SdsCallBack callback,
                                                    void* userData) {
  return sds::capi::CreateManager(participantId, configJson, callback, userData);
}

SDS_EXPORT void SdsSetEventCallback(void* ctx, SdsCallBack callback, void* userData) {
  if (auto manager = Registry::Get().Find(ctx)) manager->SetEventCallback(callback, userData);
}

SDS_EXPORT void SdsSetRetrievalHintProvider(void* ctx, SdsRetrievalHintProvider callback,
                                            void* userData) {
  if (auto manager = Registry::Get().Find(ctx)) {
    manager->SetRetrievalHintProvider(callback, userData);
  }
}

SDS_EXPORT int SdsCleanupReliabilityManager(void* ctx, SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  std::shared_ptr<Manager> manager = Registry::Get().Find(ctx);
  if (!manager) return RET_ERR;
  // Joining the worker from the worker would never return.
  if (manager->OnWorkerThread()) {
    return Fail(callback, userData, sds::capi::kCleanupFromCallback);
  }
  manager = Registry::Get().Remove(ctx);
  if (!manager) return RET_ERR;  // a concurrent cleanup won
  manager->Stop();
  manager.reset();
  callback(RET_OK, nullptr, 0, userData);
  return RET_OK;
}

SDS_EXPORT int SdsResetReliabilityManager(void* ctx, SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  return Guard(callback, userData, [&] {
    auto request = MakeRequest("RESET_RELIABILITY_MANAGER", callback, userData);
    request.run = [](Manager& m, Timestamp) -> Result<std::string> {
      // A channel the store could not drop is kept: rePersistenceError.
      sds::Status status = m.engine().TryReset();
      if (!status.ok()) return status;
      return std::string();
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsWrapOutgoingMessage(void* ctx, void* message, size_t messageLen,
                                      const char* messageId, const char* channelId,
                                      SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  if (!Registry::Get().Find(ctx)) return RET_ERR;
  if (message == nullptr && messageLen > 0) {
    return Fail(callback, userData, sds::capi::kNullMessage);
  }
  if (messageId == nullptr) return Fail(callback, userData, sds::capi::kNullMessageId);
  if (CheckChannelId(channelId, callback, userData) != RET_OK) return RET_ERR;
  return Guard(callback, userData, [&] {
    const auto* bytes = static_cast<const uint8_t*>(message);
    auto request = MakeRequest("WRAP_MESSAGE", callback, userData);
    request.run = [content = Bytes(bytes, bytes + messageLen), id = std::string(messageId),
                   channel = std::string(channelId)](Manager& m,
                                                     Timestamp now) -> Result<std::string> {
      auto wire = m.engine().Wrap(channel, content, id, now);
      if (!wire.ok()) return wire.status();
      return sds::capi::DecimalCsv(*wire);
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsUnwrapReceivedMessage(void* ctx, void* message, size_t messageLen,
                                        SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  if (!Registry::Get().Find(ctx)) return RET_ERR;
  if (message == nullptr && messageLen > 0) {
    return Fail(callback, userData, sds::capi::kNullMessage);
  }
  return Guard(callback, userData, [&] {
    const auto* bytes = static_cast<const uint8_t*>(message);
    auto request = MakeRequest("UNWRAP_MESSAGE", callback, userData);
    request.run = [wire = Bytes(bytes, bytes + messageLen)](Manager& m,
                                                            Timestamp now) -> Result<std::string> {
      auto result = m.engine().Unwrap(wire, now);
      if (!result.ok()) return result.status();
      return sds::capi::UnwrapResultJson(*result);
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsMarkDependenciesMet(void* ctx, char** messageIDs, size_t count,
                                      const char* channelId, SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  if (!Registry::Get().Find(ctx)) return RET_ERR;
  if (messageIDs == nullptr && count > 0) {
    return Fail(callback, userData, sds::capi::kNullMessageIds);
  }
  if (CheckChannelId(channelId, callback, userData) != RET_OK) return RET_ERR;
  return Guard(callback, userData, [&] {
    std::vector<sds::MessageId> ids;
    ids.reserve(count);
    for (size_t i = 0; i < count; ++i) ids.emplace_back(messageIDs[i] ? messageIDs[i] : "");
    auto request = MakeRequest("MARK_DEPENDENCIES_MET", callback, userData);
    request.run = [ids = std::move(ids), channel = std::string(channelId)](
                      Manager& m, Timestamp now) -> Result<std::string> {
      sds::Status status = m.engine().MarkDependenciesMet(channel, ids, now);
      if (!status.ok()) return status;
      return std::string();
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsStartPeriodicTasks(void* ctx, SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  return Guard(callback, userData, [&] {
    auto request = MakeRequest("START_PERIODIC_TASKS", callback, userData);
    request.run = [](Manager& m, Timestamp now) -> Result<std::string> {
      m.StartPeriodicTasks(now);
      return std::string();
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsRemoveChannel(void* ctx, const char* channelId, SdsCallBack callback,
                                void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  if (!Registry::Get().Find(ctx)) return RET_ERR;
  if (CheckChannelId(channelId, callback, userData) != RET_OK) return RET_ERR;
  return Guard(callback, userData, [&] {
    auto request = MakeRequest("REMOVE_CHANNEL", callback, userData);
    request.run = [channel = std::string(channelId)](Manager& m, Timestamp) -> Result<std::string> {
      sds::Status status = m.engine().RemoveChannel(channel);
      if (!status.ok()) return status;
      return std::string();
    };
    return Dispatch(ctx, std::move(request));
  });
}

SDS_EXPORT int SdsMakeSyncMessage(void* ctx, const char* messageId, const char* channelId,
                                  SdsCallBack callback, void* userData) {
  if (callback == nullptr) return RET_MISSING_CALLBACK;
  if (!Registry::Get().Find(ctx)) return RET_ERR;
  if (messageId == nullptr) return Fail(callback, userData, sds::capi::kNullMessageId);
  if (CheckChannelId(channelId, callback, userData) != RET_OK) return RET_ERR;
  return Guard(callback, userData, [&] {
    auto request = MakeRequest("MAKE_SYNC_MESSAGE", callback, userData);
    request.run = [id = std::string(messageId), channel = std::string(channelId)](
                      Manager& m, Timestamp now) -> Result<std::string> {
      auto wire = m.engine().MakeSyncMessage(channel, id, now);
      if (!wire.ok()) return wire.status();
      return sds::capi::DecimalCsv(*wire);
    };
    return Dispatch(ctx, std::move(request));
  });
}

}  // extern "C"
