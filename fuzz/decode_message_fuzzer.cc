// Feeds arbitrary bytes to the wire codec. Whatever the input, decoding must
// not crash, read out of bounds or trip UBSan; whatever decodes must survive a
// round trip: re-encoded, it decodes to the same fields, and encoding that
// again gives the same bytes (the encoder's output is canonical).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "sds/codec.h"

namespace {

[[noreturn]] void Fail(const char* what, sds::Dialect dialect) {
  std::fprintf(stderr, "decode_message_fuzzer (%s): %s\n", sds::DialectName(dialect), what);
  std::abort();
}

bool SameBytes(sds::ByteSpan a, sds::ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// nim always writes content and bloom, so absence does not survive a round trip
// there: an absent field comes back present and empty.
bool SameOptionalBytes(const std::optional<sds::ByteSpan>& a, const std::optional<sds::ByteSpan>& b,
                       sds::Dialect dialect) {
  if (dialect == sds::Dialect::kNim) {
    return SameBytes(a.value_or(sds::ByteSpan()), b.value_or(sds::ByteSpan()));
  }
  return a.has_value() == b.has_value() && (!a || SameBytes(*a, *b));
}

void CheckRoundTrip(const sds::Message& message, sds::Dialect dialect) {
  const sds::Bytes encoded = sds::Encode(message, dialect);
  // The nim encoder writes always-present fields the input may have lacked, so
  // the re-encoded form can be a few bytes longer than what was accepted.
  sds::DecodeLimits limits;
  limits.max_message_bytes = std::max(limits.max_message_bytes, encoded.size());
  sds::Result<sds::Message> again = sds::Decode(encoded, dialect, limits);
  if (!again.ok()) Fail("re-encoded message does not decode", dialect);
  const sds::Message& m = *again;
  if (m.message_id != message.message_id) Fail("message_id changed", dialect);
  if (m.channel_id != message.channel_id) Fail("channel_id changed", dialect);
  if (m.sender_id != message.sender_id) Fail("sender_id changed", dialect);
  if (m.lamport_timestamp != message.lamport_timestamp) Fail("lamport changed", dialect);
  if (m.causal_history != message.causal_history) Fail("causal_history changed", dialect);
  if (m.repair_request != message.repair_request) Fail("repair_request changed", dialect);
  if (!SameOptionalBytes(m.content, message.content, dialect)) Fail("content changed", dialect);
  if (!SameOptionalBytes(m.bloom_filter, message.bloom_filter, dialect)) {
    Fail("bloom_filter changed", dialect);
  }
  if (!SameBytes(sds::Encode(m, dialect), encoded)) Fail("encoding is not canonical", dialect);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sds::SharedBytes wire(sds::Bytes(data, data + size));

  sds::Result<sds::DecodedMessage> detected = sds::DecodeAny(wire);
  if (detected.ok()) CheckRoundTrip(detected->message, detected->dialect);

  // Each dialect on its own too, whatever the detection says: a peer's channel
  // may be configured for one dialect and receive the other's bytes.
  for (sds::Dialect dialect : {sds::Dialect::kNim, sds::Dialect::kSpec}) {
    sds::Result<sds::Message> decoded = sds::Decode(wire, dialect);
    if (decoded.ok()) CheckRoundTrip(*decoded, dialect);
  }
  return 0;
}
