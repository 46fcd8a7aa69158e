#include "metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace sds::node {
namespace {

// A label value: Prometheus escapes backslash, quote and newline; channel ids
// are arbitrary bytes, so anything outside printable ASCII is written \xNN.
std::string LabelValue(std::string_view raw) {
  std::string out;
  for (unsigned char c : raw) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void Counter(std::string& out, const char* name, const char* help, uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}
void Gauge(std::string& out, const char* name, const char* help, int64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
}

}  // namespace

void NodeMetrics::CountRequest(const std::string& endpoint, unsigned status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

uint64_t NodeMetrics::requests(const std::string& endpoint, unsigned status) const {
  std::lock_guard lock(mutex_);
  auto it = requests_.find({endpoint, status});
  return it == requests_.end() ? 0 : it->second;
}

void NodeMetrics::ObserveAppend(std::chrono::nanoseconds latency, size_t /*messages*/) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mutex_);
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  ++latency_counts_[bucket];
  latency_sum_s_ += seconds;
  ++latency_count_;
}

std::string NodeMetrics::Render(const catchup::LogServiceCounters& service,
                                catchup::ChannelLog& log, size_t max_channels) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    out += "# HELP sds_node_requests_total HTTP requests by endpoint and status.\n";
    out += "# TYPE sds_node_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      const unsigned status = key.second;
      const char* outcome = status < 300 ? "ok" : status < 500 ? "client_error" : "server_error";
      out += fmt::format(
          "sds_node_requests_total{{endpoint=\"{}\",status=\"{}\",outcome=\"{}\"}} {}\n",
          LabelValue(key.first), status, outcome, count);
    }
    out += "# HELP sds_node_append_seconds Latency of one append batch into the log.\n";
    out += "# TYPE sds_node_append_seconds histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += latency_counts_[i];
      out += fmt::format("sds_node_append_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBuckets[i],
                         cumulative);
    }
    cumulative += latency_counts_.back();
    out += fmt::format("sds_node_append_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    out += fmt::format("sds_node_append_seconds_sum {}\n", latency_sum_s_);
    out += fmt::format("sds_node_append_seconds_count {}\n", latency_count_);
  }

  out += "# HELP sds_node_catchup_requests_total Catch-up requests by kind and outcome.\n";
  out += "# TYPE sds_node_catchup_requests_total counter\n";
  auto outcomes = [&](const char* kind, const catchup::LogServiceCounters::Outcomes& o) {
    const std::pair<const char*, uint64_t> rows[] = {{"ok", o.ok},
                                                     {"bad_request", o.bad_request},
                                                     {"unsupported_version", o.unsupported_version},
                                                     {"too_large", o.too_large},
                                                     {"internal", o.internal}};
    for (const auto& [name, value] : rows) {
      out += fmt::format("sds_node_catchup_requests_total{{kind=\"{}\",outcome=\"{}\"}} {}\n", kind,
                         name, value);
    }
  };
  outcomes("sync", service.sync);
  outcomes("snapshot", service.snapshot);
  outcomes("fetch", service.fetch);
  outcomes("backfill", service.backfill);

  out += "# HELP sds_node_sync_channels_total Sync results per channel by status.\n";
  out += "# TYPE sds_node_sync_channels_total counter\n";
  out += fmt::format("sds_node_sync_channels_total{{status=\"delta\"}} {}\n", service.delta);
  out +=
      fmt::format("sds_node_sync_channels_total{{status=\"up_to_date\"}} {}\n", service.up_to_date);
  out += fmt::format("sds_node_sync_channels_total{{status=\"unknown_channel\"}} {}\n",
                     service.unknown_channel);
  out += fmt::format("sds_node_sync_channels_total{{status=\"cold_start_required\"}} {}\n",
                     service.cold_starts.total());
  out += "# HELP sds_node_cold_starts_total Cold starts answered, by reason.\n";
  out += "# TYPE sds_node_cold_starts_total counter\n";
  const std::pair<const char*, uint64_t> reasons[] = {
      {"no_cursor", service.cold_starts.no_cursor},
      {"epoch_mismatch", service.cold_starts.epoch_mismatch},
      {"behind_retention", service.cold_starts.behind_retention},
      {"ahead_of_head", service.cold_starts.ahead_of_head}};
  for (const auto& [name, value] : reasons) {
    out += fmt::format("sds_node_cold_starts_total{{reason=\"{}\"}} {}\n", name, value);
  }
  Counter(out, "sds_node_entries_served_total", "Log entries sent in catch-up answers.",
          service.entries_served);
  Counter(out, "sds_node_bytes_out_total", "HTTP response body bytes sent.", bytes_out_);
  Counter(out, "sds_node_appended_total", "Messages appended to the log by publish.", appended_);
  Counter(out, "sds_node_publish_rejected_total", "Published messages the log refused.", rejected_);
  Counter(out, "sds_node_rate_limited_total", "Requests answered 429.", rate_limited_);
  Counter(out, "sds_node_connections_rejected_total", "Connections refused over the limit.",
          connections_rejected_);
  Counter(out, "sds_node_slow_subscribers_total",
          "Subscribers disconnected because their send queue overflowed.", slow_subscribers_);
  Counter(out, "sds_node_live_frames_total", "Live frames queued to subscribers.", live_frames_);
  Counter(out, "sds_node_relay_notifications_total",
          "Append notifications received from the nodes sharing the database.",
          relay_notifications_);
  Counter(out, "sds_node_relay_reconnects_total",
          "Reconnections of the append listener (notifications may have been lost).",
          relay_reconnects_);
  Gauge(out, "sds_node_connections", "Open connections.", connections_);
  Gauge(out, "sds_node_subscribers", "Channel subscriptions of open WebSockets.", subscribers_);

  auto channels = log.Channels();
  if (channels.ok()) {
    Gauge(out, "sds_node_channels", "Channels in the log.", static_cast<int64_t>(channels->size()));
    std::string head =
        "# HELP sds_node_channel_head_seq Newest seq per channel.\n"
        "# TYPE sds_node_channel_head_seq gauge\n";
    std::string low =
        "# HELP sds_node_channel_low_seq Oldest retained seq per channel.\n"
        "# TYPE sds_node_channel_low_seq gauge\n";
    const size_t shown = std::min(channels->size(), max_channels);
    for (size_t i = 0; i < shown; ++i) {
      const catchup::ChannelMeta& m = (*channels)[i];
      const std::string label = LabelValue(m.channel_id);
      head += fmt::format("sds_node_channel_head_seq{{channel=\"{}\"}} {}\n", label, m.head_seq);
      low += fmt::format("sds_node_channel_low_seq{{channel=\"{}\"}} {}\n", label, m.low_seq);
    }
    out += head;
    out += low;
  }
  return out;
}

}  // namespace sds::node
