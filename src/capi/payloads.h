// The byte-exact texts libsds hands to C callbacks: request results, events
// and error messages, in nim-sds's forms (reference/nim-sds.md section 7).
//
// nim-sds encodes the same bytes three ways and consumers parse each one:
//   wrap result        decimal bytes joined by commas      "10,2,109,49"
//   unwrap result      a JSON array of integers           {"message":[104,105],...}
//   events and hints   standard base64 with padding       "CgJtMQ=="
// JSON is built by hand rather than by a JSON library because key order and
// string escaping must match Nim's `$JsonNode` exactly: keys in the order
// nim-sds writes them (`eventType` last for message_ready / message_sent),
// no whitespace, and only `"`, `\` and control characters escaped (other
// bytes, including invalid UTF-8, pass through unchanged).
#ifndef SDS_CAPI_PAYLOADS_H_
#define SDS_CAPI_PAYLOADS_H_

#include <optional>
#include <string>
#include <string_view>

#include "sds/events.h"
#include "sds/reliability_manager.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::capi {

// "10,2,109": the wrap result.
std::string DecimalCsv(ByteSpan bytes);
// Standard base64 (RFC 4648 alphabet) with '=' padding; "" for no bytes.
std::string Base64(ByteSpan bytes);
// Appends `s` as a quoted JSON string, escaped as Nim's escapeJson does.
void AppendJsonString(std::string& out, std::string_view s);

// {"message":[...],"channelId":"...","missingDeps":[...]}
std::string UnwrapResultJson(const UnwrapResult& result);

// {"eventType":"periodic_sync"}
std::string PeriodicSyncJson();

// The JSON for one engine event, or nullopt when it is not delivered: the
// extension events (and SendFailed as such) only with `extended`; without
// it SendFailed reads as nim-sds's message_sent. MessageReady of a sync
// message is never delivered (the engine does not emit one).
std::optional<std::string> EventJson(const Event& event, bool extended);

// nim-sds's ReliabilityError name for an engine error code.
std::string_view NimErrorName(ErrorCode code);
// "error processing <request> request: <nim error>", then with `detailed`
// " (<engine message>)".
std::string RequestErrorText(std::string_view request, const Status& status, bool detailed);

}  // namespace sds::capi

#endif  // SDS_CAPI_PAYLOADS_H_
