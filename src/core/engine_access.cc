#include "core/engine_access.h"

#include "core/reliability_manager_impl.h"

namespace sds::internal {
namespace {

// ReliabilityManager keeps its engine in a private member and names no
// friend, so that its public header carries no test hook. An explicit
// instantiation is the one place C++ lets code name a private member
// ([temp.spec.general]/6): instantiating EngineMember with &impl_ defines
// EnginePointer(), which hands that pointer to member to this file alone.
constexpr auto EnginePointer();

template <auto kMember>
struct EngineMember {
  friend constexpr auto EnginePointer() { return kMember; }
};

template struct EngineMember<&ReliabilityManager::impl_>;

}  // namespace

ChannelState& ChannelOf(ReliabilityManager& manager, const ChannelId& channel_id) {
  auto& engine = *(manager.*EnginePointer());
  engine.InvalidateDeadlineIndex();  // the caller may edit what the index was built from
  return *engine.FindChannel(channel_id);
}

}  // namespace sds::internal
