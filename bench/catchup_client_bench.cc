// sds_catchup_client_bench: what catch-up from a store costs a participant.
//
//   sds_catchup_client_bench     all three tables
//
// 1. Bytes on the wire (requests + responses, catch-up protocol encoding) to
//    catch up after d missed messages, for a DELTA from a cursor, a cold
//    start with a snapshot (K = 100, plus the Fetch of its dependencies),
//    ids-only + Fetch when 90 % came live over relay, and the baseline of
//    sending the whole retained log (1,000 entries) every time. Messages are
//    real SDS wire messages from a ReliabilityManager (nim dialect, bloom
//    filter capacity 1,000: ~1.8 KB of filter per message).
// 2. Client CPU per UP_TO_DATE round and per DELTA page of 100 entries.
// 3. Time to bring C channels x d missed messages up to date in process
//    (driver + engine + LogService over MemoryChannelLog, bytes both ways).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "sds/catchup.h"
#include "sds/log_service.h"
#include "sds/memory_channel_log.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"

namespace {

using namespace sds;
using namespace sds::catchup;
using Clock = std::chrono::steady_clock;

const Timestamp kNow = TimestampFromUnixMillis(1'700'000'000'000);

Config EngineConfig(const std::string& id) {
  Config c;
  c.participant_id = id;
  c.bloom_filter_capacity = 1000;
  return c;
}

// A store node with `channels` channels of `n` messages each, content of
// `content_bytes`; returns the wire messages per channel.
struct World {
  std::shared_ptr<MemoryChannelLog> log;
  std::unique_ptr<LogService> service;
  std::vector<std::vector<SharedBytes>> wires;
  size_t total_wire_bytes = 0;

  World(int channels, int n, size_t content_bytes) {
    ChannelLogOptions options;
    uint64_t state = 42;
    options.entropy = [state](std::span<uint8_t> out) mutable {
      for (auto& b : out)
        b = static_cast<uint8_t>((state = state * 6364136223846793005ULL + 1) >> 56);
    };
    options.store_id = ToBytes("bench-store");
    options.retention.max_entries_per_channel = 100000;
    log = std::shared_ptr<MemoryChannelLog>(std::move(*MemoryChannelLog::Create(options)));
    service = std::move(*LogService::Create(log));
    auto sender = std::move(*ReliabilityManager::Create(EngineConfig("sender")));
    std::string content(content_bytes, 'x');
    wires.resize(channels);
    for (int c = 0; c < channels; ++c) {
      ChannelId ch = "channel-" + std::to_string(c);
      for (int i = 0; i < n; ++i) {
        auto wire = sender->Wrap(ch, ToBytes(content), ch + "/msg-" + std::to_string(i), kNow);
        (void)log->AppendOne(*wire, kNow);
        total_wire_bytes += wire->size();
        wires[c].push_back(*wire);
      }
    }
  }
};

// On the wire UP_TO_DATE carries no body (catchup_protocol.h codec).
SyncResponse WireForm(SyncResponse r) {
  for (ChannelResult& c : r.channels) {
    if (c.status == SyncStatus::kUpToDate) {
      c.epoch = Epoch{};
      c.low_seq = c.head_seq = 0;
    }
  }
  return r;
}

struct Traffic {
  size_t up = 0, down = 0, requests = 0;
  size_t total() const { return up + down; }
};

template <typename R, typename Enc>
Bytes EncodeAnswer(const Answer<R>& a, Enc enc) {
  if (const R* r = std::get_if<R>(&a)) return enc(*r);
  return EncodeServiceError(std::get<ServiceError>(a));
}

// Runs the driver against the service until it is idle: through bytes, or
// (typed = true) with typed answers, still counting their encoded size. The
// typed path serves batches where LogService answers an empty DELTA page,
// which the wire codec does not accept yet.
Traffic Pump(CatchUpDriver& driver, LogService& service, Timestamp now, bool typed = false) {
  Traffic t;
  driver.Tick(now);
  while (auto request = driver.TakeRequest()) {
    Bytes up = request->Encode();
    Bytes down;
    switch (request->kind) {
      case RequestKind::kSync: {
        auto a = service.Sync(*DecodeSyncRequest(up));
        if (auto* r = std::get_if<SyncResponse>(&a)) *r = WireForm(*r);
        down = EncodeAnswer(a, EncodeSyncResponse);
        break;
      }
      case RequestKind::kSnapshot:
        down = EncodeAnswer(service.Snapshot(*DecodeSnapshotRequest(up)), EncodeSnapshotResponse);
        break;
      case RequestKind::kFetch:
        down = EncodeAnswer(service.Fetch(*DecodeFetchRequest(up)), EncodeFetchResponse);
        break;
    }
    t.up += up.size();
    t.down += down.size();
    ++t.requests;
    Status s;
    if (typed) {
      switch (request->kind) {
        case RequestKind::kSync:
          s = driver.OnSyncAnswer(request->request_id,
                                  service.Sync(std::get<SyncRequest>(request->request)), now);
          break;
        case RequestKind::kSnapshot:
          s = driver.OnSnapshotAnswer(request->request_id,
                                      service.Snapshot(std::get<SnapshotRequest>(request->request)),
                                      now);
          break;
        case RequestKind::kFetch:
          s = driver.OnFetchAnswer(request->request_id,
                                   service.Fetch(std::get<FetchRequest>(request->request)), now);
          break;
      }
    } else {
      s = driver.OnResponse(request->request_id, down, now);
    }
    if (!s.ok()) std::fprintf(stderr, "response refused: %s\n", s.ToString().c_str());
    driver.Tick(now);
  }
  return t;
}

struct Client {
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  std::unique_ptr<ReliabilityManager> engine;
  std::unique_ptr<CatchUpDriver> driver;
  Client(int channels, bool ids_only, uint32_t k = 100) {
    engine = std::move(*ReliabilityManager::Create(EngineConfig("client"), store));
    CatchUpConfig c;
    c.store_id = ToBytes("bench-store");
    for (int i = 0; i < channels; ++i) c.channels.push_back("channel-" + std::to_string(i));
    c.ids_only = ids_only;
    c.snapshot_entries = k;
    c.random = [s = uint64_t{7}]() mutable { return s = s * 6364136223846793005ULL + 1; };
    auto d = CatchUpDriver::Create(*engine, c);
    if (!d.ok()) std::fprintf(stderr, "%s\n", d.status().ToString().c_str());
    driver = std::move(*d);
  }
  // Brings the cursor to seq `seq` of channel 0 by catching up a log that
  // holds only the first `seq` messages (one more World).
};

void BandwidthTable() {
  std::printf("## Bytes to catch up after d missed messages\n\n");
  std::printf(
      "| content | d | msg bytes (d msgs) | delta | delta overhead | snapshot K=100 | "
      "ids-only+fetch (90%% live) | full retained (1000) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (size_t content : {size_t{100}, size_t{1024}}) {
    for (int d : {1, 10, 100, 1000}) {
      const int retained = 1000;
      // The log holds `retained + d` messages; the client applied the first
      // `retained` of them (its cursor is at `retained`) and missed d.
      World world(1, retained + d, content);
      size_t missed_bytes = 0;
      for (int i = retained; i < retained + d; ++i) missed_bytes += world.wires[0][i].size();

      // Delta: a client whose cursor is at `retained`.
      size_t delta_bytes = 0;
      {
        Client c(1, false);
        Pump(*c.driver, *world.service, kNow);  // learns the epoch
        // A client whose stored cursor is at `retained` (same epoch), with the
        // first `retained` messages applied.
        Client d2(1, false);
        for (int i = 0; i < retained; ++i) (void)d2.engine->Unwrap(world.wires[0][i], kNow);
        auto cursor = c.driver->CursorOf("channel-0");
        StoredCursor sc{Cursor{cursor->epoch, static_cast<uint64_t>(retained)}, false};
        (void)d2.store->SaveCatchUpCursor(ToBytes("bench-store"), "channel-0",
                                          EncodeStoredCursor(sc));
        d2.driver.reset();
        CatchUpConfig cfg;
        cfg.store_id = ToBytes("bench-store");
        cfg.channels = {"channel-0"};
        cfg.random = [s = uint64_t{7}]() mutable { return s = s * 6364136223846793005ULL + 1; };
        d2.driver = std::move(*CatchUpDriver::Create(*d2.engine, cfg));
        delta_bytes = Pump(*d2.driver, *world.service, kNow).total();
      }
      // Snapshot: a client whose cursor is from another epoch (cold start).
      size_t snapshot_bytes = 0;
      {
        Client c(1, false);
        snapshot_bytes = Pump(*c.driver, *world.service, kNow).total();
      }
      // Ids-only: cursor at `retained`, 90 % of the d received live.
      size_t ids_bytes = 0;
      {
        Client seed(1, false);
        Pump(*seed.driver, *world.service, kNow);
        Epoch epoch = seed.driver->CursorOf("channel-0")->epoch;
        Client c(1, true);
        for (int i = 0; i < retained; ++i) (void)c.engine->Unwrap(world.wires[0][i], kNow);
        for (int i = retained; i < retained + d; ++i) {
          if ((i - retained) % 10 != 9) (void)c.engine->Unwrap(world.wires[0][i], kNow);
        }
        StoredCursor sc{Cursor{epoch, static_cast<uint64_t>(retained)}, false};
        (void)c.store->SaveCatchUpCursor(ToBytes("bench-store"), "channel-0",
                                         EncodeStoredCursor(sc));
        CatchUpConfig cfg;
        cfg.store_id = ToBytes("bench-store");
        cfg.channels = {"channel-0"};
        cfg.ids_only = true;
        cfg.random = [s = uint64_t{7}]() mutable { return s = s * 6364136223846793005ULL + 1; };
        c.driver = std::move(*CatchUpDriver::Create(*c.engine, cfg));
        ids_bytes = Pump(*c.driver, *world.service, kNow).total();
      }
      // Baseline: the whole retained log (the last 1000 entries) every time.
      SnapshotRequest full;
      full.channel_ids = {"channel-0"};
      full.entries_per_channel = 1000;
      size_t full_bytes =
          EncodeAnswer(world.service->Snapshot(full), EncodeSnapshotResponse).size();
      std::printf("| %zu B | %d | %zu | %zu | %+.1f %% | %zu | %zu | %zu |\n", content, d,
                  missed_bytes, delta_bytes,
                  100.0 * (static_cast<double>(delta_bytes) - static_cast<double>(missed_bytes)) /
                      static_cast<double>(missed_bytes),
                  snapshot_bytes, ids_bytes, full_bytes);
    }
  }
  std::printf("\n");
}

void CpuTable() {
  std::printf("## Client CPU per round\n\n| what | per operation |\n|---|---|\n");
  World world(1, 2000, 100);
  // UP_TO_DATE: a client at head, one Sync round trip (typed answer).
  {
    Client c(1, false);
    Pump(*c.driver, *world.service, kNow);
    SyncResponse up;
    up.store_id = ToBytes("bench-store");
    ChannelResult r;
    r.channel_id = "channel-0";
    r.status = SyncStatus::kUpToDate;
    up.channels.push_back(r);
    const int n = 20000;
    Timestamp now = kNow;
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
      now += std::chrono::seconds(31);
      c.driver->Tick(now);
      auto request = c.driver->TakeRequest();
      (void)c.driver->OnSyncAnswer(request->request_id, up, now);
      c.driver->TakeEvents();
    }
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
    std::printf("| UP_TO_DATE round (Tick, request, answer) | %.2f us |\n", ns / 1000);
  }
  // DELTA page of 100 entries: typed answer, entries applied by the engine,
  // page and cursor saved in one MemoryStore group.
  {
    // A client whose cursor is at 0 of the log's epoch: 20 DELTA pages.
    Client seed(1, false, 1);
    Pump(*seed.driver, *world.service, kNow);
    Client c(1, false);
    StoredCursor sc{Cursor{seed.driver->CursorOf("channel-0")->epoch, 0}, false};
    (void)c.store->SaveCatchUpCursor(ToBytes("bench-store"), "channel-0", EncodeStoredCursor(sc));
    CatchUpConfig cfg;
    cfg.store_id = ToBytes("bench-store");
    cfg.channels = {"channel-0"};
    cfg.random = [s = uint64_t{7}]() mutable { return s = s * 6364136223846793005ULL + 1; };
    c.driver = std::move(*CatchUpDriver::Create(*c.engine, cfg));
    double page_ns = 0;
    int measured = 0;
    Timestamp now = kNow;
    c.driver->Tick(now);
    while (auto request = c.driver->TakeRequest()) {
      auto a = world.service->Sync(std::get<SyncRequest>(request->request));
      auto t0 = Clock::now();
      (void)c.driver->OnSyncAnswer(request->request_id, a, now);
      page_ns += std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      ++measured;
      c.engine->TakeEvents();
      c.driver->Tick(now);
    }
    std::printf(
        "| DELTA page of 100 entries (checks, 100 Unwraps, one store group) | %.1f us "
        "(%d pages) |\n",
        page_ns / std::max(measured, 1) / 1000, measured);
  }
  std::printf("\n");
}

void LatencyTable() {
  std::printf("## Time to bring C channels x d missed messages up to date (in process)\n\n");
  std::printf("| C | d | requests | bytes | time |\n|---|---|---|---|---|\n");
  for (int channels : {1, 10, 100}) {
    for (int d : {10, 100}) {
      World world(channels, d, 100);
      // Cursors at 0 entries of a known epoch: everything is a DELTA.
      Client seed(channels, false, 1);
      Pump(*seed.driver, *world.service, kNow, true);
      Client c(channels, false);
      for (int i = 0; i < channels; ++i) {
        ChannelId ch = "channel-" + std::to_string(i);
        StoredCursor sc{Cursor{seed.driver->CursorOf(ch)->epoch, 0}, false};
        (void)c.store->SaveCatchUpCursor(ToBytes("bench-store"), ch, EncodeStoredCursor(sc));
      }
      CatchUpConfig cfg;
      cfg.store_id = ToBytes("bench-store");
      for (int i = 0; i < channels; ++i) cfg.channels.push_back("channel-" + std::to_string(i));
      cfg.random = [s = uint64_t{7}]() mutable { return s = s * 6364136223846793005ULL + 1; };
      c.driver = std::move(*CatchUpDriver::Create(*c.engine, cfg));
      auto start = Clock::now();
      Traffic t = Pump(*c.driver, *world.service, kNow, true);
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      std::printf("| %d | %d | %zu | %zu | %.2f ms |\n", channels, d, t.requests, t.total(), ms);
    }
  }
  std::printf("\n");
}

}  // namespace

int main() {
  BandwidthTable();
  CpuTable();
  LatencyTable();
  return 0;
}
