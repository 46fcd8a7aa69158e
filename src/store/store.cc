// Store helpers shared by every backend.
#include "sds/store.h"

#include "sds/log.h"

namespace sds {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

const char* StoreOperationName(StoreOperation op) {
  switch (op) {
    case StoreOperation::kSaveChannelMeta:
      return "SaveChannelMeta";
    case StoreOperation::kUpdateHistory:
      return "UpdateHistory";
    case StoreOperation::kLoadChannel:
      return "LoadChannel";
    case StoreOperation::kDropChannel:
      return "DropChannel";
    case StoreOperation::kSetRetrievalHint:
      return "SetRetrievalHint";
    case StoreOperation::kCommitOp:
      return "CommitOp";
    case StoreOperation::kSaveCatchUpCursor:
      return "SaveCatchUpCursor";
    case StoreOperation::kLoadCatchUpCursors:
      return "LoadCatchUpCursors";
    case StoreOperation::kListChannels:
      return "ListChannels";
  }
  return "unknown";
}

ChannelMetaDelta ChannelMetaDelta::FromSnapshot(const ChannelMeta& meta, size_t delivered_window) {
  ChannelMetaDelta delta;
  delta.replace = true;
  delta.lamport = meta.lamport;
  delta.sync_due = meta.sync_due;
  delta.sync_count = meta.sync_count;
  delta.outgoing_upsert = meta.outgoing;
  delta.incoming_upsert = meta.incoming;
  delta.outgoing_repair_upsert = meta.outgoing_repair;
  delta.incoming_repair_upsert = meta.incoming_repair;
  delta.delivered_add = meta.delivered;
  delta.delivered_window = delivered_window;
  return delta;
}

}  // namespace sds
