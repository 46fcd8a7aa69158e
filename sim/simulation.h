// The evaluation simulator: a Scenario run on virtual time, measured.
//
// Every participant is a real ReliabilityManager. The simulation plays the
// network (seeded loss, delay, partitions, churn) and the applications (they
// send at the scenario's rate and broadcast whatever the engines hand back),
// and it keeps an oracle of who holds what, so that it can measure what the
// engines cannot see themselves: when each copy was delivered, which losses
// were detected when, which bloom acknowledgements were false.
//
// A run is a pure function of the scenario (seed included): the same scenario
// gives the same report, byte for byte, except the optional CPU timing.
#ifndef SDS_SIM_SIMULATION_H_
#define SDS_SIM_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace sds::sim {

// Traffic of one kind of broadcast: counted once per broadcast (one publish on
// the pub/sub transport), not once per receiver.
struct WireTraffic {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t payload_bytes = 0;         // application content
  uint64_t bloom_bytes = 0;           // bloom filter field, framing included
  uint64_t history_bytes = 0;         // causal history entries, framing included
  uint64_t repair_request_bytes = 0;  // SDS-R repair_request entries
  uint64_t header_bytes = 0;          // the rest: ids, Lamport, field tags
  void Add(const WireTraffic& other);
};

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // seconds
};

// Catch-up from the store node (recovery = sds-r-store). Requests and
// responses are unicast, counted once each; they are not in Total().
struct CatchUpReport {
  bool enabled = false;
  // What the store heard of the broadcasts, and what its log made of it.
  uint64_t store_heard = 0, store_copies_lost = 0;
  uint64_t store_appended = 0, store_duplicates = 0, store_not_stored = 0;
  // Requests sent by the members' drivers, by kind, and their answers.
  uint64_t requests = 0, sync_requests = 0, snapshot_requests = 0, fetch_requests = 0;
  uint64_t request_bytes = 0, response_bytes = 0, responses = 0;
  uint64_t requests_lost = 0, responses_lost = 0;
  uint64_t responses_stale = 0;  // reached a member restarted or offline meanwhile
  // The drivers' work.
  uint64_t rounds = 0, entries_applied = 0, retries = 0, rejected_responses = 0;
  uint64_t cold_starts = 0;    // HistoryGap with a cursor: a snapshot skipped history
  uint64_t initial_loads = 0;  // HistoryGap without a cursor (first sync with the store)
  uint64_t gap_entries = 0;    // log entries cold starts skipped (first_seq - cursor - 1)
  uint64_t irretrievable = 0;  // ids the store no longer had (marked met)
  // (message, recipient) pairs delivered while a store answer was applied.
  uint64_t delivered_pairs = 0;
};

struct RunReport {
  std::string scenario;
  uint64_t seed = 0;
  size_t participants = 0;
  double loss = 0;  // mean loss rate of the link model
  std::string recovery;
  std::string dialect;
  double period_s = 0;     // S
  double simulated_s = 0;  // virtual time simulated

  // Application messages and (message, recipient) pairs: every participant
  // other than the sender should deliver every message.
  uint64_t messages_sent = 0;
  uint64_t pairs = 0;
  uint64_t delivered_within_s = 0, delivered_within_3s = 0, delivered_within_6s = 0;
  uint64_t delivered = 0;                           // by the end of the run
  uint64_t lost = 0;                                // never delivered: irretrievably lost (pairs)
  uint64_t messages_fully_delivered_within_6s = 0;  // delivered to every recipient within 6S
  LatencySummary latency;                           // send -> delivery, delivered pairs
  std::vector<double> latency_cdf_points;           // sorted latencies for plotting (s), sampled

  // FURPS "some recipient acknowledges a message within S": the sender sees
  // MessageAcknowledged.
  uint64_t acknowledged = 0;
  uint64_t acknowledged_within_s = 0;
  LatencySummary ack_latency;

  // Losses: pairs whose first transmission did not reach the recipient (lost
  // on the link, cut by a partition, or the recipient offline).
  uint64_t missed = 0;
  uint64_t messages_missed = 0;            // messages with at least one missed pair
  uint64_t missed_detected = 0;            // a MissingDependencies named it, or it arrived
  uint64_t missed_detected_within_3s = 0;  // ... within 3S of sending
  LatencySummary detection_latency;        // send -> detection, detected missed pairs
  uint64_t gaps_reported = 0;              // MissingDependencies entries, all

  // Traffic by kind.
  WireTraffic content, resends, syncs, repairs;
  CatchUpReport catchup;
  uint64_t repair_request_entries = 0;  // repair_request entries broadcast
  uint64_t copies_sent = 0, copies_lost = 0;

  // Engine events.
  uint64_t send_failed = 0;
  uint64_t possibly_acknowledged = 0;
  uint64_t bloom_acknowledgements = 0;  // acknowledgements not explained by causal history
  uint64_t false_acknowledgements = 0;  // ... by a peer that had not received the message
  uint64_t dropped = 0;                 // MessageDropped
  uint64_t rejected = 0;                // Unwrap errors (should be 0)

  // Invariants (all 0 in a correct engine).
  uint64_t duplicate_deliveries = 0;           // a message delivered twice to one application
  uint64_t causal_violations = 0;              // delivered before one of its causal dependencies
  uint64_t redeliveries_after_state_loss = 0;  // legitimate: the app lost its state too

  // Engine time, only with Options::measure_cpu (not deterministic).
  bool cpu_measured = false;
  double engine_seconds = 0;
  uint64_t engine_calls = 0;

  // Per participant: messages it should have received, delivered and lost.
  struct PerParticipant {
    uint64_t sent = 0, expected = 0, delivered = 0, lost = 0;
  };
  std::vector<PerParticipant> per_participant;

  // Undelivered pairs over virtual time (for the delivery-over-time plot):
  // (seconds since start, pairs sent so far, pairs delivered so far).
  struct Sample {
    double t = 0;
    uint64_t sent_pairs = 0, delivered_pairs = 0;
  };
  std::vector<Sample> timeline;

  WireTraffic Total() const;
};

struct RunOptions {
  bool measure_cpu = false;
  // Called every few thousand events with (virtual now, virtual end), for a
  // progress line; the simulation itself never reads a clock for it.
  std::function<void(double now_s, double end_s)> progress;
};

// Runs the scenario. Errors: an invalid scenario (Scenario::Validate), an
// engine that cannot be created, or a store that cannot be opened.
Result<RunReport> RunScenario(const Scenario& scenario, const RunOptions& options = {});

// Message ids the simulator gives messages: "<index>-" padded to the
// scenario's id length; the index is how the oracle finds them.
std::string SimMessageId(uint64_t index, size_t length);
// The index of a simulator message id, or -1.
int64_t SimMessageIndex(const std::string& id);

}  // namespace sds::sim

#endif  // SDS_SIM_SIMULATION_H_
