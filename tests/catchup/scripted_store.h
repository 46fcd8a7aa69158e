// A store for catch-up tests: a reference model of the server rule of
// catchup_protocol.h over per-channel logs held in memory, answering typed
// requests, plus a pump that runs a CatchUpDriver against it on virtual time.
// Tests tamper with its answers (Tamper hooks) to play a hostile store.
#ifndef SDS_TESTS_CATCHUP_SCRIPTED_STORE_H_
#define SDS_TESTS_CATCHUP_SCRIPTED_STORE_H_

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sds/catchup.h"
#include "sds/codec.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"

namespace sds::catchup::testing {

inline Epoch MakeEpoch(uint8_t n) {
  Epoch e{};
  e.fill(n);
  return e;
}

class ScriptedStore {
 public:
  struct Log {
    Epoch epoch{};
    uint64_t low_seq = 1;
    uint64_t head_seq = 0;
    std::map<uint64_t, Entry> entries;
    std::map<MessageId, uint64_t> by_id;
  };

  Bytes store_id = ToBytes("store-1");
  std::map<ChannelId, Log> logs;
  uint8_t next_epoch = 1;
  uint32_t max_entries_cap = 1000;

  // Hooks to play a hostile store: change an answer before it is returned.
  std::function<void(SyncResponse&)> tamper_sync;
  std::function<void(SnapshotResponse&)> tamper_snapshot;
  std::function<void(FetchResponse&)> tamper_fetch;
  // Requests seen, by kind.
  std::vector<SyncRequest> syncs;
  std::vector<SnapshotRequest> snapshots;
  std::vector<FetchRequest> fetches;

  Log& Channel(const ChannelId& id) {
    auto it = logs.find(id);
    if (it == logs.end()) {
      it = logs.emplace(id, Log{}).first;
      it->second.epoch = MakeEpoch(next_epoch++);
    }
    return it->second;
  }

  // Idempotent on the message id (I3); returns the entry's seq.
  uint64_t Append(const ChannelId& channel, ByteSpan wire) {
    auto decoded = DecodeAny(SharedBytes(Bytes(wire.begin(), wire.end())));
    Log& log = Channel(channel);
    MessageId id = decoded.ok() ? decoded->message.message_id : "undecodable";
    LamportTime lamport = decoded.ok() ? decoded->message.lamport_timestamp.value_or(0) : 0;
    return AppendRaw(log, id, Bytes(wire.begin(), wire.end()), lamport);
  }
  uint64_t AppendRaw(Log& log, const MessageId& id, Bytes payload, LamportTime lamport = 0) {
    if (auto it = log.by_id.find(id); it != log.by_id.end()) return it->second;
    uint64_t seq = ++log.head_seq;
    log.entries[seq] = Entry{seq, id, lamport, std::move(payload)};
    log.by_id[id] = seq;
    return seq;
  }
  // Retention: keeps seqs >= keep_from.
  void Retain(const ChannelId& channel, uint64_t keep_from) {
    Log& log = Channel(channel);
    while (!log.entries.empty() && log.entries.begin()->first < keep_from) {
      log.by_id.erase(log.entries.begin()->second.message_id);
      log.entries.erase(log.entries.begin());
    }
    log.low_seq = std::max(log.low_seq, std::min(keep_from, log.head_seq + 1));
  }
  // A restore from backup: history is not a continuation, a new epoch.
  void Restore(const ChannelId& channel, uint64_t keep_up_to) {
    Log& log = Channel(channel);
    while (!log.entries.empty() && log.entries.rbegin()->first > keep_up_to) {
      log.by_id.erase(log.entries.rbegin()->second.message_id);
      log.entries.erase(std::prev(log.entries.end()));
    }
    log.head_seq = std::min(log.head_seq, keep_up_to);
    log.epoch = MakeEpoch(next_epoch++);
  }

  SyncResponse Answer(const SyncRequest& request) {
    syncs.push_back(request);
    SyncResponse response;
    response.store_id = store_id;
    uint64_t budget = std::min(request.max_entries, max_entries_cap);
    uint64_t bytes = 0;
    for (const ChannelCursor& c : request.channels) {
      ChannelResult r;
      r.channel_id = c.channel_id;
      auto it = logs.find(c.channel_id);
      if (it == logs.end()) {
        r.status = SyncStatus::kUnknownChannel;
        response.channels.push_back(std::move(r));
        continue;
      }
      const Log& log = it->second;
      r.epoch = log.epoch;
      r.low_seq = log.low_seq;
      r.head_seq = log.head_seq;
      auto cold = [&](ColdReason reason) {
        r.status = SyncStatus::kColdStartRequired;
        r.reason = reason;
      };
      if (!c.cursor) {
        cold(ColdReason::kNoCursor);
      } else if (c.cursor->epoch != log.epoch) {
        cold(ColdReason::kEpochMismatch);
      } else if (c.cursor->seq > log.head_seq) {
        cold(ColdReason::kAheadOfHead);
      } else if (c.cursor->seq == log.head_seq) {
        r.status = SyncStatus::kUpToDate;
      } else if (c.cursor->seq + 1 < log.low_seq) {
        cold(ColdReason::kBehindRetention);
      } else {
        r.status = SyncStatus::kDelta;
        r.from_seq = c.cursor->seq + 1;
        for (uint64_t s = r.from_seq; s <= log.head_seq; ++s) {
          const Entry& e = log.entries.at(s);
          bool first = r.entries.empty();
          if (!first && (budget == 0 || bytes + e.payload.size() > request.max_bytes)) break;
          Entry out = e;
          if (request.ids_only) out.payload.clear();
          bytes += out.payload.size();
          r.entries.push_back(std::move(out));
          if (budget > 0) --budget;
        }
        r.to_seq = r.entries.back().seq;
        r.has_more = r.to_seq < log.head_seq;
      }
      response.channels.push_back(std::move(r));
    }
    if (tamper_sync) tamper_sync(response);
    return response;
  }

  SnapshotResponse Answer(const SnapshotRequest& request) {
    snapshots.push_back(request);
    SnapshotResponse response;
    response.store_id = store_id;
    for (const ChannelId& id : request.channel_ids) {
      auto it = logs.find(id);
      if (it == logs.end()) {
        response.unknown_channel_ids.push_back(id);
        continue;
      }
      const Log& log = it->second;
      ChannelSnapshot s;
      s.channel_id = id;
      s.epoch = log.epoch;
      s.snapshot_seq = log.head_seq;
      s.low_seq = log.low_seq;
      s.retained_count = log.entries.size();
      uint64_t first = log.head_seq >= request.entries_per_channel
                           ? log.head_seq - request.entries_per_channel + 1
                           : 1;
      first = std::max(first, log.low_seq);
      for (uint64_t seq = first; seq <= log.head_seq; ++seq)
        s.entries.push_back(log.entries.at(seq));
      response.channels.push_back(std::move(s));
    }
    if (tamper_snapshot) tamper_snapshot(response);
    return response;
  }

  FetchResponse Answer(const FetchRequest& request) {
    fetches.push_back(request);
    FetchResponse response;
    response.store_id = store_id;
    auto it = logs.find(request.channel_id);
    std::vector<Entry> found;
    for (const MessageId& id : request.message_ids) {
      if (it == logs.end() || it->second.by_id.count(id) == 0) {
        response.missing_ids.push_back(id);
        continue;
      }
      found.push_back(it->second.entries.at(it->second.by_id.at(id)));
    }
    std::sort(found.begin(), found.end(),
              [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
    response.entries = std::move(found);
    if (it != logs.end()) response.epoch = it->second.epoch;
    if (tamper_fetch) tamper_fetch(response);
    return response;
  }
};

// Answers every request of the driver until it has nothing to send, all at
// `now` (no virtual time passes). Returns the number of requests answered.
inline int Pump(CatchUpDriver& driver, ScriptedStore& store, Timestamp now,
                int max_requests = 1000) {
  int n = 0;
  driver.Tick(now);
  while (n < max_requests) {
    auto request = driver.TakeRequest();
    if (!request) break;
    ++n;
    Status status;
    if (auto* sync = std::get_if<SyncRequest>(&request->request)) {
      status = driver.OnSyncAnswer(request->request_id, store.Answer(*sync), now);
    } else if (auto* snap = std::get_if<SnapshotRequest>(&request->request)) {
      status = driver.OnSnapshotAnswer(request->request_id, store.Answer(*snap), now);
    } else {
      status = driver.OnFetchAnswer(request->request_id,
                                    store.Answer(std::get<FetchRequest>(request->request)), now);
    }
    (void)status;
    driver.Tick(now);
  }
  return n;
}

// A participant: engine over a MemoryStore, and a driver; Rebuild models a
// crash (everything in memory is lost, the Store survives).
struct Client {
  Config config;
  CatchUpConfig catchup;
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::unique_ptr<ReliabilityManager> engine;
  std::unique_ptr<CatchUpDriver> driver;
  std::vector<MessageId> delivered;  // MessageReady, in order

  Status Rebuild() {
    driver.reset();
    auto e = ReliabilityManager::Create(config, store);
    if (!e.ok()) return e.status();
    engine = std::move(*e);
    auto d = CatchUpDriver::Create(*engine, catchup);
    if (!d.ok()) return d.status();
    driver = std::move(*d);
    return Status::Ok();
  }
  void Drain() {
    for (Event& event : engine->TakeEvents()) {
      if (auto* ready = std::get_if<MessageReady>(&event)) delivered.push_back(ready->message_id);
    }
  }
};

inline Config SmallConfig(const ParticipantId& id) {
  Config config;
  config.participant_id = id;
  config.bloom_filter_capacity = 200;
  return config;
}

inline CatchUpConfig DefaultCatchUp(std::vector<ChannelId> channels) {
  CatchUpConfig c;
  c.store_id = ToBytes("store-1");
  c.channels = std::move(channels);
  c.random = [state = uint64_t{0x9e3779b97f4a7c15}]() mutable {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  return c;
}

}  // namespace sds::catchup::testing

#endif  // SDS_TESTS_CATCHUP_SCRIPTED_STORE_H_
