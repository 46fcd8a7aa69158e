// Access to a manager's internal channel state, for tests and tools that must
// see or set what the public API does not show (repair buffers, the clock).
// Not part of the library's interface: nothing under include/ declares it.
#ifndef SDS_CORE_ENGINE_ACCESS_H_
#define SDS_CORE_ENGINE_ACCESS_H_

#include "core/channel_state.h"
#include "sds/reliability_manager.h"

namespace sds::internal {

// The channel's state; the channel must exist.
ChannelState& ChannelOf(ReliabilityManager& manager, const ChannelId& channel_id);

}  // namespace sds::internal

#endif  // SDS_CORE_ENGINE_ACCESS_H_
