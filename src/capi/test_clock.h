/* A virtual clock for the C ABI's workers, for tests only.
 *
 * Every manager's worker reads `now` through Manager::Now(): the system
 * clock, unless a test switched to this virtual clock. Then time stands
 * still until the test moves it, and the test sees timers fire exactly when
 * it says, without sleeping.
 *
 * Not part of libsds.h. The functions have hidden visibility and lie outside
 * libsds.map's Sds* pattern, so libsds.so does not export them (its symbols
 * stay exactly nim-sds's); only programs linked with the static library or
 * the shim's objects can call them (tests/c_api's static build). C99. */
#ifndef SDS_CAPI_TEST_CLOCK_H_
#define SDS_CAPI_TEST_CLOCK_H_

#include <stdint.h>

#if defined(__GNUC__)
#define SDS_CAPI_TEST_HOOK __attribute__((visibility("hidden")))
#else
#define SDS_CAPI_TEST_HOOK
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* From now on every worker reads the virtual clock, set to unix_ms. */
SDS_CAPI_TEST_HOOK void sds_capi_test_use_virtual_clock(int64_t unix_ms);

/* Moves the virtual clock forward by ms (>= 0) and wakes every worker. A
 * worker runs the timers that became due before it takes its next request,
 * so the callback of any request made after this call comes after them. */
SDS_CAPI_TEST_HOOK void sds_capi_test_advance_virtual_clock(int64_t ms);

/* Back to the system clock. */
SDS_CAPI_TEST_HOOK void sds_capi_test_use_system_clock(void);

#ifdef __cplusplus
}
#endif

#endif /* SDS_CAPI_TEST_CLOCK_H_ */
