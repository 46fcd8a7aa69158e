// Encoding and decoding of SDS messages in both wire dialects.
//
// Decoding treats every byte as hostile: it is bounds-checked, never throws,
// never allocates more than the configured limits allow, and reports a
// specific ErrorCode with a message naming the offending field.
//
// Byte-exactness: Encode reproduces what nim-sds (Dialect::kNim) and @waku/sds
// (Dialect::kSpec) write, field for field, so that golden vectors from both
// round-trip. The rules per dialect:
//   nim:  fields in number order; 1, 2, 4, 5 and 6 always written (even when
//         empty); 7 only when non-empty; HistoryEntry 1 always, 2 and 3 only
//         when non-empty. That is what nim-sds 0.3 requires and 0.4 reads.
//         Decode follows DecodeLimits::nim_presence (see NimPresence); the
//         last occurrence of a singular field wins; a field with an unexpected
//         wire type is ignored (as nim-sds's minprotobuf does).
//   spec: fields in number order; strings 1-3 only when non-empty (proto3);
//         10, 12 and 20 when present (even when empty); HistoryEntry as in
//         nim. Decode reads singular fields and wire types as in nim, and
//         rejects an absent or empty message_id (kDecodeMissingField): proto3
//         requires nothing, but a message without an id can be neither
//         delivered, acknowledged nor repaired.
// Both: a Lamport varint >= 2^63 is rejected (kDecodeLamportOutOfRange; both
// peers read it as int64, nim-sds crashes on it); so is a HistoryEntry without
// field 1. Wire types 3/4 (groups) are malformed even in unknown fields.
#ifndef SDS_CODEC_H_
#define SDS_CODEC_H_

#include <cstddef>

#include "sds/message.h"
#include "sds/status.h"

namespace sds {

// Which nim-sds release's presence rules the nim-dialect decoder applies.
// nim-sds 0.3 (minprotobuf) writes fields 1, 2, 4, 5 and 6 always and
// requires 1, 2, 4 and 5. nim-sds 0.4 (release/v0.4, proto3 serialization)
// writes no empty field, so its messages may lack content, bloom filter or
// Lamport (an absent Lamport reads as 0), and it rejects empty message,
// channel and history-entry ids. Everything this library sends satisfies both.
enum class NimPresence : uint8_t {
  // Reads what 0.3 and 0.4 write: 1 and 4 required and non-empty, history
  // entry ids non-empty; 2, 5 and 6 optional. The default.
  kNimSds03And04,
  // Exactly nim-sds 0.3's decoder: 1, 2, 4 and 5 required (empty allowed);
  // a message without content is an error, as 0.3's vectors say.
  kNimSds03,
};

// Upper bounds applied while decoding untrusted bytes. Every limit is checked
// before the corresponding memory is allocated. (nim_presence is not a bound
// but travels with them to every decoder.)
struct DecodeLimits {
  size_t max_message_bytes = 1024 * 1024 + 64 * 1024;  // whole wire message
  size_t max_content_bytes = 1024 * 1024;              // nim-sds MaxMessageSize
  size_t max_causal_history = 256;                     // entries per message (@waku/sds sends 200)
  size_t max_repair_request = 64;                      // entries per message (peers send at most 3)
  size_t max_id_bytes = 256;                           // message, channel and sender ids
  size_t max_hint_bytes = 4096;                        // retrieval hint per entry
  size_t max_bloom_bytes = 256 * 1024;  // serialized bloom filter (default is 18,768)
  NimPresence nim_presence = NimPresence::kNimSds03And04;
};

// Which dialect produced `wire`, judged from its top-level field layout
// (field 2 is a varint Lamport in nim, a string message id in spec; without
// it, fields 4-7 mean nim and 10/11/12/20 mean spec). kDecodeUnknownDialect
// when neither fits, when both do, or when the bytes stop being protobuf
// before a decisive field is seen.
Result<Dialect> DetectDialect(ByteSpan wire);

// Encodes `message` in `dialect`. Cannot fail: the encoder writes whatever it
// is given (limits apply to what is received, not to what is sent).
Bytes Encode(const Message& message, Dialect dialect);

// Decodes `wire` in a known dialect. On success the Message's views point into
// `wire`, which must outlive them.
Result<Message> Decode(ByteSpan wire, Dialect dialect, const DecodeLimits& limits = {});

// A decoded message together with the buffer its views point into.
struct DecodedMessage {
  SharedBytes wire;
  Dialect dialect = Dialect::kNim;
  Message message;
};

// Detects the dialect, then decodes. Keeps `wire` alive in the result.
Result<DecodedMessage> DecodeAny(SharedBytes wire, const DecodeLimits& limits = {});

}  // namespace sds

#endif  // SDS_CODEC_H_
