// CatchUpDriver: the participant's side of catch-up from a store
// (catchup_protocol.h), for one store and a set of channels over one
// ReliabilityManager.
//
//   driver.Tick(now) ──▶ TakeRequest() ──bytes──▶ store
//   store ──bytes──▶ OnResponse(id, bytes, now) ──entries──▶ engine.Unwrap (seq order)
//   app ◀── driver.TakeEvents() (gaps, poison, irretrievable, unknown channels)
//   app ◀── engine.PollEvent()  (MessageReady for what the store supplied)
//
// Sans-I/O like the engine: it never reads a clock, sleeps, opens sockets or
// draws randomness. `now` is passed in, jitter comes from the injected
// `random`, and the caller moves the bytes. One request is outstanding at a
// time; a round starts at the first Tick, at OnConnected, and every
// `sync_interval` after the previous round ended.
//
// One round:
//   1. Sync for every channel with its durable cursor (none: never synced).
//   2. DELTA: the page is checked end to end (epoch = the cursor's, from_seq
//      = cursor + 1, seqs dense up to to_seq); a page that fails is a cold
//      start. Entries go to the engine in seq order (duplicates and our own
//      messages fall out there); the page's effects and the new cursor are
//      saved in one store group; has_more asks for the next page at once.
//      UP_TO_DATE must name the cursor's epoch and seq, else cold start.
//   3. Every cold channel goes into one Snapshot request. For each: a
//      HistoryGap event, the last K entries applied, the cursor set to
//      snapshot_seq; then one Fetch for the dependencies the incoming buffer
//      still waits for, and MarkDependenciesMet (an Irretrievable event) for
//      those the store no longer has, so SDS-R never repairs old history.
//   4. UNKNOWN_CHANNEL: the cursor is kept; an UnknownChannel event.
//   ids_only: the Sync returns ids; only ids the engine does not know are
//   fetched, then the cursor moves as for a DELTA page.
//
// Invariants the driver keeps:
//   I5  a stored cursor never exceeds the highest seq whose effects are
//       durable: the cursor is written in the store group of those effects,
//       and only if they were written; on failure neither the in-memory nor
//       the stored cursor moves, and the same page is fetched again later.
//   I6  max_entries and snapshot K never exceed the engine's
//       max_message_history (Create refuses such a config), so a replayed
//       page stays inside what the engine recognises as duplicates.
//   I7  nothing is skipped silently: every discontinuity is a HistoryGap.
// A poison entry (one Unwrap rejects) is reported and counted as applied;
// it never stalls the channel. Transport failures and ServiceErrors retry
// with exponential backoff and jitter, at least `retry_after_ms` later.
// Every response is hostile input: a response that breaks the protocol is
// rejected whole (ResponseRejected event, nothing applied, retried with
// backoff); a channel whose page breaks continuity is cold-started.
#ifndef SDS_CATCHUP_H_
#define SDS_CATCHUP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "sds/catchup_protocol.h"
#include "sds/reliability_manager.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::catchup {

struct CatchUpConfig {
  Bytes store_id;  // the store (deployment) the cursors belong to; responses must name it
  std::vector<ChannelId> channels;

  uint32_t max_entries = 100;       // page size (I6: <= max_message_history)
  uint64_t max_bytes = 1 << 20;     // payload bytes per page
  uint32_t snapshot_entries = 100;  // K (I6: <= max_message_history)
  bool ids_only = false;            // Sync ids, Fetch only unknown ones
  Duration sync_interval = std::chrono::seconds{30};
  Duration request_timeout = std::chrono::seconds{30};  // no answer: a transport failure
  Duration initial_backoff = std::chrono::seconds{1};
  Duration max_backoff = std::chrono::minutes{5};
  // Entropy for the backoff jitter (required): uniform 64-bit values.
  std::function<uint64_t()> random;
  ProtocolLimits limits;  // applied to every response
};

// ---- Events ----------------------------------------------------------------

// The channel cold-started: entries (had_cursor.seq, first_seq) of the old
// history were not delivered by catch-up. `low_seq` .. first_seq - 1 are
// still back-fillable from the store (Backfill). `initial_load`: there was no
// cursor (first sync of this channel with this store).
struct HistoryGap {
  ChannelId channel_id;
  std::optional<Cursor> had_cursor;
  ColdReason reason = ColdReason::kNone;  // what the store said (kNone: the client's own check)
  std::string detail;                     // why, in words
  Epoch epoch{};                          // the history catch-up resumes in
  uint64_t first_seq = 0;                 // first seq delivered after the gap
  uint64_t low_seq = 0;                   // oldest still back-fillable
  bool initial_load = false;
};

// Ids the engine waited for, or the store listed, that catch-up cannot supply.
enum class IrretrievableReason : uint8_t {
  kNotRetained,    // dependency the store no longer has (or never had)
  kBeyondFetch,    // dependency of a fetched message: older than catch-up goes
  kListedMissing,  // ids-only: listed by the Sync, gone by the Fetch
};
const char* IrretrievableReasonName(IrretrievableReason reason);
struct Irretrievable {
  ChannelId channel_id;
  IrretrievableReason reason = IrretrievableReason::kNotRetained;
  std::vector<MessageId> message_ids;  // marked met in the engine (no SDS-R for them)
};

// Messages a Fetch supplied (dependencies older than a snapshot, or ids-only).
struct Fetched {
  ChannelId channel_id;
  std::vector<uint64_t> seqs;
};

// The store does not know the channel; its cursor is kept.
struct UnknownChannel {
  ChannelId channel_id;
};

// The engine rejected an entry; it counts as applied (the cursor passes it).
struct PoisonEntry {
  ChannelId channel_id;
  uint64_t seq = 0;
  MessageId message_id;  // as the store listed it
  Status status;
};

// The channel's cursor reached the head the store reported.
struct ChannelUpToDate {
  ChannelId channel_id;
  Cursor cursor;
};

enum class RequestKind : uint8_t { kSync, kSnapshot, kFetch };
const char* RequestKindName(RequestKind kind);

// A response was refused: undecodable, or breaking the protocol. Nothing of
// it was applied; the request is retried after a backoff.
struct ResponseRejected {
  RequestKind kind = RequestKind::kSync;
  Status status;
};

// A request failed (transport, timeout, ServiceError, persistence): the next
// attempt is at `retry_at`.
struct RetryScheduled {
  RequestKind kind = RequestKind::kSync;
  Status status;
  int attempt = 0;  // consecutive failures so far
  Timestamp retry_at;
};

// Saving a page and its cursor failed: the cursor stays where it was.
struct CursorNotSaved {
  ChannelId channel_id;
  Status status;
};

using CatchUpEvent =
    std::variant<HistoryGap, Irretrievable, Fetched, UnknownChannel, PoisonEntry, ChannelUpToDate,
                 ResponseRejected, RetryScheduled, CursorNotSaved>;
const char* CatchUpEventName(const CatchUpEvent& event);

// ---- Requests --------------------------------------------------------------

struct OutgoingRequest {
  uint64_t request_id = 0;  // pass it back with the response
  RequestKind kind = RequestKind::kSync;
  std::variant<SyncRequest, SnapshotRequest, FetchRequest> request;
  // The wire bytes of `request` (catchup_protocol.h encoding).
  Bytes Encode() const;
};

struct CatchUpStats {
  uint64_t rounds = 0;
  uint64_t up_to_date = 0;       // channel results
  uint64_t delta_pages = 0;      // applied DELTA pages
  uint64_t entries_applied = 0;  // entries handed to the engine (poison included)
  uint64_t cold_starts = 0;
  uint64_t poison = 0;
  uint64_t rejected_responses = 0;
  uint64_t retries = 0;
  uint64_t cursor_saves_failed = 0;
};

// A cursor's stored form (Store::SaveCatchUpCursor): version, epoch, seq, and
// whether the dependency step of a cold start is still to run.
struct StoredCursor {
  Cursor cursor;
  bool dependencies_pending = false;
};
Bytes EncodeStoredCursor(const StoredCursor& cursor);
Result<StoredCursor> DecodeStoredCursor(ByteSpan bytes);

class CatchUpDriver {
 public:
  // Loads the cursors of `config.store_id` from the engine's store (none
  // without a store: cursors then live in memory only). kInvalidArgument for
  // a config that breaks I6 or has no random source, no store id or no
  // channels; kPersistence if loading cursors fails. `engine` must outlive
  // the driver.
  static Result<std::unique_ptr<CatchUpDriver>> Create(ReliabilityManager& engine,
                                                       CatchUpConfig config);
  ~CatchUpDriver();
  CatchUpDriver(const CatchUpDriver&) = delete;
  CatchUpDriver& operator=(const CatchUpDriver&) = delete;

  // ---- Cadence -------------------------------------------------------------
  // The transport (re)connected: a round starts at once (a pending backoff
  // is cancelled).
  void OnConnected(Timestamp now);
  // The transport is gone: the outstanding request is forgotten, nothing is
  // sent until OnConnected.
  void OnDisconnected(Timestamp now);
  // Starts what is due (a round, a retry), expires a request past
  // request_timeout; returns the next deadline (kNoDeadline: none).
  Timestamp Tick(Timestamp now);
  Timestamp NextDeadline() const;

  // ---- Requests and responses ---------------------------------------------
  // The request to send now, if any (at most one is outstanding).
  std::optional<OutgoingRequest> TakeRequest();
  // The store's answer to `request_id`, as bytes (decoded with config.limits)
  // or typed. Ok when it was accepted (entries applied, or a channel
  // downgraded to a cold start). Errors: kInvalidArgument for a request not
  // outstanding (ignored), kDecode* / kInvalidArgument for a response
  // refused (ResponseRejected), kPersistence when saving failed. Refusals
  // and failures are retried after a backoff.
  Status OnResponse(uint64_t request_id, ByteSpan bytes, Timestamp now);
  Status OnSyncAnswer(uint64_t request_id, const Answer<SyncResponse>& answer, Timestamp now);
  Status OnSnapshotAnswer(uint64_t request_id, const Answer<SnapshotResponse>& answer,
                          Timestamp now);
  Status OnFetchAnswer(uint64_t request_id, const Answer<FetchResponse>& answer, Timestamp now);
  // The kind of answer `request_id` awaits (none: it is not outstanding).
  std::optional<RequestKind> OutstandingKind(uint64_t request_id) const;
  // The request got no answer (connection lost, timeout in the transport).
  void OnTransportFailure(uint64_t request_id, const std::string& reason, Timestamp now);

  // ---- Events and state ----------------------------------------------------
  std::optional<CatchUpEvent> PollEvent();
  std::vector<CatchUpEvent> TakeEvents();
  std::optional<Cursor> CursorOf(const ChannelId& channel_id) const;
  // No round in progress, nothing outstanding or queued.
  bool Idle() const;
  const CatchUpStats& stats() const;

  class Impl;

 private:
  explicit CatchUpDriver(std::unique_ptr<Impl> impl);
  const ProtocolLimits& limits_for_decoding() const;
  Status RefuseUndecodable(uint64_t request_id, RequestKind kind, const Status& status,
                           Timestamp now);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds::catchup

#endif  // SDS_CATCHUP_H_
