#include "append_filter.h"

#include <string>

namespace sds::catchup {

const char* AppendDispositionName(AppendDisposition disposition) {
  switch (disposition) {
    case AppendDisposition::kAppended:
      return "appended";
    case AppendDisposition::kDuplicate:
      return "duplicate";
    case AppendDisposition::kRejected:
      return "rejected";
    case AppendDisposition::kNotStoredSync:
      return "not stored (sync message)";
    case AppendDisposition::kNotStoredEphemeral:
      return "not stored (ephemeral message)";
  }
  return "unknown";
}

Result<AppendResult> ChannelLog::AppendOne(ByteSpan wire, Timestamp now, ByteSpan retrieval_hint) {
  AppendInput input{wire, retrieval_hint};
  auto results = Append(std::span<const AppendInput>(&input, 1), now);
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

Result<std::optional<ChannelMeta>> ChannelLog::Meta(const ChannelId& channel_id) {
  std::optional<ChannelMeta> meta;
  Status status = Read([&](ReadView& view) {
    if (const ChannelMeta* found = view.Find(channel_id)) meta = *found;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return meta;
}

namespace internal {

FilteredInput FilterAppendInput(const AppendInput& input, const ChannelLogOptions& options) {
  FilteredInput out;
  AppendResult& r = out.result;
  auto reject = [&](Status status) {
    r.disposition = AppendDisposition::kRejected;
    r.error = std::move(status);
    return out;
  };
  if (input.wire.size() > options.max_payload_bytes) {
    return reject(
        Status(ErrorCode::kMessageTooLarge, "message of " + std::to_string(input.wire.size()) +
                                                " bytes exceeds the log's max_payload_bytes (" +
                                                std::to_string(options.max_payload_bytes) + ")"));
  }
  if (input.retrieval_hint.size() > options.max_hint_bytes) {
    return reject(Status(ErrorCode::kInvalidArgument,
                         "retrieval hint of " + std::to_string(input.retrieval_hint.size()) +
                             " bytes exceeds max_hint_bytes (" +
                             std::to_string(options.max_hint_bytes) + ")"));
  }
  auto dialect = DetectDialect(input.wire);
  if (!dialect.ok()) return reject(dialect.status());
  auto message = Decode(input.wire, *dialect, options.decode);
  if (!message.ok()) return reject(message.status());
  r.channel_id = message->channel_id;
  r.message_id = message->message_id;
  if (r.message_id.empty()) {
    return reject(Status(ErrorCode::kDecodeMissingField, "message has an empty message_id"));
  }
  if (r.channel_id.empty()) {
    return reject(
        Status(ErrorCode::kDecodeMissingField, "message names no channel (empty channel_id)"));
  }
  switch (message->kind()) {
    case MessageKind::kSync:
      r.disposition = AppendDisposition::kNotStoredSync;
      return out;
    case MessageKind::kEphemeral:
      r.disposition = AppendDisposition::kNotStoredEphemeral;
      return out;
    case MessageKind::kContent:
      break;
  }
  r.disposition = AppendDisposition::kAppended;
  out.lamport = *message->lamport_timestamp;
  out.payload = input.wire;
  out.hint = input.retrieval_hint;
  return out;
}

Epoch MintEpoch(const EntropySource& entropy) {
  Epoch epoch{};
  entropy(std::span<uint8_t>(epoch.data(), epoch.size()));
  // The all-zero epoch means "none" on the wire: never mint it (a 2^-128
  // event, or an entropy source that is broken).
  if (epoch == kNoEpoch) epoch.back() = 1;
  return epoch;
}

Bytes MintStoreId(const EntropySource& entropy) {
  Bytes id(16);
  entropy(std::span<uint8_t>(id.data(), id.size()));
  return id;
}

Result<std::vector<FilteredInput>> FilterImport(const ChannelId& channel_id,
                                                std::span<const AppendInput> messages,
                                                const ChannelLogOptions& options) {
  std::vector<FilteredInput> accepted;
  for (size_t i = 0; i < messages.size(); ++i) {
    FilteredInput in = FilterAppendInput(messages[i], options);
    if (in.result.disposition == AppendDisposition::kRejected) {
      return Status(in.result.error.code(),
                    "import message " + std::to_string(i) + ": " + in.result.error.message());
    }
    if (in.result.disposition != AppendDisposition::kAppended) continue;
    if (in.result.channel_id != channel_id) {
      return Status(ErrorCode::kInvalidArgument,
                    "import message " + std::to_string(i) + " belongs to another channel");
    }
    accepted.push_back(std::move(in));
  }
  return accepted;
}

Status ValidateOptions(const ChannelLogOptions& options) {
  if (!options.entropy) {
    return Status(ErrorCode::kInvalidArgument, "ChannelLogOptions::entropy is required");
  }
  if (options.max_payload_bytes == 0) {
    return Status(ErrorCode::kInvalidArgument, "ChannelLogOptions::max_payload_bytes is 0");
  }
  if (options.store_id.size() > 1024) {
    return Status(ErrorCode::kInvalidArgument, "store_id longer than 1024 bytes");
  }
  return Status::Ok();
}

}  // namespace internal
}  // namespace sds::catchup
