#include "server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sds::node {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using catchup::ServiceErrorCode;

namespace {

// What every session needs of the server, and the registry Stop() walks.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Shutdown() = 0;
};

struct ServerState {
  explicit ServerState(std::shared_ptr<Node> n) : node(std::move(n)) {}
  std::shared_ptr<Node> node;
  std::mutex mutex;
  std::condition_variable all_closed;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions;
  bool stopping = false;

  // False when the node is stopping (the session must not start).
  bool Track(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex);
    sessions.emplace(session.get(), session);
    return !stopping;
  }
  void Untrack(const Session* session) {
    std::lock_guard lock(mutex);
    sessions.erase(session);
    if (sessions.empty()) all_closed.notify_all();
  }
};

// Removes the session from the registry when it is destroyed, and counts it.
class TrackedSession : public Session {
 public:
  explicit TrackedSession(ServerState& state) : state_(state) {
    state_.node->metrics().ConnectionOpened();
  }
  ~TrackedSession() override {
    state_.node->metrics().ConnectionClosed();
    state_.Untrack(this);
  }

 protected:
  ServerState& state_;
};

// ---- WebSocket subscriber -----------------------------------------------------
//
// One subscription connection: the client sends {"type":"subscribe",...}
// (node_messages.h; it may send more to add channels); per channel the node
// first catches the client up from the log, a page (one Sync) at a time and
// the next page only once the previous one is written, then pushes live
// entries. A channel is either catching up (live batches are dropped: the log
// has them) or live (a batch continuing the cursor is sent, one it already
// has is dropped, one past a gap puts the channel back to catching up). The
// send queue is bounded; overflowing it closes the connection with 1013
// "slow subscriber" (the log is the truth: the client reconnects with its
// cursor).
class WsSession : public TrackedSession,
                  public LiveSink,
                  public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(ServerState& state, beast::tcp_stream&& stream, std::string client)
      : TrackedSession(state),
        ws_(std::move(stream)),
        timer_(ws_.get_executor()),
        client_(std::move(client)),
        limits_(state.node->config().limits) {}

  ~WsSession() override { Unsubscribe(); }

  void Accept(HttpRequest request) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout =
        websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeout.idle_timeout = std::chrono::seconds(limits_.ws_idle_timeout_s);
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.read_message_max(limits_.max_body_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "sds-node"); }));
    ws_.async_accept(request, beast::bind_front_handler(&WsSession::OnAccept, shared_from_this()));
  }

  void Shutdown() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      self->CloseAfterQueue(websocket::close_code::going_away, "node shutting down");
    });
  }

  void OnLive(std::shared_ptr<const LiveBatch> batch) override {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), batch = std::move(batch)] { self->ApplyLive(*batch); });
  }

 private:
  struct ChannelState {
    catchup::Epoch epoch{};
    uint64_t seq = 0;
    bool has_cursor = false;
    bool catching_up = true;
  };

  void OnAccept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("event=ws_accept_failed client={} error=\"{}\"", client_, ec.message());
      return;
    }
    ws_.text(true);
    Read();
  }

  void Read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        Fail(ServiceErrorCode::kTooLarge,
             "message over " + std::to_string(limits_.max_body_bytes) + " bytes (--max-body-bytes)",
             websocket::close_code::too_big);
        return;
      }
      End();
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (closing_) return;
    HandleMessage(text);
    if (!closing_) Read();
  }

  void HandleMessage(const std::string& text) {
    const catchup::ProtocolLimits& limits = state_.node->service().config().limits;
    auto parsed = ParseJson(text);
    if (!parsed.ok()) return Fail(ServiceErrorCode::kBadRequest, parsed.status().ToString());
    auto request = SubscribeRequestFromJson(*parsed, limits);
    if (!request.ok()) return Fail(ServiceErrorCode::kBadRequest, request.status().ToString());
    if (request->protocol_version != kNodeProtocolVersion) {
      return Fail(ServiceErrorCode::kUnsupportedVersion,
                  "protocol_version " + std::to_string(request->protocol_version) +
                      " is not supported (this node speaks 1)");
    }
    if (channels_.size() + request->channels.size() > limits_.max_subscriptions_per_connection) {
      return Fail(ServiceErrorCode::kTooLarge,
                  "over " + std::to_string(limits_.max_subscriptions_per_connection) +
                      " channels on one connection (--max-subscriptions-per-connection)");
    }
    for (const catchup::ChannelCursor& c : request->channels) {
      if (channels_.contains(c.channel_id)) {
        return Fail(ServiceErrorCode::kBadRequest,
                    "channel " + Base64Encode(c.channel_id) + " is subscribed twice");
      }
    }
    for (const catchup::ChannelCursor& c : request->channels) {
      Status added = state_.node->hub().Add(c.channel_id, shared_from_this());
      if (!added.ok()) return Fail(ServiceErrorCode::kBusy, added.message());
      state_.node->metrics().SubscriberAdded();
      ChannelState& s = channels_[c.channel_id];
      if (c.cursor) {
        s.epoch = c.cursor->epoch;
        s.seq = c.cursor->seq;
        s.has_cursor = true;
      }
    }
    if (!writing_) CatchUpRound();
  }

  // One Sync for every channel still catching up; the next round starts
  // when its frames are written.
  void CatchUpRound() {
    if (closing_) return;
    // A round must fit in the send queue, which is empty when it starts: at
    // most two frames per channel, and payload bytes (base64 in the frames:
    // 4/3 larger) within a quarter of the queue's bytes.
    catchup::SyncRequest request;
    request.max_entries = 0;  // the node's default page
    request.max_bytes = std::max<uint64_t>(1, limits_.max_subscriber_queue_bytes / 4);
    const size_t max_channels = std::max<size_t>(
        1, std::min(limits_.max_channels_per_request, limits_.max_subscriber_queue_frames / 2));
    for (const auto& [channel, s] : channels_) {
      if (!s.catching_up) continue;
      catchup::ChannelCursor c;
      c.channel_id = channel;
      if (s.has_cursor) c.cursor = catchup::Cursor{s.epoch, s.seq};
      request.channels.push_back(std::move(c));
      if (request.channels.size() == max_channels) break;
    }
    if (request.channels.empty()) return;
    auto answer = state_.node->service().Sync(request);
    if (auto* error = std::get_if<catchup::ServiceError>(&answer)) {
      return Fail(error->code, error->message);
    }
    for (catchup::ChannelResult& r : std::get<catchup::SyncResponse>(answer).channels) {
      ChannelState& s = channels_[r.channel_id];
      switch (r.status) {
        case catchup::SyncStatus::kDelta:
          Enqueue(std::make_shared<const std::string>(
              EntriesFrame(r.channel_id, r.epoch, r.entries, 0, /*live=*/false)));
          s.epoch = r.epoch;
          s.seq = r.to_seq;
          s.has_cursor = true;
          if (!r.has_more) {
            s.catching_up = false;
            Enqueue(
                std::make_shared<const std::string>(CaughtUpFrame(r.channel_id, s.epoch, s.seq)));
          }
          break;
        case catchup::SyncStatus::kUpToDate:
          s.catching_up = false;
          Enqueue(std::make_shared<const std::string>(CaughtUpFrame(r.channel_id, s.epoch, s.seq)));
          break;
        case catchup::SyncStatus::kColdStartRequired:
          // Live from the head on; the client takes a Snapshot over HTTP.
          Enqueue(std::make_shared<const std::string>(ColdStartFrame(r)));
          s.epoch = r.epoch;
          s.seq = r.head_seq;
          s.has_cursor = true;
          s.catching_up = false;
          Enqueue(std::make_shared<const std::string>(CaughtUpFrame(r.channel_id, s.epoch, s.seq)));
          break;
        case catchup::SyncStatus::kUnknownChannel:
          // Live from the channel's first entry, whenever it appears.
          Enqueue(std::make_shared<const std::string>(UnknownChannelFrame(r.channel_id)));
          s = ChannelState{};
          s.catching_up = false;
          break;
      }
      if (closing_) return;
    }
  }

  void ApplyLive(const LiveBatch& batch) {
    if (closing_ || batch.entries.empty()) return;
    auto it = channels_.find(batch.channel_id);
    if (it == channels_.end()) return;
    ChannelState& s = it->second;
    if (s.catching_up) return;  // the log has these entries
    const uint64_t first = batch.entries.front().seq;
    const uint64_t last = batch.entries.back().seq;
    if (s.has_cursor && batch.epoch != s.epoch) {
      s.catching_up = true;  // a new history: Sync says how to continue
    } else {
      const uint64_t cursor = s.has_cursor ? s.seq : 0;
      if (last <= cursor) return;  // already sent (by the catch-up)
      if (first <= cursor + 1) {
        const size_t begin = static_cast<size_t>(cursor + 1 - first);
        Enqueue(begin == 0 ? batch.frame
                           : std::make_shared<const std::string>(EntriesFrame(
                                 batch.channel_id, batch.epoch, batch.entries, begin, true)));
        state_.node->metrics().CountLiveFrames(1);
        s.epoch = batch.epoch;
        s.seq = last;
        s.has_cursor = true;
        return;
      }
      s.catching_up = true;  // a gap: a batch was dropped while catching up
    }
    if (!writing_) CatchUpRound();
  }

  void Enqueue(std::shared_ptr<const std::string> frame) {
    if (closing_) return;
    if (queue_.size() >= limits_.max_subscriber_queue_frames ||
        queued_bytes_ + frame->size() > limits_.max_subscriber_queue_bytes) {
      return SlowSubscriber();
    }
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (!writing_) Write();
  }

  void Write() {
    writing_ = true;
    ws_.async_write(asio::buffer(*queue_.front()),
                    beast::bind_front_handler(&WsSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return End();
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty()) return Write();
    if (close_pending_) return Close();
    if (!closing_) {
      for (const auto& [channel, s] : channels_) {
        if (s.catching_up) return CatchUpRound();
      }
    }
  }

  void SlowSubscriber() {
    state_.node->metrics().CountSlowSubscriber();
    spdlog::warn(
        "event=slow_subscriber client={} queued_frames={} queued_bytes={} limit_frames={} "
        "limit_bytes={}",
        client_, queue_.size(), queued_bytes_, limits_.max_subscriber_queue_frames,
        limits_.max_subscriber_queue_bytes);
    // Drop what is not being written; the frame in flight must stay alive.
    while (queue_.size() > (writing_ ? 1 : 0)) {
      queued_bytes_ -= queue_.back()->size();
      queue_.pop_back();
    }
    close_code_ = websocket::close_code::try_again_later;
    close_reason_ = "slow subscriber: send queue over its limit; reconnect with your cursor";
    closing_ = true;
    close_pending_ = true;
    if (!writing_) Close();
    ArmGrace();
  }

  // Sends an error frame, then closes.
  void Fail(ServiceErrorCode code, const std::string& message,
            websocket::close_code close = websocket::close_code::policy_error) {
    spdlog::info("event=ws_rejected client={} message=\"{}\"", client_, message);
    Enqueue(std::make_shared<const std::string>(ErrorFrame(code, message)));
    CloseAfterQueue(close, message.substr(0, 120));
  }

  void CloseAfterQueue(websocket::close_code code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_pending_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (!writing_) Close();
    ArmGrace();
  }

  void Close() {
    if (close_sent_ || ended_) return;
    close_sent_ = true;
    close_pending_ = false;
    ws_.async_close(websocket::close_reason(close_code_, close_reason_),
                    [self = shared_from_this()](beast::error_code) { self->End(); });
  }

  // A peer that reads nothing never completes a write or the close
  // handshake: its socket is closed after the grace period.
  void ArmGrace() {
    timer_.expires_after(std::chrono::milliseconds(limits_.slow_subscriber_grace_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    closing_ = true;
    timer_.cancel();
    Unsubscribe();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  void Unsubscribe() {
    for (const auto& [channel, s] : channels_) {
      state_.node->hub().Remove(channel, this);
      state_.node->metrics().SubscriberRemoved();
    }
    channels_.clear();
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer timer_;
  std::string client_;
  const LimitsConfig& limits_;
  beast::flat_buffer buffer_;
  std::map<ChannelId, ChannelState> channels_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool close_pending_ = false;
  bool close_sent_ = false;
  bool ended_ = false;
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::string close_reason_;
};

// ---- HTTP ---------------------------------------------------------------------

class HttpSession : public TrackedSession, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(ServerState& state, tcp::socket&& socket, bool over_limit)
      : TrackedSession(state), stream_(std::move(socket)), over_limit_(over_limit) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    client_ = ec ? "unknown" : endpoint.address().to_string();
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->over_limit_) {
        self->state_.node->metrics().CountConnectionRejected();
        self->response_ = self->state_.node->Error(
            503, ServiceErrorCode::kBusy,
            "too many connections (--max-connections " +
                std::to_string(self->state_.node->config().limits.max_connections) + ")",
            11, true);
        self->response_.keep_alive(false);
        return self->Write();
      }
      self->Read();
    });
  }

  void Shutdown() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      // Idle between requests: close now. Mid-request: finish it first.
      if (self->reading_ && self->buffer_.size() == 0 && !self->parser_->got_some()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        self->stream_.cancel();
      }
    });
  }

 private:
  const LimitsConfig& limits() const { return state_.node->config().limits; }

  void Read() {
    if (closing_ && buffer_.size() == 0) return Close();
    parser_.emplace();
    parser_->body_limit(limits().max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    stream_.expires_after(std::chrono::seconds(limits().http_idle_timeout_s));
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    reading_ = false;
    Node& node = *state_.node;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec) {
      unsigned status = 400;
      std::string message = "malformed HTTP request: " + ec.message();
      if (ec == http::error::body_limit) {
        status = 413;
        message = "request body over " + std::to_string(limits().max_body_bytes) +
                  " bytes (--max-body-bytes)";
      } else if (ec == http::error::header_limit) {
        status = 431;
        message = "request header over " + std::to_string(limits().max_header_bytes) +
                  " bytes (--max-header-bytes)";
      } else if (ec == http::error::partial_message) {
        message = "truncated HTTP request: the connection ended inside it";
      } else if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
        return Close();  // a socket error: nobody to answer
      }
      node.metrics().CountRequest("malformed", status);
      response_ = node.Error(status, ServiceErrorCode::kBadRequest, message, 11, true);
      response_.keep_alive(false);
      return Write();
    }
    HttpRequest& request = parser_->get();
    if (websocket::is_upgrade(request)) return Upgrade();
    response_ = node.Handle(request, client_);
    if (closing_) response_.keep_alive(false);
    Write();
  }

  void Upgrade() {
    Node& node = *state_.node;
    HttpRequest request = parser_->release();
    std::string_view target = ToStd(request.target());
    target = target.substr(0, target.find('?'));
    if (target != "/v1/subscribe") {
      response_ = node.Error(404, ServiceErrorCode::kBadRequest,
                             "WebSocket upgrades are served on /v1/subscribe only",
                             request.version(), true);
      node.metrics().CountRequest("unknown", 404);
      response_.keep_alive(false);
      return Write();
    }
    if (!node.AllowRequest(client_)) {
      response_ = node.RateLimited(client_, request.version(), false);
      return Write();
    }
    node.metrics().CountRequest("subscribe", 101);
    auto ws = std::make_shared<WsSession>(state_, std::move(stream_), client_);
    if (!state_.Track(ws)) return;
    ws->Accept(std::move(request));
  }

  void Write() {
    stream_.expires_after(std::chrono::seconds(limits().http_idle_timeout_s));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return Close();
    if (!response_.keep_alive()) return Close();
    response_ = {};
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  std::string client_;
  bool over_limit_;
  bool reading_ = false;
  bool closing_ = false;
};

}  // namespace

// ---- Server -------------------------------------------------------------------

class Server::Impl {
 public:
  explicit Impl(std::shared_ptr<Node> node)
      : state_(std::move(node)),
        ioc_(static_cast<int>(ThreadCount(state_.node->config()))),
        work_(ioc_.get_executor()),
        acceptor_(asio::make_strand(ioc_)) {}

  Status Listen() {
    const NodeConfig& config = state_.node->config();
    beast::error_code ec;
    auto address = asio::ip::make_address(config.listen_address, ec);
    if (ec) {
      return Status(ErrorCode::kInvalidArgument,
                    "--listen " + config.listen_address + ": " + ec.message());
    }
    tcp::endpoint endpoint(address, config.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(ErrorCode::kInternal, "cannot listen on " + config.listen_address + ":" +
                                              std::to_string(config.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    const unsigned threads = ThreadCount(config);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    return Status::Ok();
  }

  void Accept() {
    acceptor_.async_accept(
        asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
          if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
            spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
          } else {
            const bool over_limit = static_cast<size_t>(state_.node->metrics().connections()) >=
                                    state_.node->config().limits.max_connections;
            auto session = std::make_shared<HttpSession>(state_, std::move(socket), over_limit);
            if (state_.Track(session)) session->Run();
          }
          Accept();
        });
  }

  void Stop() {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard lock(state_.mutex);
      if (state_.stopping) return;
      state_.stopping = true;
      for (auto& [key, weak] : state_.sessions) {
        if (auto session = weak.lock()) sessions.push_back(std::move(session));
      }
    }
    state_.node->set_draining();
    std::promise<void> closed;
    asio::post(acceptor_.get_executor(), [this, &closed] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
    for (auto& session : sessions) session->Shutdown();
    sessions.clear();
    const NodeConfig& config = state_.node->config();
    {
      std::unique_lock lock(state_.mutex);
      const bool drained =
          state_.all_closed.wait_for(lock, std::chrono::milliseconds(config.shutdown_grace_ms),
                                     [this] { return state_.sessions.empty(); });
      if (!drained) {
        spdlog::warn("event=shutdown_grace_expired sessions_left={}", state_.sessions.size());
      }
    }
    work_.reset();
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  ServerState state_;
  asio::io_context ioc_;
  // Keeps the threads running while sessions finish (after the acceptor
  // closes there may be moments with no operation pending).
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

Result<std::unique_ptr<Server>> Server::Start(std::shared_ptr<Node> node) {
  if (!node) return Status(ErrorCode::kInvalidArgument, "no node");
  auto impl = std::make_unique<Impl>(std::move(node));
  SDS_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }
uint16_t Server::port() const { return impl_->port_; }
void Server::Stop() { impl_->Stop(); }
Node& Server::node() { return *impl_->state_.node; }

}  // namespace sds::node
