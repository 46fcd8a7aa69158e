#include "catchup/response_checks.h"

#include <map>
#include <set>
#include <string>
#include <unordered_set>

namespace sds::catchup {
namespace {

Status Violation(const char* what, const std::string& detail) {
  return Status(ErrorCode::kInvalidArgument, std::string(what) + " response: " + detail);
}

std::string N(uint64_t v) { return std::to_string(v); }

std::string EpochHex(const Epoch& epoch) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : epoch) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool SameStore(const Bytes& expected, const Bytes& got) { return expected == got; }

// Size rules every entry of every answer obeys.
Status CheckEntry(const char* what, const ChannelId& channel, const Entry& entry,
                  const ProtocolLimits& limits) {
  if (entry.payload.size() > limits.max_payload_bytes) {
    return Violation(what, "channel " + channel + " seq " + N(entry.seq) + ": payload of " +
                               N(entry.payload.size()) + " bytes exceeds max_payload_bytes " +
                               N(limits.max_payload_bytes));
  }
  if (entry.message_id.size() > limits.max_id_bytes) {
    return Violation(what, "channel " + channel + " seq " + N(entry.seq) + ": message id of " +
                               N(entry.message_id.size()) + " bytes exceeds max_id_bytes");
  }
  return Status::Ok();
}

}  // namespace

const char* ColdReasonText(ColdReason reason) {
  switch (reason) {
    case ColdReason::kNone:
      return "none";
    case ColdReason::kNoCursor:
      return "no cursor";
    case ColdReason::kEpochMismatch:
      return "epoch mismatch";
    case ColdReason::kBehindRetention:
      return "behind retention";
    case ColdReason::kAheadOfHead:
      return "ahead of head";
  }
  return "unknown reason";
}

Status ValidateCatchUpConfig(const CatchUpConfig& config, const Config& engine) {
  auto bad = [](const std::string& what) {
    return Status(ErrorCode::kInvalidArgument, "catch-up config: " + what);
  };
  if (config.store_id.empty()) return bad("store_id is empty");
  if (config.store_id.size() > config.limits.max_id_bytes) return bad("store_id is too long");
  if (config.channels.empty()) return bad("no channels");
  std::set<ChannelId> seen;
  for (const ChannelId& id : config.channels) {
    if (id.empty()) return bad("an empty channel id");
    if (!seen.insert(id).second) return bad("channel " + id + " listed twice");
  }
  if (config.max_entries == 0) return bad("max_entries is 0");
  if (config.max_entries > engine.max_message_history) {
    return bad("max_entries " + N(config.max_entries) +
               " exceeds the engine's max_message_history " + N(engine.max_message_history) +
               " (I6: a replayed page must stay inside the duplicate window)");
  }
  if (config.max_entries > config.limits.max_entries_per_response) {
    return bad("max_entries exceeds limits.max_entries_per_response");
  }
  if (config.snapshot_entries == 0) return bad("snapshot_entries is 0");
  if (config.snapshot_entries > engine.max_message_history) {
    return bad("snapshot_entries " + N(config.snapshot_entries) +
               " exceeds the engine's max_message_history " + N(engine.max_message_history) +
               " (I6)");
  }
  if (config.snapshot_entries > config.limits.max_entries_per_response) {
    return bad("snapshot_entries exceeds limits.max_entries_per_response");
  }
  if (config.max_bytes == 0) return bad("max_bytes is 0");
  if (!config.random) return bad("no random source (needed for the backoff jitter)");
  if (config.sync_interval.count() <= 0) return bad("sync_interval must be positive");
  if (config.request_timeout.count() <= 0) return bad("request_timeout must be positive");
  if (config.initial_backoff.count() <= 0) return bad("initial_backoff must be positive");
  if (config.max_backoff < config.initial_backoff) return bad("max_backoff < initial_backoff");
  if (config.limits.max_ids_per_fetch == 0) return bad("limits.max_ids_per_fetch is 0");
  if (config.limits.max_channels_per_request == 0)
    return bad("limits.max_channels_per_request is 0");
  return Status::Ok();
}

Status CheckSyncResponse(const SyncRequest& request, const SyncResponse& response,
                         const CatchUpConfig& config) {
  const char* what = "Sync";
  if (!SameStore(config.store_id, response.store_id)) {
    return Violation(what, "from another store (store_id does not match)");
  }
  std::set<ChannelId> asked;
  for (const ChannelCursor& c : request.channels) asked.insert(c.channel_id);
  std::set<ChannelId> answered;
  size_t entries = 0, deltas = 0;
  for (const ChannelResult& result : response.channels) {
    if (asked.count(result.channel_id) == 0) {
      return Violation(what, "result for channel " + result.channel_id + ", which was not asked");
    }
    if (!answered.insert(result.channel_id).second) {
      return Violation(what, "channel " + result.channel_id + " answered twice");
    }
    if (result.status == SyncStatus::kDelta) {
      ++deltas;
    } else if (!result.entries.empty()) {
      return Violation(what, "channel " + result.channel_id +
                                 ": entries in a result that is not "
                                 "DELTA");
    }
    entries += result.entries.size();
    for (const Entry& e : result.entries) {
      SDS_RETURN_IF_ERROR(CheckEntry(what, result.channel_id, e, config.limits));
      if (request.ids_only && !e.payload.empty()) {
        return Violation(what, "channel " + result.channel_id + " seq " + N(e.seq) +
                                   ": payload in an ids-only answer");
      }
    }
  }
  if (answered.size() != asked.size()) {
    for (const ChannelId& id : asked) {
      if (answered.count(id) == 0) return Violation(what, "no result for channel " + id);
    }
  }
  if (deltas > 0 && entries == 0) {
    return Violation(what, "DELTA results without a single entry (no progress)");
  }
  // The store may send fewer entries than asked, never more, except that
  // every DELTA channel after the budget ran out carries its one entry.
  size_t allowed = request.max_entries + (deltas > 0 ? deltas - 1 : 0);
  if (entries > allowed || entries > config.limits.max_entries_per_response) {
    return Violation(what, N(entries) + " entries, more than the " + N(allowed) + " asked for");
  }
  return Status::Ok();
}

std::string CheckDeltaContinuity(const std::optional<Cursor>& cursor, const ChannelResult& r) {
  if (!cursor) return "DELTA for a channel without a cursor";
  if (r.epoch != cursor->epoch) {
    return "DELTA in epoch " + EpochHex(r.epoch) + ", cursor is in epoch " +
           EpochHex(cursor->epoch);
  }
  if (r.from_seq != cursor->seq + 1) {
    return "DELTA from seq " + N(r.from_seq) + ", cursor is at " + N(cursor->seq);
  }
  if (r.entries.empty()) {
    // A store out of budget for this channel says so with an empty page.
    if (r.to_seq == cursor->seq && r.has_more && r.head_seq > cursor->seq) return {};
    return "DELTA without entries that is not an empty page with has_more";
  }
  if (r.to_seq < r.from_seq) return "DELTA ending before it starts";
  if (r.to_seq - r.from_seq + 1 != r.entries.size()) {
    return "DELTA " + N(r.from_seq) + ".." + N(r.to_seq) + " carries " + N(r.entries.size()) +
           " entries (not dense)";
  }
  for (size_t i = 0; i < r.entries.size(); ++i) {
    if (r.entries[i].seq != r.from_seq + i) {
      return "DELTA entry " + N(i) + " has seq " + N(r.entries[i].seq) + ", expected " +
             N(r.from_seq + i) + " (seqs must be dense and ascending)";
    }
  }
  if (r.head_seq < r.to_seq) {
    return "DELTA up to seq " + N(r.to_seq) + " beyond head_seq " + N(r.head_seq);
  }
  if (r.low_seq > r.from_seq) {
    return "DELTA from seq " + N(r.from_seq) + " below low_seq " + N(r.low_seq);
  }
  return {};
}

std::string CheckUpToDate(const std::optional<Cursor>& cursor, const ChannelResult& r) {
  if (!cursor) return "UP_TO_DATE for a channel without a cursor";
  // On the wire UP_TO_DATE carries no body: the store matched our cursor.
  if (r.epoch == Epoch{} && r.low_seq == 0 && r.head_seq == 0) return {};
  if (r.epoch != cursor->epoch) {
    return "UP_TO_DATE in epoch " + EpochHex(r.epoch) + ", cursor is in epoch " +
           EpochHex(cursor->epoch);
  }
  if (r.head_seq != cursor->seq) {
    return "UP_TO_DATE with head_seq " + N(r.head_seq) + ", cursor is at " + N(cursor->seq);
  }
  return {};
}

Status CheckSnapshotResponse(const SnapshotRequest& request, const SnapshotResponse& response,
                             const CatchUpConfig& config) {
  const char* what = "Snapshot";
  if (!SameStore(config.store_id, response.store_id)) {
    return Violation(what, "from another store (store_id does not match)");
  }
  std::set<ChannelId> asked(request.channel_ids.begin(), request.channel_ids.end());
  std::set<ChannelId> answered;
  size_t total = 0;
  for (const ChannelSnapshot& s : response.channels) {
    const ChannelId& id = s.channel_id;
    if (asked.count(id) == 0) return Violation(what, "snapshot of channel " + id + ", not asked");
    if (!answered.insert(id).second) return Violation(what, "channel " + id + " answered twice");
    if (s.entries.size() > request.entries_per_channel) {
      return Violation(what, "channel " + id + ": " + N(s.entries.size()) +
                                 " entries, more than K = " + N(request.entries_per_channel));
    }
    total += s.entries.size();
    if (s.low_seq > s.snapshot_seq + 1) {
      return Violation(what, "channel " + id + ": low_seq " + N(s.low_seq) +
                                 " above snapshot_seq + 1 (" + N(s.snapshot_seq) + " + 1)");
    }
    for (size_t i = 0; i < s.entries.size(); ++i) {
      const Entry& e = s.entries[i];
      SDS_RETURN_IF_ERROR(CheckEntry(what, id, e, config.limits));
      if (e.seq > s.snapshot_seq) {
        return Violation(what, "channel " + id + ": entry seq " + N(e.seq) +
                                   " above snapshot_seq " + N(s.snapshot_seq));
      }
      if (e.seq < s.low_seq) {
        return Violation(
            what, "channel " + id + ": entry seq " + N(e.seq) + " below low_seq " + N(s.low_seq));
      }
      if (i > 0 && e.seq != s.entries[i - 1].seq + 1) {
        return Violation(what, "channel " + id + ": entry seq " + N(e.seq) + " after " +
                                   N(s.entries[i - 1].seq) + " (not dense and ascending)");
      }
    }
    if (!s.entries.empty() && s.entries.back().seq != s.snapshot_seq) {
      return Violation(what, "channel " + id + ": snapshot_seq " + N(s.snapshot_seq) +
                                 " is not the last entry's seq " + N(s.entries.back().seq));
    }
  }
  for (const ChannelId& id : response.unknown_channel_ids) {
    if (asked.count(id) == 0) return Violation(what, "unknown channel " + id + ", not asked");
    if (!answered.insert(id).second) return Violation(what, "channel " + id + " answered twice");
  }
  for (const ChannelId& id : asked) {
    if (answered.count(id) == 0) return Violation(what, "no answer for channel " + id);
  }
  if (total > config.limits.max_entries_per_response) {
    return Violation(what, N(total) + " entries exceed limits.max_entries_per_response");
  }
  return Status::Ok();
}

Status CheckFetchResponse(const FetchRequest& request, const FetchResponse& response,
                          const CatchUpConfig& config) {
  const char* what = "Fetch";
  if (!SameStore(config.store_id, response.store_id)) {
    return Violation(what, "from another store (store_id does not match)");
  }
  std::unordered_set<MessageId> asked(request.message_ids.begin(), request.message_ids.end());
  std::unordered_set<MessageId> seen;
  for (size_t i = 0; i < response.entries.size(); ++i) {
    const Entry& e = response.entries[i];
    SDS_RETURN_IF_ERROR(CheckEntry(what, request.channel_id, e, config.limits));
    if (asked.count(e.message_id) == 0) {
      return Violation(what, "entry " + e.message_id + " was not asked for");
    }
    if (!seen.insert(e.message_id).second) {
      return Violation(what, "entry " + e.message_id + " returned twice");
    }
    if (i > 0 && e.seq <= response.entries[i - 1].seq) {
      return Violation(what, "entries not ascending by seq (" + N(e.seq) + " after " +
                                 N(response.entries[i - 1].seq) + ")");
    }
  }
  if (!request.message_ids.empty() && response.entries.empty() && response.missing_ids.empty() &&
      response.missing_hints.empty()) {
    return Violation(what, "neither entries nor missing ids (no progress)");
  }
  for (const MessageId& id : response.missing_ids) {
    if (asked.count(id) == 0) return Violation(what, "missing id " + id + " was not asked for");
    if (seen.count(id) != 0) return Violation(what, "id " + id + " both returned and missing");
  }
  return Status::Ok();
}

}  // namespace sds::catchup
