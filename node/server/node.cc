#include "node.h"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "sds/channel_log.h"

namespace sds::node {
namespace http = boost::beast::http;
using catchup::ServiceError;
using catchup::ServiceErrorCode;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The media type of a Content-Type value, without parameters.
std::string MediaType(std::string_view value) {
  std::string type = Lower(value.substr(0, value.find(';')));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.erase(0, 1);
  return type;
}

bool IsProtobufType(const std::string& type) {
  return type == "application/x-protobuf" || type == "application/protobuf" ||
         type == "application/octet-stream" || type == "application/vnd.google.protobuf";
}

unsigned HttpStatusOf(ServiceErrorCode code) {
  switch (code) {
    case ServiceErrorCode::kBadRequest:
      return 400;
    case ServiceErrorCode::kUnsupportedVersion:
      return 400;
    case ServiceErrorCode::kTooLarge:
      return 413;
    case ServiceErrorCode::kBusy:
      return 503;
    case ServiceErrorCode::kInternal:
      return 500;
  }
  return 500;
}

ServiceError DecodeError(const Status& status, const char* what) {
  ServiceError e;
  e.code = status.code() == ErrorCode::kDecodeLimitExceeded ? ServiceErrorCode::kTooLarge
                                                            : ServiceErrorCode::kBadRequest;
  e.message = std::string(what) + ": " + status.ToString();
  return e;
}

ServiceError UnsupportedVersion(uint32_t asked, uint32_t supported) {
  ServiceError e;
  e.code = ServiceErrorCode::kUnsupportedVersion;
  e.message = "protocol_version " + std::to_string(asked) + " is not supported (this node speaks " +
              std::to_string(supported) + ")";
  e.supported_version = supported;
  return e;
}

}  // namespace

catchup::LogServiceConfig ServiceConfigFrom(const NodeConfig& config) {
  catchup::LogServiceConfig s;
  const uint32_t page = config.limits.max_entries_per_page;
  s.max_entries_cap = page;
  s.default_max_entries = std::min(s.default_max_entries, page);
  s.max_snapshot_entries = page;
  s.default_snapshot_entries = std::min(s.default_snapshot_entries, page);
  s.max_backfill_limit = page;
  s.default_backfill_limit = std::min(s.default_backfill_limit, page);
  s.max_fetch_ids = std::min<size_t>(s.max_fetch_ids, page);
  s.max_channels_per_request = config.limits.max_channels_per_request;
  s.limits.max_request_bytes = config.limits.max_body_bytes;
  s.limits.max_channels_per_request = config.limits.max_channels_per_request;
  s.limits.max_ids_per_fetch = s.max_fetch_ids;
  return s;
}

Result<std::unique_ptr<Node>> Node::Create(const NodeConfig& config,
                                           std::shared_ptr<catchup::ChannelLog> log) {
  SDS_RETURN_IF_ERROR(Validate(config));
  auto service = catchup::LogService::Create(log, ServiceConfigFrom(config));
  if (!service.ok()) return service.status();
  return std::unique_ptr<Node>(new Node(config, std::move(log), std::move(*service)));
}

Node::Node(const NodeConfig& config, std::shared_ptr<catchup::ChannelLog> log,
           std::unique_ptr<catchup::LogService> service)
    : config_(config),
      log_(std::move(log)),
      service_(std::move(service)),
      hub_(config.limits.max_subscribers_per_channel),
      limiter_(config.limits.rate_limit_per_s, config.limits.rate_limit_burst,
               config.limits.rate_limit_max_clients),
      clock_([] { return std::chrono::steady_clock::now(); }) {
  publish_limits_.max_messages = config.limits.max_messages_per_publish;
  publish_limits_.max_message_bytes = service_->config().limits.max_payload_bytes;
  publish_limits_.max_hint_bytes = service_->config().limits.max_id_bytes;
}

Node::~Node() = default;

bool Node::AllowRequest(const std::string& client) {
  if (limiter_.Allow(client, clock_())) return true;
  metrics_.CountRateLimited();
  return false;
}

HttpResponse Node::Reply(unsigned status, std::string body, const char* content_type,
                         unsigned version) {
  HttpResponse response{static_cast<http::status>(status), version};
  response.set(http::field::server, "sds-node");
  response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  response.prepare_payload();
  metrics_.AddBytesOut(response.body().size());
  return response;
}

HttpResponse Node::Error(unsigned status, ServiceErrorCode code, const std::string& message,
                         unsigned version, bool json) {
  ServiceError error;
  error.code = code;
  error.message = message;
  if (json) return Reply(status, DumpJson(ToJson(error)), kJsonType, version);
  const Bytes body = catchup::EncodeServiceError(error);
  return Reply(status, std::string(body.begin(), body.end()), kProtobufType, version);
}

HttpResponse Node::RateLimited(const std::string& client, unsigned version, bool keep_alive) {
  const uint32_t retry_ms = limiter_.RetryAfterMs(client, clock_());
  ServiceError error;
  error.code = ServiceErrorCode::kBusy;
  error.message = "rate limited: over " + std::to_string(config_.limits.rate_limit_per_s) +
                  " requests/s from this address (--rate-limit-per-s)";
  error.retry_after_ms = retry_ms;
  HttpResponse response = Reply(429, DumpJson(ToJson(error)), kJsonType, version);
  response.set(http::field::retry_after, std::to_string((retry_ms + 999) / 1000));
  response.keep_alive(keep_alive);
  metrics_.CountRequest("rate_limited", 429);
  return response;
}

HttpResponse Node::Handle(const HttpRequest& request, const std::string& client) {
  std::string_view target = ToStd(request.target());
  target = target.substr(0, target.find('?'));
  std::string endpoint = "unknown";
  if (target.starts_with("/v1/")) {
    static const char* const kEndpoints[] = {"sync",    "snapshot",  "fetch",   "backfill",
                                             "publish", "subscribe", "healthz", "metrics"};
    for (const char* name : kEndpoints) {
      if (target.substr(4) == name) endpoint = name;
    }
  }
  if (!AllowRequest(client)) return RateLimited(client, request.version(), request.keep_alive());
  HttpResponse response = Route(request, endpoint, client);
  response.keep_alive(request.keep_alive());
  metrics_.CountRequest(endpoint, response.result_int());
  return response;
}

HttpResponse Node::Route(const HttpRequest& request, const std::string& endpoint,
                         const std::string& /*client*/) {
  const unsigned version = request.version();
  const std::string accept = Lower(ToStd(request[http::field::accept]));
  const std::string content_type = MediaType(ToStd(request[http::field::content_type]));
  const bool wants_json_answer = accept.find("application/json") != std::string::npos;

  if (endpoint == "unknown") {
    return Error(404, ServiceErrorCode::kBadRequest,
                 "no such endpoint: " + std::string(ToStd(request.target()).substr(0, 200)) +
                     " (see /v1/sync, snapshot, fetch, backfill, publish, subscribe, healthz, "
                     "metrics)",
                 version, true);
  }
  const bool get_endpoint =
      endpoint == "healthz" || endpoint == "metrics" || endpoint == "subscribe";
  const http::verb method = request.method();
  const bool method_ok = get_endpoint ? (method == http::verb::get || method == http::verb::head)
                                      : method == http::verb::post;
  if (!method_ok) {
    HttpResponse response = Error(405, ServiceErrorCode::kBadRequest,
                                  std::string(ToStd(request.method_string()).substr(0, 20)) +
                                      " is not allowed on /v1/" + endpoint + " (use " +
                                      (get_endpoint ? "GET" : "POST") + ")",
                                  version, true);
    response.set(http::field::allow, get_endpoint ? "GET, HEAD" : "POST");
    return response;
  }
  if (endpoint == "healthz") {
    if (draining_) return Reply(503, "draining\n", "text/plain", version);
    return Reply(200, "ok\n", "text/plain", version);
  }
  if (endpoint == "metrics") {
    return Reply(200, metrics_.Render(service_->counters(), *log_), "text/plain; version=0.0.4",
                 version);
  }
  if (endpoint == "subscribe") {
    HttpResponse response =
        Error(426, ServiceErrorCode::kBadRequest,
              "/v1/subscribe is a WebSocket: send an Upgrade request", version, true);
    response.set(http::field::upgrade, "websocket");
    return response;
  }

  const bool json_in = content_type == kJsonType;
  if (!json_in && !IsProtobufType(content_type)) {
    return Error(415, ServiceErrorCode::kBadRequest,
                 "Content-Type \"" + content_type.substr(0, 100) +
                     "\" is not supported: send application/x-protobuf or application/json",
                 version, true);
  }
  const bool json_out =
      wants_json_answer || (json_in && accept.find("protobuf") == std::string::npos);

  using catchup::LogService;
  if (endpoint == "sync") {
    return HandleCatchup(request, json_in, json_out, &LogService::HandleSync,
                         &catchup::DecodeSyncRequest, &SyncRequestFromJson, &LogService::Sync,
                         &catchup::EncodeSyncResponse);
  }
  if (endpoint == "snapshot") {
    return HandleCatchup(request, json_in, json_out, &LogService::HandleSnapshot,
                         &catchup::DecodeSnapshotRequest, &SnapshotRequestFromJson,
                         &LogService::Snapshot, &catchup::EncodeSnapshotResponse);
  }
  if (endpoint == "fetch") {
    return HandleCatchup(request, json_in, json_out, &LogService::HandleFetch,
                         &catchup::DecodeFetchRequest, &FetchRequestFromJson, &LogService::Fetch,
                         &catchup::EncodeFetchResponse);
  }
  if (endpoint == "backfill") {
    return HandleCatchup(request, json_in, json_out, &LogService::HandleBackfill,
                         &catchup::DecodeBackfillRequest, &BackfillRequestFromJson,
                         &LogService::Backfill, &catchup::EncodeBackfillResponse);
  }
  return HandlePublish(request, json_in, json_out);
}

template <typename Request, typename Response>
HttpResponse Node::HandleCatchup(
    const HttpRequest& request, bool json_in, bool json_out,
    Bytes (catchup::LogService::*handle_bytes)(ByteSpan),
    Result<Request> (*decode)(ByteSpan, const catchup::ProtocolLimits&),
    Result<Request> (*from_json)(const nlohmann::json&, const catchup::ProtocolLimits&),
    catchup::Answer<Response> (catchup::LogService::*answer)(const Request&),
    Bytes (*encode)(const Response&)) {
  const unsigned version = request.version();
  const std::string& body = request.body();
  const ByteSpan bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  const catchup::ProtocolLimits& limits = service_->config().limits;

  if (!json_in && !json_out) {
    // Protobuf both ways: the service's bytes interface decodes, answers and
    // encodes. An answer envelope holding an error starts with field 1.
    Bytes encoded = ((*service_).*handle_bytes)(bytes);
    unsigned status = 200;
    if (!encoded.empty() && encoded[0] == 0x0A) {
      // Every answer envelope carries its error as field 1; any kind's decoder reads it.
      auto decoded = catchup::DecodeSyncResponse(encoded);
      status = 500;
      if (decoded.ok() && std::holds_alternative<ServiceError>(*decoded))
        status = HttpStatusOf(std::get<ServiceError>(*decoded).code);
    }
    return Reply(status, std::string(encoded.begin(), encoded.end()), kProtobufType, version);
  }

  if (body.size() > limits.max_request_bytes) {
    return Error(413, ServiceErrorCode::kTooLarge,
                 "request of " + std::to_string(body.size()) + " bytes is over " +
                     std::to_string(limits.max_request_bytes),
                 version, json_out);
  }
  Result<Request> decoded = Status(ErrorCode::kInternal, "not decoded");
  if (json_in) {
    auto parsed = ParseJson(body);
    if (!parsed.ok()) {
      const ServiceError e = DecodeError(parsed.status(), "JSON body");
      return Error(HttpStatusOf(e.code), e.code, e.message, version, json_out);
    }
    decoded = from_json(*parsed, limits);
  } else {
    decoded = decode(bytes, limits);
  }
  if (!decoded.ok()) {
    const ServiceError e = DecodeError(decoded.status(), json_in ? "JSON request" : "request");
    return Error(HttpStatusOf(e.code), e.code, e.message, version, json_out);
  }
  catchup::Answer<Response> result = ((*service_).*answer)(*decoded);
  if (auto* error = std::get_if<ServiceError>(&result)) {
    if (json_out)
      return Reply(HttpStatusOf(error->code), DumpJson(ToJson(*error)), kJsonType, version);
    const Bytes out = catchup::EncodeServiceError(*error);
    return Reply(HttpStatusOf(error->code), std::string(out.begin(), out.end()), kProtobufType,
                 version);
  }
  const Response& response = std::get<Response>(result);
  if (json_out) return Reply(200, DumpJson(ToJson(response)), kJsonType, version);
  const Bytes out = encode(response);
  return Reply(200, std::string(out.begin(), out.end()), kProtobufType, version);
}

HttpResponse Node::HandlePublish(const HttpRequest& request, bool json_in, bool json_out) {
  const unsigned version = request.version();
  const std::string& body = request.body();
  auto error_reply = [&](const ServiceError& e) {
    if (json_out) return Reply(HttpStatusOf(e.code), DumpJson(ToJson(e)), kJsonType, version);
    const Bytes out = EncodePublishError(e);
    return Reply(HttpStatusOf(e.code), std::string(out.begin(), out.end()), kProtobufType, version);
  };
  if (body.size() > config_.limits.max_body_bytes) {
    return error_reply({ServiceErrorCode::kTooLarge,
                        "request of " + std::to_string(body.size()) + " bytes is over " +
                            std::to_string(config_.limits.max_body_bytes)});
  }
  Result<PublishRequest> decoded = Status(ErrorCode::kInternal, "not decoded");
  if (json_in) {
    auto parsed = ParseJson(body);
    if (!parsed.ok()) return error_reply(DecodeError(parsed.status(), "JSON body"));
    decoded = PublishRequestFromJson(*parsed, publish_limits_);
  } else {
    decoded = DecodePublishRequest(
        ByteSpan(reinterpret_cast<const uint8_t*>(body.data()), body.size()), publish_limits_);
  }
  if (!decoded.ok())
    return error_reply(
        DecodeError(decoded.status(), json_in ? "JSON PublishRequest" : "PublishRequest"));
  if (decoded->protocol_version != kNodeProtocolVersion)
    return error_reply(UnsupportedVersion(decoded->protocol_version, kNodeProtocolVersion));
  if (decoded->messages.empty())
    return error_reply({ServiceErrorCode::kBadRequest, "PublishRequest has no messages"});

  auto published = Publish(*decoded);
  if (!published.ok())
    return error_reply({ServiceErrorCode::kInternal, published.status().ToString()});
  const bool none_stored = std::all_of(
      published->results.begin(), published->results.end(),
      [](const auto& r) { return r.disposition == catchup::AppendDisposition::kRejected; });
  const unsigned status = none_stored ? 422 : 200;
  if (json_out) return Reply(status, DumpJson(ToJson(*published)), kJsonType, version);
  const Bytes out = EncodePublishResponse(*published);
  return Reply(status, std::string(out.begin(), out.end()), kProtobufType, version);
}

Result<PublishResponse> Node::Publish(const PublishRequest& request) {
  std::vector<catchup::AppendInput> inputs;
  inputs.reserve(request.messages.size());
  for (size_t i = 0; i < request.messages.size(); ++i) {
    catchup::AppendInput input{ByteSpan(request.messages[i]), {}};
    if (i < request.retrieval_hints.size())
      input.retrieval_hint = ByteSpan(request.retrieval_hints[i]);
    inputs.push_back(input);
  }
  std::lock_guard lock(publish_mutex_);
  const auto started = std::chrono::steady_clock::now();
  auto results = log_->Append(
      inputs, std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
  metrics_.ObserveAppend(std::chrono::steady_clock::now() - started, inputs.size());
  if (!results.ok()) return results.status();

  PublishResponse response;
  response.store_id = log_->store_id();
  // Seqs appended per channel, in order: one batch is one transaction under
  // publish_mutex_, so each channel's new seqs are dense.
  std::vector<std::pair<ChannelId, std::pair<uint64_t, uint64_t>>> appended;
  uint64_t appended_count = 0, rejected_count = 0;
  for (const catchup::AppendResult& r : *results) {
    if (r.disposition == catchup::AppendDisposition::kRejected) ++rejected_count;
    if (r.disposition != catchup::AppendDisposition::kAppended) continue;
    ++appended_count;
    auto it = std::find_if(appended.begin(), appended.end(),
                           [&](const auto& a) { return a.first == r.channel_id; });
    if (it == appended.end()) {
      appended.push_back({r.channel_id, {r.seq, r.seq}});
    } else {
      it->second.first = std::min(it->second.first, r.seq);
      it->second.second = std::max(it->second.second, r.seq);
    }
  }
  metrics_.CountAppended(appended_count);
  metrics_.CountRejected(rejected_count);

  for (const auto& channel_range : appended) {
    const ChannelId& channel = channel_range.first;
    uint64_t first = channel_range.second.first;
    const uint64_t last = channel_range.second.second;
    // With several nodes on one database, the seqs just before ours may be
    // another node's appends whose notification has not arrived yet (or the
    // channel's first entries, when another node started it): they go out
    // with ours, in order, so subscribers do not see a gap.
    if (!config_.storage.postgres.empty()) {
      first = std::min(first, FirstNotFannedOut(channel, last));
    }
    FanOutLocked(channel, first, last);
  }
  response.results = std::move(*results);
  return response;
}

void Node::FanOutLocked(const ChannelId& channel, uint64_t first, uint64_t last) {
  uint64_t& fanned = fanned_out_[channel];
  fanned = std::max(fanned, last);
  if (!hub_.HasSubscribers(channel)) return;
  auto batch = std::make_shared<LiveBatch>();
  batch->channel_id = channel;
  catchup::ReadLimits limits;
  limits.max_entries = last - first + 1;
  limits.min_entries = limits.max_entries;
  limits.max_bytes = UINT64_MAX;
  const Status read = log_->Read([&](catchup::ReadView& view) {
    const catchup::ChannelMeta* meta = view.Find(channel);
    if (meta == nullptr) return Status::Ok();
    batch->epoch = meta->epoch;
    return view.ReadForward(channel, first, limits, batch->entries);
  });
  // Retention may already have removed the front of the batch; subscribers
  // that need it get a gap and catch up from the log (cold start if gone).
  if (!read.ok() || batch->entries.empty()) return;
  batch->frame = std::make_shared<const std::string>(
      EntriesFrame(channel, batch->epoch, batch->entries, 0, /*live=*/true));
  hub_.Deliver(batch);
}

uint64_t Node::FirstNotFannedOut(const ChannelId& channel, uint64_t last) const {
  auto known = fanned_out_.find(channel);
  const uint64_t fanned = known == fanned_out_.end() ? 0 : known->second;
  // More than a page behind (or never fanned out): the last page only; a
  // subscriber further behind sees the gap and catches up from the log,
  // which has everything.
  const uint64_t page = std::max<uint64_t>(config_.limits.max_entries_per_page, 1);
  const uint64_t page_start = last >= page ? last - page + 1 : 1;
  return std::max(fanned + 1, page_start);
}

void Node::RelayAppended(const ChannelId& channel_id, uint64_t head_seq) {
  std::lock_guard lock(publish_mutex_);
  metrics_.CountRelayNotifications(1);
  const uint64_t first = FirstNotFannedOut(channel_id, head_seq);
  if (first > head_seq) return;  // our own append, or one relayed already
  FanOutLocked(channel_id, first, head_seq);
}

void Node::RelayAllChannels() {
  auto channels = log_->Channels();
  if (!channels.ok()) {
    spdlog::warn("event=relay_rescan_failed error=\"{}\"", channels.status().ToString());
    return;
  }
  for (const catchup::ChannelMeta& meta : *channels) {
    if (meta.head_seq > 0) RelayAppended(meta.channel_id, meta.head_seq);
  }
}

}  // namespace sds::node
