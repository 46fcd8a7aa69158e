// The rules a store's answer must satisfy before the driver applies any of
// it (the store is hostile input), and the checks of a driver's config.
#ifndef SDS_CATCHUP_RESPONSE_CHECKS_H_
#define SDS_CATCHUP_RESPONSE_CHECKS_H_

#include <optional>
#include <string>

#include "sds/catchup.h"
#include "sds/config.h"

namespace sds::catchup {

// kInvalidArgument naming the first field that cannot work; I6: page size and
// snapshot K at most the engine's max_message_history.
Status ValidateCatchUpConfig(const CatchUpConfig& config, const Config& engine);

// Whole-response rules (kInvalidArgument "Sync response: ..." on the first
// violation): the store named, every channel asked answered exactly once and
// nothing else, entry counts and sizes within what was asked and the limits,
// entries only in DELTA results, no payloads in an ids-only answer.
Status CheckSyncResponse(const SyncRequest& request, const SyncResponse& response,
                         const CatchUpConfig& config);
// Per channel, the client's end-to-end check of a DELTA result against the
// cursor it sent: same epoch, from_seq = cursor + 1, seqs dense and
// ascending from from_seq to to_seq, within low_seq..head_seq. Empty when it
// holds, else why not (the channel then cold-starts).
std::string CheckDeltaContinuity(const std::optional<Cursor>& cursor, const ChannelResult& result);
// UP_TO_DATE only for the cursor's epoch and head_seq == cursor.seq (I7),
// when the result says them (on the wire it carries no body).
std::string CheckUpToDate(const std::optional<Cursor>& cursor, const ChannelResult& result);

// Every channel asked answered once (snapshot or unknown); per snapshot at
// most K entries, ascending and dense, ending exactly at snapshot_seq, none
// below low_seq.
Status CheckSnapshotResponse(const SnapshotRequest& request, const SnapshotResponse& response,
                             const CatchUpConfig& config);
// Only ids asked for, each once, ascending by seq; missing ids were asked.
Status CheckFetchResponse(const FetchRequest& request, const FetchResponse& response,
                          const CatchUpConfig& config);

const char* ColdReasonText(ColdReason reason);

}  // namespace sds::catchup

#endif  // SDS_CATCHUP_RESPONSE_CHECKS_H_
