#include "postgres_test_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace sds::catchup::testing {
namespace {

std::string FindBindir() {
  if (const char* env = std::getenv("SDS_PG_BINDIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(entry.path() / "bin" / "initdb") &&
        std::filesystem::exists(entry.path() / "bin" / "pg_ctl")) {
      found.push_back(entry.path() / "bin");
    }
  }
  if (found.empty()) return "";
  // The newest version (directory names are major versions).
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::atoi(a.parent_path().filename().c_str()) <
           std::atoi(b.parent_path().filename().c_str());
  });
  return found.back().string();
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

// Servers of test programs that crashed (no TearDown, no atexit) would run
// for ever: each directory names its owner's pid, and a directory whose owner
// is gone is stopped and removed by the next test program.
void ReapOrphans(const std::string& bindir, const std::string& run_as) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("sds_pg_", 0) != 0) continue;
    std::ifstream owner_file(entry.path() / "owner.pid");
    long owner = 0;
    if (!(owner_file >> owner) || owner <= 0) continue;
    if (kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
    std::string data = (entry.path() / "data").string();
    if (std::filesystem::exists(data + "/postmaster.pid")) {
      std::string command =
          run_as + bindir + "/pg_ctl -D " + data + " -m immediate -w stop" + " >/dev/null 2>&1";
      if (std::system(command.c_str()) != 0) continue;
    }
    std::filesystem::remove_all(entry.path(), ec);
  }
}

PostgresTestServer* g_server = nullptr;

// Stops the shared server after the last test, passed or failed.
class StopServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_server != nullptr) g_server->Shutdown();
  }
};
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new StopServerEnvironment);

}  // namespace

PostgresTestServer* PostgresTestServer::Shared(std::string* error) {
  static std::string init_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    auto server = std::make_unique<PostgresTestServer>();
    if (server->Init(&init_error)) {
      g_server = server.release();
      // Also when the program ends without the environment's TearDown
      // (exit() from a test).
      std::atexit([] {
        if (g_server != nullptr) g_server->Shutdown();
      });
    }
  }
  if (g_server == nullptr) *error = init_error;
  return g_server;
}

bool PostgresTestServer::Run(const std::string& command, const std::string& what,
                             std::string* error) const {
  std::string log = dir_ + "/" + what + ".log";
  int rc = std::system((command + " >" + log + " 2>&1").c_str());
  if (rc == 0) return true;
  *error = what + " failed (exit " + std::to_string(rc) + "): " + command + "\n" + Tail(log);
  return false;
}

bool PostgresTestServer::Init(std::string* error) {
  bindir_ = FindBindir();
  if (bindir_.empty() || !std::filesystem::exists(bindir_ + "/initdb") ||
      !std::filesystem::exists(bindir_ + "/pg_ctl")) {
    *error = "PostgreSQL server binaries (initdb, pg_ctl) not found in " +
             (bindir_.empty() ? std::string("/usr/lib/postgresql/*/bin") : bindir_) +
             " (install Debian's `postgresql` package, see scripts/bootstrap.sh, or set "
             "SDS_PG_BINDIR)";
    return false;
  }
  char templ[] = "/tmp/sds_pg_XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    *error = "cannot create a temporary directory";
    return false;
  }
  dir_ = templ;
  {
    std::ofstream owner(dir_ + "/owner.pid");
    owner << getpid() << "\n";
  }
  if (geteuid() == 0) {
    // initdb refuses to run as root.
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      *error = "running as root, but there is no `postgres` user to run the server as";
      return false;
    }
    run_as_ = "runuser -u postgres -- ";
  }
  ReapOrphans(bindir_, run_as_);
  if (!Run(run_as_ + bindir_ + "/initdb -D " + dir_ + "/data -U postgres -A trust -E UTF8" +
               " --no-sync --no-instructions",
           "initdb", error)) {
    return false;
  }
  return Start(error);
}

bool PostgresTestServer::Start(std::string* error) {
  // Unix socket only, in our directory; no fsync (a test server need not
  // survive power loss).
  if (!Run(run_as_ + bindir_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
               "/server.log -w -t 60 -o \"-k " + dir_ +
               " -c listen_addresses='' -F -c max_connections=100\" start",
           "pg_ctl_start", error)) {
    *error += "\nserver log:\n" + Tail(dir_ + "/server.log");
    return false;
  }
  running_ = true;
  return true;
}

bool PostgresTestServer::Stop(std::string* error) {
  if (!Run(run_as_ + bindir_ + "/pg_ctl -D " + dir_ + "/data -w -t 60 -m fast stop", "pg_ctl_stop",
           error)) {
    return false;
  }
  running_ = false;
  return true;
}

void PostgresTestServer::Shutdown() {
  std::string error;
  if (running_ && !Stop(&error)) {
    // Last resort: the server must not outlive the tests.
    Run(run_as_ + bindir_ + "/pg_ctl -D " + dir_ + "/data -m immediate stop", "pg_ctl_kill",
        &error);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  dir_.clear();
}

std::string PostgresTestServer::Conninfo(const std::string& dbname) const {
  return "host=" + dir_ + " port=5432 user=postgres dbname=" + dbname;
}

std::string PostgresTestServer::Execute(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = std::string("connect: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

std::string PostgresTestServer::CreateDatabase(std::string* error) {
  std::string name = "sds_test_" + std::to_string(next_database_++);
  // FILE_COPY: copying the (tiny) template is faster than WAL-logging it.
  std::string failed =
      Execute(Conninfo("postgres"), "CREATE DATABASE " + name + " STRATEGY = FILE_COPY");
  if (!failed.empty()) {
    *error = "CREATE DATABASE " + name + ": " + failed;
    return "";
  }
  return Conninfo(name);
}

}  // namespace sds::catchup::testing
