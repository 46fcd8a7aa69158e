#include "sds/log_service.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>

namespace sds::catchup {
namespace {

ServiceError Error(ServiceErrorCode code, std::string message) {
  return ServiceError{code, std::move(message), 0};
}

std::optional<ServiceError> CheckVersion(uint32_t version) {
  if (version == kProtocolVersion) return std::nullopt;
  ServiceError error =
      Error(ServiceErrorCode::kUnsupportedVersion, "protocol_version " + std::to_string(version) +
                                                       " is not supported (this store speaks " +
                                                       std::to_string(kProtocolVersion) + ")");
  error.supported_version = kProtocolVersion;
  return error;
}

// The first repeated id, if any: a request naming a channel twice is
// inconsistent (which cursor would count?).
template <typename Range, typename Key>
const std::string* FirstDuplicate(const Range& items, Key key) {
  if (items.size() <= 16) {
    for (size_t i = 0; i < items.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (key(items[i]) == key(items[j])) return &key(items[i]);
    return nullptr;
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(items.size());
  for (const auto& item : items)
    if (!seen.insert(key(item)).second) return &key(item);
  return nullptr;
}

uint64_t Effective(uint64_t asked, uint64_t default_value, uint64_t cap) {
  return std::min(asked == 0 ? default_value : asked, cap);
}

uint64_t PayloadBytes(const std::vector<Entry>& entries, size_t from = 0) {
  uint64_t total = 0;
  for (size_t i = from; i < entries.size(); ++i) total += entries[i].payload.size();
  return total;
}

std::string Printable(const std::string& id) {
  std::string out;
  for (char c : id.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

struct LogService::Counters {
  std::mutex mutex;
  LogServiceCounters value;

  void Count(LogServiceCounters::Outcomes LogServiceCounters::*kind,
             const std::optional<ServiceError>& error) {
    std::lock_guard lock(mutex);
    LogServiceCounters::Outcomes& o = value.*kind;
    if (!error) {
      ++o.ok;
      return;
    }
    switch (error->code) {
      case ServiceErrorCode::kBadRequest:
        ++o.bad_request;
        break;
      case ServiceErrorCode::kUnsupportedVersion:
        ++o.unsupported_version;
        break;
      case ServiceErrorCode::kTooLarge:
        ++o.too_large;
        break;
      case ServiceErrorCode::kBusy:
      case ServiceErrorCode::kInternal:
        ++o.internal;
        break;
    }
  }
};

Result<std::unique_ptr<LogService>> LogService::Create(std::shared_ptr<ChannelLog> log,
                                                       LogServiceConfig config) {
  if (log == nullptr) return Status(ErrorCode::kInvalidArgument, "LogService needs a ChannelLog");
  auto check = [](uint64_t value, uint64_t limit, const char* name) -> Status {
    if (value == 0 || value > limit) {
      return Status(ErrorCode::kInvalidArgument, std::string("LogServiceConfig::") + name + " = " +
                                                     std::to_string(value) + ": must be 1.." +
                                                     std::to_string(limit));
    }
    return Status::Ok();
  };
  using C = LogServiceConfig;
  SDS_RETURN_IF_ERROR(check(config.max_entries_cap, C::kMaxEntriesLimit, "max_entries_cap"));
  SDS_RETURN_IF_ERROR(
      check(config.default_max_entries, config.max_entries_cap, "default_max_entries"));
  SDS_RETURN_IF_ERROR(check(config.max_bytes_cap, C::kMaxBytesLimit, "max_bytes_cap"));
  SDS_RETURN_IF_ERROR(check(config.default_max_bytes, config.max_bytes_cap, "default_max_bytes"));
  SDS_RETURN_IF_ERROR(
      check(config.max_snapshot_entries, C::kMaxEntriesLimit, "max_snapshot_entries"));
  SDS_RETURN_IF_ERROR(check(config.default_snapshot_entries, config.max_snapshot_entries,
                            "default_snapshot_entries"));
  SDS_RETURN_IF_ERROR(check(config.max_snapshot_bytes, C::kMaxBytesLimit, "max_snapshot_bytes"));
  SDS_RETURN_IF_ERROR(check(config.max_backfill_limit, C::kMaxEntriesLimit, "max_backfill_limit"));
  SDS_RETURN_IF_ERROR(
      check(config.default_backfill_limit, config.max_backfill_limit, "default_backfill_limit"));
  SDS_RETURN_IF_ERROR(check(config.max_backfill_bytes, C::kMaxBytesLimit, "max_backfill_bytes"));
  SDS_RETURN_IF_ERROR(
      check(config.max_fetch_ids, config.limits.max_ids_per_fetch, "max_fetch_ids"));
  SDS_RETURN_IF_ERROR(check(config.max_fetch_bytes, C::kMaxBytesLimit, "max_fetch_bytes"));
  SDS_RETURN_IF_ERROR(check(config.max_channels_per_request, config.limits.max_channels_per_request,
                            "max_channels_per_request"));
  return std::unique_ptr<LogService>(new LogService(std::move(log), std::move(config)));
}

LogService::LogService(std::shared_ptr<ChannelLog> log, LogServiceConfig config)
    : log_(std::move(log)), config_(std::move(config)), counters_(std::make_unique<Counters>()) {}
LogService::~LogService() = default;

LogServiceCounters LogService::counters() const {
  std::lock_guard lock(counters_->mutex);
  return counters_->value;
}

// ---- Sync ------------------------------------------------------------------

Answer<SyncResponse> LogService::Sync(const SyncRequest& request) {
  auto fail = [&](ServiceError error) -> Answer<SyncResponse> {
    counters_->Count(&LogServiceCounters::sync, error);
    return error;
  };
  if (auto error = CheckVersion(request.protocol_version)) return fail(*error);
  if (request.channels.size() > config_.max_channels_per_request) {
    return fail(Error(ServiceErrorCode::kTooLarge,
                      std::to_string(request.channels.size()) + " channels in one Sync (at most " +
                          std::to_string(config_.max_channels_per_request) + ")"));
  }
  if (const std::string* dup = FirstDuplicate(
          request.channels,
          [](const ChannelCursor& c) -> const std::string& { return c.channel_id; })) {
    return fail(Error(ServiceErrorCode::kBadRequest,
                      "channel '" + Printable(*dup) + "' appears twice in one Sync"));
  }
  const uint64_t max_entries =
      Effective(request.max_entries, config_.default_max_entries, config_.max_entries_cap);
  const uint64_t max_bytes =
      Effective(request.max_bytes, config_.default_max_bytes, config_.max_bytes_cap);

  SyncResponse response;
  response.store_id = log_->store_id();
  response.channels.reserve(request.channels.size());
  LogServiceCounters tally;
  std::vector<std::string> ahead;
  Status status = log_->Read([&](ReadView& view) -> Status {
    uint64_t entries_left = max_entries, bytes_left = max_bytes;
    for (const ChannelCursor& asked : request.channels) {
      ChannelResult& r = response.channels.emplace_back();
      r.channel_id = asked.channel_id;
      const ChannelMeta* meta = view.Find(asked.channel_id);
      if (meta == nullptr) {
        r.status = SyncStatus::kUnknownChannel;
        ++tally.unknown_channel;
        continue;
      }
      r.epoch = meta->epoch;
      r.low_seq = meta->low_seq;
      r.head_seq = meta->head_seq;
      auto cold = [&](ColdReason reason, uint64_t& counter) {
        r.status = SyncStatus::kColdStartRequired;
        r.reason = reason;
        ++counter;
      };
      const std::optional<Cursor>& cursor = asked.cursor;
      if (!cursor) {
        cold(ColdReason::kNoCursor, tally.cold_starts.no_cursor);
      } else if (cursor->epoch != meta->epoch) {
        cold(ColdReason::kEpochMismatch, tally.cold_starts.epoch_mismatch);
      } else if (cursor->seq > meta->head_seq) {
        cold(ColdReason::kAheadOfHead, tally.cold_starts.ahead_of_head);
        ahead.push_back("channel '" + Printable(asked.channel_id) + "': cursor seq " +
                        std::to_string(cursor->seq) + " > head_seq " +
                        std::to_string(meta->head_seq) + " in the same epoch");
      } else if (cursor->seq == meta->head_seq) {
        // No body: the epoch and head are the cursor's (the keep-alive answer).
        r.status = SyncStatus::kUpToDate;
        r.epoch = kNoEpoch;
        r.low_seq = r.head_seq = 0;
        ++tally.up_to_date;
      } else if (cursor->seq + 1 < meta->low_seq) {
        cold(ColdReason::kBehindRetention, tally.cold_starts.behind_retention);
      } else {
        r.status = SyncStatus::kDelta;
        ++tally.delta;
        r.from_seq = cursor->seq + 1;
        // At least one entry for every DELTA (the protocol has no empty page).
        ReadLimits limits{entries_left, bytes_left, 1, !request.ids_only};
        SDS_RETURN_IF_ERROR(view.ReadForward(asked.channel_id, r.from_seq, limits, r.entries));
        r.to_seq = r.entries.empty() ? cursor->seq : r.entries.back().seq;
        r.has_more = r.to_seq < meta->head_seq;
        uint64_t bytes = PayloadBytes(r.entries);
        entries_left -= std::min<uint64_t>(entries_left, r.entries.size());
        bytes_left -= std::min(bytes_left, bytes);
        tally.entries_served += r.entries.size();
        tally.payload_bytes_served += bytes;
      }
    }
    return Status::Ok();
  });
  if (!status.ok()) {
    return fail(Error(ServiceErrorCode::kInternal, "the log failed: " + status.ToString()));
  }
  if (config_.log) {
    for (const std::string& line : ahead) {
      config_.log(
          LogLevel::kWarning,
          "Sync: a cursor is ahead of the log's head (a lost tail without a new epoch?) " + line);
    }
  }
  {
    std::lock_guard lock(counters_->mutex);
    LogServiceCounters& c = counters_->value;
    ++c.sync.ok;
    c.delta += tally.delta;
    c.up_to_date += tally.up_to_date;
    c.unknown_channel += tally.unknown_channel;
    c.cold_starts.no_cursor += tally.cold_starts.no_cursor;
    c.cold_starts.epoch_mismatch += tally.cold_starts.epoch_mismatch;
    c.cold_starts.behind_retention += tally.cold_starts.behind_retention;
    c.cold_starts.ahead_of_head += tally.cold_starts.ahead_of_head;
    c.entries_served += tally.entries_served;
    c.payload_bytes_served += tally.payload_bytes_served;
  }
  return response;
}

// ---- Snapshot --------------------------------------------------------------

Answer<SnapshotResponse> LogService::Snapshot(const SnapshotRequest& request) {
  auto fail = [&](ServiceError error) -> Answer<SnapshotResponse> {
    counters_->Count(&LogServiceCounters::snapshot, error);
    return error;
  };
  if (auto error = CheckVersion(request.protocol_version)) return fail(*error);
  if (request.channel_ids.size() > config_.max_channels_per_request) {
    return fail(Error(ServiceErrorCode::kTooLarge,
                      std::to_string(request.channel_ids.size()) +
                          " channels in one Snapshot (at most " +
                          std::to_string(config_.max_channels_per_request) + ")"));
  }
  if (const std::string* dup = FirstDuplicate(
          request.channel_ids, [](const ChannelId& c) -> const std::string& { return c; })) {
    return fail(Error(ServiceErrorCode::kBadRequest,
                      "channel '" + Printable(*dup) + "' appears twice in one Snapshot"));
  }
  const uint64_t k = Effective(request.entries_per_channel, config_.default_snapshot_entries,
                               config_.max_snapshot_entries);
  SnapshotResponse response;
  response.store_id = log_->store_id();
  uint64_t served = 0, served_bytes = 0;
  Status status = log_->Read([&](ReadView& view) -> Status {
    uint64_t bytes_left = config_.max_snapshot_bytes;
    for (const ChannelId& id : request.channel_ids) {
      const ChannelMeta* meta = view.Find(id);
      if (meta == nullptr) {
        response.unknown_channel_ids.push_back(id);
        continue;
      }
      ChannelSnapshot& s = response.channels.emplace_back();
      s.channel_id = id;
      s.epoch = meta->epoch;
      s.snapshot_seq = meta->head_seq;
      s.low_seq = meta->low_seq;
      s.max_lamport = meta->max_lamport;
      s.retained_count = meta->retained_count;
      ReadLimits limits{k, bytes_left, 0, true};
      SDS_RETURN_IF_ERROR(view.ReadBackward(id, s.snapshot_seq, limits, s.entries));
      uint64_t bytes = PayloadBytes(s.entries);
      bytes_left -= std::min(bytes_left, bytes);
      served += s.entries.size();
      served_bytes += bytes;
    }
    return Status::Ok();
  });
  if (!status.ok()) {
    return fail(Error(ServiceErrorCode::kInternal, "the log failed: " + status.ToString()));
  }
  std::lock_guard lock(counters_->mutex);
  ++counters_->value.snapshot.ok;
  counters_->value.entries_served += served;
  counters_->value.payload_bytes_served += served_bytes;
  return response;
}

// ---- Fetch -----------------------------------------------------------------

Answer<FetchResponse> LogService::Fetch(const FetchRequest& request) {
  auto fail = [&](ServiceError error) -> Answer<FetchResponse> {
    counters_->Count(&LogServiceCounters::fetch, error);
    return error;
  };
  if (auto error = CheckVersion(request.protocol_version)) return fail(*error);
  size_t asked = request.message_ids.size() + request.retrieval_hints.size();
  if (asked > config_.max_fetch_ids) {
    return fail(Error(ServiceErrorCode::kTooLarge,
                      std::to_string(asked) + " ids and hints in one Fetch (at most " +
                          std::to_string(config_.max_fetch_ids) + ")"));
  }
  FetchResponse response;
  response.store_id = log_->store_id();
  uint64_t served_bytes = 0;
  Status status = log_->Read([&](ReadView& view) -> Status {
    const ChannelMeta* meta = view.Find(request.channel_id);
    if (meta == nullptr) {
      response.missing_ids = request.message_ids;
      response.missing_hints = request.retrieval_hints;
      return Status::Ok();
    }
    response.epoch = meta->epoch;
    std::map<uint64_t, Entry> found;
    uint64_t bytes = 0;
    auto take = [&](std::optional<Entry>&& entry) {
      if (found.count(entry->seq) != 0) return;
      if (!found.empty() && bytes + entry->payload.size() > config_.max_fetch_bytes) return;
      bytes += entry->payload.size();
      found.emplace(entry->seq, std::move(*entry));
    };
    for (const MessageId& id : request.message_ids) {
      auto entry = view.FindById(request.channel_id, id, true);
      if (!entry.ok()) return entry.status();
      if (!*entry) {
        response.missing_ids.push_back(id);
      } else {
        take(std::move(*entry));
      }
    }
    for (const Bytes& hint : request.retrieval_hints) {
      auto entry = view.FindByHint(request.channel_id, hint, true);
      if (!entry.ok()) return entry.status();
      if (!*entry) {
        response.missing_hints.push_back(hint);
      } else {
        take(std::move(*entry));
      }
    }
    response.entries.reserve(found.size());
    for (auto& [seq, entry] : found) response.entries.push_back(std::move(entry));
    served_bytes = bytes;
    return Status::Ok();
  });
  if (!status.ok()) {
    return fail(Error(ServiceErrorCode::kInternal, "the log failed: " + status.ToString()));
  }
  std::lock_guard lock(counters_->mutex);
  ++counters_->value.fetch.ok;
  counters_->value.entries_served += response.entries.size();
  counters_->value.payload_bytes_served += served_bytes;
  return response;
}

// ---- Backfill --------------------------------------------------------------

Answer<BackfillResponse> LogService::Backfill(const BackfillRequest& request) {
  auto fail = [&](ServiceError error) -> Answer<BackfillResponse> {
    counters_->Count(&LogServiceCounters::backfill, error);
    return error;
  };
  if (auto error = CheckVersion(request.protocol_version)) return fail(*error);
  const uint64_t limit =
      Effective(request.limit, config_.default_backfill_limit, config_.max_backfill_limit);
  BackfillResponse response;
  response.store_id = log_->store_id();
  Status status = log_->Read([&](ReadView& view) -> Status {
    const ChannelMeta* meta = view.Find(request.channel_id);
    if (meta == nullptr) {
      response.status = SyncStatus::kUnknownChannel;
      return Status::Ok();
    }
    response.epoch = meta->epoch;
    response.low_seq = meta->low_seq;
    if (request.epoch != meta->epoch) {
      response.status = SyncStatus::kColdStartRequired;
      return Status::Ok();
    }
    response.status = SyncStatus::kDelta;
    if (request.before_seq > meta->low_seq) {
      ReadLimits limits{limit, config_.max_backfill_bytes, 1, true};
      SDS_RETURN_IF_ERROR(
          view.ReadBackward(request.channel_id, request.before_seq - 1, limits, response.entries));
    }
    response.reached_low =
        response.entries.empty() || response.entries.front().seq == meta->low_seq;
    return Status::Ok();
  });
  if (!status.ok()) {
    return fail(Error(ServiceErrorCode::kInternal, "the log failed: " + status.ToString()));
  }
  std::lock_guard lock(counters_->mutex);
  ++counters_->value.backfill.ok;
  counters_->value.entries_served += response.entries.size();
  counters_->value.payload_bytes_served += PayloadBytes(response.entries);
  return response;
}

// ---- Bytes in, bytes out ------------------------------------------------------

template <typename Request, typename Response>
Bytes LogService::Handle(ByteSpan bytes, LogServiceCounters::Outcomes LogServiceCounters::*kind,
                         Result<Request> (*decode)(ByteSpan, const ProtocolLimits&),
                         Answer<Response> (LogService::*answer)(const Request&),
                         Bytes (*encode)(const Response&)) {
  auto fail = [&](ServiceErrorCode code, std::string message) {
    ServiceError error{code, std::move(message), 0, 0};
    counters_->Count(kind, error);
    return EncodeServiceError(error);
  };
  const ProtocolLimits& limits = config_.limits;
  if (bytes.size() > limits.max_request_bytes) {
    return fail(ServiceErrorCode::kTooLarge, "request of " + std::to_string(bytes.size()) +
                                                 " bytes (at most " +
                                                 std::to_string(limits.max_request_bytes) + ")");
  }
  Result<Request> request = decode(bytes, limits);
  if (!request.ok()) {
    const Status& status = request.status();
    return fail(status.code() == ErrorCode::kDecodeLimitExceeded ? ServiceErrorCode::kTooLarge
                                                                 : ServiceErrorCode::kBadRequest,
                "undecodable request: " + status.ToString());
  }
  Answer<Response> reply = (this->*answer)(*request);
  if (auto* error = std::get_if<ServiceError>(&reply)) return EncodeServiceError(*error);
  Bytes out = encode(std::get<Response>(reply));
  if (out.size() > limits.max_response_bytes) {
    // Counted once: the typed call counted an ok answer that is not sent.
    {
      std::lock_guard lock(counters_->mutex);
      --(counters_->value.*kind).ok;
    }
    return fail(ServiceErrorCode::kTooLarge,
                "the answer would be " + std::to_string(out.size()) + " bytes (at most " +
                    std::to_string(limits.max_response_bytes) + "): ask for fewer entries");
  }
  return out;
}

Bytes LogService::HandleSync(ByteSpan request) {
  return Handle<SyncRequest, SyncResponse>(request, &LogServiceCounters::sync, &DecodeSyncRequest,
                                           &LogService::Sync, &EncodeSyncResponse);
}
Bytes LogService::HandleSnapshot(ByteSpan request) {
  return Handle<SnapshotRequest, SnapshotResponse>(request, &LogServiceCounters::snapshot,
                                                   &DecodeSnapshotRequest, &LogService::Snapshot,
                                                   &EncodeSnapshotResponse);
}
Bytes LogService::HandleFetch(ByteSpan request) {
  return Handle<FetchRequest, FetchResponse>(request, &LogServiceCounters::fetch,
                                             &DecodeFetchRequest, &LogService::Fetch,
                                             &EncodeFetchResponse);
}
Bytes LogService::HandleBackfill(ByteSpan request) {
  return Handle<BackfillRequest, BackfillResponse>(request, &LogServiceCounters::backfill,
                                                   &DecodeBackfillRequest, &LogService::Backfill,
                                                   &EncodeBackfillResponse);
}

}  // namespace sds::catchup
