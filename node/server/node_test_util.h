// Helpers for the sds-node suites: a node served in-process on an ephemeral
// port, a blocking HTTP client and a WebSocket subscriber client. The tests
// wait for events (a response, a frame, a closed socket), never for time to
// pass. Asio's blocking reads poll without a timeout, so the socket timeouts
// set here bound only raw reads; CTest's TIMEOUT is the safety net.
#ifndef SDS_NODE_SERVER_NODE_TEST_UTIL_H_
#define SDS_NODE_SERVER_NODE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <optional>
#include <string>

#include "channel_log_factory.h"
#include "node.h"
#include "node_messages.h"
#include "server.h"

namespace sds::node::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

inline constexpr int kSafetyTimeoutS = 20;

// A config for tests: loopback, ephemeral port, memory log, 2 threads.
inline NodeConfig TestConfig() {
  NodeConfig config;
  config.port = 0;
  config.threads = 2;
  config.storage.memory = true;
  config.log_level = "warn";
  config.shutdown_grace_ms = 5000;
  return config;
}

// A node and its server, in this process.
struct RunningNode {
  std::shared_ptr<catchup::ChannelLog> log;
  std::shared_ptr<Node> node;
  std::unique_ptr<Server> server;

  static RunningNode Start(const NodeConfig& config) {
    RunningNode r;
    auto log = OpenChannelLog(config.storage);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return r;
    r.log = *log;
    auto node = Node::Create(config, r.log);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    if (!node.ok()) return r;
    r.node = std::move(*node);
    auto server = Server::Start(r.node);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) r.server = std::move(*server);
    return r;
  }
  uint16_t port() const { return server ? server->port() : 0; }
  // Stops the server and closes the log.
  void Stop() {
    if (server) server->Stop();
    server.reset();
    node.reset();
    log.reset();
  }
};

inline void SetReceiveTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A keep-alive HTTP/1.1 connection.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SetReceiveTimeout(socket_.native_handle(), kSafetyTimeoutS);
  }

  http::response<http::string_body> Send(http::request<http::string_body> request) {
    request.set(http::field::host, "127.0.0.1");
    request.prepare_payload();
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code ec;
    http::read(socket_, buffer_, parser, ec);
    EXPECT_FALSE(ec) << ec.message();
    return parser.release();
  }

  http::response<http::string_body> Post(const std::string& target, std::string body,
                                         const std::string& content_type = kProtobufType,
                                         const std::string& accept = "") {
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::content_type, content_type);
    if (!accept.empty()) request.set(http::field::accept, accept);
    request.body() = std::move(body);
    return Send(std::move(request));
  }
  http::response<http::string_body> Get(const std::string& target) {
    return Send(http::request<http::string_body>{http::verb::get, target, 11});
  }

  // A POST whose failure is an answer, not a test failure: nullopt when the
  // connection broke before a whole response arrived (the node died).
  std::optional<http::response<http::string_body>> TryPost(const std::string& target,
                                                           std::string body) {
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::content_type, kProtobufType);
    request.body() = std::move(body);
    request.prepare_payload();
    beast::error_code ec;
    http::write(socket_, request, ec);
    if (ec) return std::nullopt;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket_, buffer_, parser, ec);
    if (ec) return std::nullopt;
    return parser.release();
  }

  // Raw bytes in, whatever comes back until the node closes (or one response).
  tcp::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline std::string ToString(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }
inline ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A WebSocket on /v1/subscribe that reads JSON frames.
class Subscriber {
 public:
  explicit Subscriber(uint16_t port, int receive_buffer_bytes = 0) : ws_(ioc_) {
    auto& socket = ws_.next_layer();
    socket.open(tcp::v4());
    if (receive_buffer_bytes > 0) {
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer_bytes));
    }
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SetReceiveTimeout(socket.native_handle(), kSafetyTimeoutS);
    ws_.handshake("127.0.0.1", "/v1/subscribe");
    ws_.text(true);
  }

  void Send(const std::string& text) { ws_.write(asio::buffer(text)); }
  void Subscribe(const SubscribeRequest& request) { Send(DumpJson(ToJson(request))); }

  // The next frame, or nullopt when the socket closed (or timed out).
  std::optional<nlohmann::json> Next() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) {
      last_error_ = ec;
      return std::nullopt;
    }
    return nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
  }
  // Frames until one of `type` (returned); fails the test on a close first.
  nlohmann::json NextOfType(const std::string& type) {
    for (;;) {
      auto frame = Next();
      if (!frame) {
        ADD_FAILURE() << "socket closed waiting for " << type << ": " << last_error_.message();
        return {};
      }
      if ((*frame)["type"] == type) return *frame;
    }
  }
  beast::error_code last_error() const { return last_error_; }
  websocket::close_reason close_reason() const { return ws_.reason(); }
  websocket::stream<tcp::socket>& ws() { return ws_; }

 private:
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  beast::error_code last_error_;
};

inline catchup::Epoch EpochFromJson(const nlohmann::json& value) {
  catchup::Epoch epoch{};
  auto bytes = Base64Decode(value.get<std::string>());
  if (bytes && bytes->size() == epoch.size())
    std::copy(bytes->begin(), bytes->end(), epoch.begin());
  return epoch;
}

}  // namespace sds::node::testing

#endif  // SDS_NODE_SERVER_NODE_TEST_UTIL_H_
