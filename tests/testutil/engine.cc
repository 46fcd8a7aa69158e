#include "tests/testutil/engine.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <variant>

#include "sds/bloom_filter.h"
#include "sds/codec.h"

namespace sds::testutil {

HistoryEntry E(const MessageId& id, const ParticipantId& sender, const std::string& hint) {
  return HistoryEntry{id, ToBytes(hint), sender};
}

Bytes Wire(const Msg& m, Dialect dialect) {
  Message message;
  message.message_id = m.id;
  message.channel_id = m.channel;
  message.sender_id = m.sender;
  message.lamport_timestamp = m.lamport;
  message.causal_history = m.causal;
  message.repair_request = m.repair;
  const Bytes content = m.content ? ToBytes(*m.content) : Bytes();
  if (m.content) message.content = ByteSpan(content);
  if (m.bloom) message.bloom_filter = ByteSpan(*m.bloom);
  return Encode(message, dialect);
}

Bytes BloomWith(const std::vector<MessageId>& ids, Dialect dialect) {
  auto params = BloomParameters::Compute(10000, 0.001);
  BloomFilter filter(*params, dialect);
  for (const auto& id : ids) filter.Insert(id);
  return filter.Serialize();
}

Message Decoded(const SharedBytes& wire, Dialect dialect) {
  auto decoded = Decode(wire.span(), dialect);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? *decoded : Message{};
}

std::vector<MessageId> Ids(const std::vector<HistoryEntry>& entries) {
  std::vector<MessageId> out;
  for (const auto& e : entries) out.push_back(e.message_id);
  return out;
}

std::string Describe(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        const std::string prefix = e.channel_id == kCh ? "" : e.channel_id + "/";
        if constexpr (std::is_same_v<T, MessageReady>) {
          return "ready:" + prefix + e.message_id;
        } else if constexpr (std::is_same_v<T, MessageAcknowledged>) {
          return "ack:" + prefix + e.message_id;
        } else if constexpr (std::is_same_v<T, MessagePossiblyAcknowledged>) {
          return "possibly:" + prefix + e.message_id + ":" + std::to_string(e.bloom_hits);
        } else if constexpr (std::is_same_v<T, MissingDependencies>) {
          std::string out = "missing:" + prefix + e.message_id + "[";
          for (size_t i = 0; i < e.missing.size(); ++i) {
            out += (i ? "," : "") + e.missing[i].message_id;
          }
          return out + "]";
        } else if constexpr (std::is_same_v<T, SendFailed>) {
          return "failed:" + prefix + e.message_id + ":" + std::to_string(e.resend_attempts) +
                 (e.evicted ? ":evicted" : "");
        } else if constexpr (std::is_same_v<T, RebroadcastDue>) {
          return "rebroadcast:" + prefix + e.message_id + ":" + std::to_string(e.attempt);
        } else if constexpr (std::is_same_v<T, SyncMessageReady>) {
          return prefix.empty() ? "sync" : "sync:" + prefix;
        } else if constexpr (std::is_same_v<T, RepairReady>) {
          return "repair:" + prefix + e.message_id;
        } else {
          static_assert(std::is_same_v<T, MessageDropped>);
          return "dropped:" + prefix + e.message_id;
        }
      },
      event);
}

std::vector<std::string> Names(ReliabilityManager& m) {
  std::vector<std::string> out;
  for (const Event& e : m.TakeEvents()) out.push_back(Describe(e));
  return out;
}

std::unique_ptr<ReliabilityManager> Make(const Config& config) {
  auto created = ReliabilityManager::Create(config);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return created.ok() ? std::move(*created) : nullptr;
}

// The suites' peers talk on channels the manager under test never
// subscribed to: they admit channels on first use, as nim-sds does.
Config NimConfig(const ParticipantId& id) {
  Config config;
  config.participant_id = id;
  config.channel_admission = ChannelAdmission::kAny;
  return config;
}

Config SpecConfig(const ParticipantId& id) {
  Config config = Config::ForDialect(Dialect::kSpec);
  config.participant_id = id;
  config.channel_admission = ChannelAdmission::kAny;
  return config;
}

internal::ChannelState& State(ReliabilityManager& m, const ChannelId& channel) {
  return internal::ChannelOf(m, channel);
}

SharedBytes MustWrap(ReliabilityManager& m, const MessageId& id, Timestamp now,
                     const ChannelId& channel, const std::string& content) {
  auto wire = m.Wrap(channel, ToBytes(content.empty() ? "content of " + id : content), id, now);
  EXPECT_TRUE(wire.ok()) << wire.status().ToString();
  return wire.ok() ? *wire : SharedBytes();
}

UnwrapResult MustUnwrap(ReliabilityManager& m, ByteSpan wire, Timestamp now) {
  auto result = m.Unwrap(wire, now);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : UnwrapResult{};
}

UnwrapOutcome MustUnwrapOutcome(ReliabilityManager& m, ByteSpan wire, Timestamp now) {
  auto result = m.Unwrap(wire, now);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? result->outcome : UnwrapOutcome::kDuplicate;
}

}  // namespace sds::testutil
