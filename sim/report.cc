#include "sim/report.h"

#include <cstdarg>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

namespace sds::sim {
namespace {

double Ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

std::string Printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Printf(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return std::string(buffer,
                     n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buffer - 1));
}

std::string Percent(double ratio) { return Printf("%.2f%%", ratio * 100); }

// The columns of CSV and JSON, in order: one definition for both.
struct Column {
  const char* name;
  std::function<double(const RunReport&, const DerivedMetrics&)> value;
  bool integer;
};

const std::vector<Column>& Columns() {
  using R = const RunReport&;
  using D = const DerivedMetrics&;
  static const std::vector<Column> columns = {
      {"participants", [](R r, D) { return static_cast<double>(r.participants); }, true},
      {"loss", [](R r, D) { return r.loss; }, false},
      {"period_s", [](R r, D) { return r.period_s; }, false},
      {"simulated_s", [](R r, D) { return r.simulated_s; }, false},
      {"messages_sent", [](R r, D) { return static_cast<double>(r.messages_sent); }, true},
      {"pairs", [](R r, D) { return static_cast<double>(r.pairs); }, true},
      {"delivery_s", [](R, D d) { return d.delivery_s; }, false},
      {"delivery_3s", [](R, D d) { return d.delivery_3s; }, false},
      {"delivery_6s", [](R, D d) { return d.delivery_6s; }, false},
      {"delivery_eventual", [](R, D d) { return d.delivery_eventual; }, false},
      {"fully_delivered_6s", [](R, D d) { return d.fully_delivered_6s; }, false},
      {"lost_pairs", [](R r, D) { return static_cast<double>(r.lost); }, true},
      {"latency_p50_s", [](R r, D) { return r.latency.p50; }, false},
      {"latency_p90_s", [](R r, D) { return r.latency.p90; }, false},
      {"latency_p99_s", [](R r, D) { return r.latency.p99; }, false},
      {"latency_max_s", [](R r, D) { return r.latency.max; }, false},
      {"ack_within_s", [](R, D d) { return d.ack_within_s; }, false},
      {"ack_p50_s", [](R r, D) { return r.ack_latency.p50; }, false},
      {"ack_p90_s", [](R r, D) { return r.ack_latency.p90; }, false},
      {"missed_pairs", [](R r, D) { return static_cast<double>(r.missed); }, true},
      {"detected_within_3s", [](R, D d) { return d.detected_within_3s; }, false},
      {"detection_p50_s", [](R r, D) { return r.detection_latency.p50; }, false},
      {"detection_p90_s", [](R r, D) { return r.detection_latency.p90; }, false},
      {"wire_messages_per_message", [](R, D d) { return d.wire_messages_per_message; }, false},
      {"bytes_per_message", [](R, D d) { return d.bytes_per_message; }, false},
      {"overhead_bytes_per_message", [](R, D d) { return d.overhead_per_message; }, false},
      {"payload_bytes", [](R r, D) { return static_cast<double>(r.Total().payload_bytes); }, true},
      {"bloom_bytes", [](R r, D) { return static_cast<double>(r.Total().bloom_bytes); }, true},
      {"history_bytes", [](R r, D) { return static_cast<double>(r.Total().history_bytes); }, true},
      {"repair_request_bytes",
       [](R r, D) { return static_cast<double>(r.Total().repair_request_bytes); }, true},
      {"header_bytes", [](R r, D) { return static_cast<double>(r.Total().header_bytes); }, true},
      {"content_bytes", [](R r, D) { return static_cast<double>(r.content.bytes); }, true},
      {"resend_bytes", [](R r, D) { return static_cast<double>(r.resends.bytes); }, true},
      {"sync_bytes", [](R r, D) { return static_cast<double>(r.syncs.bytes); }, true},
      {"repair_bytes", [](R r, D) { return static_cast<double>(r.repairs.bytes); }, true},
      {"sync_messages", [](R r, D) { return static_cast<double>(r.syncs.messages); }, true},
      {"resends", [](R r, D) { return static_cast<double>(r.resends.messages); }, true},
      {"resends_per_message", [](R, D d) { return d.resends_per_message; }, false},
      {"repair_request_entries",
       [](R r, D) { return static_cast<double>(r.repair_request_entries); }, true},
      {"repair_responses", [](R r, D) { return static_cast<double>(r.repairs.messages); }, true},
      {"requests_per_loss", [](R, D d) { return d.requests_per_loss; }, false},
      {"responses_per_loss", [](R, D d) { return d.responses_per_loss; }, false},
      {"messages_missed", [](R r, D) { return static_cast<double>(r.messages_missed); }, true},
      {"requests_per_missed_message", [](R, D d) { return d.requests_per_missed_message; }, false},
      {"responses_per_missed_message", [](R, D d) { return d.responses_per_missed_message; },
       false},
      {"send_failed", [](R r, D) { return static_cast<double>(r.send_failed); }, true},
      {"bloom_acknowledgements",
       [](R r, D) { return static_cast<double>(r.bloom_acknowledgements); }, true},
      {"false_acknowledgements",
       [](R r, D) { return static_cast<double>(r.false_acknowledgements); }, true},
      {"dropped", [](R r, D) { return static_cast<double>(r.dropped); }, true},
      {"duplicate_deliveries", [](R r, D) { return static_cast<double>(r.duplicate_deliveries); },
       true},
      {"causal_violations", [](R r, D) { return static_cast<double>(r.causal_violations); }, true},
      {"catchup_requests", [](R r, D) { return static_cast<double>(r.catchup.requests); }, true},
      {"catchup_request_bytes", [](R r, D) { return static_cast<double>(r.catchup.request_bytes); },
       true},
      {"catchup_response_bytes",
       [](R r, D) { return static_cast<double>(r.catchup.response_bytes); }, true},
      {"catchup_cold_starts", [](R r, D) { return static_cast<double>(r.catchup.cold_starts); },
       true},
      {"catchup_gap_entries", [](R r, D) { return static_cast<double>(r.catchup.gap_entries); },
       true},
      {"catchup_delivered_pairs",
       [](R r, D) { return static_cast<double>(r.catchup.delivered_pairs); }, true},
  };
  return columns;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Number(double value, bool integer) {
  if (integer) return Printf("%.0f", value);
  return Printf("%.6g", value);
}

}  // namespace

DerivedMetrics Derive(const RunReport& r) {
  DerivedMetrics d;
  d.delivery_s = Ratio(r.delivered_within_s, r.pairs);
  d.delivery_3s = Ratio(r.delivered_within_3s, r.pairs);
  d.delivery_6s = Ratio(r.delivered_within_6s, r.pairs);
  d.delivery_eventual = Ratio(r.delivered, r.pairs);
  d.ack_within_s = Ratio(r.acknowledged_within_s, r.messages_sent);
  d.detected_within_3s = Ratio(r.missed_detected_within_3s, r.missed);
  d.fully_delivered_6s = Ratio(r.messages_fully_delivered_within_6s, r.messages_sent);
  WireTraffic total = r.Total();
  d.wire_messages_per_message = Ratio(total.messages, r.messages_sent);
  d.bytes_per_message = Ratio(total.bytes, r.messages_sent);
  d.overhead_per_message = Ratio(total.bytes - total.payload_bytes, r.messages_sent);
  d.resends_per_message = Ratio(r.resends.messages, r.messages_sent);
  d.requests_per_loss = Ratio(r.repair_request_entries, r.missed);
  d.responses_per_loss = Ratio(r.repairs.messages, r.missed);
  d.requests_per_missed_message = Ratio(r.repair_request_entries, r.messages_missed);
  d.responses_per_missed_message = Ratio(r.repairs.messages, r.messages_missed);
  if (r.cpu_measured && r.messages_sent > 0) {
    d.engine_us_per_message = r.engine_seconds * 1e6 / static_cast<double>(r.messages_sent);
  }
  return d;
}

std::string FormatTable(const RunReport& r) {
  DerivedMetrics d = Derive(r);
  std::string out;
  out += Printf("scenario %s: %zu participants, %s, dialect %s, loss %.1f%%, seed %llu\n",
                r.scenario.c_str(), r.participants, r.recovery.c_str(), r.dialect.c_str(),
                r.loss * 100, static_cast<unsigned long long>(r.seed));
  out += Printf("%llu messages, %llu (message, recipient) pairs, S = %gs, %.0f s simulated\n\n",
                static_cast<unsigned long long>(r.messages_sent),
                static_cast<unsigned long long>(r.pairs), r.period_s, r.simulated_s);
  auto row = [&](const std::string& what, const std::string& value, const std::string& note) {
    out += Printf("  %-34s %14s  %s\n", what.c_str(), value.c_str(), note.c_str());
  };
  auto count = [](uint64_t v) { return Printf("%llu", static_cast<unsigned long long>(v)); };
  auto seconds = [](double v) { return Printf("%.3f s", v); };
  out += "delivery\n";
  row("delivered within S", Percent(d.delivery_s), "of pairs");
  row("delivered within 3S", Percent(d.delivery_3s), "");
  row("delivered within 6S", Percent(d.delivery_6s), "FURPS: consistent within 6S");
  row("delivered eventually", Percent(d.delivery_eventual), "by the end of the run");
  row("messages at everyone within 6S", Percent(d.fully_delivered_6s), "of messages");
  row("irretrievably lost", count(r.lost), "pairs never delivered");
  out += "latency (send to delivery)\n";
  row("p50 / p90", seconds(r.latency.p50) + " / " + seconds(r.latency.p90), "");
  row("p99 / max", seconds(r.latency.p99) + " / " + seconds(r.latency.max), "");
  out += "acknowledgement\n";
  row("acknowledged within S", Percent(d.ack_within_s), "FURPS: some recipient acks within S");
  row("acknowledged eventually", Percent(Ratio(r.acknowledged, r.messages_sent)), "");
  row("ack p50 / p90", seconds(r.ack_latency.p50) + " / " + seconds(r.ack_latency.p90), "");
  row("bloom acknowledgements", count(r.bloom_acknowledgements), "not via causal history");
  row("false acknowledgements", count(r.false_acknowledgements),
      "acknowledging peer did not hold it");
  row("possibly acknowledged", count(r.possibly_acknowledged), "bloom hits below threshold");
  out += "losses\n";
  row("missed first transmissions", count(r.missed),
      Printf("pairs (%.2f%% of pairs)", Ratio(r.missed, r.pairs) * 100));
  row("detected within 3S", Percent(d.detected_within_3s), "FURPS: 90% of misses within 3S");
  row("detection p50 / p90",
      seconds(r.detection_latency.p50) + " / " + seconds(r.detection_latency.p90), "");
  row("gap reports", count(r.gaps_reported), "MissingDependencies entries");
  row("resends per message", Printf("%.3f", d.resends_per_message), "");
  row("repair requests per miss", Printf("%.3f", d.requests_per_loss), "request entries");
  row("repair responses per miss", Printf("%.3f", d.responses_per_loss), "rebroadcasts");
  row("per message someone missed",
      Printf("%.3f / %.3f", d.requests_per_missed_message, d.responses_per_missed_message),
      Printf("requests / responses (%llu such messages)",
             static_cast<unsigned long long>(r.messages_missed)));
  row("sends failed", count(r.send_failed), "resends exhausted");
  out += "traffic per application message (broadcasts, not copies)\n";
  WireTraffic t = r.Total();
  double m = static_cast<double>(std::max<uint64_t>(r.messages_sent, 1));
  row("wire messages", Printf("%.3f", d.wire_messages_per_message),
      Printf("content %.2f, resend %.2f, sync %.2f, repair %.2f",
             static_cast<double>(r.content.messages) / m,
             static_cast<double>(r.resends.messages) / m, static_cast<double>(r.syncs.messages) / m,
             static_cast<double>(r.repairs.messages) / m));
  row("bytes", Printf("%.0f B", d.bytes_per_message),
      Printf("payload %.0f, bloom %.0f, history %.0f, repair req %.0f, header %.0f",
             static_cast<double>(t.payload_bytes) / m, static_cast<double>(t.bloom_bytes) / m,
             static_cast<double>(t.history_bytes) / m,
             static_cast<double>(t.repair_request_bytes) / m,
             static_cast<double>(t.header_bytes) / m));
  row("by kind", "",
      Printf("content %.0f, resend %.0f, sync %.0f, repair %.0f B",
             static_cast<double>(r.content.bytes) / m, static_cast<double>(r.resends.bytes) / m,
             static_cast<double>(r.syncs.bytes) / m, static_cast<double>(r.repairs.bytes) / m));
  row("copies lost on links", count(r.copies_lost),
      Printf("of %llu", static_cast<unsigned long long>(r.copies_sent)));
  if (r.cpu_measured) {
    row("engine time per message", Printf("%.1f us", d.engine_us_per_message),
        Printf("%.3f s in %llu engine calls", r.engine_seconds,
               static_cast<unsigned long long>(r.engine_calls)));
  }
  if (r.catchup.enabled) {
    const CatchUpReport& c = r.catchup;
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    out += "catch-up from the store node\n";
    row("store log", count(c.store_appended),
        Printf("entries appended (%llu duplicates, %llu not stored, %llu of %llu copies lost)",
               u(c.store_duplicates), u(c.store_not_stored), u(c.store_copies_lost),
               u(c.store_heard)));
    row("requests", count(c.requests),
        Printf("sync %llu, snapshot %llu, fetch %llu; %llu lost, %llu answers lost",
               u(c.sync_requests), u(c.snapshot_requests), u(c.fetch_requests), u(c.requests_lost),
               u(c.responses_lost)));
    row("bytes per application message",
        Printf("%.0f B", static_cast<double>(c.request_bytes + c.response_bytes) / m),
        Printf("requests %.0f, responses %.0f B (unicast)",
               static_cast<double>(c.request_bytes) / m,
               static_cast<double>(c.response_bytes) / m));
    row("pairs delivered by catch-up", count(c.delivered_pairs),
        Printf("%llu entries applied in %llu rounds", u(c.entries_applied), u(c.rounds)));
    row("cold starts (gap snapshots)", count(c.cold_starts),
        Printf("%llu log entries skipped; %llu initial loads", u(c.gap_entries),
               u(c.initial_loads)));
    row("irretrievable", count(c.irretrievable), "dependencies the store no longer had");
    row("retries", count(c.retries),
        Printf("%llu answers rejected, %llu stale", u(c.rejected_responses), u(c.responses_stale)));
  }
  out += "invariants\n";
  row("duplicate deliveries", count(r.duplicate_deliveries), "must be 0");
  row("causal order violations", count(r.causal_violations), "must be 0");
  row("rejected wire messages", count(r.rejected), "must be 0");
  row("buffered messages dropped", count(r.dropped), "");
  if (r.redeliveries_after_state_loss > 0) {
    row("redelivered after state loss", count(r.redeliveries_after_state_loss),
        "the app lost its state too");
  }
  return out;
}

std::string FormatCsv(const std::vector<std::pair<Settings, RunReport>>& runs) {
  std::string out;
  if (runs.empty()) return out;
  out += "scenario,seed,recovery,dialect";
  for (const auto& [key, value] : runs.front().first) out += "," + CsvField(key);
  for (const Column& c : Columns()) out += std::string(",") + c.name;
  if (runs.front().second.cpu_measured) out += ",engine_us_per_message";
  out += "\n";
  for (const auto& [settings, report] : runs) {
    DerivedMetrics d = Derive(report);
    out += CsvField(report.scenario) + "," + std::to_string(report.seed) + "," + report.recovery +
           "," + report.dialect;
    for (const auto& [key, value] : settings) out += "," + CsvField(value);
    for (const Column& c : Columns()) out += "," + Number(c.value(report, d), c.integer);
    if (report.cpu_measured) out += "," + Number(d.engine_us_per_message, false);
    out += "\n";
  }
  return out;
}

std::string FormatJson(const std::vector<std::pair<Settings, RunReport>>& runs) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& [settings, report] : runs) {
    DerivedMetrics d = Derive(report);
    nlohmann::ordered_json run;
    run["scenario"] = report.scenario;
    run["seed"] = report.seed;
    run["recovery"] = report.recovery;
    run["dialect"] = report.dialect;
    nlohmann::ordered_json set = nlohmann::ordered_json::object();
    for (const auto& [key, value] : settings) set[key] = value;
    run["settings"] = set;
    for (const Column& c : Columns()) {
      double v = c.value(report, d);
      if (c.integer) {
        run[c.name] = static_cast<uint64_t>(v);
      } else {
        run[c.name] = v;
      }
    }
    if (report.cpu_measured) run["engine_us_per_message"] = d.engine_us_per_message;
    nlohmann::ordered_json per = nlohmann::ordered_json::array();
    for (const auto& p : report.per_participant) {
      per.push_back({{"sent", p.sent},
                     {"expected", p.expected},
                     {"delivered", p.delivered},
                     {"lost", p.lost}});
    }
    run["per_participant"] = per;
    all.push_back(run);
  }
  return all.dump(2) + "\n";
}

std::string FormatSummaryTable(const std::vector<std::pair<Settings, RunReport>>& runs) {
  std::string out;
  if (runs.empty()) return out;
  std::string header = "| scenario |";
  std::string rule = "|---|";
  for (const auto& [key, value] : runs.front().first) {
    header += " " + key + " |";
    rule += "---|";
  }
  bool catchup = false;
  for (const auto& [settings, r] : runs) catchup = catchup || r.catchup.enabled;
  header +=
      " G | loss | recovery | ≤S | ≤3S | ≤6S | eventual | lost | p50 s | p99 s | ack ≤S | "
      "detect ≤3S | wire msgs/msg | KB/msg | req/miss | resp/miss | false acks |";
  rule += "---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  if (catchup) {
    header += " catch-up KB/msg | by catch-up | cold starts |";
    rule += "---|---|---|";
  }
  header += "\n";
  rule += "\n";
  out += header + rule;
  for (const auto& [settings, r] : runs) {
    DerivedMetrics d = Derive(r);
    std::string line = "| " + r.scenario + " |";
    for (const auto& [key, value] : settings) line += " " + value + " |";
    line += Printf(
        " %zu | %.0f%% | %s | %.1f%% | %.1f%% | %.1f%% | %.2f%% | %llu | %.2f | %.2f | %.1f%% | "
        "%.1f%% | %.2f | %.1f | %.2f | %.2f | %llu |",
        r.participants, r.loss * 100, r.recovery.c_str(), d.delivery_s * 100, d.delivery_3s * 100,
        d.delivery_6s * 100, d.delivery_eventual * 100, static_cast<unsigned long long>(r.lost),
        r.latency.p50, r.latency.p99, d.ack_within_s * 100,
        r.missed ? d.detected_within_3s * 100 : 100.0, d.wire_messages_per_message,
        d.bytes_per_message / 1024, d.requests_per_loss, d.responses_per_loss,
        static_cast<unsigned long long>(r.false_acknowledgements));
    if (catchup) {
      const CatchUpReport& c = r.catchup;
      line += Printf(" %.2f | %llu | %llu |",
                     r.messages_sent ? static_cast<double>(c.request_bytes + c.response_bytes) /
                                           static_cast<double>(r.messages_sent) / 1024
                                     : 0.0,
                     static_cast<unsigned long long>(c.delivered_pairs),
                     static_cast<unsigned long long>(c.cold_starts));
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace sds::sim
