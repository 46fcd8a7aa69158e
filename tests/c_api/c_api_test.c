/* Tests of the libsds C ABI, written in C99 against libsds.h only, as an app
 * would use it: every function, the exact nim-sds payloads, threading
 * guarantees (events before results, exactly one callback per request,
 * result bytes outliving the callback), and resource use over many managers.
 *
 * A small harness: CHECK counts, the last line is "N passed, N failed", and
 * the exit status is non-zero on any failure. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static int count_dir_entries(const char* path) {
  int n = 0;
  DIR* dir = opendir(path);
  struct dirent* entry;
  if (dir == NULL) return -1;
  while ((entry = readdir(dir)) != NULL) n += entry->d_name[0] != '.';
  closedir(dir);
  return n;
}

/* ---- Tests --------------------------------------------------------------- */

static void test_lifecycle(void) {
  Call created, done, stale;
  void* ctx;
  call_init(&created, NULL);
  call_init(&done, NULL);
  call_init(&stale, NULL);

  CHECK(SdsNewReliabilityManager(NULL, NULL) == NULL);
  CHECK(SdsNewReliabilityManagerWithConfig("p", "{}", NULL, NULL) == NULL);

  ctx = SdsNewReliabilityManager(on_result, &created);
  CHECK(ctx != NULL);
  CHECK(call_wait(&created) == 1);
  CHECK(created.ret == RET_OK && created.len == 0);
  CHECK_STR(created.msg, "");
  CHECK(!pthread_equal(created.thread, pthread_self())); /* on the worker */

  /* A missing callback: nothing happens. */
  CHECK(SdsCleanupReliabilityManager(ctx, NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsResetReliabilityManager(ctx, NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsStartPeriodicTasks(ctx, NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsWrapOutgoingMessage(ctx, "x", 1, "m", "c", NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsUnwrapReceivedMessage(ctx, "x", 1, NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsMarkDependenciesMet(ctx, NULL, 0, "c", NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsRemoveChannel(ctx, "c", NULL, NULL) == RET_MISSING_CALLBACK);
  CHECK(SdsMakeSyncMessage(ctx, "s", "c", NULL, NULL) == RET_MISSING_CALLBACK);

  /* Cleanup answers on the calling thread, with NULL and 0. */
  CHECK(SdsCleanupReliabilityManager(ctx, on_result, &done) == RET_OK);
  CHECK(done.calls == 1 && done.ret == RET_OK && done.msg == NULL && done.len == 0);
  CHECK(pthread_equal(done.thread, pthread_self()));

  /* The handle is dead now: RET_ERR and no callback, for every function. */
  CHECK(SdsCleanupReliabilityManager(ctx, on_result, &stale) == RET_ERR);
  CHECK(SdsResetReliabilityManager(ctx, on_result, &stale) == RET_ERR);
  CHECK(SdsStartPeriodicTasks(ctx, on_result, &stale) == RET_ERR);
  CHECK(SdsWrapOutgoingMessage(ctx, "x", 1, "m", "c", on_result, &stale) == RET_ERR);
  CHECK(SdsWrapOutgoingMessage(ctx, NULL, 1, NULL, NULL, on_result, &stale) == RET_ERR);
  CHECK(SdsUnwrapReceivedMessage(ctx, "x", 1, on_result, &stale) == RET_ERR);
  CHECK(SdsMarkDependenciesMet(ctx, NULL, 0, "c", on_result, &stale) == RET_ERR);
  CHECK(SdsRemoveChannel(ctx, "c", on_result, &stale) == RET_ERR);
  CHECK(SdsMakeSyncMessage(ctx, "s", "c", on_result, &stale) == RET_ERR);
  SdsSetEventCallback(ctx, on_result, &stale);
  SdsSetRetrievalHintProvider(ctx, NULL, NULL);
  CHECK(SdsWrapOutgoingMessage(NULL, "x", 1, "m", "c", on_result, &stale) == RET_ERR);
  SdsSetEventCallback(NULL, on_result, &stale);
  CHECK(stale.calls == 0);

  call_free(&created);
  call_free(&done);
  call_free(&stale);
}

/* Synchronous validation: the callback fires on the calling thread with
 * nim-sds's text, and the function returns RET_ERR. */
static void expect_sync_error(int rc, Call* call, const char* text) {
  CHECK(rc == RET_ERR);
  CHECK(call->calls == 1 && call->ret == RET_ERR);
  CHECK_STR(call->msg, text);
  CHECK(call->calls == 1 && pthread_equal(call->thread, pthread_self()));
  free(call->msg);
  call->msg = NULL;
  call->calls = 0;
}

static void expect_async_error(Peer* peer, int rc, Call* call, const char* text) {
  (void)peer;
  CHECK(rc == RET_OK);
  CHECK(call_wait(call) == 1);
  CHECK(call->ret == RET_ERR);
  CHECK_STR(call->msg, text);
  free(call->msg);
  call->msg = NULL;
  call->calls = 0;
}

static void test_null_and_empty_arguments(void) {
  Peer p;
  Call c;
  char* ids[2];
  CHECK(peer_open(&p, NULL, NULL));
  call_init(&c, NULL);

  expect_sync_error(SdsWrapOutgoingMessage(p.ctx, NULL, 3, "m", "ch", on_result, &c), &c,
                    "libsds error: message pointer is NULL but length > 0");
  expect_sync_error(SdsWrapOutgoingMessage(p.ctx, "abc", 3, NULL, "ch", on_result, &c), &c,
                    "libsds error: message ID pointer is NULL");
  expect_sync_error(SdsWrapOutgoingMessage(p.ctx, "abc", 3, "m", NULL, on_result, &c), &c,
                    "libsds error: channel ID pointer is NULL");
  expect_sync_error(SdsWrapOutgoingMessage(p.ctx, "abc", 3, "m", "", on_result, &c), &c,
                    "libsds error: channel ID is empty string");
  expect_sync_error(SdsUnwrapReceivedMessage(p.ctx, NULL, 5, on_result, &c), &c,
                    "libsds error: message pointer is NULL but length > 0");
  expect_sync_error(SdsMarkDependenciesMet(p.ctx, NULL, 2, "ch", on_result, &c), &c,
                    "libsds error: MessageIDs pointer is NULL but count > 0");
  expect_sync_error(SdsMarkDependenciesMet(p.ctx, NULL, 0, NULL, on_result, &c), &c,
                    "libsds error: channel ID pointer is NULL");
  expect_sync_error(SdsMarkDependenciesMet(p.ctx, NULL, 0, "", on_result, &c), &c,
                    "libsds error: channel ID is empty string");
  expect_sync_error(SdsRemoveChannel(p.ctx, NULL, on_result, &c), &c,
                    "libsds error: channel ID pointer is NULL");
  expect_sync_error(SdsRemoveChannel(p.ctx, "", on_result, &c), &c,
                    "libsds error: channel ID is empty string");
  expect_sync_error(SdsMakeSyncMessage(p.ctx, NULL, "ch", on_result, &c), &c,
                    "libsds error: message ID pointer is NULL");
  expect_sync_error(SdsMakeSyncMessage(p.ctx, "s", "", on_result, &c), &c,
                    "libsds error: channel ID is empty string");

  /* Accepted, then refused by the engine, on the worker. */
  expect_async_error(&p, SdsWrapOutgoingMessage(p.ctx, NULL, 0, "m", "ch", on_result, &c), &c,
                     "error processing WRAP_MESSAGE request: reInvalidArgument");
  expect_async_error(&p, SdsUnwrapReceivedMessage(p.ctx, "garbage", 7, on_result, &c), &c,
                     "error processing UNWRAP_MESSAGE request: reDeserializationError");
  expect_async_error(&p, SdsUnwrapReceivedMessage(p.ctx, NULL, 0, on_result, &c), &c,
                     "error processing UNWRAP_MESSAGE request: reDeserializationError");
  expect_async_error(&p, SdsMarkDependenciesMet(p.ctx, NULL, 0, "nowhere", on_result, &c), &c,
                     "error processing MARK_DEPENDENCIES_MET request: reInvalidArgument");

  /* A NULL element of the id array counts as "". */
  {
    Bytes w = wrap(&p, "hi", "m1", "ch");
    CHECK(w.len > 0);
    free(w.data);
  }
  ids[0] = NULL;
  ids[1] = "m1";
  CHECK(SdsMarkDependenciesMet(p.ctx, ids, 2, "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK && c.len == 0);

  call_free(&c);
  peer_close(&p);
}

static void test_wrap_unwrap_and_acknowledgement(void) {
  Peer a, b;
  Bytes m1, b1;
  Call u1, u2;
  long ready, sent;
  CHECK(peer_open(&a, NULL, NULL));
  CHECK(peer_open(&b, NULL, NULL));
  call_init(&u1, &b.log);
  call_init(&u2, &a.log);

  m1 = wrap(&a, "hello", "m1", "ch");
  /* content + causal history + a right-sized bloom filter (nim-sds's whole
   * 18.8 KB one with "bloomWireSize": "fixed") */
  CHECK(m1.len > 200 && m1.len < 2000);
  CHECK(m1.len > 2 && m1.data[0] == 10 && m1.data[1] == 2 && m1.data[2] == 'm');

  CHECK(unwrap(&b, m1, &u1));
  CHECK(u1.ret == RET_OK);
  CHECK_STR(u1.msg, "{\"message\":[104,101,108,108,111],\"channelId\":\"ch\",\"missingDeps\":[]}");
  ready = log_wait(&b.log, 0,
                   "{\"messageId\":\"m1\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
                   TIMEOUT_MS);
  CHECK(ready >= 0 && (size_t)ready < u1.events_before); /* the event came first */

  /* b1 lists m1 in its causal history: A learns m1 arrived. */
  b1 = wrap(&b, "reply", "b1", "ch");
  CHECK(unwrap(&a, b1, &u2));
  CHECK_STR(u2.msg, "{\"message\":[114,101,112,108,121],\"channelId\":\"ch\",\"missingDeps\":[]}");
  sent = log_wait(&a.log, 0,
                  "{\"messageId\":\"m1\",\"channelId\":\"ch\",\"eventType\":\"message_sent\"}", 0,
                  TIMEOUT_MS);
  CHECK(sent >= 0 && (size_t)sent < u2.events_before);
  CHECK(log_wait(&a.log, 0,
                 "{\"messageId\":\"b1\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
                 TIMEOUT_MS) > sent);

  /* A duplicate returns its content again and delivers nothing. */
  call_free(&u1);
  call_init(&u1, &b.log);
  CHECK(unwrap(&b, m1, &u1));
  CHECK_STR(u1.msg, "{\"message\":[104,101,108,108,111],\"channelId\":\"ch\",\"missingDeps\":[]}");
  CHECK(log_occurrences(
            &b.log, 0,
            "{\"messageId\":\"m1\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}") == 1);
  CHECK(log_occurrences(
            &a.log, 0,
            "{\"messageId\":\"m1\",\"channelId\":\"ch\",\"eventType\":\"message_sent\"}") == 1);

  free(m1.data);
  free(b1.data);
  call_free(&u1);
  call_free(&u2);
  peer_close(&a);
  peer_close(&b);
}

/* Hint provider: records protocol violations and answers "hint-<id>". */
static int g_hint_calls = 0;
static int g_hint_bad_entry = 0;

static void provide_hint(const char* message_id, char** hint, size_t* hint_len, void* user_data) {
  size_t n = strlen(message_id) + 5;
  (void)user_data;
  ++g_hint_calls;
  if (*hint != NULL || *hint_len != 0) ++g_hint_bad_entry;
  *hint = malloc(n);
  memcpy(*hint, "hint-", 5);
  memcpy(*hint + 5, message_id, n - 5);
  *hint_len = n;
}

static void test_dependencies_hints_and_mark_met(void) {
  Peer a, b, c;
  Bytes a1, a2;
  Call u, mark, u3;
  long missing, ready;
  char* ids[1];
  const char* expected_missing =
      "{\"eventType\":\"missing_dependencies\",\"messageId\":\"a2\",\"channelId\":\"ch\","
      "\"missingDeps\":[{\"messageId\":\"a1\",\"retrievalHint\":\"aGludC1hMQ==\"}]}";
  CHECK(peer_open(&a, NULL, NULL));
  CHECK(peer_open(&b, NULL, NULL));
  CHECK(peer_open(&c, NULL, NULL));
  SdsSetRetrievalHintProvider(a.ctx, provide_hint, NULL);
  call_init(&u, &b.log);
  call_init(&mark, &b.log);
  call_init(&u3, &c.log);

  a1 = wrap(&a, "one", "a1", "ch");
  a2 = wrap(&a, "two", "a2", "ch"); /* depends on a1, with A's hint */
  CHECK(g_hint_calls >= 1 && g_hint_bad_entry == 0);

  /* B receives a2 first: it waits for a1. */
  CHECK(unwrap(&b, a2, &u));
  CHECK_STR(u.msg,
            "{\"message\":[116,119,111],\"channelId\":\"ch\",\"missingDeps\":"
            "[{\"messageId\":\"a1\",\"retrievalHint\":\"aGludC1hMQ==\"}]}");
  missing = log_wait(&b.log, 0, expected_missing, 0, TIMEOUT_MS);
  CHECK(missing >= 0 && (size_t)missing < u.events_before);

  /* The app fetched a1 elsewhere. */
  ids[0] = "a1";
  CHECK(SdsMarkDependenciesMet(b.ctx, ids, 1, "ch", on_result, &mark) == RET_OK);
  CHECK(call_wait(&mark) == 1 && mark.ret == RET_OK && mark.len == 0);
  ready = log_wait(&b.log, 0,
                   "{\"messageId\":\"a2\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
                   TIMEOUT_MS);
  CHECK(ready >= 0 && (size_t)ready < mark.events_before);

  /* C receives both out of order: both are delivered, a1 first. */
  CHECK(unwrap(&c, a2, &u3));
  call_free(&u3);
  call_init(&u3, &c.log);
  CHECK(unwrap(&c, a1, &u3));
  CHECK_STR(u3.msg, "{\"message\":[111,110,101],\"channelId\":\"ch\",\"missingDeps\":[]}");
  {
    long r1 = log_wait(
        &c.log, 0, "{\"messageId\":\"a1\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
        TIMEOUT_MS);
    long r2 = log_wait(
        &c.log, 0, "{\"messageId\":\"a2\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
        TIMEOUT_MS);
    CHECK(r1 >= 0 && r2 > r1 && (size_t)r2 < u3.events_before);
  }

  free(a1.data);
  free(a2.data);
  call_free(&u);
  call_free(&mark);
  call_free(&u3);
  peer_close(&a);
  peer_close(&b);
  peer_close(&c);
}

static void test_reset_and_remove_channel(void) {
  Peer p, x;
  Call c;
  Bytes w, xm;
  char* ids[1];
  ids[0] = "m1";
  CHECK(peer_open(&p, NULL, NULL));
  CHECK(peer_open(&x, NULL, "{\"extendedEvents\":true}"));
  call_init(&c, NULL);

  w = wrap(&p, "hi", "m1", "ch");
  free(w.data);
  CHECK(SdsResetReliabilityManager(p.ctx, on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK && c.len == 0);
  CHECK_STR(c.msg, "");
  free(c.msg);
  c.msg = NULL;
  c.calls = 0;
  /* The channel is gone. */
  expect_async_error(&p, SdsMarkDependenciesMet(p.ctx, ids, 1, "ch", on_result, &c), &c,
                     "error processing MARK_DEPENDENCIES_MET request: reInvalidArgument");
  /* The id can be used again after a reset. */
  w = wrap(&p, "hi again", "m1", "ch");
  CHECK(w.len > 0);
  free(w.data);

  CHECK(SdsRemoveChannel(p.ctx, "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK && c.len == 0);
  c.calls = 0;
  free(c.msg);
  c.msg = NULL;
  expect_async_error(&p, SdsMarkDependenciesMet(p.ctx, ids, 1, "ch", on_result, &c), &c,
                     "error processing MARK_DEPENDENCIES_MET request: reInvalidArgument");
  /* Removing a channel that does not exist is fine. */
  CHECK(SdsRemoveChannel(p.ctx, "never", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK);
  c.calls = 0;
  free(c.msg);
  c.msg = NULL;

  /* Extension: a buffered message dropped with its channel is reported. */
  {
    Bytes d1 = wrap(&p, "d1", "d1", "drop");
    Bytes d2 = wrap(&p, "d2", "d2", "drop");
    Call u;
    call_init(&u, &x.log);
    CHECK(unwrap(&x, d2, &u));
    CHECK(SdsRemoveChannel(x.ctx, "drop", on_result, &c) == RET_OK);
    CHECK(call_wait(&c) == 1 && c.ret == RET_OK);
    CHECK(log_wait(&x.log, 0,
                   "{\"eventType\":\"message_dropped\",\"messageId\":\"d2\",\"channelId\":\"drop\","
                   "\"reason\":\"",
                   1, TIMEOUT_MS) >= 0);
    free(d1.data);
    free(d2.data);
    call_free(&u);
  }
  xm = wrap(&x, "after", "x1", "drop");
  CHECK(xm.len > 0);
  free(xm.data);

  call_free(&c);
  peer_close(&p);
  peer_close(&x);
}

/* Needs the virtual clock: every count below is exact. */
static void test_periodic_sync(void) {
  Peer p;
  Call start, again;
  long first;
  const char* sync = "{\"eventType\":\"periodic_sync\"}";
  CHECK(peer_open(&p, NULL, "{\"syncMessageIntervalMs\":50}"));
  call_init(&start, &p.log);
  call_init(&again, &p.log);
  CHECK(advance(&p, 150));
  CHECK(log_count(&p.log) == 0); /* nothing periodic before the start */

  CHECK(SdsStartPeriodicTasks(p.ctx, on_result, &start) == RET_OK);
  CHECK(call_wait(&start) == 1 && start.ret == RET_OK && start.len == 0);
  first = log_wait(&p.log, 0, sync, 0, 0);
  CHECK(first == 0 && start.events_before >= 1); /* the first pass runs at once */
  CHECK(advance(&p, 49));
  CHECK(log_occurrences(&p.log, 0, sync) == 1); /* not before the interval */
  CHECK(advance(&p, 1));
  CHECK(log_occurrences(&p.log, 0, sync) == 2);
  CHECK(advance(&p, 50));
  CHECK(log_occurrences(&p.log, 0, sync) == 3);
  /* A late worker catches up once, not once per missed interval. */
  CHECK(advance(&p, 500));
  CHECK(log_occurrences(&p.log, 0, sync) == 4);
  /* Starting again changes nothing. */
  CHECK(SdsStartPeriodicTasks(p.ctx, on_result, &again) == RET_OK);
  CHECK(call_wait(&again) == 1 && again.ret == RET_OK);
  CHECK(log_occurrences(&p.log, 0, sync) == 4);
  call_free(&start);
  call_free(&again);
  peer_close(&p);
}

static void test_resend_give_up(void) {
  Peer d, x;
  Bytes w;
  const char* sent = "{\"messageId\":\"g1\",\"channelId\":\"ch\",\"eventType\":\"message_sent\"}";
  /* nim-sds's stream: a message given up on reads as sent. */
  CHECK(peer_open(&d, NULL, "{\"resendIntervalMs\":40,\"maxResendAttempts\":1}"));
  w = wrap(&d, "lonely", "g1", "ch");
  free(w.data);
  CHECK(advance(&d, 200));
  CHECK(log_count(&d.log) == 0); /* no timers before SdsStartPeriodicTasks */
  CHECK(start_periodic(&d));
  /* Overdue at the start: resent once now, given up one interval later. */
  CHECK(log_occurrences(&d.log, 0, sent) == 0);
  CHECK(advance(&d, 39));
  CHECK(log_occurrences(&d.log, 0, sent) == 0);
  CHECK(advance(&d, 1));
  CHECK(log_occurrences(&d.log, 0, sent) == 1);
  CHECK(advance(&d, 100));
  CHECK(log_occurrences(&d.log, 0, sent) == 1);
  CHECK(log_wait(&d.log, 0, "{\"eventType\":\"rebroadcast_due\"", 1, 0) < 0);
  CHECK(log_wait(&d.log, 0, "{\"eventType\":\"send_failed\"", 1, 0) < 0);

  /* Extended: the resend is handed back, and the give-up is honest. */
  CHECK(peer_open(&x, NULL,
                  "{\"resendIntervalMs\":40,\"maxResendAttempts\":1,\"extendedEvents\":true}"));
  w = wrap(&x, "lonely", "g1", "ch");
  CHECK(start_periodic(&x));
  CHECK(log_wait(&x.log, 0, "{\"eventType\":\"rebroadcast_due\"", 1, 0) < 0);
  CHECK(advance(&x, 40));
  {
    char* b64 = base64(w.data, w.len);
    const char* head =
        "{\"eventType\":\"rebroadcast_due\",\"messageId\":\"g1\",\"channelId\":\"ch\","
        "\"attempt\":1,\"message\":\"";
    char* expected = malloc(strlen(head) + strlen(b64) + 3);
    sprintf(expected, "%s%s\"}", head, b64);
    CHECK(log_wait(&x.log, 0, expected, 0, 0) >= 0);
    free(expected);
    free(b64);
  }
  CHECK(log_wait(&x.log, 0, "{\"eventType\":\"send_failed\"", 1, 0) < 0);
  CHECK(advance(&x, 40));
  CHECK(log_wait(&x.log, 0,
                 "{\"eventType\":\"send_failed\",\"messageId\":\"g1\",\"channelId\":\"ch\","
                 "\"resendAttempts\":1,\"evicted\":false}",
                 0, 0) >= 0);
  CHECK(log_occurrences(&x.log, 0, sent) == 0);
  free(w.data);
  peer_close(&d);
  peer_close(&x);
}

/* SDS-R over the C ABI: bob misses r1, asks for it on his next message, and
 * alice (the original sender, who answers at once) hands it back. */
static void test_repair(void) {
  Peer alice, bob;
  Bytes r1, r2, b1;
  Call u;
  const char* config = "{\"repairTMinMs\":0,\"repairTMaxMs\":1}";
  CHECK(peer_open(&alice, "alice", config));
  CHECK(peer_open(&bob, "bob", config));
  CHECK(start_periodic(&alice));
  call_init(&u, &bob.log);

  r1 = wrap(&alice, "lost", "r1", "ch"); /* never reaches bob */
  r2 = wrap(&alice, "found", "r2", "ch");
  CHECK(unwrap(&bob, r2, &u));
  CHECK(
      log_wait(&bob.log, 0,
               "{\"eventType\":\"missing_dependencies\",\"messageId\":\"r2\",\"channelId\":\"ch\","
               "\"missingDeps\":[{\"messageId\":\"r1\",\"retrievalHint\":\"\"}]}",
               0, TIMEOUT_MS) >= 0);
  CHECK(advance(&bob, 20)); /* bob's request is due */
  b1 = wrap(&bob, "where is r1?", "b1", "ch");
  call_free(&u);
  call_init(&u, &alice.log);
  CHECK(unwrap(&alice, b1, &u));
  CHECK(advance(&alice, 1)); /* alice answers at T_resp = 0 */
  {
    char* b64 = base64(r1.data, r1.len);
    const char* head = "{\"eventType\":\"repair_ready\",\"channelId\":\"ch\",\"message\":\"";
    char* expected = malloc(strlen(head) + strlen(b64) + 3);
    sprintf(expected, "%s%s\"}", head, b64);
    CHECK(log_wait(&alice.log, 0, expected, 0, TIMEOUT_MS) >= 0);
    free(expected);
    free(b64);
  }
  /* Rebroadcasting the repair completes bob's history. */
  call_free(&u);
  call_init(&u, &bob.log);
  CHECK(unwrap(&bob, r1, &u));
  CHECK(log_wait(&bob.log, 0,
                 "{\"messageId\":\"r2\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}", 0,
                 TIMEOUT_MS) >= 0);

  free(r1.data);
  free(r2.data);
  free(b1.data);
  call_free(&u);
  peer_close(&alice);
  peer_close(&bob);
}

static void test_sync_messages_and_extended_events(void) {
  Peer a, b;
  Bytes x1, p1;
  Call c, u;
  CHECK(peer_open(&a, NULL, "{\"extendedEvents\":true,\"bloomAckThreshold\":2}"));
  CHECK(peer_open(&b, NULL,
                  "{\"extendedEvents\":true,\"syncMessageIntervalMs\":50,\"maxCausalHistory\":0}"));
  call_init(&c, &b.log);
  call_init(&u, &a.log);

  /* b holds p1 in its bloom filter but lists nothing in its causal history:
   * one bloom hit is below a's threshold of two. */
  p1 = wrap(&a, "maybe", "p1", "ch");
  {
    Call r;
    call_init(&r, &b.log);
    CHECK(unwrap(&b, p1, &r));
    call_free(&r);
  }
  CHECK(SdsMakeSyncMessage(b.ctx, "sync-b", "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK);
  x1 = parse_csv(c.msg);
  CHECK(x1.len > 0);
  CHECK(unwrap(&a, x1, &u));
  CHECK_STR(u.msg, "{\"message\":[],\"channelId\":\"ch\",\"missingDeps\":[]}");
  CHECK(log_wait(&a.log, 0,
                 "{\"eventType\":\"message_possibly_acknowledged\",\"messageId\":\"p1\","
                 "\"channelId\":\"ch\",\"bloomHits\":1}",
                 0, TIMEOUT_MS) >= 0);

  /* Extended: a channel that received and went quiet produces a sync
   * message by itself (the explicit one above satisfied the earlier need). */
  CHECK(start_periodic(&b));
  {
    Bytes p2 = wrap(&a, "again", "p2", "ch");
    Call r;
    call_init(&r, &b.log);
    CHECK(unwrap(&b, p2, &r));
    CHECK(log_wait(&b.log, 0,
                   "{\"eventType\":\"sync_message_ready\",\"channelId\":\"ch\",\"message\":\"", 1,
                   TIMEOUT_MS) >= 0);
    call_free(&r);
    free(p2.data);
  }

  free(x1.data);
  free(p1.data);
  call_free(&c);
  call_free(&u);
  peer_close(&a);
  peer_close(&b);
}

/* A relay hands us our own broadcasts. Without a participant id our own
 * message and sync message coming back acknowledge nothing: the message is
 * still resent and then given up on (extended events make both visible). */
static void test_own_echoes_without_participant(void) {
  const char* configs[2] = {
      "{\"resendIntervalMs\":40,\"maxResendAttempts\":1,\"extendedEvents\":true}",
      "{\"resendIntervalMs\":40,\"maxResendAttempts\":1,\"extendedEvents\":true,"
      "\"dialect\":\"spec\",\"bloomAckThreshold\":1}"};
  const char* sent = "{\"messageId\":\"e1\",\"channelId\":\"ch\",\"eventType\":\"message_sent\"}";
  const char* ready = "{\"messageId\":\"e1\",\"channelId\":\"ch\",\"eventType\":\"message_ready\"}";
  int i;
  for (i = 0; i < 2; ++i) {
    Peer p;
    Bytes w, s;
    Call u, c, v;
    CHECK(peer_open(&p, NULL, configs[i]));
    w = wrap(&p, "hello", "e1", "ch");
    CHECK(w.len > 0);
    call_init(&u, &p.log);
    CHECK(unwrap(&p, w, &u)); /* the echo of e1 */
    CHECK(u.ret == RET_OK);
    call_init(&c, NULL);
    CHECK(SdsMakeSyncMessage(p.ctx, "sync-e", "ch", on_result, &c) == RET_OK);
    CHECK(call_wait(&c) == 1 && c.ret == RET_OK);
    s = parse_csv(c.msg);
    CHECK(s.len > 0);
    call_init(&v, &p.log);
    CHECK(unwrap(&p, s, &v)); /* the echo of our sync message, which lists e1 */
    CHECK(v.ret == RET_OK);
    CHECK(log_occurrences(&p.log, 0, sent) == 0);
    CHECK(log_occurrences(&p.log, 0, ready) == 0);

    CHECK(start_periodic(&p));
    CHECK(log_wait(&p.log, 0, "{\"eventType\":\"rebroadcast_due\",\"messageId\":\"e1\"", 1,
                   TIMEOUT_MS) >= 0);
    CHECK(log_wait(&p.log, 0, "{\"eventType\":\"send_failed\",\"messageId\":\"e1\"", 1,
                   TIMEOUT_MS) >= 0);
    CHECK(log_occurrences(&p.log, 0, sent) == 0);
    free(w.data);
    free(s.data);
    call_free(&u);
    call_free(&c);
    call_free(&v);
    peer_close(&p);
  }
}

static void expect_create_error(const char* config, const char* text) {
  Call c;
  void* ctx;
  call_init(&c, NULL);
  ctx = SdsNewReliabilityManagerWithConfig("p", config, on_result, &c);
  CHECK(ctx == NULL);
  CHECK(c.calls == 1 && c.ret == RET_ERR);
  CHECK_PREFIX(c.msg, text);
  call_free(&c);
}

static void test_config(void) {
  Peer p;
  Call c;
  Bytes w;
  /* storePath is tested in c_api_persist_test.c; here only its type. */
  expect_create_error("{\"storePath\":\"\"}",
                      "Failed creating reliability manager: storePath must be a non-empty string");
  expect_create_error("{", "Failed creating reliability manager: invalid JSON");
  expect_create_error("[1,2]", "Failed creating reliability manager: config must be a JSON object");
  expect_create_error("{\"dialect\":\"klingon\"}", "Failed creating reliability manager: dialect");
  expect_create_error("{\"extendedEvents\":\"yes\"}",
                      "Failed creating reliability manager: extendedEvents must be a boolean");
  expect_create_error("{\"resendIntervalMs\":-5}", "Failed creating reliability manager: ");

  /* nim-sds's keys are lenient: a wrong type keeps the default. */
  CHECK(peer_open(&p, NULL, "{\"bloomFilterCapacity\":\"many\",\"unknownKey\":1}"));
  peer_close(&p);
  CHECK(peer_open(&p, NULL, ""));
  peer_close(&p);
  CHECK(peer_open(&p, "", NULL));
  peer_close(&p);

  /* The spec dialect, and detailed errors. */
  CHECK(peer_open(&p, "me", "{\"dialect\":\"spec\",\"detailedErrors\":true}"));
  w = wrap(&p, "hi", "m1", "ch");
  CHECK(w.len > 2 && w.data[0] == 10 && w.data[1] == 2 && w.data[2] == 'm'); /* sender_id "me" */
  free(w.data);
  call_init(&c, NULL);
  CHECK(SdsWrapOutgoingMessage(p.ctx, "hi", 2, "m1", "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_ERR);
  CHECK_PREFIX(c.msg, "error processing WRAP_MESSAGE request: reInvalidArgument (");
  call_free(&c);
  peer_close(&p);
}

/* A result's bytes stay valid after its callback, while events keep firing. */
static void test_result_lifetime(void) {
  Peer p;
  Call c;
  CHECK(peer_open(&p, NULL, "{\"syncMessageIntervalMs\":10}"));
  CHECK(start_periodic(&p));
  call_init(&c, NULL);
  CHECK(SdsWrapOutgoingMessage(p.ctx, "keep", 4, "k1", "ch", on_result, &c) == RET_OK);
  CHECK(call_wait(&c) == 1 && c.ret == RET_OK);
  {
    size_t before = log_count(&p.log);
    CHECK(log_wait(&p.log, before + 3, "{\"eventType\":\"periodic_sync\"}", 0, TIMEOUT_MS) >= 0);
  }
  CHECK(c.raw != NULL && memcmp(c.raw, c.msg, c.len) == 0);
  call_free(&c);
  peer_close(&p);
}

/* Cleanup while requests wait: each still gets exactly one callback. */
#define IN_FLIGHT 100

static void test_cleanup_with_requests_in_flight(void) {
  static Call calls[IN_FLIGHT];
  void* ctx;
  Call created, done;
  int i, ok = 0, failed = 0, once = 1;
  char id[32];
  call_init(&created, NULL);
  call_init(&done, NULL);
  ctx = SdsNewReliabilityManager(on_result, &created);
  for (i = 0; i < IN_FLIGHT; ++i) {
    call_init(&calls[i], NULL);
    snprintf(id, sizeof id, "f%d", i);
    CHECK(SdsWrapOutgoingMessage(ctx, "payload", 7, id, "ch", on_result, &calls[i]) == RET_OK);
  }
  /* Cleanup joins the worker: every callback has fired when it returns. */
  CHECK(SdsCleanupReliabilityManager(ctx, on_result, &done) == RET_OK);
  CHECK(created.calls == 1);
  for (i = 0; i < IN_FLIGHT; ++i) {
    once = once && calls[i].calls == 1;
    if (calls[i].ret == RET_OK) {
      ++ok;
    } else if (calls[i].msg != NULL &&
               strcmp(calls[i].msg, "libsds error: reliability manager was cleaned up") == 0) {
      ++failed;
    }
    call_free(&calls[i]);
  }
  CHECK(once);
  CHECK(ok + failed == IN_FLIGHT);
  call_free(&created);
  call_free(&done);
}

/* Callbacks may call into the library; a manager cannot clean itself up. */
typedef struct {
  void* ctx;
  int cleanup_rc;
  Call cleanup_call;
  Call wrap_call;
  int done;
} Reentry;

static void on_event_reenter(int ret, const char* msg, size_t len, void* user_data) {
  Reentry* r = user_data;
  (void)ret;
  (void)len;
  if (r->done || strstr(msg, "\"message_ready\"") == NULL) return;
  r->done = 1;
  r->cleanup_rc = SdsCleanupReliabilityManager(r->ctx, on_result, &r->cleanup_call);
  SdsWrapOutgoingMessage(r->ctx, "from callback", 13, "cb1", "ch", on_result, &r->wrap_call);
}

static void test_reentrant_calls(void) {
  Peer a, b;
  Bytes m;
  Call u;
  Reentry r;
  memset(&r, 0, sizeof r);
  CHECK(peer_open(&a, NULL, NULL));
  CHECK(peer_open(&b, NULL, NULL));
  r.ctx = b.ctx;
  call_init(&r.cleanup_call, NULL);
  call_init(&r.wrap_call, NULL);
  SdsSetEventCallback(b.ctx, on_event_reenter, &r);
  m = wrap(&a, "poke", "m1", "ch");
  call_init(&u, NULL);
  CHECK(unwrap(&b, m, &u));
  CHECK(r.done == 1);
  CHECK(r.cleanup_rc == RET_ERR && r.cleanup_call.calls == 1);
  CHECK_STR(r.cleanup_call.msg,
            "libsds error: a manager cannot be cleaned up from its own callback");
  CHECK(call_wait(&r.wrap_call) == 1 && r.wrap_call.ret == RET_OK);
  free(m.data);
  call_free(&u);
  call_free(&r.cleanup_call);
  call_free(&r.wrap_call);
  peer_close(&a);
  peer_close(&b);
}

/* Two managers driven from two threads at once. */
static void* hammer(void* arg) {
  Peer* p = arg;
  int i;
  char id[32];
  for (i = 0; i < 40; ++i) {
    Bytes w;
    snprintf(id, sizeof id, "t%d", i);
    w = wrap(p, "concurrent", id, "ch");
    if (w.len == 0) return (void*)1;
    free(w.data);
    SdsSetEventCallback(p->ctx, on_event, &p->log);
  }
  return NULL;
}

static void test_two_managers_two_threads(void) {
  Peer a, b;
  pthread_t ta, tb;
  void* ra;
  void* rb;
  CHECK(peer_open(&a, NULL, "{\"resendIntervalMs\":5}"));
  CHECK(peer_open(&b, NULL, "{\"resendIntervalMs\":5}"));
  CHECK(start_periodic(&a));
  CHECK(start_periodic(&b));
  pthread_create(&ta, NULL, hammer, &a);
  pthread_create(&tb, NULL, hammer, &b);
  pthread_join(ta, &ra);
  pthread_join(tb, &rb);
  CHECK(ra == NULL && rb == NULL);
  peer_close(&a);
  peer_close(&b);
}

#define CYCLES 200

static void test_many_managers(void) {
  int fds_before, threads_before, i, all_ok = 1;
  void* first = NULL;
  int stale_rc;
  Call stale;
  /* Earlier tests joined their workers in SdsCleanupReliabilityManager. */
  fds_before = count_dir_entries("/proc/self/fd");
  threads_before = count_dir_entries("/proc/self/task");
  for (i = 0; i < CYCLES; ++i) {
    Peer p;
    if (!peer_open(&p, NULL, i % 2 ? NULL : "{\"syncMessageIntervalMs\":1000}")) all_ok = 0;
    if (i == 0) first = p.ctx;
    if (i % 2 == 0) {
      Bytes w = wrap(&p, "x", "m", "ch");
      if (w.len == 0 || !start_periodic(&p)) all_ok = 0;
      free(w.data);
    }
    if (i > 0 && p.ctx == first) all_ok = 0; /* handles are never reused */
    peer_close(&p);
  }
  CHECK(all_ok);
  CHECK(count_dir_entries("/proc/self/fd") == fds_before);
  CHECK(count_dir_entries("/proc/self/task") == threads_before);
  /* The first handle stays dead although 199 managers came after it. */
  call_init(&stale, NULL);
  stale_rc = SdsWrapOutgoingMessage(first, "x", 1, "m", "ch", on_result, &stale);
  CHECK(stale_rc == RET_ERR && stale.calls == 0);
  call_free(&stale);
}

/* nim-sds creates a channel on the first message for it, and so does the C
 * ABI by default; "channelAdmission":"local" refuses channels this manager
 * never used. */
static void test_channel_admission(void) {
  Peer alice, open_bob, strict_bob;
  Bytes a1, a2;
  Call u;
  Call c;
  void* ctx;
  CHECK(peer_open(&alice, "alice", NULL));
  CHECK(peer_open(&open_bob, "bob", NULL));
  CHECK(peer_open(&strict_bob, "bob", "{\"channelAdmission\":\"local\"}"));
  a1 = wrap(&alice, "hi", "a1", "ch");
  a2 = wrap(&alice, "hi again", "a2", "other");
  call_init(&u, &open_bob.log);
  CHECK(unwrap(&open_bob, a1, &u) && u.ret == RET_OK);
  call_free(&u);
  call_init(&u, &strict_bob.log);
  CHECK(unwrap(&strict_bob, a1, &u) && u.ret == RET_ERR);
  call_free(&u);
  /* Once bob sends on "other" it is his: alice's messages there are admitted. */
  {
    Bytes b1 = wrap(&strict_bob, "mine", "b1", "other");
    CHECK(b1.len > 0);
    free(b1.data);
  }
  call_init(&u, &strict_bob.log);
  CHECK(unwrap(&strict_bob, a2, &u) && u.ret == RET_OK);
  call_free(&u);
  call_init(&c, NULL);
  ctx = SdsNewReliabilityManagerWithConfig("bob", "{\"channelAdmission\":\"some\"}", on_result, &c);
  CHECK(ctx == NULL);
  CHECK(c.calls == 1 && c.ret == RET_ERR && c.msg != NULL &&
        strstr(c.msg, "channelAdmission") != NULL);
  call_free(&c);
  free(a1.data);
  free(a2.data);
  peer_close(&alice);
  peer_close(&open_bob);
  peer_close(&strict_bob);
}

int main(void) {
  test_lifecycle();
  test_null_and_empty_arguments();
  test_wrap_unwrap_and_acknowledgement();
  test_dependencies_hints_and_mark_met();
  test_reset_and_remove_channel();
  if (have_virtual_clock()) {
    use_virtual_clock();
    test_periodic_sync();
    test_resend_give_up();
    test_repair();
    use_system_clock();
  } else {
    /* libsds.so does not export the test clock (src/capi/test_clock.h): the
     * static build of this program runs these on virtual time. */
    printf("periodic sync, resend and repair timing: run by the static build\n");
  }
  test_sync_messages_and_extended_events();
  test_own_echoes_without_participant();
  test_config();
  test_channel_admission();
  test_result_lifetime();
  test_cleanup_with_requests_in_flight();
  test_reentrant_calls();
  test_two_managers_two_threads();
  test_many_managers();
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
