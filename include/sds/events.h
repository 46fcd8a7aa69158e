// What the engine tells the application. Events are queued by every operation
// and drained by the caller with ReliabilityManager::PollEvent(); nothing is
// called back from inside the engine (except the retrieval-hint provider).
//
// Order guarantees within one operation:
//   - acknowledgements of our messages come before anything delivered by the
//     message that carried them;
//   - in a cascade, the message that unblocked others is reported ready before
//     the messages it unblocked, which follow in causal order.
#ifndef SDS_EVENTS_H_
#define SDS_EVENTS_H_

#include <string>
#include <variant>
#include <vector>

#include "sds/message.h"
#include "sds/types.h"

namespace sds {

// A message is delivered: all its dependencies are delivered too. Content,
// sync (never reported) and ephemeral messages (delivered at once) differ in
// `kind`. `content` is a view into `wire`, which the event keeps alive.
struct MessageReady {
  ChannelId channel_id;
  MessageId message_id;
  ParticipantId sender_id;
  MessageKind kind = MessageKind::kContent;
  LamportTime lamport_timestamp = 0;  // 0 for ephemeral messages
  SharedBytes wire;
  ByteSpan content;
};

// One of our messages is acknowledged: a peer listed it in its causal history,
// or its id hit `bloom_ack_threshold` peer bloom filters. It leaves the
// outgoing buffer. Never emitted for a message nobody acknowledged.
struct MessageAcknowledged {
  ChannelId channel_id;
  MessageId message_id;
};

// One of our messages was found in a peer's bloom filter, but fewer than
// `bloom_ack_threshold` times so far (a false positive is possible).
struct MessagePossiblyAcknowledged {
  ChannelId channel_id;
  MessageId message_id;
  int bloom_hits = 0;
};

// A received message waits for messages we have not delivered. `missing`
// carries the sender's retrieval hints and original senders, for fetching
// them elsewhere (then call MarkDependenciesMet) or for SDS-R. When the
// message is a sync message, nothing waits: the peer's sync merely revealed
// messages we never received.
struct MissingDependencies {
  ChannelId channel_id;
  MessageId message_id;
  std::vector<HistoryEntry> missing;
};

// Our message was not acknowledged after every resend, or was pushed out of a
// full outgoing buffer. It leaves the outgoing buffer unacknowledged.
struct SendFailed {
  ChannelId channel_id;
  MessageId message_id;
  int resend_attempts = 0;
  bool evicted = false;  // pushed out by Limits::max_outgoing_buffer
};

// Our unacknowledged message is due for another broadcast: send `wire` again
// (the same bytes as the first time, so receivers deduplicate it).
struct RebroadcastDue {
  ChannelId channel_id;
  MessageId message_id;
  SharedBytes wire;
  int attempt = 0;  // 1 for the first resend
};

// The channel was quiet: broadcast `wire`, a sync message carrying our causal
// history and bloom filter (and due SDS-R repair requests).
struct SyncMessageReady {
  ChannelId channel_id;
  SharedBytes wire;
};

// SDS-R: broadcast `wire`, the original bytes of a message a peer asked for.
struct RepairReady {
  ChannelId channel_id;
  MessageId message_id;
  SharedBytes wire;
};

// A message that waited for dependencies was dropped undelivered: the
// incoming buffer overflowed, the channel was removed, or the application
// already holds it (MarkDependenciesMet named the message itself, or it was
// found delivered when its channel was loaded), so its buffered copy is never
// delivered. Peers may believe we have it: it was in our bloom filter.
struct MessageDropped {
  ChannelId channel_id;
  MessageId message_id;
  std::string reason;
};

using Event = std::variant<MessageReady, MessageAcknowledged, MessagePossiblyAcknowledged,
                           MissingDependencies, SendFailed, RebroadcastDue, SyncMessageReady,
                           RepairReady, MessageDropped>;

// Short name of the event type, e.g. "MessageReady", for logs and tools.
const char* EventName(const Event& event);

}  // namespace sds

#endif  // SDS_EVENTS_H_
