#include "tests/interop/node_peer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

extern char** environ;

namespace sds::interop {
namespace {

constexpr size_t kStderrTailBytes = 8 * 1024;

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status(ErrorCode::kInternal, ErrnoText("fcntl"));
  }
  return Status::Ok();
}

int MillisUntil(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Closes whichever descriptors are still open when Start gives up half way.
struct FdCloser {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  ~FdCloser() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int Release(int index) { return std::exchange(fds[index], -1); }
};

}  // namespace

Result<std::unique_ptr<NodePeer>> NodePeer::Start(const std::string& node_executable,
                                                  const std::string& interop_dir) {
  namespace fs = std::filesystem;
  const fs::path script = fs::path(interop_dir) / "peer.mjs";
  const fs::path package =
      fs::path(interop_dir) / "node_modules" / "@waku" / "sds" / "package.json";
  if (!fs::exists(script)) {
    return Status(ErrorCode::kInvalidArgument,
                  script.string() + " does not exist: re-run cmake, which copies it there");
  }
  if (!fs::exists(package)) {
    return Status(ErrorCode::kInvalidArgument,
                  "@waku/sds is not installed in " + interop_dir +
                      ": run the CTest fixture (ctest -R sds_interop_npm_ci) or `npm ci` there; "
                      "it needs Node.js >= 18 and npm");
  }

  // stdin is a socket rather than a pipe so that writing to a peer that died
  // can use MSG_NOSIGNAL: a pipe would raise SIGPIPE and kill the test binary.
  FdCloser fds;  // 0,1: stdin socket (ours, child's); 2,3: stdout pipe; 4,5: stderr pipe
  int stdin_pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_pair) < 0) {
    return Status(ErrorCode::kInternal, ErrnoText("socketpair"));
  }
  fds.fds[0] = stdin_pair[0];
  fds.fds[1] = stdin_pair[1];
  int stdout_pipe[2];
  if (pipe2(stdout_pipe, O_CLOEXEC) < 0) return Status(ErrorCode::kInternal, ErrnoText("pipe2"));
  fds.fds[2] = stdout_pipe[0];
  fds.fds[3] = stdout_pipe[1];
  int stderr_pipe[2];
  if (pipe2(stderr_pipe, O_CLOEXEC) < 0) return Status(ErrorCode::kInternal, ErrnoText("pipe2"));
  fds.fds[4] = stderr_pipe[0];
  fds.fds[5] = stderr_pipe[1];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_pair[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stdout_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_pipe[1], STDERR_FILENO);

  std::string script_path = script.string();
  std::string program = node_executable;
  char* argv[] = {program.data(), script_path.data(), nullptr};
  pid_t pid = -1;
  int spawn_error = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot start '" + node_executable + "': " + std::strerror(spawn_error) +
                      " (the interop tests need Node.js >= 18 on PATH)");
  }
  close(fds.Release(1));
  close(fds.Release(3));
  close(fds.Release(5));

  auto peer =
      std::unique_ptr<NodePeer>(new NodePeer(pid, fds.Release(0), fds.Release(2), fds.Release(4)));
  for (int fd : {peer->stdin_fd_, peer->stdout_fd_, peer->stderr_fd_}) {
    SDS_RETURN_IF_ERROR(SetNonBlocking(fd));
  }

  // Fail here, saying why, rather than later with empty event lists: 'hello'
  // reports node's version and whether @waku/sds's events reach listeners.
  Result<nlohmann::json> hello = peer->Call({{"cmd", "hello"}}, std::chrono::seconds{60});
  if (!hello.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + node_executable + " " + script_path +
                      "' started but never answered 'hello': " + hello.status().message());
  }
  if (!hello->value("ok", false)) {
    return Status(ErrorCode::kInvalidArgument,
                  "peer.mjs cannot drive @waku/sds: " + hello->value("error", hello->dump()));
  }
  const std::string version = hello->value("node", "");
  int major = 0;
  if (version.size() > 1 && version[0] == 'v') major = std::atoi(version.c_str() + 1);
  if (major < 18) {
    return Status(ErrorCode::kInvalidArgument, "'" + node_executable + "' is Node.js '" + version +
                                                   "'; the interop tests need Node.js >= 18");
  }
  return peer;
}

NodePeer::NodePeer(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd)
    : pid_(pid), stdin_fd_(stdin_fd), stdout_fd_(stdout_fd), stderr_fd_(stderr_fd) {}

NodePeer::~NodePeer() {
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  close(stdin_fd_);
  close(stdout_fd_);
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

Result<nlohmann::json> NodePeer::Call(const nlohmann::json& command,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string cmd = command.value("cmd", std::string("?"));
  SDS_RETURN_IF_ERROR(WriteAll(command.dump() + "\n"));
  Result<std::string> line = ReadLine(deadline);
  if (!line.ok()) {
    return Status(line.status().code(), "'" + cmd + "': " + line.status().message());
  }
  nlohmann::json answer = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return Failure("'" + cmd + "': the peer answered with something other than a JSON object: " +
                   line->substr(0, 200));
  }
  return answer;
}

Status NodePeer::WriteAll(const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = send(stdin_fd_, data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n >= 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The peer reads every line as it arrives, so a full socket only means
      // it is busy; wait for room (a dead peer shows up as an error instead).
      pollfd out{stdin_fd_, POLLOUT, 0};
      poll(&out, 1, 1000);
      continue;
    }
    return Failure(ErrnoText("writing to the peer"));
  }
  return Status::Ok();
}

Result<std::string> NodePeer::ReadLine(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    size_t newline = stdout_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (exited_) return Failure("the peer exited");

    pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
    int ready = poll(fds, 2, MillisUntil(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Failure(ErrnoText("poll"));
    }
    if (ready == 0) return Failure("no answer before the deadline");
    if (fds[1].revents != 0) DrainStderr(stderr_fd_);
    if (fds[0].revents != 0) {
      char chunk[64 * 1024];
      ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
      if (n > 0) {
        stdout_buffer_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        exited_ = true;
        // Collect what node said on its way out before reporting.
        if (stderr_fd_ >= 0) DrainStderr(stderr_fd_);
      } else if (errno != EINTR && errno != EAGAIN) {
        return Failure(ErrnoText("reading from the peer"));
      }
    }
  }
}

void NodePeer::DrainStderr(int fd_ready) {
  char chunk[16 * 1024];
  for (;;) {
    ssize_t n = read(fd_ready, chunk, sizeof chunk);
    if (n > 0) {
      stderr_tail_.append(chunk, static_cast<size_t>(n));
      if (stderr_tail_.size() > kStderrTailBytes) {
        stderr_tail_.erase(0, stderr_tail_.size() - kStderrTailBytes);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      // EOF: stop polling it (poll ignores negative descriptors).
      close(stderr_fd_);
      stderr_fd_ = -1;
    }
    return;
  }
}

Status NodePeer::Failure(const std::string& what) const {
  std::string message = what;
  if (!stderr_tail_.empty()) message += "; node's stderr ends with:\n" + stderr_tail_;
  return Status(ErrorCode::kInternal, message);
}

}  // namespace sds::interop
