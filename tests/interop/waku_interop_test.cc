// Live interop with the reference implementation: our engine in the spec
// dialect talks to @waku/sds 0.0.8 running under node (peer.mjs), in both
// directions: every message kind, acknowledgements (causal history and bloom
// filter), dependency buffering, and SDS-R repair timing and responses.
//
// Both sides run on the same virtual clock: peer.mjs pins Date.now() to the
// `now` given at creation and both are advanced together, so Lamport values
// and every wire byte are reproducible.
//
// These tests require the sds_interop_npm CTest fixture (tests/CMakeLists.txt),
// which installs @waku/sds; without node or the package they fail, never skip.
#include <openssl/sha.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/engine_access.h"
#include "sds/codec.h"
#include "sds/config.h"
#include "sds/events.h"
#include "sds/reliability_manager.h"
#include "tests/interop/node_peer.h"
#include "tests/testutil/vectors.h"

namespace sds {
namespace {

using ::nlohmann::json;
using ::sds::interop::NodePeer;
using ::sds::testutil::FromHex;
using ::sds::testutil::ToHex;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kStartMillis = 1700000000000;  // the clock the golden vectors were made with
constexpr char kChannel[] = "interop";
constexpr char kJsParticipant[] = "js";
constexpr char kOurParticipant[] = "cpp";

// @waku/sds's message id convention: lowercase hex SHA-256 of the payload.
// Wrap takes the id from the caller, so we compute the same one.
std::string PayloadId(std::string_view payload) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest);
  return ToHex(ByteSpan(digest, sizeof digest));
}

// answer[key] when it is an object, else an empty object: keeps lookups on a
// failed answer from throwing, so the assertions report what was wrong.
json Field(const json& answer, const char* key) {
  if (answer.is_object() && answer.contains(key) && answer[key].is_object()) return answer[key];
  return json::object();
}

// The strings, or the "messageId"s of the objects, in the array answer[key].
std::vector<std::string> Strings(const json& answer, const char* key) {
  std::vector<std::string> out;
  if (!answer.is_object() || !answer.contains(key) || !answer[key].is_array()) return out;
  for (const json& item : answer[key]) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (item.is_object() && item.contains("messageId")) {
      out.push_back(item["messageId"].get<std::string>());
    }
  }
  return out;
}

SharedBytes FromHexShared(const std::string& hex) { return SharedBytes(FromHex(hex)); }

// The events of one operation, sorted by what the assertions look for.
struct Observed {
  std::vector<std::string> ready;  // MessageReady ids, in order
  std::vector<MessageKind> ready_kinds;
  std::vector<std::string> ready_contents;
  std::vector<std::string> acknowledged;
  std::vector<std::pair<std::string, int>> possibly_acknowledged;
  std::vector<std::string> missing_for;  // MissingDependencies message ids
  std::vector<std::string> all;          // every event, "Name:id", in order
};

Observed Classify(std::vector<Event> events) {
  Observed observed;
  for (const Event& event : events) {
    std::string name = EventName(event);
    if (const auto* ready = std::get_if<MessageReady>(&event)) {
      observed.ready.push_back(ready->message_id);
      observed.ready_kinds.push_back(ready->kind);
      observed.ready_contents.push_back(ToString(ready->content));
      observed.all.push_back(name + ":" + ready->message_id);
    } else if (const auto* ack = std::get_if<MessageAcknowledged>(&event)) {
      observed.acknowledged.push_back(ack->message_id);
      observed.all.push_back(name + ":" + ack->message_id);
    } else if (const auto* maybe = std::get_if<MessagePossiblyAcknowledged>(&event)) {
      observed.possibly_acknowledged.emplace_back(maybe->message_id, maybe->bloom_hits);
      observed.all.push_back(name + ":" + maybe->message_id);
    } else if (const auto* missing = std::get_if<MissingDependencies>(&event)) {
      observed.missing_for.push_back(missing->message_id);
      observed.all.push_back(name + ":" + missing->message_id);
    } else {
      observed.all.push_back(name);
    }
  }
  return observed;
}

class WakuInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<NodePeer>> peer = NodePeer::Start(SDS_NODE_EXECUTABLE, SDS_INTEROP_DIR);
    ASSERT_TRUE(peer.ok()) << peer.status().ToString();
    js_ = std::move(peer).value();
    json created = Js({{"cmd", "new"},
                       {"participantId", kJsParticipant},
                       {"channelId", kChannel},
                       {"now", kStartMillis},
                       {"seed", 7}});
    ASSERT_EQ(created.value("ok", false), true) << created.dump();

    ASSERT_NO_FATAL_FAILURE(ReplaceOurs(OurConfig()));
  }

  static Config OurConfig() {
    Config config = Config::ForDialect(Dialect::kSpec);
    config.participant_id = kOurParticipant;
    return config;
  }

  void ReplaceOurs(const Config& config) {
    Result<std::unique_ptr<ReliabilityManager>> manager = ReliabilityManager::Create(config);
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    ours_ = std::move(manager).value();
    ASSERT_TRUE(ours_->EnsureChannel(kChannel).ok());
  }

  Timestamp Now() const { return TimestampFromUnixMillis(now_millis_); }

  // Moves both clocks; the JS peer only ever sees this virtual time.
  void AdvanceBoth(int64_t millis) {
    now_millis_ += millis;
    json answer = Js({{"cmd", "advanceClock"}, {"ms", millis}});
    EXPECT_EQ(answer.value("now", int64_t{0}), now_millis_) << answer.dump();
  }

  // One command to the JS peer. A transport failure, ok=false or an
  // sds:error-task event fails the test; the answer is returned regardless
  // (an empty object after a transport failure) so assertions can go on.
  json Js(const json& command) {
    if (!js_) {
      ADD_FAILURE() << "no JS peer";
      return json::object();
    }
    Result<json> answer = js_->Call(command);
    if (!answer.ok()) {
      ADD_FAILURE() << answer.status().ToString();
      return json::object();
    }
    EXPECT_EQ(answer->value("ok", false), true) << answer->dump();
    EXPECT_THAT(Strings(*answer, "errors"), IsEmpty()) << answer->dump();
    return *answer;
  }

  // JS sends `text`; returns its answer (messageId, wire, lamport, ...).
  json JsSend(const std::string& text) {
    json answer = Js({{"cmd", "send"}, {"text", text}});
    EXPECT_EQ(answer.value("messageId", ""), PayloadId(text));
    return answer;
  }

  json JsReceive(const SharedBytes& wire) {
    return Js({{"cmd", "receive"}, {"wire", ToHex(wire)}});
  }

  json JsState() { return Js({{"cmd", "state"}}); }

  SharedBytes OurSend(const std::string& text) {
    Result<SharedBytes> wire = ours_->Wrap(kChannel, ToBytes(text), PayloadId(text), Now());
    EXPECT_TRUE(wire.ok()) << wire.status().ToString();
    return wire.ok() ? *wire : SharedBytes();
  }

  // Unwraps the wire bytes of a JS answer; the outcome, or nullopt on error.
  std::optional<UnwrapResult> OurReceive(const json& js_answer) {
    Bytes wire = FromHex(js_answer.value("wire", ""));
    Result<UnwrapResult> result = ours_->Unwrap(wire, Now());
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return std::nullopt;
    return *result;
  }

  Observed OurEvents() { return Classify(ours_->TakeEvents()); }

  std::unique_ptr<NodePeer> js_;
  std::unique_ptr<ReliabilityManager> ours_;
  int64_t now_millis_ = kStartMillis;
};

TEST_F(WakuInteropTest, JsContentMessageIsDeliveredToUs) {
  json sent = JsSend("hello from js");

  std::optional<UnwrapResult> result = OurReceive(sent);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDelivered);
  EXPECT_EQ(result->dialect, Dialect::kSpec);
  EXPECT_EQ(result->message_id, PayloadId("hello from js"));
  EXPECT_EQ(ToString(result->content), "hello from js");

  std::vector<Event> events = ours_->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  const auto* ready = std::get_if<MessageReady>(&events[0]);
  ASSERT_NE(ready, nullptr) << EventName(events[0]);
  EXPECT_EQ(ready->channel_id, kChannel);
  EXPECT_EQ(ready->sender_id, kJsParticipant);
  EXPECT_EQ(ready->kind, MessageKind::kContent);
  EXPECT_EQ(std::to_string(ready->lamport_timestamp), sent.value("lamport", ""));
  EXPECT_EQ(ToString(ready->content), "hello from js");
  EXPECT_THAT(ours_->History(kChannel), ElementsAre(PayloadId("hello from js")));

  // The same bytes again (a relay or a resend) deliver nothing new.
  std::optional<UnwrapResult> again = OurReceive(sent);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->outcome, UnwrapOutcome::kDuplicate);
  EXPECT_THAT(OurEvents().all, IsEmpty());
}

TEST_F(WakuInteropTest, OurContentMessageIsDeliveredToJs) {
  SharedBytes wire = OurSend("hello from c++");

  json answer = JsReceive(wire);
  const std::string id = PayloadId("hello from c++");
  EXPECT_EQ(Field(answer, "decoded").value("type", ""), "content");
  EXPECT_EQ(Field(answer, "decoded").value("senderId", ""), kOurParticipant);
  EXPECT_EQ(Field(answer, "decoded").value("content", ""), ToHex(ToBytes("hello from c++")));
  EXPECT_THAT(Strings(answer, "received"), ElementsAre(id));
  EXPECT_THAT(Strings(answer, "delivered"), ElementsAre(id));
  EXPECT_THAT(Strings(answer, "missing"), IsEmpty());
  EXPECT_THAT(Strings(JsState(), "history"), ElementsAre(id));
}

TEST_F(WakuInteropTest, JsCausalHistoryAcknowledgesOurMessage) {
  SharedBytes ours = OurSend("ping");
  JsReceive(ours);
  AdvanceBoth(1000);
  json reply = JsSend("pong");
  EXPECT_THAT(Strings(reply, "causalHistory"), ElementsAre(PayloadId("ping")));

  std::optional<UnwrapResult> result = OurReceive(reply);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDelivered);
  // The acknowledgement comes before what the acknowledging message delivers.
  EXPECT_THAT(OurEvents().all, ElementsAre("MessageAcknowledged:" + PayloadId("ping"),
                                           "MessageReady:" + PayloadId("pong")));
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), IsEmpty());
}

// @waku/sds keeps the newest `causalHistorySize` delivered messages, ordered
// by Lamport time, in its causal history. With a size of 1 and one message of
// its own newer than ours, our message reaches us only through its bloom
// filter, which the spec configuration trusts after two hits.
TEST_F(WakuInteropTest, JsBloomFilterAcknowledgesOurMessageAfterTwoHits) {
  ASSERT_EQ(Js({{"cmd", "new"},
                {"participantId", kJsParticipant},
                {"channelId", kChannel},
                {"options", {{"causalHistorySize", 1}}}})
                .value("ok", false),
            true);
  const std::string ours_id = PayloadId("ours");
  SharedBytes ours = OurSend("ours");
  AdvanceBoth(1000);
  json js_first = JsSend("js first");  // newer than ours, sent before ours arrives
  JsReceive(ours);
  json js_second = JsSend("js second");
  json js_third = JsSend("js third");
  ASSERT_THAT(Strings(js_second, "causalHistory"), ElementsAre(PayloadId("js first")))
      << "JS must list its own newer message, not ours";

  ASSERT_TRUE(OurReceive(js_first).has_value());
  EXPECT_THAT(OurEvents().all, ElementsAre("MessageReady:" + PayloadId("js first")));

  ASSERT_TRUE(OurReceive(js_second).has_value());
  Observed second = OurEvents();
  EXPECT_THAT(second.possibly_acknowledged, ElementsAre(std::pair(ours_id, 1)));
  EXPECT_THAT(second.acknowledged, IsEmpty());
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), ElementsAre(ours_id));

  ASSERT_TRUE(OurReceive(js_third).has_value());
  Observed third = OurEvents();
  EXPECT_THAT(third.acknowledged, ElementsAre(ours_id));
  EXPECT_THAT(third.ready, ElementsAre(PayloadId("js third")));
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), IsEmpty());
}

TEST_F(WakuInteropTest, OurReplyAcknowledgesJsMessage) {
  json js_message = JsSend("question");
  ASSERT_TRUE(OurReceive(js_message).has_value());
  AdvanceBoth(1000);
  SharedBytes reply = OurSend("answer");

  json answer = JsReceive(reply);
  EXPECT_THAT(Strings(Field(answer, "decoded"), "causalHistory"),
              ElementsAre(PayloadId("question")));
  EXPECT_THAT(Strings(answer, "acknowledged"), ElementsAre(PayloadId("question")));
  EXPECT_THAT(Strings(answer, "delivered"), ElementsAre(PayloadId("answer")));
  json swept = Js({{"cmd", "sweepOutgoing"}});
  EXPECT_THAT(Strings(swept, "unacknowledged"), IsEmpty());
  EXPECT_THAT(Strings(swept, "possiblyAcknowledged"), IsEmpty());
}

// The mirror image: with a causal history of 1, our reply lists a newer
// message (from dave, a third JS participant) instead of the JS message, which
// @waku/sds then finds only in our bloom filter and accepts after two hits.
TEST_F(WakuInteropTest, OurBloomFilterAcknowledgesJsMessageAfterTwoHits) {
  Config config = OurConfig();
  config.max_causal_history = 1;
  ASSERT_NO_FATAL_FAILURE(ReplaceOurs(config));
  const std::string js_id = PayloadId("from js");
  json js_message = JsSend("from js");
  AdvanceBoth(1000);
  Js({{"cmd", "new"}, {"peer", "dave"}, {"participantId", "dave"}, {"channelId", kChannel}});
  json from_dave = Js({{"cmd", "send"}, {"peer", "dave"}, {"text", "from dave"}});
  ASSERT_TRUE(OurReceive(js_message).has_value());
  ASSERT_TRUE(OurReceive(from_dave).has_value());
  JsReceive(FromHexShared(from_dave.value("wire", "")));

  json first = JsReceive(OurSend("reply one"));
  EXPECT_THAT(Strings(Field(first, "decoded"), "causalHistory"),
              ElementsAre(PayloadId("from dave")));
  EXPECT_THAT(Strings(first, "acknowledged"), IsEmpty());
  ASSERT_TRUE(first["possiblyAcknowledged"].is_array() && first["possiblyAcknowledged"].size() == 1)
      << first.dump();
  EXPECT_EQ(first["possiblyAcknowledged"][0].value("messageId", ""), js_id);
  EXPECT_EQ(first["possiblyAcknowledged"][0].value("count", 0), 1);

  json second = JsReceive(OurSend("reply two"));
  EXPECT_THAT(Strings(Field(second, "decoded"), "causalHistory"),
              ElementsAre(PayloadId("reply one")));
  EXPECT_THAT(Strings(second, "acknowledged"), ElementsAre(js_id));
  EXPECT_THAT(Strings(Js({{"cmd", "sweepOutgoing"}}), "unacknowledged"), IsEmpty());
}

TEST_F(WakuInteropTest, JsBuffersOurOutOfOrderMessageUntilItsDependencyArrives) {
  SharedBytes first = OurSend("first");
  const std::string first_id = PayloadId("first");
  const std::string second_id = PayloadId("second");
  // The transport learned where `first` can be fetched; peers hear of it
  // through the causal history of our next message.
  ASSERT_TRUE(ours_->SetRetrievalHint(kChannel, first_id, {0xb1, 0xb1}).ok());
  AdvanceBoth(10);
  SharedBytes second = OurSend("second");

  json early = JsReceive(second);
  EXPECT_THAT(Strings(early, "delivered"), IsEmpty());
  EXPECT_THAT(Strings(early, "missing"), ElementsAre(first_id));
  ASSERT_TRUE(early["missing"].is_array() && !early["missing"].empty());
  EXPECT_EQ(early["missing"][0].value("senderId", ""), kOurParticipant);
  EXPECT_EQ(early["missing"][0].value("retrievalHint", ""), "b1b1");
  EXPECT_THAT(Strings(JsState(), "incoming"), ElementsAre(second_id));

  // @waku/sds delivers the dependency on receipt and what it unblocked at
  // its next incoming-buffer sweep.
  json late = JsReceive(first);
  EXPECT_THAT(Strings(late, "delivered"), ElementsAre(first_id));
  json swept = Js({{"cmd", "sweepIncoming"}});
  EXPECT_THAT(Strings(swept, "delivered"), ElementsAre(second_id));
  EXPECT_THAT(Strings(swept, "missing"), IsEmpty());
  json state = JsState();
  EXPECT_THAT(Strings(state, "history"), ElementsAre(first_id, second_id));
  EXPECT_THAT(Strings(state, "incoming"), IsEmpty());
}

TEST_F(WakuInteropTest, WeBufferJsOutOfOrderMessageUntilItsDependencyArrives) {
  // The retrieval hint @waku/sds's transport reported for "one" travels in
  // the causal history of "two" and reaches us with the missing dependency.
  json first = Js({{"cmd", "send"}, {"text", "one"}, {"retrievalHint", "a1a1"}});
  AdvanceBoth(10);
  json second = JsSend("two");
  const std::string first_id = PayloadId("one");
  const std::string second_id = PayloadId("two");

  std::optional<UnwrapResult> early = OurReceive(second);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->outcome, UnwrapOutcome::kBuffered);
  ASSERT_EQ(early->missing_dependencies.size(), 1u);
  EXPECT_EQ(early->missing_dependencies[0].message_id, first_id);
  EXPECT_EQ(early->missing_dependencies[0].sender_id, kJsParticipant);
  EXPECT_EQ(early->missing_dependencies[0].retrieval_hint, (Bytes{0xa1, 0xa1}));
  Observed buffered = OurEvents();
  EXPECT_THAT(buffered.missing_for, ElementsAre(second_id));
  EXPECT_THAT(buffered.ready, IsEmpty());
  EXPECT_THAT(ours_->IncomingBuffer(kChannel), ElementsAre(second_id));

  std::optional<UnwrapResult> late = OurReceive(first);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->outcome, UnwrapOutcome::kDelivered);
  Observed released = OurEvents();
  EXPECT_THAT(released.ready, ElementsAre(first_id, second_id));
  EXPECT_THAT(released.ready_contents, ElementsAre("one", "two"));
  EXPECT_THAT(ours_->IncomingBuffer(kChannel), IsEmpty());
  EXPECT_THAT(ours_->History(kChannel), ElementsAre(first_id, second_id));
}

TEST_F(WakuInteropTest, OurSyncMessageAcknowledgesJsMessageAndDeliversNothing) {
  json js_message = JsSend("anyone there?");
  ASSERT_TRUE(OurReceive(js_message).has_value());
  AdvanceBoth(1000);
  Result<SharedBytes> sync = ours_->MakeSyncMessage(kChannel, "sync-cpp-1", Now());
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();

  json answer = JsReceive(*sync);
  EXPECT_EQ(Field(answer, "decoded").value("type", ""), "sync");
  EXPECT_THAT(Strings(answer, "acknowledged"), ElementsAre(PayloadId("anyone there?")));
  EXPECT_THAT(Strings(answer, "delivered"), IsEmpty());
  EXPECT_THAT(Strings(answer, "received"), IsEmpty());
  std::vector<std::string> names;
  for (const json& event : answer["events"]) names.push_back(event.value("name", ""));
  EXPECT_THAT(names, ElementsAre("sds:in:sync-received", "sds:out:message-acknowledged"));
  EXPECT_THAT(Strings(JsState(), "history"), ElementsAre(PayloadId("anyone there?")));
}

TEST_F(WakuInteropTest, JsSyncMessageAcknowledgesOurMessage) {
  SharedBytes ours = OurSend("is this thing on");
  JsReceive(ours);
  AdvanceBoth(1000);
  json sync = Js({{"cmd", "sendSync"}});
  ASSERT_EQ(sync.value("sent", false), true) << sync.dump();

  std::optional<UnwrapResult> result = OurReceive(sync);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kSync);
  Observed observed = OurEvents();
  EXPECT_THAT(observed.acknowledged, ElementsAre(PayloadId("is this thing on")));
  EXPECT_THAT(observed.ready, IsEmpty());
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), IsEmpty());
  EXPECT_THAT(ours_->History(kChannel), ElementsAre(PayloadId("is this thing on")));
}

TEST_F(WakuInteropTest, JsEphemeralMessageIsDeliveredAtOnceAndNotRecorded) {
  json sent = Js({{"cmd", "sendEphemeral"}, {"text", "typing..."}});

  std::optional<UnwrapResult> result = OurReceive(sent);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kEphemeral);
  Observed observed = OurEvents();
  EXPECT_THAT(observed.ready, ElementsAre(PayloadId("typing...")));
  EXPECT_THAT(observed.ready_kinds, ElementsAre(MessageKind::kEphemeral));
  EXPECT_THAT(observed.ready_contents, ElementsAre("typing..."));
  EXPECT_THAT(ours_->History(kChannel), IsEmpty());
  EXPECT_FALSE(ours_->BloomContains(kChannel, PayloadId("typing...")));
}

// @waku/sds hands ephemeral messages to the application outside SDS (its
// ReliableChannel does): receiving one emits no sds event and changes no state.
TEST_F(WakuInteropTest, OurEphemeralMessageIsDecodedByJsAndNotRecorded) {
  json before = JsState();
  Result<SharedBytes> wire =
      ours_->WrapEphemeral(kChannel, ToBytes("typing..."), PayloadId("typing..."), Now());
  ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), IsEmpty());

  json answer = JsReceive(*wire);
  EXPECT_EQ(Field(answer, "decoded").value("type", ""), "ephemeral");
  EXPECT_EQ(Field(answer, "decoded").value("content", ""), ToHex(ToBytes("typing...")));
  EXPECT_EQ(Field(answer, "decoded").value("messageId", ""), PayloadId("typing..."));
  EXPECT_TRUE(Field(answer, "decoded")["lamportTimestamp"].is_null());
  EXPECT_THAT(answer["events"], IsEmpty());
  json after = JsState();
  EXPECT_EQ(after["history"], before["history"]);
  EXPECT_EQ(after["lamport"], before["lamport"]);
}

// SDS-R, JS missing our message: @waku/sds asks for it at its T_req, and we,
// the original sender (T_resp = 0), rebroadcast the original bytes at once.
TEST_F(WakuInteropTest, WeAnswerJsRepairRequestWithTheOriginalBytes) {
  SharedBytes lost = OurSend("lost");
  AdvanceBoth(10);
  SharedBytes after = OurSend("after the lost one");
  const std::string lost_id = PayloadId("lost");

  JsReceive(after);
  json state = JsState();
  ASSERT_EQ(state["repairRequests"].size(), 1u) << state.dump();
  const int64_t t_req = state["repairRequests"][0].value("tReq", int64_t{0});
  EXPECT_GE(t_req - now_millis_, 30000);
  EXPECT_LT(t_req - now_millis_, 120000);

  AdvanceBoth(t_req - now_millis_);
  json request = JsSend("anyone have it?");
  ASSERT_THAT(Strings(request, "repairRequest"), ElementsAre(lost_id));
  std::optional<UnwrapResult> result = OurReceive(request);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, UnwrapOutcome::kDelivered);
  ours_->Tick(Now());
  std::vector<SharedBytes> repairs;
  for (const Event& event : ours_->TakeEvents()) {
    if (const auto* repair = std::get_if<RepairReady>(&event)) {
      EXPECT_EQ(repair->message_id, lost_id);
      repairs.push_back(repair->wire);
    }
  }
  ASSERT_EQ(repairs.size(), 1u);
  EXPECT_EQ(repairs[0], lost);

  json repaired = JsReceive(repairs[0]);
  EXPECT_THAT(Strings(repaired, "delivered"), ElementsAre(lost_id));
  json swept = Js({{"cmd", "sweepIncoming"}});
  EXPECT_THAT(Strings(swept, "delivered"), ElementsAre(PayloadId("after the lost one")));
}

// SDS-R, us missing a JS message: we ask for it at the T_req @waku/sds would
// compute for our participant id (a second JS channel using our id shows it),
// and @waku/sds, the original sender, answers with the original bytes.
TEST_F(WakuInteropTest, JsAnswersOurRepairRequestMadeAtTheSameTReq) {
  json lost = JsSend("one");
  AdvanceBoth(10);
  json after = JsSend("two");
  const std::string lost_id = PayloadId("one");

  // The JS view of "when would participant cpp ask for `lost`".
  Js({{"cmd", "new"},
      {"peer", "mirror"},
      {"participantId", kOurParticipant},
      {"channelId", kChannel}});
  Js({{"cmd", "receive"}, {"peer", "mirror"}, {"wire", after.value("wire", "")}});
  json mirror = Js({{"cmd", "state"}, {"peer", "mirror"}});
  ASSERT_EQ(mirror["repairRequests"].size(), 1u) << mirror.dump();
  const int64_t js_t_req = mirror["repairRequests"][0].value("tReq", int64_t{0});

  std::optional<UnwrapResult> early = OurReceive(after);
  ASSERT_TRUE(early.has_value());
  ASSERT_EQ(early->outcome, UnwrapOutcome::kBuffered);
  auto& repairs = internal::ChannelOf(*ours_, kChannel).outgoing_repair;
  ASSERT_EQ(repairs.count(lost_id), 1u);
  EXPECT_EQ(UnixMillis(repairs.at(lost_id).deadline), js_t_req);
  ours_->TakeEvents();

  // At T_req the request rides on whatever we broadcast next: a sync message
  // from Tick, or else our next content message.
  AdvanceBoth(js_t_req - now_millis_);
  std::vector<SharedBytes> broadcasts;
  ours_->Tick(Now());
  for (const Event& event : ours_->TakeEvents()) {
    if (const auto* sync = std::get_if<SyncMessageReady>(&event)) broadcasts.push_back(sync->wire);
  }
  broadcasts.push_back(OurSend("who has one?"));
  int requests_for_lost = 0;
  for (const SharedBytes& wire : broadcasts) {
    Result<Message> decoded = Decode(wire, Dialect::kSpec);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    for (const HistoryEntry& entry : decoded->repair_request) {
      EXPECT_EQ(entry.message_id, lost_id);
      EXPECT_EQ(entry.sender_id, kJsParticipant);
      ++requests_for_lost;
    }
    JsReceive(wire);
  }
  EXPECT_EQ(requests_for_lost, 1);

  json swept = Js({{"cmd", "sweepRepairIncoming"}});
  ASSERT_EQ(swept["repairs"].size(), 1u) << swept.dump();
  EXPECT_EQ(swept["repairs"][0].value("messageId", ""), lost_id);
  EXPECT_EQ(swept["repairs"][0].value("wire", ""), lost.value("wire", ""));

  std::optional<UnwrapResult> repaired = OurReceive(swept["repairs"][0]);
  ASSERT_TRUE(repaired.has_value());
  EXPECT_EQ(repaired->outcome, UnwrapOutcome::kDelivered);
  EXPECT_THAT(OurEvents().ready, ElementsAre(lost_id, PayloadId("two")));
  EXPECT_THAT(ours_->IncomingBuffer(kChannel), IsEmpty());
  EXPECT_EQ(internal::ChannelOf(*ours_, kChannel).outgoing_repair.count(lost_id), 0u);
}

// SDS-R, a third participant (dave, on @waku/sds) missing a JS message that
// we hold: we answer at the T_resp @waku/sds computes for our id (shown by a
// JS channel using our id), with the bytes exactly as the original sender
// sent them.
TEST_F(WakuInteropTest, WeAnswerAThirdPartysRepairRequestAtTheSameTResp) {
  json lost = JsSend("held by us");
  AdvanceBoth(10);
  json after = JsSend("dave gets only this");
  const std::string lost_id = PayloadId("held by us");
  ASSERT_TRUE(OurReceive(lost).has_value());
  ours_->TakeEvents();
  Js({{"cmd", "new"},
      {"peer", "mirror"},
      {"participantId", kOurParticipant},
      {"channelId", kChannel}});
  Js({{"cmd", "receive"}, {"peer", "mirror"}, {"wire", lost.value("wire", "")}});
  Js({{"cmd", "new"}, {"peer", "dave"}, {"participantId", "dave"}, {"channelId", kChannel}});
  Js({{"cmd", "receive"}, {"peer", "dave"}, {"wire", after.value("wire", "")}});
  json dave = Js({{"cmd", "state"}, {"peer", "dave"}});
  ASSERT_EQ(dave["repairRequests"].size(), 1u) << dave.dump();

  AdvanceBoth(dave["repairRequests"][0].value("tReq", int64_t{0}) - now_millis_);
  json request = Js({{"cmd", "send"}, {"peer", "dave"}, {"text", "dave asks"}});
  ASSERT_THAT(Strings(request, "repairRequest"), ElementsAre(lost_id));
  Js({{"cmd", "receive"}, {"peer", "mirror"}, {"wire", request.value("wire", "")}});
  json mirror = Js({{"cmd", "state"}, {"peer", "mirror"}});
  ASSERT_EQ(mirror["repairResponses"].size(), 1u) << mirror.dump();
  const int64_t js_t_resp = mirror["repairResponses"][0].value("tResp", int64_t{0});

  ASSERT_TRUE(OurReceive(request).has_value());
  auto& responses = internal::ChannelOf(*ours_, kChannel).incoming_repair;
  ASSERT_EQ(responses.count(lost_id), 1u);
  EXPECT_EQ(UnixMillis(responses.at(lost_id).deadline), js_t_resp);

  ours_->TakeEvents();
  AdvanceBoth(js_t_resp - now_millis_);
  ours_->Tick(Now());
  std::vector<SharedBytes> repairs;
  for (const Event& event : ours_->TakeEvents()) {
    if (const auto* repair = std::get_if<RepairReady>(&event)) repairs.push_back(repair->wire);
  }
  ASSERT_EQ(repairs.size(), 1u);
  EXPECT_EQ(ToHex(repairs[0]), lost.value("wire", ""));
  json repaired = Js({{"cmd", "receive"}, {"peer", "dave"}, {"wire", ToHex(repairs[0])}});
  EXPECT_THAT(Strings(repaired, "delivered"), ElementsAre(lost_id));
}

// A longer exchange: both sides alternate, each reply acknowledging the
// other's message, and both end with the same history in the same order
// (Lamport time, then id) and nothing unacknowledged except the last message.
TEST_F(WakuInteropTest, AlternatingConversationConverges) {
  for (int round = 0; round < 20; ++round) {
    AdvanceBoth(250);
    json js_message = JsSend("js says " + std::to_string(round));
    std::optional<UnwrapResult> result = OurReceive(js_message);
    ASSERT_TRUE(result.has_value());
    ASSERT_EQ(result->outcome, UnwrapOutcome::kDelivered);
    AdvanceBoth(250);
    json answer = JsReceive(OurSend("cpp says " + std::to_string(round)));
    ASSERT_THAT(Strings(answer, "delivered"),
                ElementsAre(PayloadId("cpp says " + std::to_string(round))));
    EXPECT_THAT(Strings(answer, "acknowledged"),
                ElementsAre(PayloadId("js says " + std::to_string(round))));
  }
  json state = JsState();
  EXPECT_EQ(Strings(state, "history"), ours_->History(kChannel));
  EXPECT_THAT(Strings(state, "outgoing"), IsEmpty());
  EXPECT_THAT(ours_->OutgoingBuffer(kChannel), ElementsAre(PayloadId("cpp says 19")));
  EXPECT_EQ(state.value("lamport", ""), std::to_string(*ours_->Lamport(kChannel)));
}

}  // namespace
}  // namespace sds
