// A simulator scenario: who takes part, how they talk, what the network does
// to their messages, and how the engines are configured.
//
// A scenario is a plain value. It is read from a TOML file (LoadScenarioFile)
// and/or changed one setting at a time with ApplySetting("key", "value"),
// which is what `sds sim --set key=value` and `--sweep key=a,b,c` use; the
// keys are the TOML keys with their table as prefix ("link.loss",
// "config.resend_interval", "traffic.rate"). Durations are written "250ms",
// "5s", "10m", "2h" (a bare number is milliseconds).
#ifndef SDS_SIM_SCENARIO_H_
#define SDS_SIM_SCENARIO_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sds/config.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::sim {

// How a lost message is repaired beyond the sender's own resends.
enum class Recovery : uint8_t {
  kSds,               // resends and sync messages only (no participant id: SDS-R off)
  kSdsRepair,         // plus SDS-R peer repair
  kSdsRepairCatchUp,  // plus catch-up from a store node (StoreNode below)
};
const char* RecoveryName(Recovery recovery);

// Per directed link, per copy of a broadcast.
struct LossModel {
  enum class Kind : uint8_t { kUniform, kGilbertElliott };
  Kind kind = Kind::kUniform;
  double loss = 0.0;  // kUniform: probability that a copy is lost
  // kGilbertElliott: a two-state Markov chain per link, stepped once per copy.
  double p_good_to_bad = 0.01;
  double p_bad_to_good = 0.3;
  double loss_good = 0.0;
  double loss_bad = 0.8;
  // Long-run loss rate of the model, for reports.
  double MeanLoss() const;
};

struct DelayModel {
  enum class Kind : uint8_t { kUniform, kNormal };
  Kind kind = Kind::kUniform;
  Duration min = std::chrono::milliseconds{20};  // kUniform: [min, max]; kNormal: floor
  Duration max = std::chrono::milliseconds{300};
  Duration mean = std::chrono::milliseconds{150};  // kNormal: mean and standard deviation
  Duration jitter = std::chrono::milliseconds{50};
};

struct Traffic {
  enum class Arrival : uint8_t { kConstant, kPoisson };
  Arrival arrival = Arrival::kPoisson;
  double rate = 0.2;         // messages per second per sending participant
  size_t senders = 0;        // how many participants send (0: all)
  size_t payload_min = 100;  // payload bytes, uniform in [min, max]
  size_t payload_max = 100;
  size_t message_id_bytes = 64;                 // @waku/sds ids are 64 hex characters (SHA-256)
  Duration duration = std::chrono::minutes{5};  // sending stops after this
};

// Between `start` and `end` copies between the two sides are lost: the first
// `fraction` of the participants (by index) on one side, the rest on the other.
struct Partition {
  Duration start{};
  Duration end{};
  double fraction = 0.5;
};

// `fraction` of the participants (the last ones by index, never participant 0)
// go offline at `at` for `duration`: nothing reaches them, they neither send
// nor tick. With keep_state they come back from their persisted state
// (persistence = "memory" or "sqlite"); without it they come back empty.
struct Churn {
  double fraction = 0.25;
  Duration at = std::chrono::seconds{60};
  Duration duration = std::chrono::seconds{60};
  bool keep_state = true;
};

// The store node of Recovery::kSdsRepairCatchUp: it hears every broadcast
// over its own link (loss and delay per copy; partitions do not cut it) and
// appends it to a channel log (sds_log's MemoryChannelLog behind a
// LogService). Every member runs a CatchUpDriver against it: a round at
// start, on coming back from churn and every sync_interval, each request
// and response a message over the same kind of link.
struct StoreNode {
  double loss = 0.0;                                   // per copy heard, per request, per response
  Duration delay_min = std::chrono::milliseconds{20};  // uniform, one way
  Duration delay_max = std::chrono::milliseconds{300};
  Duration sync_interval = std::chrono::seconds{30};    // CatchUpConfig::sync_interval
  Duration request_timeout = std::chrono::seconds{10};  // no answer: retried with backoff
  uint32_t max_entries = 100;                           // page size
  bool ids_only = false;               // Sync lists ids; only the ones a member lacks are fetched
  uint32_t snapshot_entries = 100;     // K of a cold start
  uint64_t retention_entries = 10000;  // per channel
  Duration retention_age = std::chrono::hours{48};
};

struct Scenario {
  std::string name = "default";
  std::string description;
  uint64_t seed = 1;
  size_t participants = 10;
  Recovery recovery = Recovery::kSdsRepair;
  // The FURPS period S: a message is sent in the group at least every S.
  // Deliveries are reported at S, 3S and 6S after sending.
  Duration period = std::chrono::seconds{5};
  // Virtual time simulated after sending stops, for repairs to finish.
  Duration drain = std::chrono::minutes{5};
  std::string persistence = "memory";  // store for churn with keep_state: memory | sqlite
  Traffic traffic;
  LossModel loss;
  DelayModel delay;
  std::vector<Partition> partitions;
  std::vector<Churn> churn;
  StoreNode store;  // only with recovery = sds-r-store
  // Scripted losses: the first transmission of these messages (by index in
  // sending order, from 0) reaches nobody. For hand-checked scenarios.
  std::vector<uint64_t> drop_messages;
  Config config = Config::ForDialect(Dialect::kNim);  // participant_id is set per member

  // kInvalidArgument naming what cannot run (including the engine config).
  Status Validate() const;
};

// Sets one value. Keys (see scenarios/README.md for the list): name,
// description, seed, participants, recovery, period, drain, persistence,
// traffic.*, link.loss, link.model, link.p_good_to_bad, ..., delay.*, and
// config.<every Config field> including config.limits.* and
// config.limits.decode.*. "config.dialect" also resets the dialect-dependent
// defaults (Config::ForDialect), so set it first.
Status ApplySetting(Scenario& scenario, const std::string& key, const std::string& value);

// Every key ApplySetting accepts, for --help and error messages.
std::vector<std::string> SettingKeys();

// Reads a scenario file (TOML), starting from the defaults above.
Result<Scenario> LoadScenarioFile(const std::string& path);
Result<Scenario> ParseScenarioToml(const std::string& text, const std::string& source_name);

// "250ms", "5s", "10m", "2h", "1.5s"; a bare number is milliseconds.
Result<Duration> ParseDuration(const std::string& text);
std::string FormatDuration(Duration duration);

}  // namespace sds::sim

#endif  // SDS_SIM_SCENARIO_H_
