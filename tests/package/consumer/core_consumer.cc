// Two engines on an installed sds::core: one wraps, the other, persisting to
// an SQLite store (sds::sqlite), unwraps and delivers. Exits non-zero with a
// message on any failure.
#include <cstdio>
#include <memory>
#include <string>

#include "sds/config.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "core_consumer: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return Fail("usage: core_consumer <database path>");
  const sds::Timestamp now = sds::TimestampFromUnixMillis(1'700'000'000'000);
  const std::string text = "hello through an installed sds";
  const sds::Bytes content(text.begin(), text.end());

  for (sds::Dialect dialect : {sds::Dialect::kNim, sds::Dialect::kSpec}) {
    sds::Config config = sds::Config::ForDialect(dialect);
    auto sender = sds::ReliabilityManager::Create(config);
    if (!sender.ok()) return Fail("Create: " + sender.status().ToString());
    auto store = sds::SqliteStore::Open(argv[1]);
    if (!store.ok()) return Fail("SqliteStore::Open: " + store.status().ToString());
    auto receiver = sds::ReliabilityManager::Create(config, *store);
    if (!receiver.ok()) return Fail("Create with store: " + receiver.status().ToString());

    // The receiver subscribes to the channel: by default a manager does not
    // let peers create channels.
    if (auto subscribed = (*receiver)->EnsureChannel("channel"); !subscribed.ok()) {
      return Fail("EnsureChannel: " + subscribed.ToString());
    }
    const std::string id = dialect == sds::Dialect::kNim ? "nim-1" : "spec-1";
    auto wire = (*sender)->Wrap("channel", content, id, now);
    if (!wire.ok()) return Fail("Wrap: " + wire.status().ToString());
    auto result = (*receiver)->Unwrap(*wire, now);
    if (!result.ok()) return Fail("Unwrap: " + result.status().ToString());
    if (result->outcome != sds::UnwrapOutcome::kDelivered || result->message_id != id) {
      return Fail("the message was not delivered");
    }
  }
  std::puts("core_consumer: ok");
  return 0;
}
