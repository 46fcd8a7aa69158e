// The bench/engine_bench.cc conversation through the C ABI (libsds.so), as an
// application on nim-sds's libsds.h runs it: alice wraps N messages of ~30
// bytes, bob unwraps each, and every 10th message bob replies and alice
// unwraps the reply. Every call is awaited (its result callback has fired)
// before the next is made, and each wrap result, nim-sds's comma-separated
// decimal bytes, is parsed back into bytes before it is handed to the peer:
// the consumer's side of the format is part of the cost.
//
//   sds_capi_bench [N] [nim|spec] [rightSized|fixed]
//
// Prints one JSON line: implementation, n, seconds, messagesPerSecond (alice's
// messages per wall-clock second) and bytesPerMessage (mean wire size of the
// content messages both sides sent).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "capi/decimal_csv_parse.h"
#include "libsds.h"

namespace {

// One request's result, waited for on the calling thread.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int ret = RET_OK;
  std::string text;

  static void Callback(int ret, const char* msg, size_t len, void* user_data) {
    auto* self = static_cast<Pending*>(user_data);
    std::lock_guard<std::mutex> lock(self->mu);
    self->ret = ret;
    self->text.assign(msg != nullptr ? msg : "", msg != nullptr ? len : 0);
    self->done = true;
    self->cv.notify_one();
  }

  // Waits for the callback of a call that returned `dispatched`.
  std::string Wait(int dispatched, const char* what) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    done = false;
    if (dispatched != RET_OK || ret != RET_OK) {
      std::fprintf(stderr, "%s failed: %s\n", what, text.c_str());
      std::exit(1);
    }
    return std::move(text);
  }
};

void IgnoreEvent(int, const char*, size_t, void*) {}

struct Party {
  void* ctx = nullptr;
  Pending pending;
};

void Create(Party& party, const char* name, const std::string& config) {
  party.ctx =
      SdsNewReliabilityManagerWithConfig(name, config.c_str(), Pending::Callback, &party.pending);
  if (party.ctx == nullptr) {
    std::fprintf(stderr, "cannot create %s: %s\n", name, party.pending.text.c_str());
    std::exit(1);
  }
  SdsSetEventCallback(party.ctx, IgnoreEvent, nullptr);
}

std::string Payload(const char* who, long index) {
  char text[64];
  std::snprintf(text, sizeof text, "%s message %08ld, hi!", who, index);
  return text;
}

// from wraps `payload`; to unwraps it. Returns the wire size.
size_t Send(Party& from, Party& to, const std::string& payload, const std::string& id) {
  int rc = SdsWrapOutgoingMessage(from.ctx, const_cast<char*>(payload.data()), payload.size(),
                                  id.c_str(), "bench", Pending::Callback, &from.pending);
  const std::string csv = from.pending.Wait(rc, "SdsWrapOutgoingMessage");
  std::optional<std::vector<uint8_t>> wire = sds::capi::ParseDecimalCsv(csv);
  if (!wire) {
    std::fprintf(stderr, "the wrap result is not decimal bytes\n");
    std::exit(1);
  }
  rc = SdsUnwrapReceivedMessage(to.ctx, wire->data(), wire->size(), Pending::Callback, &to.pending);
  to.pending.Wait(rc, "SdsUnwrapReceivedMessage");
  return wire->size();
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 2000;
  const std::string dialect = argc > 2 ? argv[2] : "nim";
  const std::string wire_size = argc > 3 ? argv[3] : "rightSized";
  if (n < 1 || (dialect != "nim" && dialect != "spec") ||
      (wire_size != "rightSized" && wire_size != "fixed")) {
    std::fprintf(stderr, "usage: sds_capi_bench [N] [nim|spec] [rightSized|fixed]\n");
    return 2;
  }
  const std::string config = "{\"dialect\":\"" + dialect +
                             "\",\"detailedErrors\":true,\"bloomWireSize\":\"" + wire_size + "\"}";
  Party alice, bob;
  Create(alice, "alice", config);
  Create(bob, "bob", config);

  size_t messages = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    bytes += Send(alice, bob, Payload("alice", i), "alice-" + std::to_string(i));
    ++messages;
    if ((i + 1) % 10 == 0) {
      bytes += Send(bob, alice, Payload("bob", i), "bob-" + std::to_string(i));
      ++messages;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (Party* party : {&alice, &bob}) {
    SdsCleanupReliabilityManager(party->ctx, Pending::Callback, &party->pending);
  }
  std::printf(
      "{\"implementation\":\"sds C ABI (%s, %s)\",\"n\":%ld,\"seconds\":%.3f,"
      "\"messagesPerSecond\":%.1f,\"bytesPerMessage\":%.1f}\n",
      dialect.c_str(), wire_size.c_str(), n, seconds, static_cast<double>(n) / seconds,
      static_cast<double>(bytes) / static_cast<double>(messages));
  return 0;
}
