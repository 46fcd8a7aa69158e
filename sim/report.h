// How a simulator run is shown: a readable table, CSV rows and JSON.
//
// Every number is derived from RunReport alone, so equal reports print equal
// bytes (the determinism test relies on it).
#ifndef SDS_SIM_REPORT_H_
#define SDS_SIM_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "sim/simulation.h"

namespace sds::sim {

// Ratios and per-message figures derived from the counts.
struct DerivedMetrics {
  double delivery_s = 0, delivery_3s = 0, delivery_6s = 0, delivery_eventual = 0;
  double ack_within_s = 0;               // of messages sent
  double detected_within_3s = 0;         // of missed pairs
  double fully_delivered_6s = 0;         // of messages sent
  double wire_messages_per_message = 0;  // broadcasts per application message
  double bytes_per_message = 0;          // broadcast bytes per application message
  double overhead_per_message = 0;       // of which not payload
  double resends_per_message = 0;
  double requests_per_loss = 0;            // repair_request entries per missed pair
  double responses_per_loss = 0;           // repair rebroadcasts per missed pair
  double requests_per_missed_message = 0;  // per message some recipient missed
  double responses_per_missed_message = 0;
  double engine_us_per_message = 0;
};
DerivedMetrics Derive(const RunReport& report);

// The one-run report for people: settings line, delivery, latency, losses,
// traffic and invariants.
std::string FormatTable(const RunReport& report);

// One row per run (the `settings` columns first, e.g. a sweep's keys).
using Settings = std::vector<std::pair<std::string, std::string>>;
std::string FormatCsv(const std::vector<std::pair<Settings, RunReport>>& runs);
std::string FormatJson(const std::vector<std::pair<Settings, RunReport>>& runs);
// A compact table, one line per run, for sweeps and the README.
std::string FormatSummaryTable(const std::vector<std::pair<Settings, RunReport>>& runs);

}  // namespace sds::sim

#endif  // SDS_SIM_REPORT_H_
