// Own echoes: transports such as Waku relay hand a node its own broadcasts.
// Our own messages must not acknowledge, deliver or reveal anything, also
// when no participant_id is configured (the default) and the sender field
// cannot tell them from a peer's. The engine remembers the id and a
// fingerprint of the exact bytes of the latest messages it produced; an echo
// carries both, while a peer's message that reuses one of our ids does not
// carry our bytes.
#ifndef SDS_CORE_OWN_ECHOES_H_
#define SDS_CORE_OWN_ECHOES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/channel_state.h"
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
  OwnEchoes() : produced_(kOwnEchoMemory) {}
  void Remember(const MessageId& id, ByteSpan wire) { produced_.Insert(Key(id, wire)); }
  bool IsOurs(const MessageId& id, ByteSpan wire) const {
    return produced_.Contains(Key(id, wire));
  }

 private:
  static std::string Key(const MessageId& id, ByteSpan wire) {
    const uint64_t fingerprint = static_cast<uint64_t>(
        NimStringHash(std::string_view(reinterpret_cast<const char*>(wire.data()), wire.size())));
    std::string key = id;
    key.push_back('\0');
    for (int shift = 0; shift < 64; shift += 8) {
      key.push_back(static_cast<char>((fingerprint >> shift) & 0xff));
    }
    key += std::to_string(wire.size());
    return key;
  }

  BoundedIdSet produced_;
};

}  // namespace sds::internal

#endif  // SDS_CORE_OWN_ECHOES_H_
