// Server: sds-node's network side. One TCP port speaks HTTP/1.1 (keep-alive,
// one request at a time per connection) and, on /v1/subscribe, WebSocket;
// every request goes to Node::Handle (node.h). A pool of threads runs one
// io_context; each connection runs on its own strand.
//
// Limits (NodeConfig::limits): the request parser's body and header limits
// (413 / 431, then the connection is closed), max_connections (503 and close),
// idle timeouts (HTTP keep-alive, WebSocket with pings), the rate limiter
// (429; also for WebSocket upgrades).
//
// Stop(): stop accepting, healthz answers 503, idle keep-alive connections
// are closed, a request being read or answered finishes (its response says
// Connection: close), WebSockets get a close frame 1001 "going away"; after
// shutdown_grace_ms whatever is left is dropped. Then the threads are joined.
// The log is closed by whoever owns the Node, after the Server is gone.
#ifndef SDS_NODE_SERVER_SERVER_H_
#define SDS_NODE_SERVER_SERVER_H_

#include <cstdint>
#include <memory>

#include "node.h"

namespace sds::node {

class Server {
 public:
  // Binds config().listen_address:port and starts the threads. kInvalidArgument
  // for an unusable address, kInternal when the port cannot be bound.
  static Result<std::unique_ptr<Server>> Start(std::shared_ptr<Node> node);
  ~Server();  // Stop()

  // The bound port (the ephemeral one when the config said 0).
  uint16_t port() const;
  // Graceful shutdown as above; idempotent; blocks until the threads are gone.
  void Stop();

  Node& node();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_SERVER_H_
