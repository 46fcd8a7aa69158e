#include "core/repair_timing.h"

#include <openssl/sha.h>

#include <cmath>
#include <string>

#include "sds/hash.h"

namespace sds::repair {
namespace {

// Exact products of two 64-bit hashes, as @waku/sds computes them with BigInt.
__extension__ typedef unsigned __int128 Uint128;

// |x| as an unsigned magnitude: Nim's abs for every value but INT64_MIN (where
// nim-sds, compiled with overflow checks in this module, would abort).
uint64_t Magnitude(int64_t x) {
  return x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
}

std::string Concat(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + b.size());
  out.append(a);
  out.append(b);
  return out;
}

uint64_t NimMagnitude(std::string_view s) { return Magnitude(NimStringHash(s)); }

// The two dialects share these formulas and differ only in the 64-bit hash
// they feed them.

// t_min + h mod (t_max - t_min); t_min when the window is empty.
Duration OffsetInWindow(uint64_t h, Duration t_min, Duration t_max) {
  int64_t range = (t_max - t_min).count();
  if (range <= 0) return t_min;
  return t_min + Duration(static_cast<int64_t>(h % static_cast<uint64_t>(range)));
}

// h(p + m) mod groups == h(s + m) mod groups; true for groups <= 1.
template <typename Hash>
bool SameResponseGroup(Hash hash, std::string_view participant_id, std::string_view sender_id,
                       std::string_view message_id, int64_t groups) {
  if (groups <= 1) return true;
  uint64_t n = static_cast<uint64_t>(groups);
  return hash(Concat(participant_id, message_id)) % n == hash(Concat(sender_id, message_id)) % n;
}

}  // namespace

Duration NimRequestDelay(std::string_view participant_id, std::string_view message_id,
                         Duration t_min, Duration t_max) {
  return OffsetInWindow(NimMagnitude(Concat(participant_id, message_id)), t_min, t_max);
}

Duration NimResponseDelay(std::string_view participant_id, std::string_view sender_id,
                          std::string_view message_id, Duration t_max) {
  uint64_t distance = Magnitude(NimStringHash(participant_id) ^ NimStringHash(sender_id));
  if (t_max.count() <= 0 || distance == 0) return Duration::zero();
  uint64_t t = static_cast<uint64_t>(t_max.count());
  uint64_t mh = NimMagnitude(message_id);
  return Duration(static_cast<int64_t>(((distance % t) * (mh % t)) % t));
}

bool NimInResponseGroup(std::string_view participant_id, std::string_view sender_id,
                        std::string_view message_id, int64_t groups) {
  return SameResponseGroup(NimMagnitude, participant_id, sender_id, message_id, groups);
}

uint64_t SpecHash(std::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | digest[i];
  return h;
}

Duration SpecRequestDelay(std::string_view participant_id, std::string_view message_id,
                          Duration t_min, Duration t_max) {
  return OffsetInWindow(SpecHash(Concat(participant_id, message_id)), t_min, t_max);
}

Duration SpecResponseDelay(std::string_view participant_id, std::string_view sender_id,
                           std::string_view message_id, Duration t_max) {
  if (t_max.count() <= 0) return Duration::zero();
  Uint128 distance = SpecHash(participant_id) ^ SpecHash(sender_id);
  Uint128 product = distance * SpecHash(message_id);
  return Duration(static_cast<int64_t>(product % static_cast<uint64_t>(t_max.count())));
}

bool SpecInResponseGroup(std::string_view participant_id, std::string_view sender_id,
                         std::string_view message_id, int64_t groups) {
  return SameResponseGroup(SpecHash, participant_id, sender_id, message_id, groups);
}

Duration TruncatedExponentialDelay(double unit, int64_t group_size, Duration t_min,
                                   Duration t_max) {
  int64_t range = (t_max - t_min).count();
  if (range <= 0) return t_min;
  double lambda = std::log(static_cast<double>(std::max<int64_t>(group_size, 1))) + 1.0;
  double fraction = std::log(unit * (std::exp(lambda) - 1.0) + 1.0) / lambda;
  auto offset = static_cast<int64_t>(fraction * static_cast<double>(range));
  if (offset >= range) offset = range - 1;
  if (offset < 0) offset = 0;
  return t_min + Duration(offset);
}

Duration RequestDelay(const Config& config, std::string_view message_id) {
  const ParticipantId& self = config.participant_id;
  if (config.repair_request_timer == RepairRequestTimer::kTruncatedExponential) {
    std::string key = Concat(self, message_id);
    // 53 uniform bits from the dialect's hash give a draw in [0, 1).
    uint64_t bits =
        config.dialect == Dialect::kNim ? Magnitude(NimStringHash(key)) << 1 : SpecHash(key);
    double unit = static_cast<double>(bits >> 11) * 0x1.0p-53;
    return TruncatedExponentialDelay(unit, config.repair_group_size_estimate, config.repair_t_min,
                                     config.repair_t_max);
  }
  return config.dialect == Dialect::kNim
             ? NimRequestDelay(self, message_id, config.repair_t_min, config.repair_t_max)
             : SpecRequestDelay(self, message_id, config.repair_t_min, config.repair_t_max);
}

Duration ResponseDelay(const Config& config, std::string_view sender_id,
                       std::string_view message_id) {
  return config.dialect == Dialect::kNim
             ? NimResponseDelay(config.participant_id, sender_id, message_id, config.repair_t_max)
             : SpecResponseDelay(config.participant_id, sender_id, message_id, config.repair_t_max);
}

bool InResponseGroup(const Config& config, std::string_view sender_id,
                     std::string_view message_id) {
  return config.dialect == Dialect::kNim
             ? NimInResponseGroup(config.participant_id, sender_id, message_id,
                                  config.num_response_groups)
             : SpecInResponseGroup(config.participant_id, sender_id, message_id,
                                   config.num_response_groups);
}

}  // namespace sds::repair
