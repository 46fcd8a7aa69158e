// The real sds-node binary (SDS_NODE_BINARY) as a child process, for the
// tests that need a process boundary: SIGTERM and SIGKILL, restarts, several
// nodes on one database. Its stdout is a pipe; WaitForPort reads the
// "listening on host:port" line the node prints once it accepts connections.
#ifndef SDS_NODE_SERVER_NODE_PROCESS_H_
#define SDS_NODE_SERVER_NODE_PROCESS_H_

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "node_test_util.h"

namespace sds::node::testing {

class NodeProcess {
 public:
  explicit NodeProcess(const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      std::string binary = SDS_NODE_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = out[0];
  }
  ~NodeProcess() {
    if (pid_ > 0 && !exited_) Kill();
    if (stdout_ >= 0) close(stdout_);
  }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // The port from "listening on host:port" on the node's stdout; 0 when the
  // node exited or said nothing within the safety timeout.
  uint16_t WaitForPort() {
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, kSafetyTimeoutS * 1000) <= 0) return 0;
      char buffer[256];
      const ssize_t n = read(stdout_, buffer, sizeof buffer);
      if (n <= 0) return 0;
      line.append(buffer, static_cast<size_t>(n));
    }
    const size_t colon = line.rfind(':');
    if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) return 0;
    return static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  }

  // SIGTERM, then the exit status.
  int Terminate() { return Signal(SIGTERM); }
  // SIGKILL: the process dies at whatever instruction it is on.
  void Kill() { Signal(SIGKILL); }

 private:
  int Signal(int signal) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
};

}  // namespace sds::node::testing

#endif  // SDS_NODE_SERVER_NODE_PROCESS_H_
