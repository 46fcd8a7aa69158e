/* libsds.h: the C ABI of sds, a drop-in replacement for nim-sds's libsds.
 *
 * Apps that use nim-sds's C library (the Go bindings in status-go, Nim,
 * Swift, Kotlin, C) can link this libsds.so / libsds.a instead without
 * changing a line: the functions below have nim-sds's names, signatures,
 * return codes, threading and JSON payloads, byte for byte. What nim-sds's C
 * API cannot do is added without changing any of that (see "Extensions").
 *
 * Valid C99 and C++. Only the Sds* functions below are exported.
 *
 * ---------------------------------------------------------------------------
 * Threading
 * ---------------------------------------------------------------------------
 * Every manager owns one worker thread, which owns the protocol engine. The
 * int-returning request functions check their arguments, hand the request to
 * the worker and return RET_OK at once; the worker then runs it and calls the
 * request's callback exactly once, on the worker thread. Events (see
 * SdsSetEventCallback) are delivered on the same thread, and the events a
 * request causes arrive before that request's result. Requests to one
 * manager run in the order they were made. Any thread may call any function;
 * callbacks may call request functions of any manager (including their own,
 * which then queues behind the current one), but not
 * SdsCleanupReliabilityManager of their own manager.
 *
 * Return codes and callbacks of the int-returning functions:
 *   RET_OK                the request was accepted; its callback fires once,
 *                         later, on the worker thread (RET_OK or RET_ERR).
 *   RET_ERR               an argument was rejected: the callback has already
 *                         fired on the calling thread with RET_ERR and a
 *                         message. For a ctx that is not a live manager (NULL,
 *                         cleaned up, never created) no callback fires.
 *   RET_MISSING_CALLBACK  callback was NULL: nothing happens, no callback.
 *
 * Callback messages are `len` bytes at `msg` (not NUL-terminated by
 * contract). A request's result bytes stay valid after the callback returns,
 * until the caller's next call into the same manager, whatever events fire
 * in between; event bytes are valid only during the event callback. Success
 * without data passes "" with len 0. Error texts are nim-sds's:
 * "error processing <REQUEST> request: <error>" where <error> is one of
 * reInvalidArgument, reMessageTooLarge, reDeserializationError,
 * rePersistenceError, reInternalError.
 *
 * Time: the worker reads the system clock (wall-clock milliseconds); Lamport
 * timestamps of the nim dialect are wall-clock seconds, as in nim-sds.
 *
 * Strings passed in (ids, JSON) are copied before the call returns; the
 * library keeps no pointer to caller memory except the user-data pointers.
 */
#ifndef SDS_LIBSDS_H_
#define SDS_LIBSDS_H_

#include <stddef.h>
#include <stdint.h>

/* Return values of the functions that return int. */
#define RET_OK 0
#define RET_ERR 1
#define RET_MISSING_CALLBACK 2

#if defined(_WIN32)
#define SDS_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define SDS_EXPORT __attribute__((visibility("default")))
#else
#define SDS_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Result and event callback. callerRet is RET_OK or RET_ERR. */
typedef void (*SdsCallBack)(int callerRet, const char* msg, size_t len, void* userData);

/* Retrieval-hint provider: called on the worker thread while a message is
 * wrapped, once for each id of its causal history whose hint is not known
 * yet. On entry *hint is NULL and *hintLen is 0. To supply a hint, set *hint
 * to bytes allocated with malloc() and *hintLen to their length; the library
 * copies them and releases the pointer with free(). An empty hint is asked
 * for again the next time the id is listed; a non-empty one is remembered.
 * Hints travel to peers and show up, base64-encoded, in their
 * missing_dependencies events and unwrap results. */
typedef void (*SdsRetrievalHintProvider)(const char* messageId, char** hint, size_t* hintLen,
                                         void* userData);

/* ---- Managers -------------------------------------------------------------
 *
 * SdsNewReliabilityManager: a manager with nim-sds's default configuration
 * and no participant id (SDS-R off), as nim-sds's function. Returns the
 * handle at once; the worker then calls callback(RET_OK, "", 0). Returns NULL
 * if callback is NULL (no callback) or if the manager cannot be created
 * (callback(RET_ERR, "Failed creating reliability manager: ...") first).
 *
 * Handles are never reused: a handle that was cleaned up stays invalid
 * (RET_ERR, no callback) even after other managers are created. */
SDS_EXPORT void* SdsNewReliabilityManager(SdsCallBack callback, void* userData);

/* SdsNewReliabilityManagerWithConfig: as above, with a participant id and a
 * JSON configuration.
 *
 * participantId: identifies this participant for SDS-R (repair). NULL or ""
 *   disables SDS-R unless the JSON has "participantId". Set it once; it must
 *   stay the same for the lifetime of the participant.
 * configJson: NULL, "" or a JSON object; every key is optional, missing keys
 *   keep their defaults, unknown keys are ignored. Invalid JSON or a
 *   non-object, a value that cannot work (e.g. a negative interval) or an
 *   extension key of the wrong type fail creation: callback(RET_ERR,
 *   "Failed creating reliability manager: <why>") on the calling thread and
 *   NULL is returned.
 *
 * nim-sds's keys (a value of the wrong JSON type keeps the default, as in
 * nim-sds; durations are integer milliseconds):
 *   bloomFilterCapacity    int    10000   (<= 0 means 10000)
 *   bloomFilterErrorRate   float  0.001   (outside (0, 1) means 0.001)
 *   maxMessageHistory      int    1000
 *   maxCausalHistory       int    10      ids attached to each message
 *   resendIntervalMs       int    60000
 *   maxResendAttempts      int    5
 *   syncMessageIntervalMs  int    30000   period of the periodic_sync event
 *   bufferSweepIntervalMs  int    60000   accepted, unused: sds runs each
 *   repairSweepIntervalMs  int    5000      timer at its own deadline
 *   repairTMinMs           int    30000   SDS-R request delay window
 *   repairTMaxMs           int    300000  (spec dialect: 120000)
 *   numResponseGroups      int    1
 *   maxRepairRequests      int    3       repair requests per message
 *
 * Extension keys (sds only; a value of the wrong type fails creation):
 *   participantId          string  used when the argument is NULL or "".
 *   dialect                "nim" (default) | "spec": the wire format sent
 *                          (nim-sds / the SDS specification and @waku/sds).
 *                          "spec" also changes defaults: Lamport in
 *                          milliseconds, bloomAckThreshold 2, repairTMaxMs
 *                          120000. Both dialects are always received unless
 *                          acceptOtherDialect is false.
 *   acceptOtherDialect     bool    true
 *   bloomAckThreshold      int     1 (nim) / 2 (spec): bloom-filter hits
 *                          needed before a message counts as acknowledged.
 *   bloomWireSize          "rightSized" (default) | "fixed": the bloom filter
 *                          a nim-dialect message carries. "rightSized" holds
 *                          only the ids received within bloomWireHorizonMs,
 *                          in the smallest of a few sizes (capacity 64, 128,
 *                          ... up to bloomFilterCapacity) that keeps the
 *                          error rate: ~0.3-2 KB instead of 18.8 KB. nim-sds
 *                          peers read each filter's own geometry. "fixed"
 *                          sends the whole filter as nim-sds does. The spec
 *                          dialect always sends the fixed filter.
 *   bloomWireHorizonMs     int     0: how long a received id stays in a
 *                          right-sized filter; 0 means resendIntervalMs x
 *                          (maxResendAttempts + 2).
 *   syncPolicy             "jitteredAfterReceipt" (default) | "afterReceipt" |
 *                          "unacknowledgedReceipts": with extendedEvents, a
 *                          sync is due syncMessageIntervalMs (+-10%) after a
 *                          message is received; "afterReceipt" without the
 *                          jitter; "unacknowledgedReceipts" also cancels it
 *                          once another peer was seen acknowledging all that
 *                          was received since our last message (fewer syncs,
 *                          slower detection of a gap at the tail).
 *   dedupWindow            int     10000: delivered ids remembered for
 *                          duplicate detection beyond the history.
 *   maxRepairAttempts      int     3: times one missing message is
 *                          requested (1 behaves as nim-sds).
 *   repairRequestTimer     "uniform" (default) | "truncatedExponential"
 *   repairGroupSizeEstimate int    128 (truncatedExponential only)
 *   channelAdmission       "any" (default, as nim-sds) | "local": whether a
 *                          received message for an unknown channel creates
 *                          it ("any"), or is refused with reInvalidArgument
 *                          ("local": only channels this application wrapped
 *                          on, made a sync message for, or that the store
 *                          holds). With "any", channels created by received
 *                          messages are bounded by limits.maxRemoteChannels;
 *                          at the bound the one that received nothing for
 *                          the longest, if idle for remoteChannelIdleTimeoutMs,
 *                          is forgotten (and dropped from the store) to make
 *                          room; a channel the application wraps on is its
 *                          own and never reclaimed.
 *   remoteChannelIdleTimeoutMs int 600000
 *   limits                 object, each key optional: maxChannels (4096),
 *                          maxRemoteChannels (1024), maxIncomingBuffer (10000), maxOutgoingBuffer
 *                          (10000), maxRepairBuffer (1000), maxLamport
 *                          (2^62), and per received message maxMessageBytes
 *                          (1114112), maxContentBytes (1048576),
 *                          maxCausalHistory (256), maxRepairRequest (64),
 *                          maxIdBytes (256), maxHintBytes (4096),
 *                          maxBloomBytes (262144).
 *   extendedEvents         bool    false: also deliver the extension events
 *                          (see SdsSetEventCallback) and build sync messages
 *                          on quiet channels every syncMessageIntervalMs.
 *   detailedErrors         bool    false: append the engine's explanation to
 *                          request error texts, after nim-sds's text:
 *                          "...: reInvalidArgument (message id m1 is already
 *                          used on channel ch)".
 *   storePath              string  crash-safe storage: the path of an SQLite
 *                          database holding every channel's state (history,
 *                          unacknowledged and waiting messages, Lamport
 *                          clock, SDS-R state), created if missing. Every
 *                          request's changes are committed before its result
 *                          callback, so they survive the process being
 *                          killed. One manager per file: the file is opened
 *                          (and locked) by the creating call, and an unusable
 *                          path (directory missing or unwritable, a file that
 *                          is not an sds store, one in use by another
 *                          manager, one written by a newer sds) fails
 *                          creation with "Failed creating reliability
 *                          manager: <why>". Cleanup closes the file. Every
 *                          stored channel is loaded at creation (a channel
 *                          that cannot be loaded fails creation): once
 *                          SdsStartPeriodicTasks runs, its unacknowledged
 *                          messages are resent on time without any request
 *                          naming the channel, its delivered messages are
 *                          recognised as duplicates and its Lamport clock
 *                          continues.
 *                          Requests whose changes could not be saved still
 *                          succeed (the changes go out with the next save);
 *                          such failures are written to stderr. Without
 *                          storePath nothing is persisted. */
SDS_EXPORT void* SdsNewReliabilityManagerWithConfig(const char* participantId,
                                                    const char* configJson, SdsCallBack callback,
                                                    void* userData);

/* Sets the callback that receives events (callerRet RET_OK, msg = compact
 * JSON) on the worker thread; NULL stops events. Events that occur while no
 * callback is set are dropped. Invalid ctx: ignored.
 *
 * nim-sds's events (exact bytes; string values escaped as nim's JSON does):
 *   {"messageId":"m1","channelId":"ch","eventType":"message_ready"}
 *       m1 is delivered: every message it depends on was delivered before.
 *   {"messageId":"m1","channelId":"ch","eventType":"message_sent"}
 *       our m1 was acknowledged by a peer, or (unless extendedEvents) it
 *       was given up after maxResendAttempts resends.
 *   {"eventType":"missing_dependencies","messageId":"m3","channelId":"ch",
 *    "missingDeps":[{"messageId":"m1","retrievalHint":"AQID"}]}
 *       m3 waits for these messages (hints base64, "" when none). Fetch them
 *       elsewhere and call SdsMarkDependenciesMet, or let SDS-R repair them.
 *   {"eventType":"periodic_sync"}
 *       every syncMessageIntervalMs after SdsStartPeriodicTasks, the first at
 *       once (before that request's result).
 *   {"eventType":"repair_ready","channelId":"ch","message":"CgJtMQ=="}
 *       SDS-R: broadcast these bytes (base64), a message a peer is missing.
 *
 * Extension events, delivered only with "extendedEvents": true:
 *   {"eventType":"send_failed","messageId":"m1","channelId":"ch",
 *    "resendAttempts":5,"evicted":false}
 *       replaces message_sent for a message that was never acknowledged
 *       (evicted: pushed out of a full outgoing buffer).
 *   {"eventType":"rebroadcast_due","messageId":"m1","channelId":"ch",
 *    "attempt":1,"message":"<base64>"}
 *       m1 is still unacknowledged: broadcast these bytes (the original
 *       message) again.
 *   {"eventType":"message_possibly_acknowledged","messageId":"m1",
 *    "channelId":"ch","bloomHits":1}
 *       m1 was seen in bloomHits peer bloom filters, fewer than
 *       bloomAckThreshold.
 *   {"eventType":"sync_message_ready","channelId":"ch","message":"<base64>"}
 *       broadcast this sync message (our causal history, bloom filter and
 *       due SDS-R requests; no content).
 *   {"eventType":"message_dropped","messageId":"m3","channelId":"ch",
 *    "reason":"incoming buffer full"}
 *       a message waiting for dependencies was dropped undelivered. */
SDS_EXPORT void SdsSetEventCallback(void* ctx, SdsCallBack callback, void* userData);

/* Sets (or with NULL removes) the retrieval-hint provider. Invalid ctx:
 * ignored. */
SDS_EXPORT void SdsSetRetrievalHintProvider(void* ctx, SdsRetrievalHintProvider callback,
                                            void* userData);

/* Stops the worker thread (the request it is running finishes), frees the
 * manager and invalidates ctx. Requests still queued get their callback with
 * RET_ERR "libsds error: reliability manager was cleaned up" before this
 * returns. Then callback(RET_OK, NULL, 0) fires on the calling thread and
 * RET_OK is returned; no callback of this manager fires afterwards. Must not
 * be called from one of this manager's callbacks (RET_ERR). */
SDS_EXPORT int SdsCleanupReliabilityManager(void* ctx, SdsCallBack callback, void* userData);

/* Forgets every channel (history, buffers, bloom filters, repairs), with
 * storePath in the store too. The callbacks, hint provider and periodic tasks
 * stay. Result: "". Request error: rePersistenceError when the store could
 * not drop a channel (that channel and the ones not yet dropped are kept). */
SDS_EXPORT int SdsResetReliabilityManager(void* ctx, SdsCallBack callback, void* userData);

/* Wraps messageLen bytes of content as message messageId on channelId.
 * Result: the wire bytes to broadcast as decimal numbers separated by
 * commas, e.g. "10,2,109,49,16,...". Synchronous errors:
 *   "libsds error: message pointer is NULL but length > 0"
 *   "libsds error: message ID pointer is NULL"
 *   "libsds error: channel ID pointer is NULL"
 *   "libsds error: channel ID is empty string"
 * Request errors: reInvalidArgument (empty content, an empty id or an id
 * already used on the channel), reMessageTooLarge (over 1 MiB). */
SDS_EXPORT int SdsWrapOutgoingMessage(void* ctx, void* message, size_t messageLen,
                                      const char* messageId, const char* channelId,
                                      SdsCallBack callback, void* userData);

/* Processes bytes received from the transport. Result:
 *   {"message":[104,105],"channelId":"ch","missingDeps":[{"messageId":"m1",
 *    "retrievalHint":""}]}
 * message = the content as integers (also for messages that wait for
 * dependencies and for duplicates; empty for sync messages); missingDeps =
 * what it waits for. Delivery itself is reported by message_ready events.
 * Synchronous error: "libsds error: message pointer is NULL but length > 0".
 * Request errors: reDeserializationError (not an SDS message, or rejected by
 * the limits), reMessageTooLarge. */
SDS_EXPORT int SdsUnwrapReceivedMessage(void* ctx, void* message, size_t messageLen,
                                        SdsCallBack callback, void* userData);

/* The app obtained these messages elsewhere (e.g. a store): stop waiting for
 * them and deliver what they unblock (message_ready events). A NULL element
 * counts as "". Result: "". Synchronous errors:
 *   "libsds error: MessageIDs pointer is NULL but count > 0"
 *   and the channel ID errors above.
 * Request error: reInvalidArgument for a channel that does not exist (with
 * storePath: neither in memory nor in the store). */
SDS_EXPORT int SdsMarkDependenciesMet(void* ctx, char** messageIDs, size_t count,
                                      const char* channelId, SdsCallBack callback,
                                      void* userData);

/* Starts the periodic work: resends and give-ups, SDS-R requests and
 * responses, periodic_sync events (and, with extendedEvents, sync messages).
 * Before this call only requests change state. Calling it again has no
 * further effect (nim-sds would start a second set of loops). Result: "". */
SDS_EXPORT int SdsStartPeriodicTasks(void* ctx, SdsCallBack callback, void* userData);

/* Forgets one channel and everything in it. A channel that does not exist
 * is not an error. Result: "". Synchronous errors: the channel ID errors
 * above. */
SDS_EXPORT int SdsRemoveChannel(void* ctx, const char* channelId, SdsCallBack callback,
                                void* userData);

/* ---- Extensions (sds only) ---------------------------------------------- */

/* Builds a sync message for channelId now: no content, but our causal
 * history, bloom filter and due SDS-R repair requests, so that peers learn
 * what we received (the specification's sync message; nim-sds peers process
 * it as an empty message). Use it to answer periodic_sync. messageId may be
 * reused between syncs. Result: wire bytes as in SdsWrapOutgoingMessage.
 * Synchronous errors: the message ID and channel ID errors above. Request
 * error text: "error processing MAKE_SYNC_MESSAGE request: <error>". */
SDS_EXPORT int SdsMakeSyncMessage(void* ctx, const char* messageId, const char* channelId,
                                  SdsCallBack callback, void* userData);

#ifdef __cplusplus
}
#endif

#endif /* SDS_LIBSDS_H_ */
