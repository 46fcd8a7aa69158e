// SDS-R timing: when a missing message is requested (T_req), when a holder
// answers a request (T_resp), and who may answer (response groups).
//
// The specification leaves `hash` undefined, and the two deployed
// implementations chose differently, so each dialect reproduces its peer:
//   nim   Nim hash(string) (FarmHash Fingerprint64 as int64) with Nim's abs
//         and truncated mod, concatenation without a separator.
//   spec  SHA-256 of the concatenated string, first 8 bytes big-endian, with
//         exact 128-bit arithmetic, as @waku/sds computes it.
#ifndef SDS_CORE_REPAIR_TIMING_H_
#define SDS_CORE_REPAIR_TIMING_H_

#include <cstdint>
#include <string_view>

#include "sds/config.h"
#include "sds/message.h"
#include "sds/types.h"

namespace sds::repair {

// nim-sds computeTReq: t_min + |h(p + m)| mod (t_max - t_min); t_min when the
// window is empty.
Duration NimRequestDelay(std::string_view participant_id, std::string_view message_id,
                         Duration t_min, Duration t_max);
// nim-sds computeTResp: (|h(p) xor h(s)| * |h(m)|) mod t_max; 0 for the
// original sender (distance 0) or t_max <= 0.
Duration NimResponseDelay(std::string_view participant_id, std::string_view sender_id,
                          std::string_view message_id, Duration t_max);
// nim-sds isInResponseGroup: true for groups <= 1, else
// |h(p + m)| mod groups == |h(s + m)| mod groups.
bool NimInResponseGroup(std::string_view participant_id, std::string_view sender_id,
                        std::string_view message_id, int64_t groups);

// The first 8 bytes of SHA-256(s), big-endian (@waku/sds's SDS-R hash).
uint64_t SpecHash(std::string_view s);
Duration SpecRequestDelay(std::string_view participant_id, std::string_view message_id,
                          Duration t_min, Duration t_max);
Duration SpecResponseDelay(std::string_view participant_id, std::string_view sender_id,
                           std::string_view message_id, Duration t_max);
bool SpecInResponseGroup(std::string_view participant_id, std::string_view sender_id,
                         std::string_view message_id, int64_t groups);

// A request delay in [t_min, t_max) from a truncated exponential distribution
// (NORM's NACK backoff): with lambda = ln(group_size) + 1, a fraction of about
// 1/group_size of the members draws a delay near t_min and most draw delays
// near t_max, so the first request usually suppresses all others. `unit` is
// a uniform draw in [0, 1) derived from the dialect's hash.
Duration TruncatedExponentialDelay(double unit, int64_t group_size, Duration t_min, Duration t_max);

// The request delay the configuration asks for (dialect and timer shape).
Duration RequestDelay(const Config& config, std::string_view message_id);
Duration ResponseDelay(const Config& config, std::string_view sender_id,
                       std::string_view message_id);
bool InResponseGroup(const Config& config, std::string_view sender_id, std::string_view message_id);

}  // namespace sds::repair

#endif  // SDS_CORE_REPAIR_TIMING_H_
