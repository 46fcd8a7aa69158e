#include "sds/events.h"

#include <type_traits>

namespace sds {

const char* EventName(const Event& event) {
  return std::visit(
      [](const auto& e) -> const char* {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, MessageReady>) return "MessageReady";
        if constexpr (std::is_same_v<T, MessageAcknowledged>) return "MessageAcknowledged";
        if constexpr (std::is_same_v<T, MessagePossiblyAcknowledged>) {
          return "MessagePossiblyAcknowledged";
        }
        if constexpr (std::is_same_v<T, MissingDependencies>) return "MissingDependencies";
        if constexpr (std::is_same_v<T, SendFailed>) return "SendFailed";
        if constexpr (std::is_same_v<T, RebroadcastDue>) return "RebroadcastDue";
        if constexpr (std::is_same_v<T, SyncMessageReady>) return "SyncMessageReady";
        if constexpr (std::is_same_v<T, RepairReady>) return "RepairReady";
        if constexpr (std::is_same_v<T, MessageDropped>) return "MessageDropped";
      },
      event);
}

}  // namespace sds
