// Feeds arbitrary bytes to the catch-up protocol's decoders
// (include/sds/catchup_protocol.h). The first byte picks the decoder, the rest
// is its input. Whatever the input, decoding must not crash, read out of
// bounds, trip UBSan or allocate beyond what ProtocolLimits allow; whatever
// decodes must be stable: re-encoded, it decodes to the same value, and
// encoding that value again gives the same bytes (the encoding is canonical).
// The re-encoded form is never longer than the input (duplicates, unknown
// fields and non-minimal varints are dropped), so the same limits apply.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>

#include "sds/catchup_protocol.h"

namespace {

using namespace sds::catchup;  // NOLINT: a fuzzer over one header

[[noreturn]] void Fail(const char* decoder, const char* what) {
  std::fprintf(stderr, "catchup_decode_fuzzer (%s): %s\n", decoder, what);
  std::abort();
}

// Small limits, so that the fuzzer reaches every bound quickly.
ProtocolLimits FuzzLimits() {
  ProtocolLimits limits;
  limits.max_channels_per_request = 16;
  limits.max_entries_per_response = 64;
  limits.max_ids_per_fetch = 16;
  limits.max_id_bytes = 64;
  limits.max_payload_bytes = 4096;
  return limits;
}

template <typename T, typename Encode, typename Decode>
void CheckRequest(const char* name, sds::ByteSpan input, Encode encode, Decode decode) {
  const ProtocolLimits limits = FuzzLimits();
  sds::Result<T> first = decode(input, limits);
  if (!first.ok()) return;
  const sds::Bytes wire = encode(*first);
  if (wire.size() > input.size()) Fail(name, "canonical form longer than the input");
  sds::Result<T> second = decode(wire, limits);
  if (!second.ok()) Fail(name, "re-encoded request does not decode");
  if (!(*second == *first)) Fail(name, "request changed in a round trip");
  if (encode(*second) != wire) Fail(name, "encoding is not canonical");
}

template <typename T, typename Encode, typename Decode>
void CheckAnswer(const char* name, sds::ByteSpan input, Encode encode, Decode decode) {
  const ProtocolLimits limits = FuzzLimits();
  sds::Result<Answer<T>> first = decode(input, limits);
  if (!first.ok()) return;
  auto encode_answer = [&](const Answer<T>& answer) {
    if (const ServiceError* error = std::get_if<ServiceError>(&answer)) {
      return EncodeServiceError(*error);
    }
    return encode(std::get<T>(answer));
  };
  const sds::Bytes wire = encode_answer(*first);
  if (wire.size() > input.size()) Fail(name, "canonical form longer than the input");
  sds::Result<Answer<T>> second = decode(wire, limits);
  if (!second.ok()) Fail(name, "re-encoded answer does not decode");
  if (!(*second == *first)) Fail(name, "answer changed in a round trip");
  if (encode_answer(*second) != wire) Fail(name, "encoding is not canonical");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const sds::ByteSpan input(data + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      CheckRequest<SyncRequest>("SyncRequest", input, EncodeSyncRequest, DecodeSyncRequest);
      break;
    case 1:
      CheckRequest<SnapshotRequest>("SnapshotRequest", input, EncodeSnapshotRequest,
                                    DecodeSnapshotRequest);
      break;
    case 2:
      CheckRequest<FetchRequest>("FetchRequest", input, EncodeFetchRequest, DecodeFetchRequest);
      break;
    case 3:
      CheckRequest<BackfillRequest>("BackfillRequest", input, EncodeBackfillRequest,
                                    DecodeBackfillRequest);
      break;
    case 4:
      CheckAnswer<SyncResponse>("SyncAnswer", input, EncodeSyncResponse, DecodeSyncResponse);
      break;
    case 5:
      CheckAnswer<SnapshotResponse>("SnapshotAnswer", input, EncodeSnapshotResponse,
                                    DecodeSnapshotResponse);
      break;
    case 6:
      CheckAnswer<FetchResponse>("FetchAnswer", input, EncodeFetchResponse, DecodeFetchResponse);
      break;
    default:
      CheckAnswer<BackfillResponse>("BackfillAnswer", input, EncodeBackfillResponse,
                                    DecodeBackfillResponse);
      break;
  }
  return 0;
}
