// A child `node peer.mjs` process: the reference @waku/sds implementation,
// driven one JSON command at a time (see peer.mjs for the commands).
//
// The peer runs as a separate process so that the tests exercise the real
// library, byte for byte, rather than a model of it. Every call waits for the
// answer with a deadline: a peer that hangs or dies fails the test instead of
// stalling the suite.
#ifndef SDS_TESTS_INTEROP_NODE_PEER_H_
#define SDS_TESTS_INTEROP_NODE_PEER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "sds/status.h"

namespace sds::interop {

class NodePeer {
 public:
  // Starts `node_executable` (a path, or a name looked up in PATH) running
  // `<interop_dir>/peer.mjs`, where `interop_dir` also holds node_modules with
  // @waku/sds installed. kInvalidArgument, with what to do about it, when the
  // script or the package is missing or node cannot be started.
  static Result<std::unique_ptr<NodePeer>> Start(const std::string& node_executable,
                                                 const std::string& interop_dir);

  // Kills the child (it holds no state worth a graceful exit) and reaps it.
  ~NodePeer();
  NodePeer(const NodePeer&) = delete;
  NodePeer& operator=(const NodePeer&) = delete;

  // Sends one command and returns the peer's answer, whatever its "ok" says.
  // kInternal when the peer exits, answers something that is not JSON, or
  // does not answer within `timeout`; the message then ends with the tail of
  // the peer's stderr, which is where node reports why it failed.
  Result<nlohmann::json> Call(const nlohmann::json& command,
                              std::chrono::milliseconds timeout = std::chrono::seconds{30});

 private:
  NodePeer(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd);

  Status WriteAll(const std::string& data);
  // Reads from stdout and stderr until a full line is on stdout or the
  // deadline passes.
  Result<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  void DrainStderr(int fd_ready);
  Status Failure(const std::string& what) const;

  pid_t pid_;
  int stdin_fd_;   // our end of the child's stdin (a socket, see Start)
  int stdout_fd_;  // our end of the child's stdout
  int stderr_fd_;  // our end of the child's stderr
  std::string stdout_buffer_;
  std::string stderr_tail_;  // the last few KB, for error messages
  bool exited_ = false;
};

}  // namespace sds::interop

#endif  // SDS_TESTS_INTEROP_NODE_PEER_H_
