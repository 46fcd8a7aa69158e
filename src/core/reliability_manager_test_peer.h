// Test-only access to the engine's internal state (never used by the library).
#ifndef SDS_CORE_RELIABILITY_MANAGER_TEST_PEER_H_
#define SDS_CORE_RELIABILITY_MANAGER_TEST_PEER_H_

#include "core/channel_state.h"
#include "core/reliability_manager_impl.h"
#include "sds/reliability_manager.h"

namespace sds {

class ReliabilityManagerTestPeer {
 public:
  static ReliabilityManager::Impl& Impl(ReliabilityManager& manager) { return *manager.impl_; }
  // The channel's state; the channel must exist.
  static internal::ChannelState& Channel(ReliabilityManager& manager, const ChannelId& id) {
    return *manager.impl_->FindChannel(id);
  }
};

}  // namespace sds

#endif  // SDS_CORE_RELIABILITY_MANAGER_TEST_PEER_H_
