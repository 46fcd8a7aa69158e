// Feeds arbitrary bytes to sds-node's HTTP request path without sockets: the
// Beast request parser with the node's limits, then the router
// (node/server/node.h) over an in-memory log, for as many requests as the
// input holds (keep-alive). Whatever the input: no crash, no sanitizer
// report, no 5xx (the log cannot fail in memory), and every answer to a bad
// request is a 4xx with a body saying why.
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "node.h"
#include "sds/memory_channel_log.h"

namespace {

namespace http = boost::beast::http;
using sds::node::Node;

[[noreturn]] void Fail(const char* what, unsigned status) {
  std::fprintf(stderr, "http_request_fuzzer: %s (status %u)\n", what, status);
  std::abort();
}

Node& TheNode() {
  static Node* node = [] {
    sds::node::NodeConfig config;
    config.storage.memory = true;
    config.limits.max_body_bytes = 64 << 10;
    config.limits.max_header_bytes = 4096;
    config.limits.max_channels_per_request = 16;
    config.limits.max_messages_per_publish = 16;
    config.limits.max_entries_per_page = 64;
    config.limits.rate_limit_per_s = 0;  // every input is one client
    sds::catchup::ChannelLogOptions options;
    auto rng = std::make_shared<std::mt19937_64>(1);
    options.entropy = [rng](std::span<uint8_t> out) {
      for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
    };
    options.retention.max_entries_per_channel = 256;
    auto log = sds::catchup::MemoryChannelLog::Create(std::move(options));
    if (!log.ok()) std::abort();
    auto created = Node::Create(config, std::shared_ptr<sds::catchup::ChannelLog>(std::move(*log)));
    if (!created.ok()) std::abort();
    return created->release();
  }();
  return *node;
}

void Check(const sds::node::HttpResponse& response) {
  const unsigned status = response.result_int();
  if (status >= 500) Fail("server error", status);
  if (status >= 400 && response.body().empty()) Fail("an error without a message", status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Node& node = TheNode();
  const auto& limits = node.config().limits;
  boost::asio::const_buffer input(data, size);
  for (int requests = 0; requests < 8 && input.size() > 0; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.eager(true);
    boost::beast::error_code ec;
    while (input.size() > 0 && !parser.is_done()) {
      const size_t used = parser.put(input, ec);
      input += used;
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (!ec && !parser.is_done()) {
      parser.put_eof(ec);  // the connection ends here
      if (!ec && !parser.is_done()) return 0;
    }
    if (ec) {
      // What Server answers for a parse error.
      Check(node.Error(400, sds::catchup::ServiceErrorCode::kBadRequest,
                       "malformed HTTP request: " + ec.message(), 11, true));
      return 0;
    }
    Check(node.Handle(parser.get(), "fuzz"));
  }
  return 0;
}
