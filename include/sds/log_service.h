// LogService: the store side of the catch-up protocol (catchup_protocol.h),
// answering Sync, Snapshot, Fetch and Backfill from a ChannelLog.
//
//   auto service = sds::catchup::LogService::Create(log);   // shared_ptr<ChannelLog>
//   Answer<SyncResponse> a = (*service)->Sync(request);      // typed
//   Bytes reply = (*service)->HandleSync(request_bytes);     // bytes in, bytes out
//
// It holds no state of its own besides counters, so tests, the simulator and
// the node share one implementation; it never reads a clock.
//
// Every request is answered from one ReadView of the log (invariant I4), and
// every answer is either the response or a ServiceError:
//   kBadRequest          undecodable request, or one naming a channel twice
//   kUnsupportedVersion  protocol_version != kProtocolVersion (supported_version
//                        says kProtocolVersion)
//   kTooLarge            request bytes over limits.max_request_bytes, or more
//                        channels / ids than the caps below
//   kInternal            the log failed (its message says how)
// The bytes API never crashes on any input; it answers one of the above.
//
// Sync, per channel, in request order: the server rule of
// catchup_protocol.h. An UP_TO_DATE result carries nothing but channel id and
// status (its epoch and head are the cursor's). Budgets: max_entries and
// max_bytes (payload bytes) are over the whole response, the request's values
// capped by the config (0 asks for the config's default). Every DELTA carries
// at least one entry, even one larger than max_bytes (the protocol has no
// empty page, and no entry may stall a client), so once the budget is spent
// each further DELTA channel gets exactly one entry: a response holds at most
// max_entries entries plus one per DELTA channel served after the budget is
// spent. In ids_only mode entries carry no payload and only max_entries
// bounds them.
//
// Snapshot, per channel: snapshot_seq = head_seq; entries are the newest
// min(K, cap) retained entries with seq <= snapshot_seq, ascending and ending
// at snapshot_seq, also within max_snapshot_bytes over the response (so they
// may be fewer than K: what is left out is still back-fillable from low_seq).
// K = 0 asks for default_snapshot_entries. max_lamport is the highest Lamport
// appended in this epoch. Unknown channels are listed in unknown_channel_ids.
//
// Fetch: entries by message id and by retrieval hint, deduplicated, ascending
// by seq, within max_fetch_bytes (at least one entry). An id or hint that is
// not retained is listed as missing; one that is retained but did not fit in
// the byte budget is in neither list: ask for it again. An unknown channel
// lists everything as missing (epoch all zero).
//
// Backfill: the newest `limit` retained entries with seq < before_seq (0
// asks for the default), within max_backfill_bytes (at least one), ascending
// and ending at min(before_seq - 1, head_seq); reached_low when they start at
// low_seq (or there is nothing before before_seq). A wrong epoch answers
// kColdStartRequired and an unknown channel kUnknownChannel, with no entries.
#ifndef SDS_LOG_SERVICE_H_
#define SDS_LOG_SERVICE_H_

#include <cstdint>
#include <memory>

#include "sds/catchup_protocol.h"
#include "sds/channel_log.h"
#include "sds/log.h"

namespace sds::catchup {

struct LogServiceConfig {
  // Hard upper bounds of the caps below (invariant I6: a page or a snapshot
  // never replays more than SDS's default maxMessageHistory of 1000).
  static constexpr uint32_t kMaxEntriesLimit = 1000;
  static constexpr uint64_t kMaxBytesLimit = uint64_t{4} << 20;

  uint32_t default_max_entries = 100;  // Sync, when the request says 0
  uint32_t max_entries_cap = 1000;     // Sync page, over all channels
  uint64_t default_max_bytes = 1 << 20;
  uint64_t max_bytes_cap = uint64_t{4} << 20;
  uint32_t default_snapshot_entries = 100;          // K, when the request says 0
  uint32_t max_snapshot_entries = 1000;             // K cap, per channel
  uint64_t max_snapshot_bytes = uint64_t{4} << 20;  // over the response
  uint32_t default_backfill_limit = 100;
  uint32_t max_backfill_limit = 1000;
  uint64_t max_backfill_bytes = uint64_t{4} << 20;
  size_t max_fetch_ids = 1000;  // message ids + hints per Fetch
  uint64_t max_fetch_bytes = uint64_t{4} << 20;
  size_t max_channels_per_request = 1000;  // Sync and Snapshot
  // Bounds applied while decoding requests in the bytes API.
  ProtocolLimits limits;
  // Told about what a response cannot say (e.g. a cursor ahead of head).
  LogCallback log;
};

// Outcomes of the requests answered so far, for metrics.
struct LogServiceCounters {
  struct Outcomes {
    uint64_t ok = 0;
    uint64_t bad_request = 0;
    uint64_t unsupported_version = 0;
    uint64_t too_large = 0;
    uint64_t internal = 0;
    uint64_t total() const { return ok + bad_request + unsupported_version + too_large + internal; }
  };
  Outcomes sync, snapshot, fetch, backfill;
  // Per channel of the Sync requests answered ok.
  uint64_t delta = 0;
  uint64_t up_to_date = 0;
  uint64_t unknown_channel = 0;
  struct ColdStarts {
    uint64_t no_cursor = 0;
    uint64_t epoch_mismatch = 0;
    uint64_t behind_retention = 0;
    uint64_t ahead_of_head = 0;
    uint64_t total() const { return no_cursor + epoch_mismatch + behind_retention + ahead_of_head; }
  } cold_starts;
  uint64_t entries_served = 0;  // over all kinds
  uint64_t payload_bytes_served = 0;
};

class LogService {
 public:
  // kInvalidArgument when `log` is null or a cap is 0 or above its hard limit.
  static Result<std::unique_ptr<LogService>> Create(std::shared_ptr<ChannelLog> log,
                                                    LogServiceConfig config = {});
  ~LogService();

  Answer<SyncResponse> Sync(const SyncRequest& request);
  Answer<SnapshotResponse> Snapshot(const SnapshotRequest& request);
  Answer<FetchResponse> Fetch(const FetchRequest& request);
  Answer<BackfillResponse> Backfill(const BackfillRequest& request);

  // Bytes in, bytes out: decodes the request (within config().limits),
  // answers it as above and encodes the answer. Input over
  // limits.max_request_bytes or past a decode limit is kTooLarge, any other
  // undecodable input kBadRequest; an answer that would exceed
  // limits.max_response_bytes is replaced by kTooLarge (ask for less).
  Bytes HandleSync(ByteSpan request);
  Bytes HandleSnapshot(ByteSpan request);
  Bytes HandleFetch(ByteSpan request);
  Bytes HandleBackfill(ByteSpan request);

  const LogServiceConfig& config() const { return config_; }
  ChannelLog& log() { return *log_; }
  LogServiceCounters counters() const;

 private:
  struct Counters;
  template <typename Request, typename Response>
  Bytes Handle(ByteSpan bytes, LogServiceCounters::Outcomes LogServiceCounters::*kind,
               Result<Request> (*decode)(ByteSpan, const ProtocolLimits&),
               Answer<Response> (LogService::*answer)(const Request&),
               Bytes (*encode)(const Response&));
  LogService(std::shared_ptr<ChannelLog> log, LogServiceConfig config);

  std::shared_ptr<ChannelLog> log_;
  LogServiceConfig config_;
  std::unique_ptr<Counters> counters_;
};

}  // namespace sds::catchup

#endif  // SDS_LOG_SERVICE_H_
