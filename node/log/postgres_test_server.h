// A throw-away PostgreSQL server for the tests: initdb into a temporary
// directory, listening only on a unix socket in that directory, started on
// first use (once per test binary) and stopped when the test program ends
// (a GoogleTest global environment), whatever the tests' outcome.
//
// Uses the server binaries of Debian's `postgresql` package
// (/usr/lib/postgresql/<version>/bin, or $SDS_PG_BINDIR); when run as root
// the server runs as the `postgres` user. Each test takes a fresh database
// (CreateDatabase()), so tests never see each other's tables or
// notifications.
#ifndef SDS_NODE_LOG_POSTGRES_TEST_SERVER_H_
#define SDS_NODE_LOG_POSTGRES_TEST_SERVER_H_

#include <string>

namespace sds::catchup::testing {

class PostgresTestServer {
 public:
  // The shared server, started if needed. Null, with `error` set, when it
  // cannot be started (binaries missing, initdb or pg_ctl failed).
  static PostgresTestServer* Shared(std::string* error);

  // A new, empty database; its libpq connection string, or "" (and `error`).
  std::string CreateDatabase(std::string* error);
  // The connection string of database `dbname`.
  std::string Conninfo(const std::string& dbname) const;
  // Runs `sql` on the database of `conninfo`; "" or the error.
  static std::string Execute(const std::string& conninfo, const std::string& sql);

  // Stops / starts the server process (same directory, same socket): for
  // tests of connection failures.
  bool Stop(std::string* error);
  bool Start(std::string* error);
  bool running() const { return running_; }

  // Stops the server and removes its directory.
  void Shutdown();

 private:
  bool Init(std::string* error);
  bool Run(const std::string& command, const std::string& what, std::string* error) const;

  std::string bindir_;
  std::string dir_;
  std::string run_as_;  // "runuser -u postgres -- " when root
  bool running_ = false;
  int next_database_ = 0;
};

}  // namespace sds::catchup::testing

#endif  // SDS_NODE_LOG_POSTGRES_TEST_SERVER_H_
