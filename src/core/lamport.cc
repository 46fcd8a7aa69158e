// Lamport clocks of a channel (SDS: "Lamport timestamp"). One rule per
// direction; the dialects differ in both.
#include <algorithm>

#include "core/reliability_manager_impl.h"

namespace sds {

using internal::ChannelState;

namespace {

LamportTime NowInLamportUnits(LamportUnit unit, Timestamp now) {
  int64_t ms = UnixMillis(now);
  return unit == LamportUnit::kSeconds ? ms / 1000 : ms;
}

}  // namespace

void ReliabilityManager::Impl::AdvanceLamportForSend(ChannelState& channel, Timestamp now) {
  LamportTime clock = NowInLamportUnits(config_.lamport_unit, now);
  if (config_.dialect == Dialect::kNim) {
    channel.lamport = std::max(clock, channel.lamport) + 1;  // nim-sds
  } else {
    channel.lamport = std::max(clock, channel.lamport + 1);  // the specification
  }
}

void ReliabilityManager::Impl::AdvanceLamportForReceive(ChannelState& channel, LamportTime received,
                                                        internal::ReceiveStage stage) {
  // nim-sds advances the clock as soon as a message arrives (sync messages
  // too, before its dependencies are checked); the specification when a
  // message is delivered.
  const internal::ReceiveStage rule = config_.dialect == Dialect::kNim
                                          ? internal::ReceiveStage::kArrived
                                          : internal::ReceiveStage::kDelivered;
  if (stage != rule) return;
  if (config_.dialect == Dialect::kNim) {
    channel.lamport = std::max(received, channel.lamport) + 1;
  } else {
    channel.lamport = std::max(received, channel.lamport);
  }
}

}  // namespace sds
