// ChannelLog: what a store node keeps of every channel, an append-only log of
// SDS wire messages that participants catch up from (catchup_protocol.h).
//
// Per channel (ChannelMeta):
//   seq        dense and monotonic: the first entry is 1, each new entry takes
//              head_seq + 1, a seq is never reused within an epoch. head_seq
//              is durable in the same write as the entry it names, so no
//              reader ever sees an entry without its head.
//   epoch      16 bytes from the injected entropy source, minted with the
//              channel's log and re-minted by every operation whose result is
//              not a continuation of the history before it: MarkRestored()
//              (a restore of an older copy), Import(), Truncate(). An
//              (epoch, seq) pair therefore names one entry for ever, and a
//              participant holding a cursor from before gets
//              COLD_START_REQUIRED(kEpochMismatch), never a silent skip.
//   low_seq    the oldest retained seq. Retention removes a prefix only and
//              moves low_seq in the same write; an empty log has
//              low_seq == head_seq + 1.
//   max_lamport the highest Lamport timestamp appended in this epoch
//              (retention does not lower it: a participant learns how far its
//              clock must be ahead).
//   retained_count, retained_bytes (payload bytes).
// The store has one `store_id` naming the deployment (configured, or minted
// once and persisted); it survives restores, since the deployment is the same.
//
// What Append stores. Each input is decoded with the project's codec (either
// dialect, DecodeAny) to learn message id, channel id and Lamport timestamp:
//   - undecodable bytes, a message without a channel id, a payload over
//     max_payload_bytes or a hint over max_hint_bytes: kRejected with the
//     codec's error, stored nowhere;
//   - sync messages (Lamport timestamp, no content): not stored. They carry
//     nothing to deliver, and a participant catching up needs only content;
//     their acknowledgements are superseded by every later message's causal
//     history and bloom filter;
//   - ephemeral messages (no Lamport timestamp): not stored, by definition;
//   - a content message whose (channel, message id) is already in the log (a
//     rebroadcast, an SDS-R repair, a second relay path): kDuplicate with the
//     original seq; nothing is added. A hint it carries is recorded if the
//     entry had none;
//   - otherwise kAppended with a new seq.
// The accepted inputs of one Append call are written in one transaction;
// Append fails as a whole (and stores nothing) only when the storage fails.
//
// Restores. A restore of an older copy must not reuse seqs the participants
// have already seen with other entries. The log cannot tell a restored file
// from a restarted one by itself, so a restore is made explicit:
//   - MarkRestored() re-mints the epoch of every channel; an operator tool
//     calls it after putting an older copy back;
//   - SqliteChannelLog::Backup() writes a copy whose instance marker says
//     "backup": opening that file re-mints every epoch automatically (see
//     sqlite_channel_log.h).
// A plain restart (the same file reopened) keeps every epoch, head and low:
// participants continue with DELTA, with zero cold starts.
//
// Reads. Every read of one request runs in one ReadView (Read()): metadata
// and entries come from one consistent state (invariant I4).
//
// Thread safety: every ChannelLog here may be called from several threads;
// see each backend for how calls are serialised.
#ifndef SDS_CHANNEL_LOG_H_
#define SDS_CHANNEL_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sds/catchup_protocol.h"
#include "sds/codec.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::catchup {

// Fills its argument with random bytes (e.g. OpenSSL RAND_bytes, getrandom).
// The log never draws randomness of its own.
using EntropySource = std::function<void(std::span<uint8_t>)>;

// Retention: a prefix of each channel is removed when any limit bites. Zero
// disables a limit.
struct RetentionPolicy {
  Duration max_age = std::chrono::hours(48);  // by the time the store received it
  uint64_t max_entries_per_channel = 10000;
  uint64_t max_bytes_per_channel = uint64_t{256} << 20;  // payload bytes
  // Over all channels: the entries received first anywhere go first (each
  // channel still loses a prefix only).
  uint64_t max_bytes_total = uint64_t{4} << 30;
};

struct ChannelLogOptions {
  EntropySource entropy;  // required
  Bytes store_id;         // empty: minted once (16 bytes) and persisted
  RetentionPolicy retention;
  // Also apply retention to the channels an Append touched (and the global
  // byte cap), in the append's own transaction. ApplyRetention(now) always
  // works, and is the only way age limits bite on channels nobody writes to.
  bool retention_at_append = true;
  DecodeLimits decode;
  size_t max_payload_bytes = 1 << 20;  // one stored message; matches ProtocolLimits
  size_t max_hint_bytes = 1024;        // ProtocolLimits::max_id_bytes
};

struct ChannelMeta {
  ChannelId channel_id;
  Epoch epoch{};
  uint64_t low_seq = 1;   // oldest retained seq
  uint64_t head_seq = 0;  // newest seq; low_seq == head_seq + 1 when empty
  LamportTime max_lamport = 0;
  uint64_t retained_count = 0;
  uint64_t retained_bytes = 0;
  friend bool operator==(const ChannelMeta&, const ChannelMeta&) = default;
};

// One message to append. Views: the caller keeps the bytes alive during Append.
struct AppendInput {
  ByteSpan wire;            // an SDS message in either dialect
  ByteSpan retrieval_hint;  // optional: e.g. the transport's hash of it
};

enum class AppendDisposition : uint8_t {
  kAppended = 1,
  kDuplicate = 2,           // already in the log: `seq` is the original's
  kRejected = 3,            // `error` says why; nothing stored
  kNotStoredSync = 4,       // a sync message
  kNotStoredEphemeral = 5,  // an ephemeral message
};
const char* AppendDispositionName(AppendDisposition disposition);

struct AppendResult {
  AppendDisposition disposition = AppendDisposition::kRejected;
  Status error;          // kRejected only
  ChannelId channel_id;  // set once decoded
  MessageId message_id;  // set once decoded
  uint64_t seq = 0;      // kAppended, kDuplicate
};

// How many entries a read returns, and with or without payloads. A read stops
// before the entry that would exceed max_entries or max_bytes (payload bytes),
// except that it returns at least `min_entries` entries when there are that
// many (so one oversized entry cannot stall a reader).
struct ReadLimits {
  uint64_t max_entries = 100;
  uint64_t max_bytes = 1 << 20;
  uint64_t min_entries = 1;
  bool with_payload = true;
};

// A consistent view of the log, valid only inside Read().
class ReadView {
 public:
  virtual ~ReadView() = default;
  // The channel's metadata, or null when the log has no such channel.
  virtual const ChannelMeta* Find(const ChannelId& channel_id) = 0;
  // Appends to `out`, ascending, the entries from `from_seq` on (clamped to
  // low_seq) up to head_seq, within `limits`.
  virtual Status ReadForward(const ChannelId& channel_id, uint64_t from_seq,
                             const ReadLimits& limits, std::vector<Entry>& out) = 0;
  // Appends to `out`, ascending, the newest entries with seq <= through_seq
  // (clamped to head_seq) within `limits`: the result ends at through_seq.
  virtual Status ReadBackward(const ChannelId& channel_id, uint64_t through_seq,
                              const ReadLimits& limits, std::vector<Entry>& out) = 0;
  // The retained entry with that id / hint, if any.
  virtual Result<std::optional<Entry>> FindById(const ChannelId& channel_id, const MessageId& id,
                                                bool with_payload) = 0;
  virtual Result<std::optional<Entry>> FindByHint(const ChannelId& channel_id, ByteSpan hint,
                                                  bool with_payload) = 0;
};

class ChannelLog {
 public:
  virtual ~ChannelLog() = default;

  const Bytes& store_id() const { return store_id_; }

  // Decodes and appends `inputs` (one result each, in order), then applies
  // retention to the touched channels when retention_at_append. Fails as a
  // whole, storing nothing, only when the storage fails.
  virtual Result<std::vector<AppendResult>> Append(std::span<const AppendInput> inputs,
                                                   Timestamp now) = 0;
  Result<AppendResult> AppendOne(ByteSpan wire, Timestamp now, ByteSpan retrieval_hint = {});

  // Applies the retention policy to every channel; returns how many entries
  // were removed.
  virtual Result<uint64_t> ApplyRetention(Timestamp now) = 0;

  // Runs `body` with one consistent view of the log; returns what it returns.
  virtual Status Read(const std::function<Status(ReadView&)>& body) = 0;

  // Metadata of one channel (nullopt: unknown) or of all, each in its own view.
  Result<std::optional<ChannelMeta>> Meta(const ChannelId& channel_id);
  virtual Result<std::vector<ChannelMeta>> Channels() = 0;

  // ---- Operations that break continuity: each mints a new epoch ----------

  // Every channel's history is no longer a continuation (an older copy was
  // put back): new epoch for each; entries and seqs are kept.
  virtual Status MarkRestored() = 0;
  // Replaces the channel's log by `messages` (e.g. imported from another
  // store), seqs from 1 under a new epoch. The messages are filtered and
  // deduplicated like an Append; an undecodable one fails the import.
  virtual Status Import(const ChannelId& channel_id, std::span<const AppendInput> messages,
                        Timestamp now) = 0;
  // Removes the entries after `keep_through_seq` (a lost or rejected tail):
  // new epoch, head_seq = keep_through_seq. Seqs removed here are never
  // reused under the old epoch, because the old epoch is gone.
  virtual Status Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) = 0;
  // Forgets the channel: Sync answers UNKNOWN_CHANNEL afterwards.
  virtual Status DropChannel(const ChannelId& channel_id) = 0;

 protected:
  Bytes store_id_;
};

}  // namespace sds::catchup

#endif  // SDS_CHANNEL_LOG_H_
