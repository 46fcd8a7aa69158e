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

#include "harness.h"

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
    perror("pipe");
    CHECK(0);
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

/* After a restart the stored channel is resent on time by the worker alone:
 * no request names it (nothing but SdsStartPeriodicTasks is called). */
static void test_restart_resends_untouched_channel(void) {
  char path[256];
  char* config;
  Peer p, q;
  path_in_dir(path, sizeof path, "resend.sds");
  config = store_config(path, ",\"resendIntervalMs\":300,\"extendedEvents\":true");
  CHECK(peer_open(&p, "alice", config));
  {
    Bytes w = wrap(&p, "hello", "a1", "quiet");
    CHECK(w.len > 0);
    free(w.data);
  }
  peer_close(&p);
  CHECK(peer_open(&q, "alice", config));
  free(config);
  CHECK(start_periodic(&q));
  CHECK(log_wait(&q.log, 0,
                 "{\"eventType\":\"rebroadcast_due\",\"messageId\":\"a1\",\"channelId\":\"quiet\","
                 "\"attempt\":1",
                 1, TIMEOUT_MS) >= 0);
  peer_close(&q);
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
  test_restart_resends_untouched_channel();
  remove_dir(g_dir);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
