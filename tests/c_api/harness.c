/* The shared C ABI test harness (see harness.h). */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdlib.h>

#ifdef SDS_TEST_VIRTUAL_CLOCK
#include "capi/test_clock.h"
#endif

int g_passed = 0;
int g_failed = 0;
/* ---- Harness ------------------------------------------------------------ */

/* Generous: the test also runs under valgrind and ThreadSanitizer. */

void deadline_after(struct timespec* ts, long ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += 1;
    ts->tv_nsec -= 1000000000L;
  }
}

int have_virtual_clock(void) {
#ifdef SDS_TEST_VIRTUAL_CLOCK
  return 1;
#else
  return 0;
#endif
}

void use_virtual_clock(void) {
#ifdef SDS_TEST_VIRTUAL_CLOCK
  sds_capi_test_use_virtual_clock(INT64_C(1700000000000));
#endif
}

void use_system_clock(void) {
#ifdef SDS_TEST_VIRTUAL_CLOCK
  sds_capi_test_use_system_clock();
#endif
}

int advance(Peer* peer, long ms) {
#ifdef SDS_TEST_VIRTUAL_CLOCK
  Call barrier;
  int ok;
  sds_capi_test_advance_virtual_clock(ms);
  /* Removing a channel that never existed changes nothing and answers
   * RET_OK; the worker runs the timers due by now before it takes it. */
  call_init(&barrier, NULL);
  ok = SdsRemoveChannel(peer->ctx, "sds-test-barrier", on_result, &barrier) == RET_OK &&
       call_wait(&barrier) == 1 && barrier.ret == RET_OK;
  call_free(&barrier);
  return ok;
#else
  (void)peer;
  (void)ms;
  return 0;
#endif
}

char* copy_bytes(const char* msg, size_t len) {
  char* out = malloc(len + 1);
  if (len > 0) memcpy(out, msg, len);
  out[len] = '\0';
  return out;
}

/* ---- Event log: every event of one manager, in arrival order ------------- */

void log_init(EventLog* log) {
  pthread_mutex_init(&log->mu, NULL);
  pthread_cond_init(&log->cv, NULL);
  log->count = 0;
}

void log_free(EventLog* log) {
  size_t i;
  for (i = 0; i < log->count; ++i) free(log->events[i]);
  pthread_mutex_destroy(&log->mu);
  pthread_cond_destroy(&log->cv);
}

void on_event(int ret, const char* msg, size_t len, void* user_data) {
  EventLog* log = user_data;
  pthread_mutex_lock(&log->mu);
  if (log->count < MAX_EVENTS) {
    log->rets[log->count] = ret;
    log->events[log->count++] = copy_bytes(msg, len);
  }
  pthread_cond_broadcast(&log->cv);
  pthread_mutex_unlock(&log->mu);
}

size_t log_count(EventLog* log) {
  size_t n;
  pthread_mutex_lock(&log->mu);
  n = log->count;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* Index of the first event at or after `from` equal to (exact) or starting
 * with (prefix) `text`, waiting up to timeout_ms; -1 if none came. */
long log_wait(EventLog* log, size_t from, const char* text, int prefix, long timeout_ms) {
  struct timespec deadline;
  long found = -1;
  size_t i = from;
  deadline_after(&deadline, timeout_ms);
  pthread_mutex_lock(&log->mu);
  for (;;) {
    for (; i < log->count; ++i) {
      const char* e = log->events[i];
      if (prefix ? strncmp(e, text, strlen(text)) == 0 : strcmp(e, text) == 0) {
        found = (long)i;
        break;
      }
    }
    if (found >= 0) break;
    if (pthread_cond_timedwait(&log->cv, &log->mu, &deadline) != 0) break;
  }
  pthread_mutex_unlock(&log->mu);
  return found;
}

/* How many events from `from` on equal `text`. */
int log_occurrences(EventLog* log, size_t from, const char* text) {
  int n = 0;
  size_t i;
  pthread_mutex_lock(&log->mu);
  for (i = from; i < log->count; ++i) n += strcmp(log->events[i], text) == 0;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* ---- Calls: one request's result --------------------------------------- */

void call_init(Call* call, EventLog* log) {
  memset(call, 0, sizeof *call);
  pthread_mutex_init(&call->mu, NULL);
  pthread_cond_init(&call->cv, NULL);
  call->log = log;
}

void call_free(Call* call) {
  free(call->msg);
  pthread_mutex_destroy(&call->mu);
  pthread_cond_destroy(&call->cv);
}

void on_result(int ret, const char* msg, size_t len, void* user_data) {
  Call* call = user_data;
  size_t before = call->log ? log_count(call->log) : 0;
  pthread_mutex_lock(&call->mu);
  if (call->calls == 0) {
    call->ret = ret;
    call->msg = msg ? copy_bytes(msg, len) : NULL;
    call->len = len;
    call->raw = msg;
    call->events_before = before;
    call->thread = pthread_self();
  }
  ++call->calls;
  pthread_cond_broadcast(&call->cv);
  pthread_mutex_unlock(&call->mu);
}

/* Waits for the callback; returns the number of calls seen (1 expected). */
int call_wait(Call* call) {
  struct timespec deadline;
  int calls;
  deadline_after(&deadline, TIMEOUT_MS);
  pthread_mutex_lock(&call->mu);
  while (call->calls == 0) {
    if (pthread_cond_timedwait(&call->cv, &call->mu, &deadline) != 0) break;
  }
  calls = call->calls;
  pthread_mutex_unlock(&call->mu);
  return calls;
}

/* ---- Managers and requests ------------------------------------------------ */

/* Creates a manager (config NULL: SdsNewReliabilityManager) with an event log. */
int peer_open(Peer* peer, const char* participant, const char* config) {
  Call created;
  int ok;
  call_init(&created, NULL);
  log_init(&peer->log);
  if (participant == NULL && config == NULL) {
    peer->ctx = SdsNewReliabilityManager(on_result, &created);
  } else {
    peer->ctx = SdsNewReliabilityManagerWithConfig(participant, config, on_result, &created);
  }
  ok = peer->ctx != NULL && call_wait(&created) == 1 && created.ret == RET_OK && created.len == 0 &&
       created.msg != NULL && created.msg[0] == '\0';
  if (peer->ctx != NULL) SdsSetEventCallback(peer->ctx, on_event, &peer->log);
  call_free(&created);
  return ok;
}

void peer_close(Peer* peer) {
  Call done;
  call_init(&done, NULL);
  CHECK(SdsCleanupReliabilityManager(peer->ctx, on_result, &done) == RET_OK);
  CHECK(done.calls == 1 && done.ret == RET_OK && done.msg == NULL && done.len == 0);
  call_free(&done);
  log_free(&peer->log);
}

/* Parses nim-sds's wrap result "10,2,109" into bytes. */
Bytes parse_csv(const char* csv) {
  Bytes out;
  const char* p = csv;
  size_t cap = strlen(csv) / 2 + 1;
  out.data = malloc(cap);
  out.len = 0;
  while (*p != '\0') {
    char* end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || v > 255) break;
    out.data[out.len++] = (unsigned char)v;
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

/* Wraps `content` (a string) and returns the wire bytes; len 0 on failure. */
Bytes wrap(Peer* peer, const char* content, const char* id, const char* channel) {
  Call call;
  Bytes out = {NULL, 0};
  call_init(&call, &peer->log);
  if (SdsWrapOutgoingMessage(peer->ctx, (void*)content, strlen(content), id, channel, on_result,
                             &call) == RET_OK &&
      call_wait(&call) == 1 && call.ret == RET_OK) {
    out = parse_csv(call.msg);
  } else {
    fprintf(stderr, "wrap %s failed: %s\n", id, call.msg ? call.msg : "(no result)");
  }
  call_free(&call);
  return out;
}

/* Unwraps `wire`; `call` (initialised by the caller) receives the result. */
int unwrap(Peer* peer, Bytes wire, Call* call) {
  return SdsUnwrapReceivedMessage(peer->ctx, wire.data, wire.len, on_result, call) == RET_OK &&
         call_wait(call) == 1;
}

int start_periodic(Peer* peer) {
  Call call;
  int ok;
  call_init(&call, &peer->log);
  ok = SdsStartPeriodicTasks(peer->ctx, on_result, &call) == RET_OK && call_wait(&call) == 1 &&
       call.ret == RET_OK;
  call_free(&call);
  return ok;
}

char* base64(const unsigned char* data, size_t len) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char* out = malloc((len + 2) / 3 * 4 + 1);
  size_t i, o = 0;
  for (i = 0; i < len; i += 3) {
    unsigned long n = (unsigned long)data[i] << 16;
    if (i + 1 < len) n |= (unsigned long)data[i + 1] << 8;
    if (i + 2 < len) n |= data[i + 2];
    out[o++] = kAlphabet[(n >> 18) & 63];
    out[o++] = kAlphabet[(n >> 12) & 63];
    out[o++] = i + 1 < len ? kAlphabet[(n >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? kAlphabet[n & 63] : '=';
  }
  out[o] = '\0';
  return out;
}
