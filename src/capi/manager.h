// One libsds manager: a worker thread that owns a ReliabilityManager.
//
//   caller threads ──Submit(request)──▶ queue ─┐
//                                               ▼
//   worker:  wait (condition variable) until a request, the next deadline
//            or Stop() ─▶ run request ─▶ events ─▶ result callback
//                       ─▶ at a deadline: Tick(now) / periodic_sync ─▶ events
//
// The worker is the engine's only user, so the engine needs no lock; the
// mutex guards the queue, the stop flag and the callback pointers that other
// threads set. The worker reads the system clock and passes it in: this is
// the I/O layer, the engine stays pure. Before SdsStartPeriodicTasks nothing
// but requests runs the engine, as in nim-sds.
#ifndef SDS_CAPI_MANAGER_H_
#define SDS_CAPI_MANAGER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "capi/config_json.h"
#include "libsds.h"
#include "sds/reliability_manager.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::capi {

class Manager;

// A request as the worker runs it: `run` returns the result text or the
// error, which the worker turns into nim-sds's error text for `name`.
struct Request {
  const char* name = "";  // e.g. "WRAP_MESSAGE"
  SdsCallBack callback = nullptr;
  void* user_data = nullptr;
  std::function<Result<std::string>(Manager& manager, Timestamp now)> run;
};

class Manager {
 public:
  // The engine is created by the caller (so that creation errors are
  // synchronous) and owned by the worker from Start() on.
  Manager(std::unique_ptr<ReliabilityManager> engine, ManagerOptions options);
  ~Manager();  // stops the worker if Stop() was not called
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Starts the worker; its first act is callback(RET_OK, "", 0).
  void Start(SdsCallBack callback, void* user_data);
  // Queues a request; false once Stop() has begun (the caller reports it).
  bool Submit(Request request);
  // Stops and joins the worker. Queued requests fail with RET_ERR on the
  // worker before it exits. Idempotent; not from the worker thread.
  void Stop();
  bool OnWorkerThread() const;

  // Makes the worker look at the clock again (capi/test_clock.h).
  void Wake();

  void SetEventCallback(SdsCallBack callback, void* user_data);
  void SetRetrievalHintProvider(SdsRetrievalHintProvider provider, void* user_data);

  // ---- Worker thread only (from Request::run) ---------------------------
  ReliabilityManager& engine() { return *engine_; }
  const ManagerOptions& options() const { return options_; }
  // Starts the periodic work: periodic_sync at once and every interval, and
  // the engine's deadlines (a first Tick now, as nim-sds's loops run their
  // first pass at once).
  void StartPeriodicTasks(Timestamp now);

 private:
  static Timestamp Now();
  void Run();
  void Process(Request& request);
  void RunTimers(Timestamp now);
  Timestamp NextTimer() const;
  void DeliverEngineEvents();
  void Emit(const std::string& json);
  Bytes ProvideHint(const MessageId& message_id);

  std::unique_ptr<ReliabilityManager> engine_;
  const ManagerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Request> queue_;                         // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  SdsCallBack event_callback_ = nullptr;              // guarded by mu_
  void* event_user_data_ = nullptr;                   // guarded by mu_
  SdsRetrievalHintProvider hint_provider_ = nullptr;  // guarded by mu_
  void* hint_user_data_ = nullptr;                    // guarded by mu_
  std::thread worker_;
  std::thread::id worker_id_;  // set before the worker runs, then read-only

  // Worker thread only.
  bool periodic_started_ = false;
  Timestamp periodic_sync_due_ = kNoDeadline;
  Timestamp last_timer_run_ = Timestamp::min();
  // The last request result handed to a callback: it must outlive the
  // callback until the next request's result replaces it (libsds.h).
  std::string result_;
};

}  // namespace sds::capi

#endif  // SDS_CAPI_MANAGER_H_
