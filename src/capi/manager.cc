#include "capi/manager.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <set>
#include <utility>

#include "capi/payloads.h"
#include "capi/test_clock.h"

namespace sds::capi {
namespace {

// The longest the worker sleeps without looking at the clock again, so that
// a wall-clock step does not postpone a deadline for long.
constexpr Duration kMaxWait = std::chrono::seconds{10};

constexpr char kCleanedUp[] = "libsds error: reliability manager was cleaned up";

// The clock of every worker (capi/test_clock.h): the system clock unless a
// test switched to virtual time. Never destroyed, like the handle registry:
// workers may still read it while the process exits.
struct WorkerClock {
  std::atomic<bool> is_virtual{false};
  std::atomic<int64_t> virtual_unix_ms{0};
  std::mutex mu;
  std::set<Manager*> running;  // guarded by mu: the workers to wake when time moves
};

WorkerClock& Clock() {
  static WorkerClock* clock = new WorkerClock();
  return *clock;
}

}  // namespace

Manager::Manager(std::unique_ptr<ReliabilityManager> engine, ManagerOptions options)
    : engine_(std::move(engine)), options_(std::move(options)) {
  engine_->SetRetrievalHintProvider(
      [this](const ChannelId&, const MessageId& message_id) { return ProvideHint(message_id); });
}

Manager::~Manager() { Stop(); }

void Manager::Start(SdsCallBack callback, void* user_data) {
  {
    std::lock_guard<std::mutex> lock(Clock().mu);
    Clock().running.insert(this);
  }
  Request created;
  created.name = "CREATE_RELIABILITY_MANAGER";
  created.callback = callback;
  created.user_data = user_data;
  created.run = [](Manager&, Timestamp) -> Result<std::string> { return std::string(); };
  queue_.push_back(std::move(created));
  std::lock_guard<std::mutex> lock(mu_);
  worker_ = std::thread([this] { Run(); });
  worker_id_ = worker_.get_id();
}

bool Manager::Submit(Request request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(request));
  }
  wake_.notify_one();
  return true;
}

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> lock(Clock().mu);
    Clock().running.erase(this);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

bool Manager::OnWorkerThread() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_id_ == std::this_thread::get_id();
}

void Manager::SetEventCallback(SdsCallBack callback, void* user_data) {
  std::lock_guard<std::mutex> lock(mu_);
  event_callback_ = callback;
  event_user_data_ = user_data;
}

void Manager::SetRetrievalHintProvider(SdsRetrievalHintProvider provider, void* user_data) {
  std::lock_guard<std::mutex> lock(mu_);
  hint_provider_ = provider;
  hint_user_data_ = user_data;
}

Timestamp Manager::Now() {
  if (Clock().is_virtual.load(std::memory_order_acquire)) {
    return TimestampFromUnixMillis(Clock().virtual_unix_ms.load(std::memory_order_acquire));
  }
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

void Manager::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_.notify_one();
}

void Manager::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Timers that are due run before the next request: a busy queue cannot
    // starve them, and a request's callback comes after every timer that
    // was due when it was made.
    if (periodic_started_) {
      const Timestamp now = Now();
      if (NextTimer() <= now) {
        lock.unlock();
        RunTimers(now);
        lock.lock();
        continue;
      }
    }
    if (!queue_.empty()) {
      Request request = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Process(request);
      lock.lock();
      continue;
    }
    if (!periodic_started_) {
      wake_.wait(lock);
      continue;
    }
    const Timestamp next = NextTimer();
    const Timestamp now = Now();
    if (next <= now) continue;
    wake_.wait_for(lock, std::min<Duration>(next - now, kMaxWait));
  }
  // Every accepted request gets its one callback, also when it never ran.
  std::deque<Request> abandoned;
  abandoned.swap(queue_);
  lock.unlock();
  for (Request& request : abandoned) {
    request.callback(RET_ERR, kCleanedUp, sizeof(kCleanedUp) - 1, request.user_data);
  }
}

void Manager::Process(Request& request) {
  Result<std::string> outcome = std::string();
  try {
    outcome = request.run(*this, Now());
  } catch (const std::exception& e) {
    outcome = Status(ErrorCode::kInternal, e.what());
  } catch (...) {
    outcome = Status(ErrorCode::kInternal, "unknown exception");
  }
  // Events the request caused come before its result.
  DeliverEngineEvents();
  int ret = RET_OK;
  if (outcome.ok()) {
    result_ = std::move(*outcome);
  } else {
    ret = RET_ERR;
    result_ = RequestErrorText(request.name, outcome.status(), options_.detailed_errors);
  }
  request.callback(ret, result_.c_str(), result_.size(), request.user_data);
}

void Manager::StartPeriodicTasks(Timestamp now) {
  if (periodic_started_) return;
  periodic_started_ = true;
  if (options_.periodic_sync_interval > Duration::zero()) periodic_sync_due_ = now;
  RunTimers(now);
}

Timestamp Manager::NextTimer() const {
  // Timestamps have millisecond resolution: a second run in the same
  // millisecond could do nothing new, so a deadline that does not move
  // cannot make the worker spin.
  return std::max(std::min(engine_->NextDeadline(), periodic_sync_due_),
                  last_timer_run_ + Duration(1));
}

void Manager::RunTimers(Timestamp now) {
  last_timer_run_ = now;
  if (periodic_sync_due_ <= now) {
    periodic_sync_due_ = now + options_.periodic_sync_interval;
    Emit(PeriodicSyncJson());
  }
  if (engine_->NextDeadline() <= now) engine_->Tick(now);
  DeliverEngineEvents();
}

void Manager::DeliverEngineEvents() {
  while (std::optional<Event> event = engine_->PollEvent()) {
    if (std::optional<std::string> json = EventJson(*event, options_.extended_events)) {
      Emit(*json);
    }
  }
}

void Manager::Emit(const std::string& json) {
  SdsCallBack callback;
  void* user_data;
  {
    std::lock_guard<std::mutex> lock(mu_);
    callback = event_callback_;
    user_data = event_user_data_;
  }
  if (callback != nullptr) callback(RET_OK, json.c_str(), json.size(), user_data);
}

Bytes Manager::ProvideHint(const MessageId& message_id) {
  SdsRetrievalHintProvider provider;
  void* user_data;
  {
    std::lock_guard<std::mutex> lock(mu_);
    provider = hint_provider_;
    user_data = hint_user_data_;
  }
  if (provider == nullptr) return {};
  char* hint = nullptr;
  size_t hint_len = 0;
  provider(message_id.c_str(), &hint, &hint_len, user_data);
  Bytes bytes;
  if (hint != nullptr) {
    bytes.assign(reinterpret_cast<const uint8_t*>(hint),
                 reinterpret_cast<const uint8_t*>(hint) + hint_len);
    std::free(hint);
  }
  return bytes;
}

}  // namespace sds::capi

using sds::capi::Clock;

extern "C" void sds_capi_test_use_virtual_clock(int64_t unix_ms) {
  Clock().virtual_unix_ms.store(unix_ms, std::memory_order_release);
  Clock().is_virtual.store(true, std::memory_order_release);
}

extern "C" void sds_capi_test_advance_virtual_clock(int64_t ms) {
  std::lock_guard<std::mutex> lock(Clock().mu);
  Clock().virtual_unix_ms.fetch_add(ms < 0 ? 0 : ms, std::memory_order_acq_rel);
  for (sds::capi::Manager* manager : Clock().running) manager->Wake();
}

extern "C" void sds_capi_test_use_system_clock(void) {
  Clock().is_virtual.store(false, std::memory_order_release);
}
