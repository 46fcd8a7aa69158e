// AppendRelay: with a PostgreSQL log, the thread that listens for what the
// other nodes on the same database append (LISTEN/NOTIFY through
// PostgresAppendListener) and relays it to this node's subscribers
// (Node::RelayAppended). Notifications carry only a head seq; the entries
// are read from the log, so a lost or late notification costs latency, never
// an entry: a subscriber that sees a gap catches up from the log. After the
// listener reconnected, every channel is rescanned.
#ifndef SDS_NODE_SERVER_APPEND_RELAY_H_
#define SDS_NODE_SERVER_APPEND_RELAY_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "node.h"
#include "sds/postgres_channel_log.h"

namespace sds::node {

class AppendRelay {
 public:
  // Connects the listener (kPersistence when the database cannot be reached)
  // and starts the thread.
  static Result<std::unique_ptr<AppendRelay>> Start(const std::string& conninfo,
                                                    std::shared_ptr<Node> node);
  // Stops the thread (within one poll interval) and closes the connection.
  ~AppendRelay();
  AppendRelay(const AppendRelay&) = delete;
  AppendRelay& operator=(const AppendRelay&) = delete;

 private:
  AppendRelay(std::unique_ptr<catchup::PostgresAppendListener> listener,
              std::shared_ptr<Node> node);
  void Run();
  // Waits `timeout` unless stopped first; false when stopped.
  bool Pause(std::chrono::milliseconds timeout);

  std::unique_ptr<catchup::PostgresAppendListener> listener_;
  std::shared_ptr<Node> node_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_APPEND_RELAY_H_
