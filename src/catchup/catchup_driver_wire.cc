// The bytes side of CatchUpDriver: requests encoded and answers decoded with
// the catch-up protocol codec (catchup_protocol.h), under config.limits.
#include <string>

#include "sds/catchup.h"

namespace sds::catchup {

Bytes OutgoingRequest::Encode() const {
  if (const auto* sync = std::get_if<SyncRequest>(&request)) return EncodeSyncRequest(*sync);
  if (const auto* snapshot = std::get_if<SnapshotRequest>(&request)) {
    return EncodeSnapshotRequest(*snapshot);
  }
  return EncodeFetchRequest(std::get<FetchRequest>(request));
}

Status CatchUpDriver::OnResponse(uint64_t request_id, ByteSpan bytes, Timestamp now) {
  std::optional<RequestKind> kind = OutstandingKind(request_id);
  if (!kind) {
    return Status(ErrorCode::kInvalidArgument,
                  "no request " + std::to_string(request_id) + " is outstanding");
  }
  const ProtocolLimits& limits = limits_for_decoding();
  // An undecodable answer is refused like one that breaks the protocol: the
  // typed handlers below see it as a rejection and retry after a backoff.
  auto refuse = [&](const Status& decoded) {
    return RefuseUndecodable(request_id, *kind,
                             Status(decoded.code(), std::string(RequestKindName(*kind)) +
                                                        " response: " + decoded.message()),
                             now);
  };
  switch (*kind) {
    case RequestKind::kSync: {
      auto answer = DecodeSyncResponse(bytes, limits);
      if (!answer.ok()) return refuse(answer.status());
      return OnSyncAnswer(request_id, *answer, now);
    }
    case RequestKind::kSnapshot: {
      auto answer = DecodeSnapshotResponse(bytes, limits);
      if (!answer.ok()) return refuse(answer.status());
      return OnSnapshotAnswer(request_id, *answer, now);
    }
    case RequestKind::kFetch: {
      auto answer = DecodeFetchResponse(bytes, limits);
      if (!answer.ok()) return refuse(answer.status());
      return OnFetchAnswer(request_id, *answer, now);
    }
  }
  return Status(ErrorCode::kInternal, "unknown request kind");
}

}  // namespace sds::catchup
