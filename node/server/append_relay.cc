#include "append_relay.h"

#include <spdlog/spdlog.h>

namespace sds::node {

namespace {
// How long one wait for notifications lasts: bounds how late a stop is seen.
constexpr std::chrono::milliseconds kPoll{200};
// Between attempts to reconnect a listener whose database is unreachable.
constexpr std::chrono::milliseconds kReconnectPause{500};
}  // namespace

Result<std::unique_ptr<AppendRelay>> AppendRelay::Start(const std::string& conninfo,
                                                        std::shared_ptr<Node> node) {
  auto listener = catchup::PostgresAppendListener::Open(conninfo);
  if (!listener.ok()) return listener.status();
  return std::unique_ptr<AppendRelay>(new AppendRelay(std::move(*listener), std::move(node)));
}

AppendRelay::AppendRelay(std::unique_ptr<catchup::PostgresAppendListener> listener,
                         std::shared_ptr<Node> node)
    : listener_(std::move(listener)), node_(std::move(node)) {
  thread_ = std::thread([this] { Run(); });
}

AppendRelay::~AppendRelay() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

bool AppendRelay::Pause(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return !stop_cv_.wait_for(lock, timeout, [this] { return stop_; });
}

void AppendRelay::Run() {
  auto relay = [this](const ChannelId& channel, uint64_t head_seq) {
    node_->RelayAppended(channel, head_seq);
  };
  bool failing = false;
  while (Pause(std::chrono::milliseconds(0))) {
    // Disconnected: Wait fails at once and Drain below reconnects.
    (void)listener_->Wait(kPoll);
    auto drained = listener_->Drain(relay);
    if (!drained.ok()) {
      if (!failing) {
        spdlog::warn("event=append_listener_down error=\"{}\"", drained.status().ToString());
      }
      failing = true;
      if (!Pause(kReconnectPause)) break;
      continue;
    }
    if (drained->resubscribed || failing) {
      spdlog::info("event=append_listener_reconnected");
      node_->metrics().CountRelayReconnect();
      node_->RelayAllChannels();
    }
    failing = false;
  }
}

}  // namespace sds::node
