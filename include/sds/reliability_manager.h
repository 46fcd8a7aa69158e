// ReliabilityManager: the SDS protocol engine.
//
//   app ──content──▶ Wrap() ──wire bytes──▶ transport
//   app ◀─events──── PollEvent()  ◀── Unwrap() ◀──wire bytes── transport
//                     Tick(now) ─▶ next deadline
//
// The engine is sans-I/O: it never reads a clock, sleeps, starts threads,
// opens sockets or draws randomness. Every operation takes `now`; periodic
// work (resends, sync messages, SDS-R) runs from Tick(now), which returns the
// time it wants to be called again. Results that are not the direct answer to
// a call are queued as events (events.h) and drained by the caller.
//
// One manager serves many channels; each channel keeps its own Lamport clock,
// delivered history, rolling bloom filter, outgoing buffer (unacknowledged),
// incoming buffer (waiting for dependencies) and SDS-R repair buffers.
//
// Thread safety: none. One thread owns a manager (the C ABI runs one worker
// thread per manager).
#ifndef SDS_RELIABILITY_MANAGER_H_
#define SDS_RELIABILITY_MANAGER_H_

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sds/config.h"
#include "sds/events.h"
#include "sds/log.h"
#include "sds/message.h"
#include "sds/status.h"
#include "sds/store.h"
#include "sds/types.h"

namespace sds {

// Supplies the retrieval hint for a delivered message when it is first listed
// in a causal history. Non-empty hints are remembered; an empty one is asked
// for again next time (the hint may not be known yet when a message is sent).
using RetrievalHintProvider =
    std::function<Bytes(const ChannelId& channel_id, const MessageId& message_id)>;

// What Unwrap did with a message.
enum class UnwrapOutcome : uint8_t {
  kDelivered,  // delivered now (MessageReady queued), maybe with others it unblocked
  kBuffered,   // waiting for `missing_dependencies` (MissingDependencies queued)
  kDuplicate,  // already delivered or buffered: nothing delivered again
  kSync,       // a sync message: acknowledgements processed, nothing delivered
  kEphemeral,  // an ephemeral message: delivered at once (MessageReady queued)
};

struct UnwrapResult {
  ChannelId channel_id;
  MessageId message_id;
  Dialect dialect = Dialect::kNim;
  UnwrapOutcome outcome = UnwrapOutcome::kDelivered;
  std::vector<HistoryEntry> missing_dependencies;
  SharedBytes wire;  // the received bytes; `content` points into them
  ByteSpan content;
};

class ReliabilityManager {
 public:
  // kInvalidArgument if `config` does not validate (Config::Validate).
  static Result<std::unique_ptr<ReliabilityManager>> Create(const Config& config);
  // With a store, every channel it lists is loaded now (kPersistence if the
  // store cannot list or load one), so that Tick alone resends, repairs and
  // syncs them after a restart; every operation saves what it changed (see
  // store.h for when, and what happens when the store fails). A null store is
  // Create(config): nothing persisted.
  static Result<std::unique_ptr<ReliabilityManager>> Create(const Config& config,
                                                            std::shared_ptr<Store> store);

  ~ReliabilityManager();
  ReliabilityManager(const ReliabilityManager&) = delete;
  ReliabilityManager& operator=(const ReliabilityManager&) = delete;

  const Config& config() const;

  // ---- Channels ------------------------------------------------------------
  // Creates the channel if it does not exist (subscribing to it: messages
  // for it are admitted). Wrap and MakeSyncMessage also create channels;
  // Unwrap only under ChannelAdmission::kAny (Config::channel_admission).
  // With a store the channel's saved state is loaded first; kPersistence
  // (and no channel) if loading fails.
  // kInvalidArgument for an empty or overlong id, or when
  // Limits::max_channels channels exist.
  Status EnsureChannel(const ChannelId& channel_id);
  // Forgets the channel and everything in it. Buffered messages are reported
  // as MessageDropped. Removing an unknown channel is not an error. With a
  // store the channel is dropped from it first (also when it is not loaded);
  // if that fails: kPersistence, and the channel is kept.
  Status RemoveChannel(const ChannelId& channel_id);
  bool HasChannel(const ChannelId& channel_id) const;
  std::vector<ChannelId> Channels() const;
  // Forgets every channel; queued events are discarded. With a store, every
  // channel is dropped from it too; a failure is logged (use TryReset to see
  // it).
  void Reset();
  // Reset that reports a store failure: kPersistence when dropping a channel
  // failed. Channels dropped before the failure are gone; the failed one and
  // the rest are left as they were, with the queued events.
  Status TryReset();

  // Where the library reports what it cannot return (store failures). Silent
  // by default. Without a participant id it says at once, and again at the
  // first missing message, that SDS-R repair is disabled (level kInfo).
  void SetLogger(LogCallback logger);

  void SetRetrievalHintProvider(RetrievalHintProvider provider);
  // Records the retrieval hint of a delivered message (e.g. once the transport
  // knows the hash of a message we sent). kUnknownChannel / kInvalidArgument
  // if the channel or message is not known.
  Status SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id, Bytes hint);

  // ---- Sending -------------------------------------------------------------
  // Wraps `content` as message `message_id` on `channel_id` and returns the
  // wire bytes to broadcast. The message enters the history and the outgoing
  // buffer; RebroadcastDue / MessageAcknowledged / SendFailed follow.
  // Errors: kInvalidArgument (empty content, empty or overlong id, an id
  // already used on this channel), kMessageTooLarge (content over
  // Limits::decode.max_content_bytes).
  Result<SharedBytes> Wrap(const ChannelId& channel_id, ByteSpan content,
                           const MessageId& message_id, Timestamp now);
  // An ephemeral message: no Lamport timestamp, causal history or bloom
  // filter; never buffered, resent or acknowledged (spec dialect only:
  // nim-sds cannot decode one, so the nim dialect gives kInvalidArgument).
  Result<SharedBytes> WrapEphemeral(const ChannelId& channel_id, ByteSpan content,
                                    const MessageId& message_id, Timestamp now);
  // A sync message for the channel now (Tick also produces them on its own
  // when a channel is quiet). `message_id` may be reused between syncs.
  Result<SharedBytes> MakeSyncMessage(const ChannelId& channel_id, const MessageId& message_id,
                                      Timestamp now);

  // ---- Receiving -----------------------------------------------------------
  // Processes bytes received from the transport. Decoding and validation
  // happen before any state changes: a rejected message leaves everything as
  // it was. Errors: the kDecode* codes, kMessageTooLarge, kUnknownChannel (a
  // channel not admitted: ChannelAdmission::kLocal), kInvalidArgument (too
  // many channels). Own messages echoed back are duplicates.
  Result<UnwrapResult> Unwrap(ByteSpan wire, Timestamp now);
  // The same for bytes the caller already holds shared (one buffer received
  // once and handed to several managers, as a simulator or a fan-out does):
  // the engine keeps a reference instead of its own copy.
  Result<UnwrapResult> Unwrap(const SharedBytes& wire, Timestamp now);

  // The application obtained these messages elsewhere (e.g. from a store):
  // stop waiting for them, deliver what they unblock, cancel their repairs.
  // They count as delivered for dependency and duplicate checks and enter the
  // bloom filter, but not the history (we do not hold their bytes).
  // kUnknownChannel if the channel does not exist.
  Status MarkDependenciesMet(const ChannelId& channel_id, std::span<const MessageId> message_ids,
                             Timestamp now);

  // ---- Catch-up from a store (catchup.h) -----------------------------------
  // What sds::catchup::CatchUpDriver needs from the engine; usable by any
  // other catch-up client.

  // Unwrap of bytes that must be a message of `channel_id` (a store entry):
  // a message of another channel is rejected with kInvalidArgument before
  // anything changes.
  Result<UnwrapResult> UnwrapOnChannel(const ChannelId& channel_id, ByteSpan wire, Timestamp now);
  // Holds back the saves of the operations that follow (Unwrap,
  // UnwrapOnChannel, MarkDependenciesMet on one channel) until CommitCatchUp,
  // so that a page of store entries costs one store group, not one per entry.
  void BeginCatchUpGroup();
  // Ends the group: saves every change pending on `channel_id` and then, only
  // if all of it succeeded, `cursor_write(store)`, in one store group (one
  // transaction in SqliteStore). Other channels' pending changes are saved
  // in groups of their own. kPersistence naming the first failure otherwise:
  // the changes stay pending (the next save retries them) and the cursor
  // write is not made, or is rolled back with the group. Without a store the
  // cursor write is skipped and the result is Ok.
  Status CommitCatchUp(const ChannelId& channel_id,
                       const std::function<Status(Store&)>& cursor_write);
  // Whether `message_id` is delivered (or marked met), or waiting in the
  // incoming buffer, on the channel. Read-only.
  bool IsKnown(const ChannelId& channel_id, const MessageId& message_id) const;
  // The dependencies that the incoming buffer of the channel waits for and
  // does not hold itself, each once, with the retrieval hint and sender the
  // waiting messages gave.
  std::vector<HistoryEntry> PendingDependencies(const ChannelId& channel_id) const;
  // The store this manager saves to (null without one).
  Store* store() const;

  // ---- Time ----------------------------------------------------------------
  // Runs everything due at `now` (resends, give-ups, sync messages, SDS-R
  // requests and responses) and returns the next deadline (kNoDeadline when
  // nothing is scheduled). Call it again at that time or after any operation.
  Timestamp Tick(Timestamp now);
  Timestamp NextDeadline() const;

  // ---- Events --------------------------------------------------------------
  std::optional<Event> PollEvent();
  std::vector<Event> TakeEvents();
  size_t PendingEventCount() const;

  // ---- Introspection (copies; for tools, tests and status displays) --------
  std::optional<LamportTime> Lamport(const ChannelId& channel_id) const;
  // Oldest first: delivery order (nim dialect), or Lamport then id (spec).
  std::vector<MessageId> History(const ChannelId& channel_id) const;
  std::vector<MessageId> OutgoingBuffer(const ChannelId& channel_id) const;
  std::vector<MessageId> IncomingBuffer(const ChannelId& channel_id) const;
  bool BloomContains(const ChannelId& channel_id, const MessageId& message_id) const;

 private:
  class Impl;
  explicit ReliabilityManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds

#endif  // SDS_RELIABILITY_MANAGER_H_
