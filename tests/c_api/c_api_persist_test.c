/* Crash-safe storage through the C ABI ("storePath"), in C99 against
 * libsds.h only: a manager that is cleaned up, and one whose process is
 * killed with SIGKILL right after its results arrived, are both continued by
 * a new manager on the same file (unacknowledged messages are resent, history
 * recognises duplicates, waiting messages are delivered when their dependency
 * arrives, the Lamport clock continues). Also: one manager per file, unusable
 * paths fail creation cleanly, and reset empties the store.
 *
 * The last line is "N passed, N failed"; the exit status is non-zero on any
 * failure. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libsds.h"

/* ---- Harness ------------------------------------------------------------ */

static int g_passed = 0;
static int g_failed = 0;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (cond) {                                                               \
      ++g_passed;                                                             \
    } else {                                                                  \
      ++g_failed;                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)

#define CHECK_STR(actual, expected)                                                         \
  do {                                                                                      \
    const char* a_ = (actual);                                                              \
    const char* e_ = (expected);                                                            \
    if (a_ != NULL && strcmp(a_, e_) == 0) {                                                \
      ++g_passed;                                                                           \
    } else {                                                                                \
      ++g_failed;                                                                           \
      fprintf(stderr, "%s:%d: expected \"%s\"\n%*s got \"%s\"\n", __FILE__, __LINE__, e_, \
              (int)strlen(__FILE__) + 8, "", a_ ? a_ : "(null)");                           \
    }                                                                                       \
  } while (0)

#define CHECK_PREFIX(actual, prefix)                                                     \
  do {                                                                                   \
    const char* a_ = (actual);                                                           \
    const char* p_ = (prefix);                                                           \
    if (a_ != NULL && strncmp(a_, p_, strlen(p_)) == 0) {                                \
      ++g_passed;                                                                        \
    } else {                                                                             \
      ++g_failed;                                                                        \
      fprintf(stderr, "%s:%d: expected a string starting \"%s\", got \"%s\"\n", __FILE__, \
              __LINE__, p_, a_ ? a_ : "(null)");                                         \
    }                                                                                    \
  } while (0)

/* Generous: the test also runs under valgrind and ThreadSanitizer. */
#define TIMEOUT_MS 20000

static void deadline_after(struct timespec* ts, long ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += 1;
    ts->tv_nsec -= 1000000000L;
  }
}

static char* copy_bytes(const char* msg, size_t len) {
  char* out = malloc(len + 1);
  if (len > 0) memcpy(out, msg, len);
  out[len] = '\0';
  return out;
}

/* ---- Event log: every event of one manager, in arrival order ------------- */

#define MAX_EVENTS 512

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char* events[MAX_EVENTS];
  int rets[MAX_EVENTS];
  size_t count;
} EventLog;

static void log_init(EventLog* log) {
  pthread_mutex_init(&log->mu, NULL);
  pthread_cond_init(&log->cv, NULL);
  log->count = 0;
}

static void log_free(EventLog* log) {
  size_t i;
  for (i = 0; i < log->count; ++i) free(log->events[i]);
  pthread_mutex_destroy(&log->mu);
  pthread_cond_destroy(&log->cv);
}

static void on_event(int ret, const char* msg, size_t len, void* user_data) {
  EventLog* log = user_data;
  pthread_mutex_lock(&log->mu);
  if (log->count < MAX_EVENTS) {
    log->rets[log->count] = ret;
    log->events[log->count++] = copy_bytes(msg, len);
  }
  pthread_cond_broadcast(&log->cv);
  pthread_mutex_unlock(&log->mu);
}

static size_t log_count(EventLog* log) {
  size_t n;
  pthread_mutex_lock(&log->mu);
  n = log->count;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* Index of the first event at or after `from` equal to (exact) or starting
 * with (prefix) `text`, waiting up to timeout_ms; -1 if none came. */
static long log_wait(EventLog* log, size_t from, const char* text, int prefix, long timeout_ms) {
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
static int log_occurrences(EventLog* log, size_t from, const char* text) {
  int n = 0;
  size_t i;
  pthread_mutex_lock(&log->mu);
  for (i = from; i < log->count; ++i) n += strcmp(log->events[i], text) == 0;
  pthread_mutex_unlock(&log->mu);
  return n;
}

/* ---- Calls: one request's result --------------------------------------- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
  int ret;
  char* msg;        /* copy, NUL-terminated; NULL if the library passed NULL */
  size_t len;
  const char* raw;  /* the pointer the library passed, to check its lifetime */
  EventLog* log;    /* optional: events seen before the result */
  size_t events_before;
  pthread_t thread;
} Call;

static void call_init(Call* call, EventLog* log) {
  memset(call, 0, sizeof *call);
  pthread_mutex_init(&call->mu, NULL);
  pthread_cond_init(&call->cv, NULL);
  call->log = log;
}

static void call_free(Call* call) {
  free(call->msg);
  pthread_mutex_destroy(&call->mu);
  pthread_cond_destroy(&call->cv);
}

static void on_result(int ret, const char* msg, size_t len, void* user_data) {
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
static int call_wait(Call* call) {
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

typedef struct {
  void* ctx;
  EventLog log;
} Peer;

/* Creates a manager (config NULL: SdsNewReliabilityManager) with an event log. */
static int peer_open(Peer* peer, const char* participant, const char* config) {
  Call created;
  int ok;
  call_init(&created, NULL);
  log_init(&peer->log);
  if (participant == NULL && config == NULL) {
    peer->ctx = SdsNewReliabilityManager(on_result, &created);
  } else {
    peer->ctx = SdsNewReliabilityManagerWithConfig(participant, config, on_result, &created);
  }
  ok = peer->ctx != NULL && call_wait(&created) == 1 && created.ret == RET_OK &&
       created.len == 0 && created.msg != NULL && created.msg[0] == '\0';
  if (peer->ctx != NULL) SdsSetEventCallback(peer->ctx, on_event, &peer->log);
  call_free(&created);
  return ok;
}

static void peer_close(Peer* peer) {
  Call done;
  call_init(&done, NULL);
  CHECK(SdsCleanupReliabilityManager(peer->ctx, on_result, &done) == RET_OK);
  CHECK(done.calls == 1 && done.ret == RET_OK && done.msg == NULL && done.len == 0);
  call_free(&done);
  log_free(&peer->log);
}

typedef struct {
  unsigned char* data;
  size_t len;
} Bytes;

/* Parses nim-sds's wrap result "10,2,109" into bytes. */
static Bytes parse_csv(const char* csv) {
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
static Bytes wrap(Peer* peer, const char* content, const char* id, const char* channel) {
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
static int unwrap(Peer* peer, Bytes wire, Call* call) {
  return SdsUnwrapReceivedMessage(peer->ctx, wire.data, wire.len, on_result, call) == RET_OK &&
         call_wait(call) == 1;
}

static int start_periodic(Peer* peer) {
  Call call;
  int ok;
  call_init(&call, &peer->log);
  ok = SdsStartPeriodicTasks(peer->ctx, on_result, &call) == RET_OK && call_wait(&call) == 1 &&
       call.ret == RET_OK;
  call_free(&call);
  return ok;
}

static char* base64(const unsigned char* data, size_t len) {
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

/* ---- Wire bytes ------------------------------------------------------------ */

static int read_varint(const unsigned char* p, size_t len, size_t* pos, uint64_t* value) {
  int shift = 0;
  *value = 0;
  while (*pos < len && shift < 64) {
    unsigned char b = p[(*pos)++];
    *value |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return 1;
    shift += 7;
  }
  return 0;
}

/* Where the value of top-level varint field 2 (the Lamport timestamp) starts
 * and ends; 0 if the message has none. */
static int find_lamport(Bytes wire, size_t* begin, size_t* end, uint64_t* value) {
  size_t pos = 0;
  while (pos < wire.len) {
    uint64_t key, v;
    if (!read_varint(wire.data, wire.len, &pos, &key)) return 0;
    switch (key & 7) {
      case 0: {
        size_t at = pos;
        if (!read_varint(wire.data, wire.len, &pos, &v)) return 0;
        if ((key >> 3) == 2) {
          *begin = at;
          *end = pos;
          *value = v;
          return 1;
        }
        break;
      }
      case 2:
        if (!read_varint(wire.data, wire.len, &pos, &v) || v > wire.len - pos) return 0;
        pos += (size_t)v;
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return 0;
    }
  }
  return 0;
}

static uint64_t lamport_of(Bytes wire) {
  size_t begin, end;
  uint64_t value = 0;
  return find_lamport(wire, &begin, &end, &value) ? value : 0;
}

/* The same message with Lamport timestamp `lamport`. */
static Bytes with_lamport(Bytes wire, uint64_t lamport) {
  Bytes out = {NULL, 0};
  size_t begin, end, o;
  uint64_t old;
  if (!find_lamport(wire, &begin, &end, &old)) return out;
  out.data = malloc(wire.len + 10);
  memcpy(out.data, wire.data, begin);
  o = begin;
  do {
    unsigned char b = (unsigned char)(lamport & 0x7f);
    lamport >>= 7;
    out.data[o++] = (unsigned char)(b | (lamport ? 0x80 : 0));
  } while (lamport);
  memcpy(out.data + o, wire.data + end, wire.len - end);
  out.len = o + wire.len - end;
  return out;
}

/* ---- Files ------------------------------------------------------------------ */

static char g_dir[64];

static void path_in_dir(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", g_dir, name);
}

static char* store_config(const char* path, const char* extra) {
  char* out = malloc(strlen(path) + strlen(extra) + 32);
  sprintf(out, "{\"storePath\":\"%s\"%s}", path, extra);
  return out;
}

static void remove_dir(const char* dir) {
  DIR* d = opendir(dir);
  struct dirent* entry;
  char path[512];
  if (d == NULL) return;
  while ((entry = readdir(d)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
    if (rmdir(path) != 0) unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* ---- The first run ------------------------------------------------------------ */

#define READY(id) "{\"messageId\":\"" id "\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}"

/* What the first manager on a file sent and received. */
typedef struct {
  Bytes a1, a2;     /* alice's wire bytes: never acknowledged */
  Bytes b0, b1, b2; /* bob's: alice delivered b0, and b2 waits for b1 */
} Run;

static void run_free(Run* r) {
  free(r->a1.data);
  free(r->a2.data);
  free(r->b0.data);
  free(r->b1.data);
  free(r->b2.data);
}

/* Bob (no store) writes b0, b1, b2; alice, on `path`, delivers b0 (whose
 * Lamport is pushed far past the clock, so that only a stored clock can be
 * ahead of it later), keeps b2 waiting for b1, and wraps a1 and a2. Returns
 * the number of failed steps; alice is left open in *alice. */
static int first_run(const char* path, Peer* alice, Run* r) {
  Peer bob;
  Call u;
  Bytes b0;
  int failures = g_failed;
  char* config = store_config(path, "");
  memset(r, 0, sizeof *r);
  CHECK(peer_open(&bob, NULL, NULL));
  b0 = wrap(&bob, "zero", "b0", "ch");
  r->b1 = wrap(&bob, "one", "b1", "ch");
  r->b2 = wrap(&bob, "two", "b2", "ch");
  peer_close(&bob);
  r->b0 = with_lamport(b0, lamport_of(b0) + 1000000000u);
  free(b0.data);
  CHECK(r->b0.len > 0 && lamport_of(r->b0) > 1000000000u);

  CHECK(peer_open(alice, NULL, config));
  call_init(&u, &alice->log);
  CHECK(unwrap(alice, r->b0, &u) && u.ret == RET_OK);
  CHECK(log_wait(&alice->log, 0, READY("b0"), 0, 0) >= 0);
  call_free(&u);
  call_init(&u, &alice->log);
  CHECK(unwrap(alice, r->b2, &u) && u.ret == RET_OK);
  CHECK_STR(u.msg,
            "{\"message\":[116,119,111],\"channelId\":\"ch\",\"missingDeps\":"
            "[{\"messageId\":\"b1\",\"retrievalHint\":\"\"}]}");
  call_free(&u);
  r->a1 = wrap(alice, "hello", "a1", "ch");
  r->a2 = wrap(alice, "world", "a2", "ch");
  CHECK(r->a1.len > 0 && r->a2.len > 0);
  CHECK(lamport_of(r->a2) > lamport_of(r->a1) && lamport_of(r->a1) > lamport_of(r->b0));
  free(config);
  return g_failed - failures;
}

/* ---- The restart ---------------------------------------------------------------- */

static char* rebroadcast_event(const char* id, Bytes wire) {
  char* b64 = base64(wire.data, wire.len);
  char* out = malloc(strlen(b64) + 160);
  sprintf(out,
          "{\"eventType\":\"rebroadcast_due\",\"messageId\":\"%s\",\"channelId\":\"ch\","
          "\"attempt\":1,\"message\":\"%s\"}",
          id, b64);
  free(b64);
  return out;
}

/* A new manager on `path` continues where the first run stopped. With
 * `mark_met` b1 arrives through SdsMarkDependenciesMet as the very first
 * request (the channel is not in memory yet), else by unwrapping it. */
static void check_restart(const char* path, const Run* r, int mark_met) {
  Peer alice;
  Call c;
  Bytes a3;
  char* config = store_config(
      path, ",\"resendIntervalMs\":100,\"maxResendAttempts\":3,\"extendedEvents\":true");
  CHECK(peer_open(&alice, NULL, config));
  free(config);

  if (mark_met) {
    char* ids[1];
    ids[0] = "b1";
    call_init(&c, &alice.log);
    CHECK(SdsMarkDependenciesMet(alice.ctx, ids, 1, "ch", on_result, &c) == RET_OK);
    CHECK(call_wait(&c) == 1 && c.ret == RET_OK && c.len == 0);
    CHECK(log_wait(&alice.log, 0, READY("b2"), 0, 0) >= 0); /* before the result */
    call_free(&c);
    /* A channel neither in memory nor stored is still unknown. */
    call_init(&c, &alice.log);
    CHECK(SdsMarkDependenciesMet(alice.ctx, ids, 1, "other", on_result, &c) == RET_OK);
    CHECK(call_wait(&c) == 1 && c.ret == RET_ERR);
    CHECK_STR(c.msg, "error processing MARK_DEPENDENCIES_MET request: reInvalidArgument");
    call_free(&c);
  }

  /* History: b0 was delivered before, so it is a duplicate now; so is b2,
   * which is waiting (or, with mark_met, was just delivered). */
  call_init(&c, &alice.log);
  CHECK(unwrap(&alice, r->b0, &c) && c.ret == RET_OK);
  CHECK_STR(c.msg, "{\"message\":[122,101,114,111],\"channelId\":\"ch\",\"missingDeps\":[]}");
  call_free(&c);
  call_init(&c, &alice.log);
  CHECK(unwrap(&alice, r->b2, &c) && c.ret == RET_OK);
  call_free(&c);
  CHECK(log_occurrences(&alice.log, 0, READY("b0")) == 0);
  CHECK(log_occurrences(&alice.log, 0, READY("b2")) == (mark_met ? 1 : 0));

  /* The outgoing buffer: a1 and a2 were never acknowledged, so they are
   * resent, byte for byte. */
  CHECK(start_periodic(&alice));
  {
    char* e1 = rebroadcast_event("a1", r->a1);
    char* e2 = rebroadcast_event("a2", r->a2);
    CHECK(log_wait(&alice.log, 0, e1, 0, TIMEOUT_MS) >= 0);
    CHECK(log_wait(&alice.log, 0, e2, 0, TIMEOUT_MS) >= 0);
    free(e1);
    free(e2);
  }

  /* The incoming buffer: b2 is delivered once b1 arrives, after it. */
  if (!mark_met) {
    long r1, r2;
    call_init(&c, &alice.log);
    CHECK(unwrap(&alice, r->b1, &c) && c.ret == RET_OK);
    r1 = log_wait(&alice.log, 0, READY("b1"), 0, 0);
    r2 = log_wait(&alice.log, 0, READY("b2"), 0, 0);
    CHECK(r1 >= 0 && r2 > r1 && (size_t)r2 < c.events_before);
    call_free(&c);
  }
  CHECK(log_occurrences(&alice.log, 0, READY("b2")) == 1);

  /* The message ids used, and the Lamport clock, far ahead of the wall clock
   * since b0. */
  call_init(&c, &alice.log);
  CHECK(SdsWrapOutgoingMessage(alice.ctx, "again", 5, "a1", "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_ERR);
  CHECK_STR(c.msg, "error processing WRAP_MESSAGE request: reInvalidArgument");
  call_free(&c);
  a3 = wrap(&alice, "later", "a3", "ch");
  CHECK(a3.len > 0 && lamport_of(a3) > lamport_of(r->a2));
  free(a3.data);
  peer_close(&alice);
}

/* ---- Tests ------------------------------------------------------------------------ */

static void write_hex(FILE* out, const char* name, Bytes b) {
  size_t i;
  fprintf(out, "%s ", name);
  for (i = 0; i < b.len; ++i) fprintf(out, "%02x", b.data[i]);
  fprintf(out, "\n");
}

static Bytes read_hex(const char* text, const char* name) {
  Bytes out = {NULL, 0};
  char key[8];
  const char* p;
  snprintf(key, sizeof key, "%s ", name);
  p = strstr(text, key);
  if (p == NULL) return out;
  p += strlen(key);
  out.data = malloc(strlen(p) / 2 + 1);
  while (p[0] != '\0' && p[0] != '\n' && p[1] != '\0') {
    unsigned int v;
    if (sscanf(p, "%2x", &v) != 1) break;
    out.data[out.len++] = (unsigned char)v;
    p += 2;
  }
  return out;
}

/* A child process does the first run and is killed with SIGKILL as soon as
 * its last result arrived: no cleanup, nothing flushed on the way out. */
static void test_restart_after_sigkill(void) {
  char path[256];
  int fds[2];
  pid_t child;
  path_in_dir(path, sizeof path, "crashed.sds");
  if (pipe(fds) != 0) {
    CHECK(!"pipe");
    return;
  }
  fflush(stdout);
  fflush(stderr);
  child = fork();
  if (child == 0) {
    Peer alice;
    Run r;
    FILE* out;
    close(fds[0]);
    out = fdopen(fds[1], "w");
    if (first_run(path, &alice, &r) == 0) {
      write_hex(out, "a1", r.a1);
      write_hex(out, "a2", r.a2);
      write_hex(out, "b0", r.b0);
      write_hex(out, "b1", r.b1);
      write_hex(out, "b2", r.b2);
      fprintf(out, "done\n");
    } else {
      fprintf(out, "failed\n");
    }
    fflush(out);
    for (;;) pause(); /* killed here */
  }
  close(fds[1]);
  CHECK(child > 0);
  if (child > 0) {
    size_t cap = 1 << 16, len = 0; /* grows: each message carries a bloom filter */
    char* text = malloc(cap);
    int status = 0;
    Run r;
    text[0] = '\0';
    while (strstr(text, "done\n") == NULL && strstr(text, "failed\n") == NULL) {
      ssize_t n;
      if (len + 1 == cap) {
        cap *= 2;
        text = realloc(text, cap);
      }
      n = read(fds[0], text + len, cap - 1 - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      len += (size_t)n;
      text[len] = '\0';
    }
    kill(child, SIGKILL);
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(strstr(text, "done\n") != NULL);
    if (strstr(text, "done\n") != NULL) {
      r.a1 = read_hex(text, "a1");
      r.a2 = read_hex(text, "a2");
      r.b0 = read_hex(text, "b0");
      r.b1 = read_hex(text, "b1");
      r.b2 = read_hex(text, "b2");
      CHECK(r.a1.len > 0 && r.a2.len > 0 && r.b0.len > 0 && r.b1.len > 0 && r.b2.len > 0);
      check_restart(path, &r, 0);
      run_free(&r);
    }
    free(text);
  }
  close(fds[0]);
}

/* A manager that was cleaned up; its successor learns b1 through
 * SdsMarkDependenciesMet before anything else touched the channel. */
static void test_restart_after_cleanup(void) {
  char path[256];
  Peer alice;
  Run r;
  path_in_dir(path, sizeof path, "alice.sds");
  first_run(path, &alice, &r);
  peer_close(&alice);
  check_restart(path, &r, 1);
  run_free(&r);
}

static void expect_create_error(const char* config, const char* prefix, const char* part) {
  Call c;
  void* ctx;
  call_init(&c, NULL);
  ctx = SdsNewReliabilityManagerWithConfig(NULL, config, on_result, &c);
  CHECK(ctx == NULL);
  CHECK(c.calls == 1 && c.ret == RET_ERR);
  CHECK_PREFIX(c.msg, prefix);
  if (part != NULL) {
    CHECK(c.msg != NULL && strstr(c.msg, part) != NULL);
    if (c.msg == NULL || strstr(c.msg, part) == NULL) {
      fprintf(stderr, "  \"%s\" not in \"%s\"\n", part, c.msg ? c.msg : "(null)");
    }
  }
  call_free(&c);
}

static void test_one_manager_per_file(void) {
  char path[256];
  char* config;
  Peer first, again;
  Bytes w;
  path_in_dir(path, sizeof path, "shared.sds");
  config = store_config(path, "");
  CHECK(peer_open(&first, NULL, config));
  w = wrap(&first, "x", "m1", "ch");
  free(w.data);
  expect_create_error(config, "Failed creating reliability manager: ", "locked");
  /* The first one is unharmed... */
  w = wrap(&first, "y", "m2", "ch");
  CHECK(w.len > 0);
  free(w.data);
  peer_close(&first);
  /* ...and once it is cleaned up the file can be opened again. */
  CHECK(peer_open(&again, NULL, config));
  peer_close(&again);
  free(config);
}

static void test_unusable_paths(void) {
  char path[256];
  char* config;
  FILE* f;
  /* A directory. */
  config = store_config(g_dir, "");
  expect_create_error(config, "Failed creating reliability manager: ", NULL);
  free(config);
  /* A directory that does not exist. */
  path_in_dir(path, sizeof path, "missing/dir/x.sds");
  config = store_config(path, "");
  expect_create_error(config, "Failed creating reliability manager: ", NULL);
  free(config);
  /* A file that is not ours. */
  path_in_dir(path, sizeof path, "notes.txt");
  f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    int i;
    for (i = 0; i < 200; ++i) fprintf(f, "not an sds store, line %d\n", i);
    fclose(f);
  }
  config = store_config(path, "");
  expect_create_error(config, "Failed creating reliability manager: ", NULL);
  free(config);
  /* Values that are not a path. */
  expect_create_error("{\"storePath\":\"\"}",
                      "Failed creating reliability manager: storePath must be a non-empty string",
                      NULL);
  expect_create_error("{\"storePath\":true}",
                      "Failed creating reliability manager: storePath must be a non-empty string",
                      NULL);
  /* An unusable path without a config error: nothing was left behind that
   * keeps a later, valid manager from opening its own file. */
  {
    Peer p;
    path_in_dir(path, sizeof path, "after-errors.sds");
    config = store_config(path, "");
    CHECK(peer_open(&p, NULL, config));
    peer_close(&p);
    free(config);
  }
}

/* Reset empties the store: a new manager on the file knows nothing. */
static void test_reset_is_persisted(void) {
  char path[256];
  char* config;
  Peer p, q;
  Run r;
  Call c;
  path_in_dir(path, sizeof path, "reset.sds");
  first_run(path, &p, &r);
  call_init(&c, NULL);
  CHECK(SdsResetReliabilityManager(p.ctx, on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK && c.len == 0);
  call_free(&c);
  peer_close(&p);
  config = store_config(path, "");
  CHECK(peer_open(&q, NULL, config));
  free(config);
  call_init(&c, &q.log);
  CHECK(unwrap(&q, r.b0, &c) && c.ret == RET_OK);
  CHECK(log_wait(&q.log, 0, READY("b0"), 0, 0) >= 0); /* delivered again */
  call_free(&c);
  {
    Bytes w = wrap(&q, "hello", "a1", "ch"); /* the id is free again */
    CHECK(w.len > 0);
    free(w.data);
  }
  peer_close(&q);
  run_free(&r);
}

int main(void) {
  const char* tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/sds_persist_XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  /* First, while this process has no threads of its own yet to fork. */
  test_restart_after_sigkill();
  test_restart_after_cleanup();
  test_one_manager_per_file();
  test_unusable_paths();
  test_reset_is_persisted();
  remove_dir(g_dir);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
