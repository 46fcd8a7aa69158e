// Own echoes: transports such as Waku relay hand a node its own broadcasts.
// Our own messages must not acknowledge, deliver or reveal anything, also
// when no participant_id is configured (the default) and the sender field
// cannot tell them from a peer's. The engine remembers the id and a
// fingerprint of the exact bytes of the latest messages it produced; an echo
// carries both, while a peer's message that reuses one of our ids does not
// carry our bytes.
#ifndef SDS_CORE_OWN_ECHOES_H_
#define SDS_CORE_OWN_ECHOES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sds/hash.h"
#include "sds/types.h"

namespace sds::internal {

// How many of our latest messages (content, sync and ephemeral, all channels)
// are recognised when they come back; ~60 bytes each. Relays echo within
// seconds, so this covers minutes of sending at tens of messages a second.
// Only we fill it: a peer cannot grow it.
inline constexpr size_t kOwnEchoMemory = 4096;

class OwnEchoes {
 public:
  void Remember(const MessageId& id, ByteSpan wire) {
    const Fingerprint print = Of(wire);
    std::vector<Fingerprint>& prints = by_id_[id];
    if (std::find(prints.begin(), prints.end(), print) != prints.end()) return;
    prints.push_back(print);
    order_.push_back(id);
    while (order_.size() > kOwnEchoMemory) {
      // The oldest entry of the order is the oldest fingerprint of its id.
      auto oldest = by_id_.find(order_.front());
      oldest->second.erase(oldest->second.begin());
      if (oldest->second.empty()) by_id_.erase(oldest);
      order_.pop_front();
    }
  }

  // Looks the id up first: a peer's message (almost every one received) is
  // told apart without hashing its bytes, which are ~20 KB with a full filter.
  bool IsOurs(const MessageId& id, ByteSpan wire) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    const Fingerprint print = Of(wire);
    return std::find(it->second.begin(), it->second.end(), print) != it->second.end();
  }

 private:
  struct Fingerprint {
    uint64_t hash;
    size_t size;
    bool operator==(const Fingerprint&) const = default;
  };

  static Fingerprint Of(ByteSpan wire) {
    return {static_cast<uint64_t>(NimStringHash(
                std::string_view(reinterpret_cast<const char*>(wire.data()), wire.size()))),
            wire.size()};
  }

  // Each id with the fingerprints of what we produced under it (a resend of
  // a message carries a new filter, so new bytes), and one entry per
  // fingerprint in the order remembered, so the oldest is forgotten first.
  std::unordered_map<MessageId, std::vector<Fingerprint>> by_id_;
  std::deque<MessageId> order_;
};

}  // namespace sds::internal

#endif  // SDS_CORE_OWN_ECHOES_H_
