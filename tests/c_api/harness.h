/* The small harness the C ABI tests share: CHECK counters (the last line a
 * program prints is "N passed, N failed"), an event log per manager, one
 * request's result, and helpers for the common requests. C99. */
#ifndef SDS_TESTS_C_API_HARNESS_H_
#define SDS_TESTS_C_API_HARNESS_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "libsds.h"

extern int g_passed;
extern int g_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ++g_passed;                                                              \
    } else {                                                                   \
      ++g_failed;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_STR(actual, expected)                                                       \
  do {                                                                                    \
    const char* a_ = (actual);                                                            \
    const char* e_ = (expected);                                                          \
    if (a_ != NULL && strcmp(a_, e_) == 0) {                                              \
      ++g_passed;                                                                         \
    } else {                                                                              \
      ++g_failed;                                                                         \
      fprintf(stderr, "%s:%d: expected \"%s\"\n%*s got \"%s\"\n", __FILE__, __LINE__, e_, \
              (int)strlen(__FILE__) + 8, "", a_ ? a_ : "(null)");                         \
    }                                                                                     \
  } while (0)

#define CHECK_PREFIX(actual, prefix)                                                      \
  do {                                                                                    \
    const char* a_ = (actual);                                                            \
    const char* p_ = (prefix);                                                            \
    if (a_ != NULL && strncmp(a_, p_, strlen(p_)) == 0) {                                 \
      ++g_passed;                                                                         \
    } else {                                                                              \
      ++g_failed;                                                                         \
      fprintf(stderr, "%s:%d: expected a string starting \"%s\", got \"%s\"\n", __FILE__, \
              __LINE__, p_, a_ ? a_ : "(null)");                                          \
    }                                                                                     \
  } while (0)

#define TIMEOUT_MS 20000

#define MAX_EVENTS 512

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char* events[MAX_EVENTS];
  int rets[MAX_EVENTS];
  size_t count;
} EventLog;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  int ret;
  char* msg; /* copy, NUL-terminated; NULL if the library passed NULL */
  size_t len;
  const char* raw; /* the pointer the library passed, to check its lifetime */
  EventLog* log;   /* optional: events seen before the result */
  size_t events_before;
  pthread_t thread;
} Call;

typedef struct {
  void* ctx;
  EventLog log;
} Peer;

typedef struct {
  unsigned char* data;
  size_t len;
} Bytes;

void deadline_after(struct timespec* ts, long ms);

/* Virtual time (src/capi/test_clock.h), in the static build only: libsds.so
 * does not export the hook, so the shared build has none and skips the
 * tests that need it. */
int have_virtual_clock(void);

/* Switches every manager to a virtual clock at a fixed instant. */
void use_virtual_clock(void);

void use_system_clock(void);

/* Moves the virtual clock forward by ms, then waits until `peer`'s worker
 * has run every timer due by then (a request queued behind them returns). */
int advance(Peer* peer, long ms);

char* copy_bytes(const char* msg, size_t len);

void log_init(EventLog* log);

void log_free(EventLog* log);

void on_event(int ret, const char* msg, size_t len, void* user_data);

size_t log_count(EventLog* log);

/* Index of the first event at or after `from` equal to (exact) or starting
 * with (prefix) `text`, waiting up to timeout_ms; -1 if none came. */
long log_wait(EventLog* log, size_t from, const char* text, int prefix, long timeout_ms);

/* How many events from `from` on equal `text`. */
int log_occurrences(EventLog* log, size_t from, const char* text);

void call_init(Call* call, EventLog* log);

void call_free(Call* call);

void on_result(int ret, const char* msg, size_t len, void* user_data);

/* Waits for the callback; returns the number of calls seen (1 expected). */
int call_wait(Call* call);

/* Creates a manager (config NULL: SdsNewReliabilityManager) with an event log. */
int peer_open(Peer* peer, const char* participant, const char* config);

void peer_close(Peer* peer);

/* Parses nim-sds's wrap result "10,2,109" into bytes. */
Bytes parse_csv(const char* csv);

/* Wraps `content` (a string) and returns the wire bytes; len 0 on failure. */
Bytes wrap(Peer* peer, const char* content, const char* id, const char* channel);

/* Unwraps `wire`; `call` (initialised by the caller) receives the result. */
int unwrap(Peer* peer, Bytes wire, Call* call);

int start_periodic(Peer* peer);

char* base64(const unsigned char* data, size_t len);

#endif /* SDS_TESTS_C_API_HARNESS_H_ */
