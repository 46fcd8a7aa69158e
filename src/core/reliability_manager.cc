// ReliabilityManager: channels, the Wrap / Unwrap entry points and the public
// forwarding layer. The protocol rules they apply live in files named after
// them: lamport.cc, delivery.cc, acknowledgement.cc, repair.cc, timers.cc.
#include "sds/reliability_manager.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>

#include "core/reliability_manager_impl.h"
#include "sds/codec.h"
#include "wire/encode_with_bloom.h"

namespace sds {

using internal::ChannelState;
using internal::HistoryRecord;
using internal::IncomingEntry;
using internal::OutgoingEntry;

ReliabilityManager::Impl::Impl(const Config& config, std::shared_ptr<Store> store)
    : store_(std::move(store)), config_(config) {
  // Spec-dialect filters carry no geometry: peers must share ours (or the
  // spec default when we speak nim and only read spec messages).
  auto params =
      config.dialect == Dialect::kSpec
          ? BloomParameters::Compute(config.bloom_filter_capacity, config.bloom_filter_error_rate)
          : BloomParameters::Compute(10000, 0.001);
  spec_bloom_params_ = params.ok() ? *params : BloomParameters{};
}

// ---- Channels -----------------------------------------------------------------------------

Status ReliabilityManager::Impl::CheckId(const std::string& id, const char* what) const {
  if (id.empty()) return Status(ErrorCode::kInvalidArgument, std::string(what) + " is empty");
  if (id.size() > config_.limits.decode.max_id_bytes) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(what) + " is longer than limits.decode.max_id_bytes (" +
                      std::to_string(config_.limits.decode.max_id_bytes) + ")");
  }
  return Status::Ok();
}

Status ReliabilityManager::Impl::CheckContent(ByteSpan content) const {
  if (content.empty()) return Status(ErrorCode::kInvalidArgument, "content is empty");
  if (content.size() > config_.limits.decode.max_content_bytes) {
    return Status(ErrorCode::kMessageTooLarge,
                  "content of " + std::to_string(content.size()) +
                      " bytes exceeds limits.decode.max_content_bytes (" +
                      std::to_string(config_.limits.decode.max_content_bytes) + ")");
  }
  return Status::Ok();
}

ChannelState* ReliabilityManager::Impl::FindChannel(const ChannelId& channel_id) {
  auto it = channels_.find(channel_id);
  return it == channels_.end() ? nullptr : it->second.get();
}

const ChannelState* ReliabilityManager::Impl::FindChannel(const ChannelId& channel_id) const {
  auto it = channels_.find(channel_id);
  return it == channels_.end() ? nullptr : it->second.get();
}

Result<ChannelState*> ReliabilityManager::Impl::GetOrCreateChannel(const ChannelId& channel_id,
                                                                   ChannelUse use, Timestamp now) {
  if (ChannelState* existing = FindChannel(channel_id)) {
    if (use == ChannelUse::kLocal && existing->remote_created) {
      existing->remote_created = false;  // the application's now: never reclaimed
      --remote_channels_;
    }
    return existing;
  }
  SDS_RETURN_IF_ERROR(CheckId(channel_id, "channel id"));
  if (use == ChannelUse::kRemote) SDS_RETURN_IF_ERROR(AdmitRemoteChannel(channel_id, now));
  if (channels_.size() >= config_.limits.max_channels) {
    return Status(
        ErrorCode::kInvalidArgument,
        "limits.max_channels (" + std::to_string(config_.limits.max_channels) + ") channels exist");
  }
  size_t window = std::max(config_.dedup_window, config_.max_message_history);
  auto channel = std::make_unique<ChannelState>(channel_id, config_.bloom_filter_capacity,
                                                config_.bloom_filter_error_rate, config_.dialect,
                                                config_.bloom_roll_over, window);
  if (config_.dialect == Dialect::kNim && config_.bloom_wire_size == BloomWireSize::kRightSized) {
    channel->wire_bloom.emplace(config_.bloom_filter_capacity, config_.bloom_filter_error_rate,
                                Dialect::kNim);
  }
  if (store_) SDS_RETURN_IF_ERROR(LoadChannelState(*channel));
  ChannelState* raw = channel.get();
  if (use == ChannelUse::kRemote) {
    raw->remote_created = true;
    raw->last_received = now;
    ++remote_channels_;
  }
  channels_.emplace(channel_id, std::move(channel));
  Reschedule(*raw);  // loaded state may have deadlines
  return raw;
}

Status ReliabilityManager::Impl::AdmitRemoteChannel(const ChannelId& channel_id, Timestamp now) {
  if (config_.channel_admission == ChannelAdmission::kLocal) {
    return Status(ErrorCode::kUnknownChannel,
                  "no channel " + channel_id +
                      " (channel_admission kLocal: only the application creates channels)");
  }
  if (remote_channels_ <
          std::min(config_.limits.max_remote_channels, config_.limits.max_channels) &&
      channels_.size() < config_.limits.max_channels) {
    return Status::Ok();
  }
  // At the bound: the remote-created channel idle longest makes room, if it
  // is idle at all. A flood of new channel ids cannot evict active ones.
  ChannelState* oldest = nullptr;
  for (const auto& [id, channel] : channels_) {
    if (channel->remote_created &&
        (oldest == nullptr || channel->last_received < oldest->last_received)) {
      oldest = channel.get();
    }
  }
  if (oldest == nullptr || now - oldest->last_received < config_.remote_channel_idle_timeout) {
    const bool all_channels = channels_.size() >= config_.limits.max_channels;
    return Status(ErrorCode::kInvalidArgument,
                  all_channels
                      ? "limits.max_channels (" + std::to_string(config_.limits.max_channels) +
                            ") channels exist and none created by a peer is idle"
                      : "limits.max_remote_channels (" +
                            std::to_string(config_.limits.max_remote_channels) +
                            ") channels created by peers exist and none is idle");
  }
  const ChannelId reclaimed = oldest->channel_id;
  const Duration idle = now - oldest->last_received;
  SDS_RETURN_IF_ERROR(RemoveChannel(reclaimed));
  Log(LogLevel::kInfo, "reclaimed channel " + reclaimed + " (created by a peer's message, idle " +
                           std::to_string(idle.count()) + " ms) to admit channel " + channel_id);
  return Status::Ok();
}

Status ReliabilityManager::Impl::LoadStoredChannels() {
  if (!store_) return Status::Ok();
  auto ids = store_->ListChannels();
  if (!ids.ok()) {
    return Status(ErrorCode::kPersistence, "listing stored channels: " + ids.status().message());
  }
  if (ids->size() > config_.limits.max_channels) {
    return Status(ErrorCode::kPersistence, "the store holds " + std::to_string(ids->size()) +
                                               " channels, more than limits.max_channels (" +
                                               std::to_string(config_.limits.max_channels) + ")");
  }
  for (const ChannelId& id : *ids) {
    auto channel = GetOrCreateChannel(id);
    if (!channel.ok()) {
      return Status(ErrorCode::kPersistence,
                    "stored channel " + id + ": " + channel.status().message());
    }
  }
  return Status::Ok();
}

Status ReliabilityManager::Impl::EnsureChannel(const ChannelId& channel_id) {
  return GetOrCreateChannel(channel_id).status();
}

Status ReliabilityManager::Impl::RemoveChannel(const ChannelId& channel_id) {
  if (store_) {
    Status dropped = store_->DropChannel(channel_id);
    if (!dropped.ok()) {
      return Status(ErrorCode::kPersistence,
                    "dropping channel " + channel_id + " from the store: " + dropped.message());
    }
  }
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return Status::Ok();
  ChannelState* channel = it->second.get();
  while (!channel->incoming.empty()) {
    DropIncoming(*channel, channel->incoming.begin(), "channel removed");
  }
  EraseChannel(it);
  return Status::Ok();
}

void ReliabilityManager::Impl::EraseChannel(
    std::map<ChannelId, std::unique_ptr<ChannelState>>::iterator it) {
  Unschedule(*it->second);
  if (it->second->remote_created) --remote_channels_;
  channels_.erase(it);
}

std::vector<ChannelId> ReliabilityManager::Impl::Channels() const {
  std::vector<ChannelId> out;
  out.reserve(channels_.size());
  for (const auto& [id, channel] : channels_) out.push_back(id);
  return out;
}

void ReliabilityManager::Impl::Reset() {
  Status status = TryReset();
  if (!status.ok()) Log(LogLevel::kError, "reset: " + status.message());
}

Status ReliabilityManager::Impl::SetRetrievalHint(const ChannelId& channel_id,
                                                  const MessageId& message_id, Bytes hint) {
  ChannelState* channel = FindChannel(channel_id);
  if (channel == nullptr) return Status(ErrorCode::kUnknownChannel, "no channel " + channel_id);
  auto it = channel->history.find(message_id);
  if (it == channel->history.end()) {
    return Status(ErrorCode::kInvalidArgument, "message " + message_id + " is not in the history");
  }
  PersistScope persist(this, channel);
  it->second.retrieval_hint = std::move(hint);
  TouchHint(*channel, message_id);
  return Status::Ok();
}

// ---- Sending ------------------------------------------------------------------------------

std::vector<HistoryEntry> ReliabilityManager::Impl::RecentCausalHistory(ChannelState& channel) {
  size_t count = std::min(config_.max_causal_history, channel.history_order.size());
  std::vector<HistoryEntry> entries;
  entries.reserve(count);
  for (size_t i = channel.history_order.size() - count; i < channel.history_order.size(); ++i) {
    const MessageId& id = channel.history_order[i]->first;
    HistoryRecord& record = channel.history_order[i]->second;
    if (record.retrieval_hint.empty() && hint_provider_) {
      record.retrieval_hint = hint_provider_(channel.channel_id, id);
      if (!record.retrieval_hint.empty()) TouchHint(channel, id);
    }
    entries.push_back(HistoryEntry{id, record.retrieval_hint, record.sender_id});
  }
  return entries;
}

SharedBytes ReliabilityManager::Impl::EncodeStateMessage(ChannelState& channel,
                                                         const MessageId& message_id,
                                                         std::optional<ByteSpan> content,
                                                         Timestamp now) {
  Message message;
  message.message_id = message_id;
  message.channel_id = channel.channel_id;
  message.sender_id = config_.participant_id;
  message.lamport_timestamp = channel.lamport;
  message.causal_history = RecentCausalHistory(channel);
  if (config_.repair_enabled()) message.repair_request = TakeDueRepairRequests(channel, now);
  message.content = content;
  channel.sync_due.reset();  // this message tells peers what we have
  channel.unreported.clear();
  channel.unreported_overflow = false;
  SharedBytes wire(wire::EncodeWithBloom(message, config_.dialect, &OutgoingBloom(channel, now)));
  own_echoes_.Remember(message_id, wire);
  return wire;
}

const BloomFilter& ReliabilityManager::Impl::OutgoingBloom(ChannelState& channel, Timestamp now) {
  if (!channel.wire_bloom) return channel.bloom.filter();
  const Duration horizon = config_.BloomWireHorizon();
  const Timestamp oldest_kept = now - Timestamp{} > horizon ? now - horizon : Timestamp{};
  channel.wire_bloom->Expire(oldest_kept, config_.max_causal_history, now);
  return channel.wire_bloom->Filter();
}

Result<SharedBytes> ReliabilityManager::Impl::Wrap(const ChannelId& channel_id, ByteSpan content,
                                                   const MessageId& message_id, Timestamp now) {
  SDS_RETURN_IF_ERROR(CheckContent(content));
  SDS_RETURN_IF_ERROR(CheckId(message_id, "message id"));
  auto channel_or = GetOrCreateChannel(channel_id);
  if (!channel_or.ok()) return channel_or.status();
  ChannelState& channel = **channel_or;
  PersistScope persist(this, &channel);
  if (channel.Known(message_id) || channel.incoming_index.count(message_id) != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "message id " + message_id + " is already used on channel " + channel_id);
  }

  AdvanceLamportForSend(channel, now);
  LamportTime lamport = channel.lamport;
  SharedBytes wire = EncodeStateMessage(channel, message_id, content, now);

  if (channel.outgoing.size() >= config_.limits.max_outgoing_buffer) {
    OutgoingEntry& oldest = channel.outgoing.front();
    events_.push_back(SendFailed{channel_id, oldest.message_id, oldest.resend_attempts, true});
    TouchOutgoing(channel, oldest.message_id);
    channel.outgoing_index.erase(oldest.message_id);
    channel.outgoing.pop_front();
  }
  OutgoingEntry entry;
  entry.message_id = message_id;
  entry.wire = wire;
  entry.last_broadcast = now;
  entry.nim_key = MakeBloomKey(Dialect::kNim, message_id);
  entry.spec_key = MakeBloomKey(Dialect::kSpec, message_id);
  channel.outgoing.push_back(std::move(entry));
  channel.outgoing_index[message_id] = std::prev(channel.outgoing.end());
  TouchOutgoing(channel, message_id);

  channel.bloom.Add(message_id);
  AddToHistory(channel, message_id, HistoryRecord{wire, config_.participant_id, lamport, {}});
  return wire;
}

Result<SharedBytes> ReliabilityManager::Impl::WrapEphemeral(const ChannelId& channel_id,
                                                            ByteSpan content,
                                                            const MessageId& message_id,
                                                            Timestamp now) {
  (void)now;
  if (config_.dialect != Dialect::kSpec) {
    return Status(ErrorCode::kInvalidArgument,
                  "ephemeral messages need the spec dialect: nim-sds cannot decode them");
  }
  SDS_RETURN_IF_ERROR(CheckContent(content));
  SDS_RETURN_IF_ERROR(CheckId(message_id, "message id"));
  SDS_RETURN_IF_ERROR(CheckId(channel_id, "channel id"));
  // Sending on a channel is using it locally: its echoes and its peers'
  // replies must find it, whatever the admission policy.
  auto channel_or = GetOrCreateChannel(channel_id);
  if (!channel_or.ok()) return channel_or.status();
  Message message;
  message.message_id = message_id;
  message.channel_id = channel_id;
  message.sender_id = config_.participant_id;
  message.content = content;
  SharedBytes wire(Encode(message, config_.dialect));
  own_echoes_.Remember(message_id, wire);
  return wire;
}

Result<SharedBytes> ReliabilityManager::Impl::MakeSyncMessage(const ChannelId& channel_id,
                                                              const MessageId& message_id,
                                                              Timestamp now) {
  SDS_RETURN_IF_ERROR(CheckId(message_id, "message id"));
  auto channel_or = GetOrCreateChannel(channel_id);
  if (!channel_or.ok()) return channel_or.status();
  return EncodeSyncMessage(**channel_or, message_id, now);
}

SharedBytes ReliabilityManager::Impl::EncodeSyncMessage(ChannelState& channel,
                                                        const MessageId& message_id,
                                                        Timestamp now) {
  PersistScope persist(this, &channel);
  AdvanceLamportForSend(channel, now);
  // A sync message has no content field at all in the spec dialect; nim-sds
  // requires field 5, so there it is present and empty.
  std::optional<ByteSpan> content;
  if (config_.dialect == Dialect::kNim) content = ByteSpan();
  ++channel.sync_count;
  return EncodeStateMessage(channel, message_id, content, now);
}

void ReliabilityManager::Impl::AddToHistory(ChannelState& channel, const MessageId& id,
                                            HistoryRecord record) {
  auto [it, inserted] = channel.history.insert_or_assign(id, std::move(record));
  if (inserted) InsertInHistoryOrder(channel, &*it);
  QueueHistoryAppend(channel, id);
  while (channel.history_order.size() > config_.max_message_history) {
    QueueHistoryEvict(channel, channel.history_order.front()->first);
    channel.history.erase(channel.history_order.front()->first);
    channel.history_order.pop_front();
  }
  TouchDelivered(channel, id);
  channel.delivered.Insert(id);
}

// ---- Receiving ----------------------------------------------------------------------------

void ReliabilityManager::Impl::SetLogger(LogCallback logger) {
  log_ = std::move(logger);
  if (log_ && !config_.repair_enabled()) log_(LogLevel::kInfo, internal::kRepairDisabledMessage);
}

BloomParseLimits ReliabilityManager::Impl::BloomLimits() const {
  BloomParseLimits limits;
  limits.max_bytes = config_.limits.decode.max_bloom_bytes;
  return limits;
}

Status ReliabilityManager::Impl::ValidateReceived(const DecodedMessage& decoded) const {
  const Message& message = decoded.message;
  if (decoded.dialect != config_.dialect && !config_.accept_other_dialect) {
    return Status(ErrorCode::kDecodeDialectMismatch,
                  std::string("received a ") + DialectName(decoded.dialect) +
                      "-dialect message; this manager speaks " + DialectName(config_.dialect));
  }
  if (message.channel_id.empty()) {
    return Status(ErrorCode::kDecodeMissingField, "channel id is empty");
  }
  // Whatever decode rules are configured (nim-sds 0.3's accept them), an
  // empty id never enters our state: it would reach the causal histories and
  // repair requests we send, and nim-sds 0.4 rejects messages carrying one.
  if (message.message_id.empty()) {
    return Status(ErrorCode::kDecodeMissingField, "message id is empty");
  }
  for (const auto* list : {&message.causal_history, &message.repair_request}) {
    for (const HistoryEntry& entry : *list) {
      if (entry.message_id.empty()) {
        return Status(ErrorCode::kDecodeMissingField, "a history entry's message id is empty");
      }
    }
  }
  if (message.lamport_timestamp &&
      (*message.lamport_timestamp < 0 || *message.lamport_timestamp > config_.limits.max_lamport)) {
    return Status(ErrorCode::kDecodeLamportOutOfRange,
                  "lamport timestamp " + std::to_string(*message.lamport_timestamp) +
                      " is outside [0, limits.max_lamport]");
  }
  if (message.content && message.content->size() > config_.limits.decode.max_content_bytes) {
    return Status(ErrorCode::kMessageTooLarge, "content exceeds limits.decode.max_content_bytes");
  }
  if (message.kind() != MessageKind::kEphemeral && message.bloom_filter &&
      !message.bloom_filter->empty() && decoded.dialect == Dialect::kNim) {
    // A filter that does not parse is ignored (as nim-sds does); one that
    // parses but declares an impossible geometry is hostile and rejected.
    auto view = PeerBloomView::ParseNim(*message.bloom_filter, BloomLimits());
    if (!view.ok() && view.status().code() == ErrorCode::kDecodeBadBloomFilter) {
      return view.status();
    }
  }
  return Status::Ok();
}

Result<UnwrapResult> ReliabilityManager::Impl::Unwrap(ByteSpan wire, Timestamp now,
                                                      const ChannelId* expected_channel) {
  if (wire.size() > config_.limits.decode.max_message_bytes) {
    return Status(ErrorCode::kMessageTooLarge,
                  "message of " + std::to_string(wire.size()) +
                      " bytes exceeds limits.decode.max_message_bytes");
  }
  return UnwrapShared(SharedBytes(Bytes(wire.begin(), wire.end())), now, expected_channel);
}

Result<UnwrapResult> ReliabilityManager::Impl::UnwrapShared(const SharedBytes& wire, Timestamp now,
                                                            const ChannelId* expected_channel) {
  if (wire.size() > config_.limits.decode.max_message_bytes) {
    return Status(ErrorCode::kMessageTooLarge,
                  "message of " + std::to_string(wire.size()) +
                      " bytes exceeds limits.decode.max_message_bytes");
  }
  auto decoded_or = DecodeAny(wire, config_.limits.decode);
  if (!decoded_or.ok()) return decoded_or.status();
  DecodedMessage decoded = std::move(*decoded_or);
  SDS_RETURN_IF_ERROR(ValidateReceived(decoded));
  if (expected_channel != nullptr && decoded.message.channel_id != *expected_channel) {
    return Status(ErrorCode::kInvalidArgument,
                  "message " + decoded.message.message_id + " belongs to channel " +
                      decoded.message.channel_id + ", not " + *expected_channel);
  }

  // Nothing has changed yet; from here on the message is accepted.
  auto channel_or = GetOrCreateChannel(decoded.message.channel_id, ChannelUse::kRemote, now);
  if (!channel_or.ok()) return channel_or.status();
  ChannelState& channel = **channel_or;
  channel.last_received = std::max(channel.last_received, now);
  PersistScope persist(this, &channel);
  const Message& message = decoded.message;

  UnwrapResult result;
  result.channel_id = message.channel_id;
  result.message_id = message.message_id;
  result.dialect = decoded.dialect;
  result.wire = decoded.wire;
  result.content = message.content.value_or(ByteSpan());

  const MessageKind kind = message.kind();
  // Transports such as Waku relay hand a node its own broadcasts: our own
  // messages must not acknowledge, deliver or reveal anything. They are
  // recognised by their bytes (own_echoes.h), with or without a
  // participant_id, and by our sender id or an unacknowledged id of ours.
  const bool own_sender = !config_.participant_id.empty() &&
                          message.sender_id == config_.participant_id &&
                          kind != MessageKind::kContent;
  if (own_sender || own_echoes_.IsOurs(message.message_id, decoded.wire) ||
      (kind == MessageKind::kContent && channel.outgoing_index.count(message.message_id) != 0)) {
    result.outcome = UnwrapOutcome::kDuplicate;
    return result;
  }
  if (kind == MessageKind::kEphemeral) {
    result.outcome = UnwrapOutcome::kEphemeral;
    MessageReady ready{
        channel.channel_id, message.message_id, message.sender_id, MessageKind::kEphemeral, 0,
        decoded.wire,       result.content};
    events_.push_back(std::move(ready));
    return result;
  }

  // Seeing the message at all answers any repair of it, ours or a peer's.
  CancelRepairs(channel, message.message_id);

  if (kind == MessageKind::kSync) {
    result.outcome = UnwrapOutcome::kSync;
    AdvanceLamportForReceive(channel, *message.lamport_timestamp, internal::ReceiveStage::kArrived);
    ReviewAcknowledgements(channel, decoded);
    HandleRepairRequests(channel, message, now);
    NoteAcknowledgedReceipts(channel, decoded);
    // A peer's sync lists what it delivered lately: a gap here that no later
    // message will reveal (the tail of a conversation) shows up now.
    for (const HistoryEntry& dep : message.causal_history) {
      if (!channel.Known(dep.message_id) && channel.incoming_index.count(dep.message_id) == 0) {
        result.missing_dependencies.push_back(dep);
      }
    }
    if (!result.missing_dependencies.empty()) {
      events_.push_back(
          MissingDependencies{channel.channel_id, message.message_id, result.missing_dependencies});
      RequestRepairs(channel, result.missing_dependencies, now);
    }
    return result;
  }

  if (channel.Known(message.message_id) || channel.incoming_index.count(message.message_id) != 0) {
    result.outcome = UnwrapOutcome::kDuplicate;
    return result;
  }

  // Peers may stop resending once we hold the message, even before it is
  // deliverable: it enters our filter now.
  channel.bloom.Add(message.message_id);
  if (channel.wire_bloom) {
    channel.wire_bloom->Add(MakeBloomKey(Dialect::kNim, message.message_id), now);
  }
  AdvanceLamportForReceive(channel, *message.lamport_timestamp, internal::ReceiveStage::kArrived);
  ReviewAcknowledgements(channel, decoded);
  HandleRepairRequests(channel, message, now);
  NoteAcknowledgedReceipts(channel, decoded);
  ScheduleSync(channel, message, now);

  for (const HistoryEntry& dep : message.causal_history) {
    if (!channel.Known(dep.message_id)) result.missing_dependencies.push_back(dep);
  }
  if (result.missing_dependencies.empty()) {
    result.outcome = UnwrapOutcome::kDelivered;
    DeliverAndCascade(channel, std::move(decoded));
  } else {
    result.outcome = UnwrapOutcome::kBuffered;
    BufferIncoming(channel, std::move(decoded), result.missing_dependencies, now);
  }
  return result;
}

Status ReliabilityManager::Impl::MarkDependenciesMet(const ChannelId& channel_id,
                                                     std::span<const MessageId> message_ids,
                                                     Timestamp now) {
  ChannelState* channel = FindChannel(channel_id);
  if (channel == nullptr) return Status(ErrorCode::kUnknownChannel, "no channel " + channel_id);
  PersistScope persist(this, channel);
  for (const MessageId& id : message_ids) {
    if (!channel->bloom.Contains(id)) {
      channel->bloom.Add(id);
      // Its sender may be waiting for an acknowledgement, as for one received.
      if (channel->wire_bloom) channel->wire_bloom->Add(MakeBloomKey(Dialect::kNim, id), now);
    }
    if (!channel->Known(id)) {
      TouchDelivered(*channel, id);
      channel->marked.Insert(id);
    }
    // The application holds this message: a buffered copy of it must never
    // be delivered (it is dropped, and stops waiting for its dependencies).
    if (auto buffered = channel->incoming_index.find(id);
        buffered != channel->incoming_index.end()) {
      DropIncoming(*channel, buffered->second,
                   "marked met by the application, which holds it: not delivered again");
    }
    CancelRepairs(*channel, id);
    // Deliver what this id unblocks before taking the next one, so that an id
    // delivered by the cascade is not also recorded as marked.
    std::deque<DecodedMessage> ready;
    ResolveDependency(*channel, id, ready);
    while (!ready.empty()) {
      DecodedMessage next = std::move(ready.front());
      ready.pop_front();
      DeliverAndCascade(*channel, std::move(next));
    }
  }
  return Status::Ok();
}

// ---- Events -------------------------------------------------------------------------------

std::optional<Event> ReliabilityManager::Impl::PollEvent() {
  if (events_.empty()) return std::nullopt;
  Event event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::vector<Event> ReliabilityManager::Impl::TakeEvents() {
  std::vector<Event> out(std::make_move_iterator(events_.begin()),
                         std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

// ---- ReliabilityManager: forwards to Impl -------------------------------------------------

Result<std::unique_ptr<ReliabilityManager>> ReliabilityManager::Create(const Config& config) {
  return Create(config, nullptr);
}

Result<std::unique_ptr<ReliabilityManager>> ReliabilityManager::Create(
    const Config& config, std::shared_ptr<Store> store) {
  SDS_RETURN_IF_ERROR(config.Validate());
  auto impl = std::make_unique<Impl>(config, std::move(store));
  // Stored channels resend, repair and sync on time without being touched.
  SDS_RETURN_IF_ERROR(impl->LoadStoredChannels());
  return std::unique_ptr<ReliabilityManager>(new ReliabilityManager(std::move(impl)));
}

ReliabilityManager::ReliabilityManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReliabilityManager::~ReliabilityManager() = default;

const Config& ReliabilityManager::config() const { return impl_->config(); }
Status ReliabilityManager::EnsureChannel(const ChannelId& channel_id) {
  return impl_->EnsureChannel(channel_id);
}
Status ReliabilityManager::RemoveChannel(const ChannelId& channel_id) {
  return impl_->RemoveChannel(channel_id);
}
bool ReliabilityManager::HasChannel(const ChannelId& channel_id) const {
  return impl_->HasChannel(channel_id);
}
std::vector<ChannelId> ReliabilityManager::Channels() const { return impl_->Channels(); }
void ReliabilityManager::Reset() { impl_->Reset(); }
Status ReliabilityManager::TryReset() { return impl_->TryReset(); }
void ReliabilityManager::SetLogger(LogCallback logger) { impl_->SetLogger(std::move(logger)); }
void ReliabilityManager::SetRetrievalHintProvider(RetrievalHintProvider provider) {
  impl_->SetRetrievalHintProvider(std::move(provider));
}
Status ReliabilityManager::SetRetrievalHint(const ChannelId& channel_id,
                                            const MessageId& message_id, Bytes hint) {
  return impl_->SetRetrievalHint(channel_id, message_id, std::move(hint));
}
Result<SharedBytes> ReliabilityManager::Wrap(const ChannelId& channel_id, ByteSpan content,
                                             const MessageId& message_id, Timestamp now) {
  return impl_->Wrap(channel_id, content, message_id, now);
}
Result<SharedBytes> ReliabilityManager::WrapEphemeral(const ChannelId& channel_id, ByteSpan content,
                                                      const MessageId& message_id, Timestamp now) {
  return impl_->WrapEphemeral(channel_id, content, message_id, now);
}
Result<SharedBytes> ReliabilityManager::MakeSyncMessage(const ChannelId& channel_id,
                                                        const MessageId& message_id,
                                                        Timestamp now) {
  return impl_->MakeSyncMessage(channel_id, message_id, now);
}
Result<UnwrapResult> ReliabilityManager::Unwrap(ByteSpan wire, Timestamp now) {
  return impl_->Unwrap(wire, now);
}
Result<UnwrapResult> ReliabilityManager::Unwrap(const SharedBytes& wire, Timestamp now) {
  return impl_->UnwrapShared(wire, now);
}
Status ReliabilityManager::MarkDependenciesMet(const ChannelId& channel_id,
                                               std::span<const MessageId> message_ids,
                                               Timestamp now) {
  return impl_->MarkDependenciesMet(channel_id, message_ids, now);
}
Timestamp ReliabilityManager::Tick(Timestamp now) { return impl_->Tick(now); }
Timestamp ReliabilityManager::NextDeadline() const { return impl_->NextDeadline(); }
std::optional<Event> ReliabilityManager::PollEvent() { return impl_->PollEvent(); }
std::vector<Event> ReliabilityManager::TakeEvents() { return impl_->TakeEvents(); }
size_t ReliabilityManager::PendingEventCount() const { return impl_->PendingEventCount(); }

std::optional<LamportTime> ReliabilityManager::Lamport(const ChannelId& channel_id) const {
  const ChannelState* channel = impl_->FindChannel(channel_id);
  if (channel == nullptr) return std::nullopt;
  return channel->lamport;
}

std::vector<MessageId> ReliabilityManager::History(const ChannelId& channel_id) const {
  const ChannelState* channel = impl_->FindChannel(channel_id);
  if (channel == nullptr) return {};
  std::vector<MessageId> out;
  out.reserve(channel->history_order.size());
  for (const auto* entry : channel->history_order) out.push_back(entry->first);
  return out;
}

std::vector<MessageId> ReliabilityManager::OutgoingBuffer(const ChannelId& channel_id) const {
  const ChannelState* channel = impl_->FindChannel(channel_id);
  std::vector<MessageId> out;
  if (channel == nullptr) return out;
  for (const OutgoingEntry& entry : channel->outgoing) out.push_back(entry.message_id);
  return out;
}

std::vector<MessageId> ReliabilityManager::IncomingBuffer(const ChannelId& channel_id) const {
  const ChannelState* channel = impl_->FindChannel(channel_id);
  std::vector<MessageId> out;
  if (channel == nullptr) return out;
  for (const IncomingEntry& entry : channel->incoming) {
    out.push_back(entry.decoded.message.message_id);
  }
  return out;
}

bool ReliabilityManager::BloomContains(const ChannelId& channel_id,
                                       const MessageId& message_id) const {
  const ChannelState* channel = impl_->FindChannel(channel_id);
  return channel != nullptr && channel->bloom.Contains(message_id);
}

}  // namespace sds
