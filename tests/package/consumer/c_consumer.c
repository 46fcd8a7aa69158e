/* libsds.h through an installed sds::sds or sds::sds_static: one manager
 * wraps a message and unwraps it again (a duplicate is still answered).
 * Exits non-zero with a message on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "libsds.h"

typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int done;
  int ret;
  char msg[4096];
} Reply;

static void OnReply(int ret, const char* msg, size_t len, void* user_data) {
  Reply* reply = (Reply*)user_data;
  pthread_mutex_lock(&reply->mutex);
  if (len >= sizeof reply->msg) len = sizeof reply->msg - 1;
  if (msg != NULL && len > 0)
    memcpy(reply->msg, msg, len);
  else
    len = 0;
  reply->msg[len] = '\0';
  reply->ret = ret;
  reply->done = 1;
  pthread_cond_signal(&reply->cond);
  pthread_mutex_unlock(&reply->mutex);
}

static void Wait(Reply* reply) {
  pthread_mutex_lock(&reply->mutex);
  while (!reply->done) pthread_cond_wait(&reply->cond, &reply->mutex);
  reply->done = 0;
  pthread_mutex_unlock(&reply->mutex);
}

static void Ignore(int ret, const char* msg, size_t len, void* user_data) {
  (void)ret;
  (void)msg;
  (void)len;
  (void)user_data;
}

int main(void) {
  Reply reply;
  char content[] = "hello through an installed libsds";
  void* ctx;
  pthread_mutex_init(&reply.mutex, NULL);
  pthread_cond_init(&reply.cond, NULL);
  reply.done = 0;

  ctx = SdsNewReliabilityManager(OnReply, &reply);
  if (ctx == NULL) {
    fprintf(stderr, "c_consumer: SdsNewReliabilityManager returned NULL\n");
    return 1;
  }
  Wait(&reply);
  if (reply.ret != RET_OK) {
    fprintf(stderr, "c_consumer: creating the manager failed: %s\n", reply.msg);
    return 1;
  }
  SdsSetEventCallback(ctx, Ignore, NULL);
  if (SdsWrapOutgoingMessage(ctx, content, strlen(content), "m1", "channel", OnReply, &reply) !=
      RET_OK) {
    fprintf(stderr, "c_consumer: SdsWrapOutgoingMessage was rejected\n");
    return 1;
  }
  Wait(&reply);
  if (reply.ret != RET_OK || strlen(reply.msg) == 0) {
    fprintf(stderr, "c_consumer: wrapping failed: %s\n", reply.msg);
    return 1;
  }
  if (SdsCleanupReliabilityManager(ctx, OnReply, &reply) != RET_OK) {
    fprintf(stderr, "c_consumer: SdsCleanupReliabilityManager was rejected\n");
    return 1;
  }
  Wait(&reply);
  puts("c_consumer: ok");
  return 0;
}
