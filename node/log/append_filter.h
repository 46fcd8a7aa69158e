// The rule deciding what an Append stores (channel_log.h, "What Append
// stores"), shared by every ChannelLog backend.
#ifndef SDS_NODE_LOG_APPEND_FILTER_H_
#define SDS_NODE_LOG_APPEND_FILTER_H_

#include <span>
#include <vector>

#include "sds/channel_log.h"

namespace sds::catchup::internal {

// What the filter learned of one input. When `result.disposition` is
// kAppended the input is to be stored (the backend then decides between
// kAppended and kDuplicate); any other disposition is final.
struct FilteredInput {
  AppendResult result;
  LamportTime lamport = 0;
  ByteSpan payload;  // the wire bytes, stored as received
  ByteSpan hint;
};

FilteredInput FilterAppendInput(const AppendInput& input, const ChannelLogOptions& options);

// The inputs of an Import into `channel_id` that are to be stored, in order:
// the first rejected input, or one of another channel, refuses the whole
// import (naming its index); what the filter skips (sync messages) is left out.
Result<std::vector<FilteredInput>> FilterImport(const ChannelId& channel_id,
                                                std::span<const AppendInput> messages,
                                                const ChannelLogOptions& options);

// Entropy source drawn into a fresh epoch / store id.
Epoch MintEpoch(const EntropySource& entropy);
Bytes MintStoreId(const EntropySource& entropy);

Status ValidateOptions(const ChannelLogOptions& options);

// Whether a read that has collected `count` entries of `bytes` payload bytes
// takes the next one, of `next_bytes` payload bytes.
inline bool TakesNext(const ReadLimits& limits, uint64_t count, uint64_t bytes,
                      uint64_t next_bytes) {
  if (count < limits.min_entries) return true;
  if (count >= limits.max_entries) return false;
  if (!limits.with_payload) return true;
  return bytes + next_bytes <= limits.max_bytes;
}

}  // namespace sds::catchup::internal

#endif  // SDS_NODE_LOG_APPEND_FILTER_H_
