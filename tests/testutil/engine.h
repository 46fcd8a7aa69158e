// Shared helpers for the engine's test suites: hand-built wire messages, a
// one-line description of every event, and shorthands for creating managers
// and driving them on virtual time.
#ifndef SDS_TESTS_TESTUTIL_ENGINE_H_
#define SDS_TESTS_TESTUTIL_ENGINE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine_access.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"

namespace sds::testutil {

inline const ChannelId kCh = "ch";
inline Timestamp At(int64_t ms) { return TimestampFromUnixMillis(ms); }
inline const Timestamp kT0 = At(1'700'000'000'000);

HistoryEntry E(const MessageId& id, const ParticipantId& sender = "", const std::string& hint = "");

// A message to unwrap, with the storage its views need.
struct Msg {
  MessageId id{};
  std::optional<LamportTime> lamport = 1;  // nullopt: ephemeral (spec dialect)
  std::vector<HistoryEntry> causal{};
  std::optional<std::string> content = "x";  // "" (nim) or nullopt (spec): sync
  ChannelId channel = "ch";
  ParticipantId sender{};
  std::optional<Bytes> bloom{};
  std::vector<HistoryEntry> repair{};
};
Bytes Wire(const Msg& m, Dialect dialect = Dialect::kNim);

// A peer's default-geometry bloom filter holding `ids`, in `dialect`'s wire form.
Bytes BloomWith(const std::vector<MessageId>& ids, Dialect dialect = Dialect::kNim);
Message Decoded(const SharedBytes& wire, Dialect dialect = Dialect::kNim);
std::vector<MessageId> Ids(const std::vector<HistoryEntry>& entries);

// One line per event: "ready:a", "ack:a", "possibly:a:1", "missing:b[a]",
// "failed:a:5" (":evicted"), "rebroadcast:a:1", "sync", "repair:a",
// "dropped:a"; ids on a channel other than kCh are written "<channel>/<id>".
std::string Describe(const Event& event);
// Drains the manager's events, described.
std::vector<std::string> Names(ReliabilityManager& m);

std::unique_ptr<ReliabilityManager> Make(const Config& config);
// Configs for the suites (ChannelAdmission::kAny: peers' channels are created
// on first use).
Config NimConfig(const ParticipantId& id = "alice");
Config SpecConfig(const ParticipantId& id = "alice");
internal::ChannelState& State(ReliabilityManager& m, const ChannelId& channel = kCh);

// Wrap / Unwrap that fail the test on error. Content defaults to "content of <id>".
SharedBytes MustWrap(ReliabilityManager& m, const MessageId& id, Timestamp now,
                     const ChannelId& channel = kCh, const std::string& content = "");
UnwrapResult MustUnwrap(ReliabilityManager& m, ByteSpan wire, Timestamp now);
UnwrapOutcome MustUnwrapOutcome(ReliabilityManager& m, ByteSpan wire, Timestamp now);

}  // namespace sds::testutil

#endif  // SDS_TESTS_TESTUTIL_ENGINE_H_
