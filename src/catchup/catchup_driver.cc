// CatchUpDriver (include/sds/catchup.h): the client algorithm of catch-up
// from a store. Every answer is checked before anything of it is applied;
// cursors move only together with the durable effects they cover.
#include "sds/catchup.h"

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "catchup/response_checks.h"

namespace sds::catchup {
namespace {

std::string Hex(ByteSpan bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes.first(std::min<size_t>(bytes.size(), 32))) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  if (bytes.size() > 32) out += "...";
  return out;
}

Status Persistence(const std::string& message) { return Status(ErrorCode::kPersistence, message); }

}  // namespace

// ---- Names and the stored cursor ----------------------------------------------------------

const char* IrretrievableReasonName(IrretrievableReason reason) {
  switch (reason) {
    case IrretrievableReason::kNotRetained:
      return "not retained";
    case IrretrievableReason::kBeyondFetch:
      return "beyond fetch";
    case IrretrievableReason::kListedMissing:
      return "listed but missing";
  }
  return "unknown";
}

const char* RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kSync:
      return "Sync";
    case RequestKind::kSnapshot:
      return "Snapshot";
    case RequestKind::kFetch:
      return "Fetch";
  }
  return "unknown";
}

const char* CatchUpEventName(const CatchUpEvent& event) {
  static const char* const kNames[] = {"HistoryGap",       "Irretrievable",  "Fetched",
                                       "UnknownChannel",   "PoisonEntry",    "ChannelUpToDate",
                                       "ResponseRejected", "RetryScheduled", "CursorNotSaved"};
  static_assert(std::variant_size_v<CatchUpEvent> == sizeof(kNames) / sizeof(kNames[0]));
  return kNames[event.index()];
}

// Layout: version 1, epoch (16), seq (8, big-endian), flags (1: dependencies pending).
Bytes EncodeStoredCursor(const StoredCursor& stored) {
  Bytes out;
  out.reserve(26);
  out.push_back(1);
  out.insert(out.end(), stored.cursor.epoch.begin(), stored.cursor.epoch.end());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(stored.cursor.seq >> shift));
  }
  out.push_back(stored.dependencies_pending ? 1 : 0);
  return out;
}

Result<StoredCursor> DecodeStoredCursor(ByteSpan bytes) {
  if (bytes.size() != 26 || bytes[0] != 1 || bytes[25] > 1) {
    return Status(ErrorCode::kDecodeMalformed,
                  "stored catch-up cursor: expected 26 bytes of version 1, got " +
                      std::to_string(bytes.size()) + " bytes starting " +
                      Hex(bytes.first(std::min<size_t>(bytes.size(), 1))));
  }
  StoredCursor stored;
  std::copy(bytes.begin() + 1, bytes.begin() + 17, stored.cursor.epoch.begin());
  for (size_t i = 17; i < 25; ++i) stored.cursor.seq = (stored.cursor.seq << 8) | bytes[i];
  stored.dependencies_pending = bytes[25] == 1;
  return stored;
}

// ---- The driver ---------------------------------------------------------------------------

class CatchUpDriver::Impl {
 public:
  Impl(ReliabilityManager& engine, CatchUpConfig config)
      : engine_(engine), config_(std::move(config)) {}

  Status Load() {
    for (const ChannelId& id : config_.channels) {
      channels_[id];
      // Loaded now: the dependency step and ids-only checks read the
      // channel's state before any entry arrives.
      Status ensured = engine_.EnsureChannel(id);
      if (!ensured.ok()) return ensured;
    }
    Store* store = engine_.store();
    if (store == nullptr) return Status::Ok();
    auto loaded = store->LoadCatchUpCursors(config_.store_id);
    if (!loaded.ok()) {
      return Persistence("loading catch-up cursors of store " + Hex(config_.store_id) + ": " +
                         loaded.status().message());
    }
    for (const StoredCatchUpCursor& row : *loaded) {
      auto it = channels_.find(row.channel_id);
      if (it == channels_.end()) continue;  // a channel this driver does not serve
      auto decoded = DecodeStoredCursor(row.cursor);
      if (!decoded.ok()) {
        // An unreadable cursor is no cursor: the channel cold-starts with a
        // gap event rather than trusting garbage.
        continue;
      }
      it->second.cursor = decoded->cursor;
      it->second.dependencies_pending = decoded->dependencies_pending;
    }
    return Status::Ok();
  }

  // ---- Cadence ----
  void OnConnected(Timestamp now) {
    connected_ = true;
    retry_at_.reset();
    failures_ = 0;
    outstanding_.reset();
    ready_.reset();
    StartRound(now);
  }

  void OnDisconnected(Timestamp now) {
    now_ = now;
    connected_ = false;
    outstanding_.reset();
    ready_.reset();
  }

  Timestamp Tick(Timestamp now) {
    now_ = now;
    if (!connected_) return kNoDeadline;
    if (outstanding_ && now >= outstanding_->deadline) {
      uint64_t id = outstanding_->request_id;
      Fail(outstanding_->kind,
           Status(ErrorCode::kInternal, "request " + std::to_string(id) + " timed out"), 0);
    }
    if (!round_active_ && now >= next_round_at_) StartRound(now);
    Advance();
    return NextDeadline();
  }

  Timestamp NextDeadline() const {
    if (!connected_) return kNoDeadline;
    if (outstanding_) return outstanding_->deadline;
    if (ready_) return now_;
    if (retry_at_) return *retry_at_;
    if (!round_active_) return next_round_at_;
    return kNoDeadline;
  }

  std::optional<OutgoingRequest> TakeRequest() {
    if (!ready_ || outstanding_) return std::nullopt;
    OutgoingRequest request = std::move(*ready_);
    ready_.reset();
    outstanding_ = Outstanding{request.request_id,  request.kind,
                               request.request,     now_ + config_.request_timeout,
                               ready_for_ids_page_, ready_for_refetch_};
    return request;
  }

  // ---- Answers ----
  Status CheckOutstanding(uint64_t request_id, RequestKind kind) const {
    if (!outstanding_ || outstanding_->request_id != request_id) {
      return Status(
          ErrorCode::kInvalidArgument,
          "no request " + std::to_string(request_id) + " is outstanding" +
              (outstanding_ ? " (waiting for " + std::to_string(outstanding_->request_id) + ")"
                            : ""));
    }
    if (outstanding_->kind != kind) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string("request ") + std::to_string(request_id) + " is a " +
                        RequestKindName(outstanding_->kind) + ", not a " + RequestKindName(kind));
    }
    return Status::Ok();
  }

  Status RefuseUndecodable(uint64_t request_id, RequestKind kind, const Status& status,
                           Timestamp now) {
    SDS_RETURN_IF_ERROR(CheckOutstanding(request_id, kind));
    now_ = now;
    outstanding_.reset();
    return Reject(kind, status);
  }

  std::optional<RequestKind> OutstandingKind(uint64_t request_id) const {
    if (!outstanding_ || outstanding_->request_id != request_id) return std::nullopt;
    return outstanding_->kind;
  }

  Status Reject(RequestKind kind, Status status) {
    ++stats_.rejected_responses;
    events_.push_back(ResponseRejected{kind, status});
    Fail(kind, status, 0);
    Advance();
    return status;
  }

  // A ServiceError answer: retried after max(backoff, retry_after_ms).
  Status OnServiceError(RequestKind kind, const ServiceError& error) {
    Status status(ErrorCode::kInternal,
                  std::string("store answered ") + RequestKindName(kind) + " with error " +
                      std::to_string(static_cast<int>(error.code)) + ": " + error.message);
    outstanding_.reset();
    Fail(kind, status, error.retry_after_ms);
    Advance();
    return status;
  }

  Status OnSync(uint64_t request_id, const Answer<SyncResponse>& answer, Timestamp now) {
    SDS_RETURN_IF_ERROR(CheckOutstanding(request_id, RequestKind::kSync));
    now_ = now;
    if (const auto* error = std::get_if<ServiceError>(&answer)) {
      return OnServiceError(RequestKind::kSync, *error);
    }
    const SyncResponse& response = std::get<SyncResponse>(answer);
    const SyncRequest request = std::get<SyncRequest>(std::move(outstanding_->request));
    Status checked = CheckSyncResponse(request, response, config_);
    outstanding_.reset();
    if (!checked.ok()) return Reject(RequestKind::kSync, checked);

    Status result;
    for (const ChannelResult& channel : response.channels) {
      Status s = ApplySyncResult(request.ids_only, channel);
      if (!s.ok() && result.ok()) result = s;
    }
    if (!result.ok()) {
      Fail(RequestKind::kSync, result, 0);
    } else {
      failures_ = 0;
    }
    Advance();
    return result;
  }

  Status OnSnapshot(uint64_t request_id, const Answer<SnapshotResponse>& answer, Timestamp now) {
    SDS_RETURN_IF_ERROR(CheckOutstanding(request_id, RequestKind::kSnapshot));
    now_ = now;
    if (const auto* error = std::get_if<ServiceError>(&answer)) {
      return OnServiceError(RequestKind::kSnapshot, *error);
    }
    const SnapshotResponse& response = std::get<SnapshotResponse>(answer);
    const SnapshotRequest request = std::get<SnapshotRequest>(std::move(outstanding_->request));
    Status checked = CheckSnapshotResponse(request, response, config_);
    outstanding_.reset();
    if (!checked.ok()) return Reject(RequestKind::kSnapshot, checked);

    for (const ChannelId& id : response.unknown_channel_ids) {
      cold_.erase(id);
      events_.push_back(UnknownChannel{id});
    }
    Status result;
    for (const ChannelSnapshot& snapshot : response.channels) {
      Status s = ApplySnapshot(snapshot);
      if (!s.ok() && result.ok()) result = s;
    }
    if (!result.ok()) {
      Fail(RequestKind::kSnapshot, result, 0);
    } else {
      failures_ = 0;
    }
    Advance();
    return result;
  }

  Status OnFetch(uint64_t request_id, const Answer<FetchResponse>& answer, Timestamp now) {
    SDS_RETURN_IF_ERROR(CheckOutstanding(request_id, RequestKind::kFetch));
    now_ = now;
    if (const auto* error = std::get_if<ServiceError>(&answer)) {
      return OnServiceError(RequestKind::kFetch, *error);
    }
    const FetchResponse& response = std::get<FetchResponse>(answer);
    const FetchRequest request = std::get<FetchRequest>(std::move(outstanding_->request));
    const bool for_page = outstanding_->for_ids_page;
    const bool for_refetch = outstanding_->for_refetch;
    Status checked = CheckFetchResponse(request, response, config_);
    outstanding_.reset();
    if (!checked.ok()) return Reject(RequestKind::kFetch, checked);
    Status result = for_page      ? ApplyIdsPage(response)
                    : for_refetch ? ApplyRefetch(request, response)
                                  : ApplyDependencies(request, response);
    if (!result.ok()) {
      Fail(RequestKind::kFetch, result, 0);
    } else {
      failures_ = 0;
    }
    Advance();
    return result;
  }

  void OnTransportFailure(uint64_t request_id, const std::string& reason, Timestamp now) {
    if (!outstanding_ || outstanding_->request_id != request_id) return;
    now_ = now;
    RequestKind kind = outstanding_->kind;
    outstanding_.reset();
    Fail(kind, Status(ErrorCode::kInternal, "transport: " + reason), 0);
    Advance();
  }

  // ---- Events and state ----
  std::optional<CatchUpEvent> PollEvent() {
    if (events_.empty()) return std::nullopt;
    CatchUpEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  std::vector<CatchUpEvent> TakeEvents() {
    std::vector<CatchUpEvent> out(std::make_move_iterator(events_.begin()),
                                  std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
  }
  std::optional<Cursor> CursorOf(const ChannelId& id) const {
    auto it = channels_.find(id);
    if (it == channels_.end()) return std::nullopt;
    return it->second.cursor;
  }
  bool Idle() const { return !round_active_ && !outstanding_ && !ready_; }
  const CatchUpStats& stats() const { return stats_; }
  const CatchUpConfig& config() const { return config_; }

 private:
  struct ChannelTrack {
    std::optional<Cursor> cursor;  // as durably stored
    bool dependencies_pending = false;
  };
  struct Outstanding {
    uint64_t request_id = 0;
    RequestKind kind = RequestKind::kSync;
    std::variant<SyncRequest, SnapshotRequest, FetchRequest> request;
    Timestamp deadline;
    bool for_ids_page = false;
    bool for_refetch = false;
  };
  // An ids-only DELTA page waiting for the Fetch of the ids we lack.
  struct IdsPage {
    ChannelId channel_id;
    Epoch epoch{};
    uint64_t to_seq = 0;
    bool more = false;
    std::vector<Entry> wanted;  // seq and id of each entry to fetch, ascending
  };
  struct Cold {
    ColdReason reason = ColdReason::kNone;
    std::string detail;
  };

  // ---- Round control ----
  void StartRound(Timestamp now) {
    now_ = now;
    round_active_ = true;
    ++stats_.rounds;
    sync_queue_.clear();
    cold_.clear();
    ids_pages_.clear();
    deps_queue_.clear();
    refetch_queue_.clear();
    refetch_listed_ = false;
    for (const auto& [id, track] : channels_) {
      sync_queue_.insert(id);
      if (track.dependencies_pending) deps_queue_.push_back(id);
    }
  }

  void Fail(RequestKind kind, const Status& status, uint32_t retry_after_ms) {
    outstanding_.reset();
    ready_.reset();
    ++failures_;
    ++stats_.retries;
    // Exponential backoff with "equal jitter": half the delay fixed, half
    // random, so that clients failing together do not retry together.
    int64_t base = config_.initial_backoff.count();
    int64_t cap = config_.max_backoff.count();
    int64_t delay = base;
    for (int i = 1; i < failures_ && delay < cap; ++i) delay *= 2;
    delay = std::min(delay, cap);
    int64_t half = delay / 2;
    int64_t jitter =
        half > 0 ? static_cast<int64_t>(config_.random() % static_cast<uint64_t>(half + 1)) : 0;
    delay = delay - half + jitter;
    delay = std::max<int64_t>(delay, retry_after_ms);
    retry_at_ = now_ + Duration(delay);
    events_.push_back(RetryScheduled{kind, status, failures_, *retry_at_});
  }

  // Builds the next request of the round, or ends the round.
  void Advance() {
    if (!connected_ || outstanding_ || ready_ || !round_active_) return;
    if (retry_at_) {
      if (now_ < *retry_at_) return;
      retry_at_.reset();
    }
    while (true) {
      if (!ids_pages_.empty()) {
        const IdsPage& page = ids_pages_.front();
        FetchRequest fetch;
        fetch.channel_id = page.channel_id;
        for (const Entry& e : page.wanted) fetch.message_ids.push_back(e.message_id);
        Ready(RequestKind::kFetch, std::move(fetch), true);
        return;
      }
      if (!sync_queue_.empty()) {
        SyncRequest sync;
        sync.max_entries = config_.max_entries;
        sync.max_bytes = config_.max_bytes;
        sync.ids_only = config_.ids_only;
        for (const ChannelId& id : sync_queue_) {
          if (sync.channels.size() >= config_.limits.max_channels_per_request) break;
          sync.channels.push_back(ChannelCursor{id, channels_[id].cursor});
        }
        Ready(RequestKind::kSync, std::move(sync), false);
        return;
      }
      if (!cold_.empty()) {
        SnapshotRequest snapshot;
        snapshot.entries_per_channel = config_.snapshot_entries;
        for (const auto& [id, cold] : cold_) {
          if (snapshot.channel_ids.size() >= config_.limits.max_channels_per_request) break;
          snapshot.channel_ids.push_back(id);
        }
        Ready(RequestKind::kSnapshot, std::move(snapshot), false);
        return;
      }
      if (!deps_queue_.empty()) {
        const ChannelId id = deps_queue_.front();
        std::vector<HistoryEntry> deps = engine_.PendingDependencies(id);
        if (deps.empty()) {
          // Nothing to fetch: only the flag on the stored cursor clears.
          if (!channels_[id].cursor) {
            deps_queue_.pop_front();
            continue;
          }
          Status saved = CommitCursor(id, *channels_[id].cursor, false, {});
          if (!saved.ok()) {
            Fail(RequestKind::kFetch, saved, 0);
            return;
          }
          deps_queue_.pop_front();
          continue;
        }
        FetchRequest fetch;
        fetch.channel_id = id;
        for (const HistoryEntry& dep : deps) {
          if (fetch.message_ids.size() >= config_.limits.max_ids_per_fetch) break;
          fetch.message_ids.push_back(dep.message_id);
        }
        Ready(RequestKind::kFetch, std::move(fetch), false);
        return;
      }
      // Once per round: messages still waiting for dependencies the store
      // may hold (e.g. revealed by entries after a snapshot) get one Fetch.
      // Only what it returns is applied; nothing is marked met here, since
      // a dependency not in the store may still be on its way.
      if (!refetch_listed_) {
        refetch_listed_ = true;
        for (const auto& [id, track] : channels_) {
          if (track.cursor && !engine_.PendingDependencies(id).empty()) {
            refetch_queue_.push_back(id);
          }
        }
      }
      if (!refetch_queue_.empty()) {
        FetchRequest fetch;
        fetch.channel_id = refetch_queue_.front();
        for (const HistoryEntry& dep : engine_.PendingDependencies(fetch.channel_id)) {
          if (fetch.message_ids.size() >= config_.limits.max_ids_per_fetch) break;
          fetch.message_ids.push_back(dep.message_id);
        }
        if (fetch.message_ids.empty()) {
          refetch_queue_.pop_front();
          continue;
        }
        Ready(RequestKind::kFetch, std::move(fetch), false);
        ready_for_refetch_ = true;
        return;
      }
      round_active_ = false;
      next_round_at_ = now_ + config_.sync_interval;
      return;
    }
  }

  template <typename R>
  void Ready(RequestKind kind, R request, bool for_ids_page) {
    OutgoingRequest out;
    out.request_id = ++last_request_id_;
    out.kind = kind;
    out.request = std::move(request);
    ready_ = std::move(out);
    ready_for_ids_page_ = for_ids_page;
    ready_for_refetch_ = false;
  }

  // Saves the channel's pending effects and the cursor in one store group.
  // On success the in-memory cursor follows; on failure neither moves.
  // `pending_override`, when given, is read after `apply` and replaces
  // `dependencies_pending` (the dependency step decides it while applying).
  Status CommitCursor(const ChannelId& id, const Cursor& cursor, bool dependencies_pending,
                      const std::function<void()>& apply, bool* aborted = nullptr,
                      const bool* pending_override = nullptr) {
    engine_.BeginCatchUpGroup();
    if (apply) apply();
    if (pending_override != nullptr) dependencies_pending = *pending_override;
    Bytes encoded = EncodeStoredCursor(StoredCursor{cursor, dependencies_pending});
    const Bytes& store_id = config_.store_id;
    Status status = engine_.CommitCatchUp(id, [&](Store& store) -> Status {
      if (aborted != nullptr && *aborted) {
        return Persistence("the page was not applied completely");
      }
      return store.SaveCatchUpCursor(store_id, id, encoded);
    });
    if (status.ok() && aborted != nullptr && *aborted) {
      status = Persistence("the page was not applied completely");
    }
    if (!status.ok()) {
      ++stats_.cursor_saves_failed;
      events_.push_back(CursorNotSaved{id, status});
      return status;
    }
    ChannelTrack& track = channels_[id];
    track.cursor = cursor;
    track.dependencies_pending = dependencies_pending;
    return Status::Ok();
  }

  // Hands entries to the engine in seq order; poison is reported and passed.
  // `aborted` is set when the engine cannot load the channel (a store
  // failure), which must not count as applied.
  void ApplyEntries(const ChannelId& id, const std::vector<Entry>& entries, bool* aborted,
                    std::vector<uint64_t>* applied_seqs = nullptr) {
    for (const Entry& entry : entries) {
      if (*aborted) return;
      auto unwrapped = engine_.UnwrapOnChannel(id, entry.payload, now_);
      if (!unwrapped.ok()) {
        if (unwrapped.status().code() == ErrorCode::kPersistence) {
          *aborted = true;
          return;
        }
        ++stats_.poison;
        events_.push_back(PoisonEntry{id, entry.seq, entry.message_id, unwrapped.status()});
      }
      ++stats_.entries_applied;
      if (applied_seqs != nullptr) applied_seqs->push_back(entry.seq);
    }
  }

  void MarkCold(const ChannelId& id, ColdReason reason, std::string detail) {
    sync_queue_.erase(id);
    cold_[id] = Cold{reason, std::move(detail)};
  }

  Status ApplySyncResult(bool ids_only, const ChannelResult& result) {
    const ChannelId& id = result.channel_id;
    ChannelTrack& track = channels_[id];
    switch (result.status) {
      case SyncStatus::kUnknownChannel:
        sync_queue_.erase(id);
        events_.push_back(UnknownChannel{id});
        return Status::Ok();
      case SyncStatus::kColdStartRequired:
        MarkCold(id, result.reason,
                 std::string("store: cold start required (") + ColdReasonText(result.reason) + ")");
        return Status::Ok();
      case SyncStatus::kUpToDate: {
        std::string why = CheckUpToDate(track.cursor, result);
        if (!why.empty()) {
          MarkCold(id, ColdReason::kNone, why);
          return Status::Ok();
        }
        sync_queue_.erase(id);
        ++stats_.up_to_date;
        events_.push_back(ChannelUpToDate{id, *track.cursor});
        return Status::Ok();
      }
      case SyncStatus::kDelta:
        break;
      default:
        MarkCold(id, ColdReason::kNone,
                 "unknown sync status " + std::to_string(static_cast<int>(result.status)));
        return Status::Ok();
    }
    std::string why = CheckDeltaContinuity(track.cursor, result);
    if (!why.empty()) {
      MarkCold(id, ColdReason::kNone, why);
      return Status::Ok();
    }
    const bool more = result.has_more || result.to_seq < result.head_seq;
    Cursor next{result.epoch, result.to_seq};
    if (result.entries.empty()) return Status::Ok();  // no room in this response: ask again
    if (ids_only) {
      IdsPage page{id, result.epoch, result.to_seq, more, {}};
      for (const Entry& e : result.entries) {
        if (!engine_.IsKnown(id, e.message_id)) page.wanted.push_back(e);
      }
      sync_queue_.erase(id);
      if (!page.wanted.empty()) {
        ids_pages_.push_back(std::move(page));
        return Status::Ok();
      }
      Status saved = CommitCursor(id, next, track.dependencies_pending, {});
      if (!saved.ok()) {
        sync_queue_.insert(id);
        return saved;
      }
      ++stats_.delta_pages;
      if (more) {
        sync_queue_.insert(id);
      } else {
        events_.push_back(ChannelUpToDate{id, next});
      }
      return Status::Ok();
    }
    bool aborted = false;
    Status saved = CommitCursor(
        id, next, track.dependencies_pending, [&] { ApplyEntries(id, result.entries, &aborted); },
        &aborted);
    if (!saved.ok()) return saved;  // stays queued: the same page again, after a backoff
    ++stats_.delta_pages;
    if (!more) {
      sync_queue_.erase(id);
      events_.push_back(ChannelUpToDate{id, next});
    }
    return Status::Ok();
  }

  Status ApplySnapshot(const ChannelSnapshot& snapshot) {
    const ChannelId& id = snapshot.channel_id;
    auto cold_it = cold_.find(id);
    Cold cold = cold_it != cold_.end() ? cold_it->second : Cold{};
    const std::optional<Cursor> had = channels_[id].cursor;
    Cursor next{snapshot.epoch, snapshot.snapshot_seq};
    bool aborted = false;
    Status saved = CommitCursor(
        id, next, true, [&] { ApplyEntries(id, snapshot.entries, &aborted); }, &aborted);
    if (!saved.ok()) return saved;  // stays cold: the snapshot is asked again
    ++stats_.cold_starts;
    cold_.erase(id);
    HistoryGap gap;
    gap.channel_id = id;
    gap.had_cursor = had;
    gap.reason = cold.reason;
    gap.detail = cold.detail;
    gap.epoch = snapshot.epoch;
    gap.first_seq =
        snapshot.entries.empty() ? snapshot.snapshot_seq + 1 : snapshot.entries.front().seq;
    gap.low_seq = snapshot.low_seq;
    gap.initial_load = !had.has_value();
    events_.push_back(std::move(gap));
    if (std::find(deps_queue_.begin(), deps_queue_.end(), id) == deps_queue_.end()) {
      deps_queue_.push_back(id);
    }
    return Status::Ok();
  }

  // The dependency step of a cold start: fetched entries applied, the rest
  // marked met, the cursor's flag cleared, all in one group.
  Status ApplyDependencies(const FetchRequest& request, const FetchResponse& response) {
    const ChannelId& id = request.channel_id;
    ChannelTrack& track = channels_[id];
    if (!track.cursor) {  // cannot happen: the step follows a snapshot
      deps_queue_.erase(std::remove(deps_queue_.begin(), deps_queue_.end(), id), deps_queue_.end());
      return Status::Ok();
    }
    std::unordered_set<MessageId> asked(request.message_ids.begin(), request.message_ids.end());
    std::unordered_set<MessageId> missing(response.missing_ids.begin(), response.missing_ids.end());
    std::vector<MessageId> not_retained, beyond;
    std::vector<uint64_t> seqs;
    bool deferred = false;
    bool aborted = false;
    Status saved = CommitCursor(
        id, *track.cursor, true,
        [&] {
          std::unordered_set<MessageId> before;
          for (const HistoryEntry& dep : engine_.PendingDependencies(id)) {
            before.insert(dep.message_id);
          }
          ApplyEntries(id, response.entries, &aborted, &seqs);
          if (aborted) return;
          // What the store no longer has, and what only the fetched messages
          // revealed (older still), is history catch-up will not supply: stop
          // waiting for it (no SDS-R repair) and say so. Ids the store had no
          // room for, or that were past this Fetch's cap, are asked next.
          for (const HistoryEntry& dep : engine_.PendingDependencies(id)) {
            if (missing.count(dep.message_id) != 0) {
              not_retained.push_back(dep.message_id);
            } else if (before.count(dep.message_id) == 0) {
              beyond.push_back(dep.message_id);
            } else {
              deferred = true;
            }
          }
          std::vector<MessageId> all = not_retained;
          all.insert(all.end(), beyond.begin(), beyond.end());
          if (!all.empty()) (void)engine_.MarkDependenciesMet(id, all, now_);
        },
        &aborted, &deferred);
    // The engine applied these whether or not the save succeeded (a failed
    // save stays pending and goes out with the next one): say so now, or the
    // retry, which no longer sees them pending, never would.
    if (!seqs.empty()) events_.push_back(Fetched{id, std::move(seqs)});
    if (!not_retained.empty()) {
      events_.push_back(
          Irretrievable{id, IrretrievableReason::kNotRetained, std::move(not_retained)});
    }
    if (!beyond.empty()) {
      events_.push_back(Irretrievable{id, IrretrievableReason::kBeyondFetch, std::move(beyond)});
    }
    if (!saved.ok()) return saved;
    if (!deferred) {
      deps_queue_.erase(std::remove(deps_queue_.begin(), deps_queue_.end(), id), deps_queue_.end());
    }
    return Status::Ok();
  }

  // The once-per-round Fetch of dependencies still awaited: what came back is
  // applied (the cursor stays where it is).
  Status ApplyRefetch(const FetchRequest& request, const FetchResponse& response) {
    const ChannelId& id = request.channel_id;
    ChannelTrack& track = channels_[id];
    if (!track.cursor) {
      if (!refetch_queue_.empty()) refetch_queue_.pop_front();
      return Status::Ok();
    }
    std::vector<uint64_t> seqs;
    bool aborted = false;
    Status saved = CommitCursor(
        id, *track.cursor, track.dependencies_pending,
        [&] { ApplyEntries(id, response.entries, &aborted, &seqs); }, &aborted);
    if (!saved.ok()) return saved;
    if (!refetch_queue_.empty()) refetch_queue_.pop_front();
    if (!seqs.empty()) events_.push_back(Fetched{id, std::move(seqs)});
    return Status::Ok();
  }

  // The Fetch of an ids-only page: the entries we lacked are applied, then
  // the cursor moves to the page's end.
  Status ApplyIdsPage(const FetchResponse& response) {
    IdsPage page = ids_pages_.front();
    const ChannelId& id = page.channel_id;
    if (response.epoch != page.epoch) {
      // The log changed history between Sync and Fetch: sync again, which
      // will say so (epoch mismatch) from the unchanged cursor.
      ids_pages_.pop_front();
      sync_queue_.insert(id);
      return Status::Ok();
    }
    std::unordered_map<MessageId, uint64_t> listed;
    for (const Entry& e : page.wanted) listed.emplace(e.message_id, e.seq);
    for (const Entry& e : response.entries) {
      auto it = listed.find(e.message_id);
      if (it == listed.end() || it->second != e.seq) {
        Status bad(ErrorCode::kInvalidArgument, "Fetch response: entry " + e.message_id +
                                                    " at seq " + std::to_string(e.seq) +
                                                    " is not the entry the Sync listed");
        ++stats_.rejected_responses;
        events_.push_back(ResponseRejected{RequestKind::kFetch, bad});
        return bad;
      }
    }
    std::unordered_set<MessageId> got,
        gone(response.missing_ids.begin(), response.missing_ids.end());
    for (const Entry& e : response.entries) got.insert(e.message_id);
    std::vector<Entry> left;  // retained, but past the store's byte budget: ask again
    std::vector<MessageId> missing;
    for (const Entry& e : page.wanted) {
      if (got.count(e.message_id) != 0) continue;
      if (gone.count(e.message_id) != 0) {
        missing.push_back(e.message_id);
      } else {
        left.push_back(e);
      }
    }
    std::vector<uint64_t> seqs;
    bool aborted = false;
    // The cursor passes the page only once every listed entry is applied.
    const Cursor current = *channels_[id].cursor;
    Cursor next = left.empty() ? Cursor{page.epoch, page.to_seq} : current;
    Status saved = CommitCursor(
        id, next, channels_[id].dependencies_pending,
        [&] { ApplyEntries(id, response.entries, &aborted, &seqs); }, &aborted);
    if (!saved.ok()) return saved;  // the page stays: fetched again after a backoff
    if (!seqs.empty()) events_.push_back(Fetched{id, seqs});
    if (!left.empty()) {
      ids_pages_.front().wanted = std::move(left);
      return Status::Ok();
    }
    ids_pages_.pop_front();
    ++stats_.delta_pages;
    if (!missing.empty()) {
      events_.push_back(Irretrievable{id, IrretrievableReason::kListedMissing, std::move(missing)});
    }
    if (page.more) {
      sync_queue_.insert(id);
    } else {
      events_.push_back(ChannelUpToDate{id, Cursor{page.epoch, page.to_seq}});
    }
    return Status::Ok();
  }

  ReliabilityManager& engine_;
  CatchUpConfig config_;
  std::map<ChannelId, ChannelTrack> channels_;

  bool connected_ = true;
  bool round_active_ = false;
  Timestamp now_{};
  Timestamp next_round_at_ = Timestamp::min();
  std::optional<Timestamp> retry_at_;
  int failures_ = 0;

  std::set<ChannelId> sync_queue_;
  std::map<ChannelId, Cold> cold_;
  std::deque<IdsPage> ids_pages_;
  std::deque<ChannelId> deps_queue_;

  std::optional<OutgoingRequest> ready_;
  bool ready_for_ids_page_ = false;
  bool ready_for_refetch_ = false;
  std::deque<ChannelId> refetch_queue_;
  bool refetch_listed_ = false;
  std::optional<Outstanding> outstanding_;
  uint64_t last_request_id_ = 0;

  std::deque<CatchUpEvent> events_;
  CatchUpStats stats_;
};

// ---- Public forwarding ---------------------------------------------------------------------

Result<std::unique_ptr<CatchUpDriver>> CatchUpDriver::Create(ReliabilityManager& engine,
                                                             CatchUpConfig config) {
  SDS_RETURN_IF_ERROR(ValidateCatchUpConfig(config, engine.config()));
  auto impl = std::make_unique<Impl>(engine, std::move(config));
  SDS_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<CatchUpDriver>(new CatchUpDriver(std::move(impl)));
}

CatchUpDriver::CatchUpDriver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CatchUpDriver::~CatchUpDriver() = default;

void CatchUpDriver::OnConnected(Timestamp now) { impl_->OnConnected(now); }
void CatchUpDriver::OnDisconnected(Timestamp now) { impl_->OnDisconnected(now); }
Timestamp CatchUpDriver::Tick(Timestamp now) { return impl_->Tick(now); }
Timestamp CatchUpDriver::NextDeadline() const { return impl_->NextDeadline(); }
std::optional<OutgoingRequest> CatchUpDriver::TakeRequest() { return impl_->TakeRequest(); }
std::optional<RequestKind> CatchUpDriver::OutstandingKind(uint64_t request_id) const {
  return impl_->OutstandingKind(request_id);
}
Status CatchUpDriver::OnSyncAnswer(uint64_t request_id, const Answer<SyncResponse>& answer,
                                   Timestamp now) {
  return impl_->OnSync(request_id, answer, now);
}
Status CatchUpDriver::OnSnapshotAnswer(uint64_t request_id, const Answer<SnapshotResponse>& answer,
                                       Timestamp now) {
  return impl_->OnSnapshot(request_id, answer, now);
}
Status CatchUpDriver::OnFetchAnswer(uint64_t request_id, const Answer<FetchResponse>& answer,
                                    Timestamp now) {
  return impl_->OnFetch(request_id, answer, now);
}
void CatchUpDriver::OnTransportFailure(uint64_t request_id, const std::string& reason,
                                       Timestamp now) {
  impl_->OnTransportFailure(request_id, reason, now);
}
std::optional<CatchUpEvent> CatchUpDriver::PollEvent() { return impl_->PollEvent(); }
std::vector<CatchUpEvent> CatchUpDriver::TakeEvents() { return impl_->TakeEvents(); }
std::optional<Cursor> CatchUpDriver::CursorOf(const ChannelId& channel_id) const {
  return impl_->CursorOf(channel_id);
}
bool CatchUpDriver::Idle() const { return impl_->Idle(); }
const ProtocolLimits& CatchUpDriver::limits_for_decoding() const { return impl_->config().limits; }
Status CatchUpDriver::RefuseUndecodable(uint64_t request_id, RequestKind kind, const Status& status,
                                        Timestamp now) {
  return impl_->RefuseUndecodable(request_id, kind, status, now);
}
const CatchUpStats& CatchUpDriver::stats() const { return impl_->stats(); }

}  // namespace sds::catchup
