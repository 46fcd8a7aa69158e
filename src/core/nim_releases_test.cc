// The engine between nim-sds 0.3 and 0.4 peers: it takes what 0.4 writes
// (no empty field: messages without Lamport, content or bloom filter), never
// takes an empty id into its state, and sends only what both releases'
// decoders accept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sds/codec.h"
#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "tests/testutil/engine.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using namespace testutil;  // NOLINT: the shared engine test vocabulary

DecodeLimits Nim03() {
  DecodeLimits limits;
  limits.nim_presence = NimPresence::kNimSds03;
  return limits;
}

// nim-sds 0.4's writer: proto3, so every empty or zero field is left out.
Bytes Nim04Wire(const MessageId& id, LamportTime lamport, const std::vector<MessageId>& causal,
                const std::string& content) {
  Bytes out;
  auto bytes_field = [&](uint8_t tag, const Bytes& value) {
    out.push_back(tag);
    out.push_back(static_cast<uint8_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  };
  bytes_field(0x0a, ToBytes(id));
  if (lamport != 0) {
    out.push_back(0x10);
    out.push_back(static_cast<uint8_t>(lamport));  // small values only
  }
  for (const MessageId& dep : causal) {
    Bytes entry = {0x0a, static_cast<uint8_t>(dep.size())};
    entry.insert(entry.end(), dep.begin(), dep.end());
    bytes_field(0x1a, entry);
  }
  bytes_field(0x22, ToBytes(kCh));
  if (!content.empty()) bytes_field(0x2a, ToBytes(content));
  bytes_field(0x3a, ToBytes("bob"));
  return out;
}

TEST(NimReleases, MessagesWrittenByNimSds04AreDeliveredAndSyncsUnderstood) {
  auto alice = Make(NimConfig("alice"));
  // Lamport 0 and no bloom filter: left out by 0.4.
  EXPECT_EQ(MustUnwrapOutcome(*alice, Nim04Wire("b1", 0, {}, "hi"), kT0),
            UnwrapOutcome::kDelivered);
  EXPECT_EQ(MustUnwrapOutcome(*alice, Nim04Wire("b2", 7, {"b1"}, "there"), kT0),
            UnwrapOutcome::kDelivered);
  // No content at all: a sync message, which lists b3 we never received.
  UnwrapResult sync = MustUnwrap(*alice, Nim04Wire("s1", 8, {"b2", "b3"}, ""), kT0);
  EXPECT_EQ(sync.outcome, UnwrapOutcome::kSync);
  EXPECT_EQ(Ids(sync.missing_dependencies), std::vector<MessageId>{"b3"});
  EXPECT_EQ(alice->History(kCh), (std::vector<MessageId>{"b1", "b2"}));
}

TEST(NimReleases, EmptyIdsAreRejectedWhateverTheDecodeRules) {
  for (NimPresence presence : {NimPresence::kNimSds03And04, NimPresence::kNimSds03}) {
    Config config = NimConfig("alice");
    config.limits.decode.nim_presence = presence;
    auto alice = Make(config);
    // Empty message id; empty causal-history id; empty repair-request id.
    for (const char* hex : {"0a001005220263682a01013200", "0a026d3110051a020a00220263682a01013200",
                            "0a026d311005220263682a010132006a020a00"}) {
      auto result = alice->Unwrap(testutil::FromHex(hex), kT0);
      ASSERT_FALSE(result.ok()) << hex;
      EXPECT_EQ(result.status().code(), ErrorCode::kDecodeMissingField) << hex;
    }
    EXPECT_TRUE(alice->History(kCh).empty());
  }
}

TEST(NimReleases, WhatWeSendIsAcceptedByNimSds03And04) {
  Config config = NimConfig("alice");
  auto alice = Make(config);
  std::vector<SharedBytes> sent;
  sent.push_back(MustWrap(*alice, "a1", kT0));
  MustUnwrap(*alice, Nim04Wire("b1", 0, {"a1"}, "hi"), kT0);
  MustUnwrap(*alice, Nim04Wire("b3", 9, {"b2"}, "gap"), kT0);  // b2 missing: repair request
  sent.push_back(MustWrap(*alice, "a2", kT0));
  auto sync = alice->MakeSyncMessage(kCh, "s1", kT0 + std::chrono::minutes{10});
  ASSERT_TRUE(sync.ok());
  sent.push_back(*sync);
  for (const SharedBytes& wire : sent) {
    for (const DecodeLimits& rules : {DecodeLimits{}, Nim03()}) {
      Result<Message> decoded = Decode(wire, Dialect::kNim, rules);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_FALSE(decoded->message_id.empty());
      EXPECT_FALSE(decoded->channel_id.empty());
      ASSERT_TRUE(decoded->content.has_value());  // 0.3 requires field 5, even for a sync
      for (const HistoryEntry& entry : decoded->causal_history) {
        EXPECT_FALSE(entry.message_id.empty());
      }
    }
  }
  EXPECT_FALSE(Decoded(sent.back()).causal_history.empty());
}

}  // namespace
}  // namespace sds
