// The libsds payloads compared byte for byte with nim-sds's forms
// (reference/nim-sds.md section 7), and the configuration JSON.
#include "capi/payloads.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "capi/config_json.h"
#include "capi/decimal_csv_parse.h"

namespace sds::capi {
namespace {

Bytes B(std::initializer_list<uint8_t> bytes) { return Bytes(bytes); }

TEST(CApiPayloads, WrapResultIsDecimalCsv) {
  EXPECT_EQ(DecimalCsv(B({10, 2, 109, 49, 16, 248})), "10,2,109,49,16,248");
  EXPECT_EQ(DecimalCsv(B({0})), "0");
  EXPECT_EQ(DecimalCsv(B({255, 0, 7})), "255,0,7");
  EXPECT_EQ(DecimalCsv(Bytes()), "");
}

// The table-driven formatter against the obvious one, for every byte value
// and random messages; the parser inverts it and refuses what is not the form.
TEST(CApiPayloads, DecimalCsvMatchesToStringForEveryByte) {
  auto reference = [](const Bytes& bytes) {
    std::string out;
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (i != 0) out += ',';
      out += std::to_string(bytes[i]);
    }
    return out;
  };
  Bytes all;
  for (int v = 0; v < 256; ++v) all.push_back(static_cast<uint8_t>(v));
  EXPECT_EQ(DecimalCsv(all), reference(all));
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    Bytes bytes(rng() % 300);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    const std::string text = DecimalCsv(bytes);
    ASSERT_EQ(text, reference(bytes));
    auto parsed = ParseDecimalCsv(text);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, bytes);
  }
}

TEST(CApiPayloads, DecimalCsvParserRejectsOtherText) {
  EXPECT_EQ(ParseDecimalCsv("").value(), Bytes());
  EXPECT_EQ(ParseDecimalCsv("0,255,07").value(), B({0, 255, 7}));
  for (const char* bad : {"256", "1,", ",1", "1,,2", "1 ,2", "-1", "1000", "0012", "a", "1;2"}) {
    EXPECT_FALSE(ParseDecimalCsv(bad).has_value()) << bad;
  }
}

TEST(CApiPayloads, Base64IsStandardWithPadding) {
  EXPECT_EQ(Base64(Bytes()), "");
  EXPECT_EQ(Base64(ToBytes("f")), "Zg==");
  EXPECT_EQ(Base64(ToBytes("fo")), "Zm8=");
  EXPECT_EQ(Base64(ToBytes("foo")), "Zm9v");
  EXPECT_EQ(Base64(ToBytes("foob")), "Zm9vYg==");
  EXPECT_EQ(Base64(ToBytes("fooba")), "Zm9vYmE=");
  EXPECT_EQ(Base64(ToBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64(B({1, 2, 3})), "AQID");
  EXPECT_EQ(Base64(B({0xfb, 0xff})), "+/8=");
}

TEST(CApiPayloads, JsonStringsAreEscapedAsNimDoes) {
  std::string out;
  AppendJsonString(out, std::string("a\"b\\c\n\r\t\b\f\v", 11));
  EXPECT_EQ(out, R"("a\"b\\c\n\r\t\b\f\u000b")");
  out.clear();
  AppendJsonString(out, std::string("\x00\x01\x07\x0e\x1f", 5));
  EXPECT_EQ(out, R"("\u0000\u0001\u0007\u000E\u001F")");  // Nim's toHex: upper case
  out.clear();
  // DEL, '/', non-ASCII and invalid UTF-8 pass through unchanged.
  AppendJsonString(out, "\x7f/\xc3\xa9\xff");
  EXPECT_EQ(out, "\"\x7f/\xc3\xa9\xff\"");
}

TEST(CApiPayloads, UnwrapResult) {
  Bytes wire = B({1, 2, 3});
  UnwrapResult result;
  result.channel_id = "ch";
  result.content = wire;
  result.missing_dependencies = {HistoryEntry{"m1", B({1, 2, 3}), "alice"},
                                 HistoryEntry{"m2", {}, ""}};
  EXPECT_EQ(UnwrapResultJson(result),
            R"({"message":[1,2,3],"channelId":"ch","missingDeps":[)"
            R"({"messageId":"m1","retrievalHint":"AQID"},{"messageId":"m2","retrievalHint":""}]})");
  result.content = {};
  result.missing_dependencies.clear();
  EXPECT_EQ(UnwrapResultJson(result), R"({"message":[],"channelId":"ch","missingDeps":[]})");
}

TEST(CApiPayloads, NimEvents) {
  for (bool extended : {false, true}) {
    SCOPED_TRACE(extended);
    MessageReady ready;
    ready.channel_id = "ch";
    ready.message_id = "m1";
    EXPECT_EQ(EventJson(ready, extended),
              R"({"messageId":"m1","channelId":"ch","eventType":"message_ready"})");
    EXPECT_EQ(EventJson(MessageAcknowledged{"ch", "m1"}, extended),
              R"({"messageId":"m1","channelId":"ch","eventType":"message_sent"})");
    EXPECT_EQ(
        EventJson(
            MissingDependencies{
                "ch", "m3", {HistoryEntry{"m1", B({1, 2, 3}), "s"}, HistoryEntry{"m2", {}, ""}}},
            extended),
        R"({"eventType":"missing_dependencies","messageId":"m3","channelId":"ch",)"
        R"("missingDeps":[{"messageId":"m1","retrievalHint":"AQID"},)"
        R"({"messageId":"m2","retrievalHint":""}]})");
    EXPECT_EQ(EventJson(RepairReady{"ch", "m1", SharedBytes(B({0x0a, 0x02, 'm', '1'}))}, extended),
              R"({"eventType":"repair_ready","channelId":"ch","message":"CgJtMQ=="})");
  }
  EXPECT_EQ(PeriodicSyncJson(), R"({"eventType":"periodic_sync"})");
}

TEST(CApiPayloads, SendFailedReadsAsSentUnlessExtended) {
  SendFailed failed{"ch", "m1", 5, false};
  EXPECT_EQ(EventJson(failed, false),
            R"({"messageId":"m1","channelId":"ch","eventType":"message_sent"})");
  EXPECT_EQ(EventJson(failed, true),
            R"({"eventType":"send_failed","messageId":"m1","channelId":"ch",)"
            R"("resendAttempts":5,"evicted":false})");
  EXPECT_EQ(EventJson(SendFailed{"ch", "m1", 0, true}, true),
            R"({"eventType":"send_failed","messageId":"m1","channelId":"ch",)"
            R"("resendAttempts":0,"evicted":true})");
}

TEST(CApiPayloads, ExtensionEventsOnlyWhenExtended) {
  const Event events[] = {
      MessagePossiblyAcknowledged{"ch", "m1", 1},
      RebroadcastDue{"ch", "m1", SharedBytes(B({1, 2, 3})), 2},
      SyncMessageReady{"ch", SharedBytes(B({1, 2, 3}))},
      MessageDropped{"ch", "m1", "incoming buffer full"},
  };
  for (const Event& event : events) EXPECT_EQ(EventJson(event, false), std::nullopt);
  EXPECT_EQ(EventJson(events[0], true),
            R"({"eventType":"message_possibly_acknowledged","messageId":"m1","channelId":"ch",)"
            R"("bloomHits":1})");
  EXPECT_EQ(EventJson(events[1], true),
            R"({"eventType":"rebroadcast_due","messageId":"m1","channelId":"ch","attempt":2,)"
            R"("message":"AQID"})");
  EXPECT_EQ(EventJson(events[2], true),
            R"({"eventType":"sync_message_ready","channelId":"ch","message":"AQID"})");
  EXPECT_EQ(EventJson(events[3], true),
            R"({"eventType":"message_dropped","messageId":"m1","channelId":"ch",)"
            R"("reason":"incoming buffer full"})");
}

TEST(CApiPayloads, EscapedIdsInEvents) {
  EXPECT_EQ(EventJson(MessageAcknowledged{"c\"h", "m\n1"}, false),
            R"({"messageId":"m\n1","channelId":"c\"h","eventType":"message_sent"})");
}

TEST(CApiPayloads, ErrorTexts) {
  EXPECT_EQ(RequestErrorText("WRAP_MESSAGE", Status(ErrorCode::kInvalidArgument, "empty"), false),
            "error processing WRAP_MESSAGE request: reInvalidArgument");
  EXPECT_EQ(RequestErrorText("WRAP_MESSAGE", Status(ErrorCode::kMessageTooLarge, "big"), false),
            "error processing WRAP_MESSAGE request: reMessageTooLarge");
  EXPECT_EQ(RequestErrorText("UNWRAP_MESSAGE", Status(ErrorCode::kDecodeMalformed, "x"), false),
            "error processing UNWRAP_MESSAGE request: reDeserializationError");
  EXPECT_EQ(
      RequestErrorText("MARK_DEPENDENCIES_MET", Status(ErrorCode::kUnknownChannel, "x"), false),
      "error processing MARK_DEPENDENCIES_MET request: reInvalidArgument");
  EXPECT_EQ(RequestErrorText("X", Status(ErrorCode::kPersistence, "disk"), false),
            "error processing X request: rePersistenceError");
  EXPECT_EQ(RequestErrorText("X", Status(ErrorCode::kInternal, "bug"), true),
            "error processing X request: reInternalError (bug)");
  for (ErrorCode code : {ErrorCode::kDecodeMissingField, ErrorCode::kDecodeUnknownDialect,
                         ErrorCode::kDecodeLimitExceeded, ErrorCode::kDecodeLamportOutOfRange,
                         ErrorCode::kDecodeBadBloomFilter, ErrorCode::kDecodeDialectMismatch}) {
    EXPECT_EQ(NimErrorName(code), "reDeserializationError");
  }
}

// ---- Configuration JSON -----------------------------------------------------

TEST(CApiConfig, EmptyGivesNimDefaults) {
  for (const char* json : {"", "{}"}) {
    auto options = ParseManagerOptions("", json);
    ASSERT_TRUE(options.ok()) << options.status().ToString();
    const Config& c = options->config;
    EXPECT_EQ(c.dialect, Dialect::kNim);
    EXPECT_EQ(c.participant_id, "");
    EXPECT_EQ(c.bloom_filter_capacity, 10000);
    EXPECT_EQ(c.bloom_filter_error_rate, 0.001);
    EXPECT_EQ(c.max_message_history, 1000u);
    EXPECT_EQ(c.max_causal_history, 10u);
    EXPECT_EQ(c.resend_interval, std::chrono::seconds(60));
    EXPECT_EQ(c.max_resend_attempts, 5);
    EXPECT_EQ(c.repair_t_min, std::chrono::seconds(30));
    EXPECT_EQ(c.repair_t_max, std::chrono::seconds(300));
    EXPECT_EQ(c.num_response_groups, 1);
    EXPECT_EQ(c.max_repair_requests, 3u);
    EXPECT_EQ(c.sync_message_interval, Duration::zero());  // no sync messages by default
    EXPECT_EQ(options->periodic_sync_interval, std::chrono::seconds(30));
    EXPECT_FALSE(options->extended_events);
    EXPECT_FALSE(options->detailed_errors);
    EXPECT_EQ(options->store_path, "");                      // nothing persisted
    EXPECT_EQ(c.channel_admission, ChannelAdmission::kAny);  // nim-sds creates on first use
  }
}

TEST(CApiConfig, StorePath) {
  auto options = ParseManagerOptions("", R"({"storePath": "/var/lib/app/sds.db"})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->store_path, "/var/lib/app/sds.db");
  EXPECT_EQ(options->config.dialect, Dialect::kNim);  // nothing else changes
}

TEST(CApiConfig, WireOverheadKeys) {
  auto defaults = ParseManagerOptions("", "");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.bloom_wire_size, BloomWireSize::kRightSized);
  EXPECT_EQ(defaults->config.sync_policy, SyncPolicy::kJitteredAfterReceipt);
  auto options = ParseManagerOptions("", R"({"bloomWireSize": "fixed",
      "bloomWireHorizonMs": 90000, "syncPolicy": "afterReceipt"})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->config.bloom_wire_size, BloomWireSize::kFixed);
  EXPECT_EQ(options->config.bloom_wire_horizon, Duration(90000));
  EXPECT_EQ(options->config.sync_policy, SyncPolicy::kAfterReceipt);
  auto unacked = ParseManagerOptions("", R"({"syncPolicy": "unacknowledgedReceipts"})");
  ASSERT_TRUE(unacked.ok());
  EXPECT_EQ(unacked->config.sync_policy, SyncPolicy::kUnacknowledgedReceipts);
  for (const char* bad : {R"({"bloomWireSize": "small"})", R"({"bloomWireSize": 1})",
                          R"({"bloomWireHorizonMs": -1})", R"({"syncPolicy": "never"})"}) {
    EXPECT_FALSE(ParseManagerOptions("", bad).ok()) << bad;
  }
}

TEST(CApiConfig, NimKeys) {
  auto options = ParseManagerOptions("", R"({
    "bloomFilterCapacity": 8000, "bloomFilterErrorRate": 0.01, "maxMessageHistory": 50,
    "maxCausalHistory": 4, "resendIntervalMs": 1500, "maxResendAttempts": 2,
    "syncMessageIntervalMs": 700, "bufferSweepIntervalMs": 10, "repairTMinMs": 100,
    "repairTMaxMs": 900, "numResponseGroups": 4, "maxRepairRequests": 7,
    "repairSweepIntervalMs": 10})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  const Config& c = options->config;
  EXPECT_EQ(c.bloom_filter_capacity, 8000);
  EXPECT_EQ(c.bloom_filter_error_rate, 0.01);
  EXPECT_EQ(c.max_message_history, 50u);
  EXPECT_EQ(c.max_causal_history, 4u);
  EXPECT_EQ(c.resend_interval, Duration(1500));
  EXPECT_EQ(c.max_resend_attempts, 2);
  EXPECT_EQ(options->periodic_sync_interval, Duration(700));
  EXPECT_EQ(c.repair_t_min, Duration(100));
  EXPECT_EQ(c.repair_t_max, Duration(900));
  EXPECT_EQ(c.num_response_groups, 4);
  EXPECT_EQ(c.max_repair_requests, 7u);
}

TEST(CApiConfig, NimKeysAreLenientAsNimSds) {
  auto options = ParseManagerOptions("", R"({"bloomFilterCapacity": "big",
    "resendIntervalMs": 1.5, "bloomFilterErrorRate": 2, "maxResendAttempts": null,
    "somethingElse": [1]})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->config.bloom_filter_capacity, 10000);
  EXPECT_EQ(options->config.resend_interval, std::chrono::seconds(60));
  EXPECT_EQ(options->config.bloom_filter_error_rate, 0.001);  // outside (0, 1)
  EXPECT_EQ(options->config.max_resend_attempts, 5);
  auto capacity = ParseManagerOptions("", R"({"bloomFilterCapacity": -3,
                                              "bloomFilterErrorRate": 1})");
  ASSERT_TRUE(capacity.ok());
  EXPECT_EQ(capacity->config.bloom_filter_capacity, 10000);
  EXPECT_EQ(capacity->config.bloom_filter_error_rate, 0.001);
}

TEST(CApiConfig, Extensions) {
  auto options = ParseManagerOptions("", R"({"participantId": "bob", "dialect": "spec",
    "acceptOtherDialect": false, "bloomAckThreshold": 3, "dedupWindow": 5,
    "maxRepairAttempts": 1, "repairRequestTimer": "truncatedExponential",
    "repairGroupSizeEstimate": 64, "extendedEvents": true, "detailedErrors": true,
    "syncMessageIntervalMs": 2000, "maxRepairRequests": 2, "channelAdmission": "local",
    "remoteChannelIdleTimeoutMs": 5000,
    "limits": {"maxChannels": 3, "maxRemoteChannels": 2, "maxIncomingBuffer": 4, "maxOutgoingBuffer": 5,
               "maxRepairBuffer": 6, "maxLamport": 1000, "maxMessageBytes": 70000,
               "maxContentBytes": 60000, "maxCausalHistory": 20, "maxRepairRequest": 2,
               "maxIdBytes": 64, "maxHintBytes": 32, "maxBloomBytes": 30000}})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  const Config& c = options->config;
  EXPECT_EQ(c.participant_id, "bob");
  EXPECT_EQ(c.channel_admission, ChannelAdmission::kLocal);
  EXPECT_EQ(c.remote_channel_idle_timeout, Duration(5000));
  EXPECT_EQ(c.limits.max_remote_channels, 2u);
  EXPECT_EQ(c.dialect, Dialect::kSpec);
  EXPECT_EQ(c.lamport_unit, LamportUnit::kMilliseconds);
  EXPECT_EQ(c.repair_t_max, std::chrono::seconds(120));  // the spec dialect's default
  EXPECT_FALSE(c.accept_other_dialect);
  EXPECT_EQ(c.bloom_ack_threshold, 3);
  EXPECT_EQ(c.dedup_window, 5u);
  EXPECT_EQ(c.max_repair_attempts, 1);
  EXPECT_EQ(c.repair_request_timer, RepairRequestTimer::kTruncatedExponential);
  EXPECT_EQ(c.repair_group_size_estimate, 64);
  EXPECT_TRUE(options->extended_events);
  EXPECT_TRUE(options->detailed_errors);
  EXPECT_EQ(c.sync_message_interval, std::chrono::seconds(2));  // sync messages with extendedEvents
  EXPECT_EQ(c.limits.max_channels, 3u);
  EXPECT_EQ(c.limits.max_incoming_buffer, 4u);
  EXPECT_EQ(c.limits.max_outgoing_buffer, 5u);
  EXPECT_EQ(c.limits.max_repair_buffer, 6u);
  EXPECT_EQ(c.limits.max_lamport, 1000);
  EXPECT_EQ(c.limits.decode.max_message_bytes, 70000u);
  EXPECT_EQ(c.limits.decode.max_content_bytes, 60000u);
  EXPECT_EQ(c.limits.decode.max_causal_history, 20u);
  EXPECT_EQ(c.limits.decode.max_repair_request, 2u);
  EXPECT_EQ(c.limits.decode.max_id_bytes, 64u);
  EXPECT_EQ(c.limits.decode.max_hint_bytes, 32u);
  EXPECT_EQ(c.limits.decode.max_bloom_bytes, 30000u);
}

TEST(CApiConfig, ParticipantArgumentWins) {
  auto options = ParseManagerOptions("alice", R"({"participantId": "bob"})");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->config.participant_id, "alice");
  options = ParseManagerOptions("alice", "");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->config.participant_id, "alice");
  EXPECT_TRUE(options->config.repair_enabled());
}

TEST(CApiConfig, Errors) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"storePath": ""})", "storePath must be a non-empty string"},
      {R"({"storePath": 7})", "storePath must be a non-empty string"},
      {R"({"storePath": null})", "storePath must be a non-empty string"},
      {R"({"storePath": "a\u0000b"})", "storePath must not contain NUL"},
      {"{", "invalid JSON"},
      {"[]", "config must be a JSON object"},
      {"42", "config must be a JSON object"},
      {R"({"dialect": "nim2"})", "dialect must be \"nim\" or \"spec\""},
      {R"({"dialect": 1})", "dialect must be a string"},
      {R"({"extendedEvents": 1})", "extendedEvents must be a boolean"},
      {R"({"bloomAckThreshold": "2"})", "bloomAckThreshold must be an integer"},
      {R"({"dedupWindow": -1})", "dedupWindow must be at least 0"},
      {R"({"limits": 5})", "limits must be an object"},
      {R"({"limits": {"maxChannels": 0}})", "limits.max_channels must be at least 1"},
      {R"({"repairRequestTimer": "fast"})",
       "repairRequestTimer must be \"uniform\" or \"truncatedExponential\""},
      {R"({"maxCausalHistory": -1})", "maxCausalHistory must not be negative"},
      {R"({"resendIntervalMs": 0})", "resend_interval must be positive"},
      {R"({"maxMessageHistory": 0})", "max_message_history must be at least 1"},
      {R"({"channelAdmission": "some"})", "channelAdmission must be \"any\" or \"local\""},
      {R"({"maxRepairRequests": 0})", "max_repair_requests must be at least 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    auto options = ParseManagerOptions("", c.json);
    ASSERT_FALSE(options.ok());
    EXPECT_EQ(options.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(options.status().message(), c.message);
  }
}

}  // namespace
}  // namespace sds::capi
