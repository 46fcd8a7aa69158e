// The configuration JSON of SdsNewReliabilityManagerWithConfig (libsds.h
// documents every key). nim-sds's keys keep nim-sds's leniency: a value of
// the wrong JSON type keeps the default, and out-of-range bloom geometry
// falls back as nim-sds's rolling filter does. Extension keys are strict.
#ifndef SDS_CAPI_CONFIG_JSON_H_
#define SDS_CAPI_CONFIG_JSON_H_

#include <string>
#include <string_view>

#include "sds/config.h"
#include "sds/status.h"
#include "sds/types.h"

namespace sds::capi {

// What a C ABI manager is made of: the engine configuration plus the
// settings that belong to the shim (event delivery and its own timer).
struct ManagerOptions {
  Config config;
  // Period of the periodic_sync event after SdsStartPeriodicTasks; zero or
  // negative: no periodic_sync events.
  Duration periodic_sync_interval = std::chrono::seconds{30};
  bool extended_events = false;
  bool detailed_errors = false;
  // "storePath": the SQLite file that holds every channel's state; empty:
  // nothing is persisted.
  std::string store_path;
};

// Parses `config_json` (empty: all defaults). `participant_id`, when not
// empty, overrides the JSON's "participantId". The result has passed
// Config::Validate. Errors are kInvalidArgument with the reason as message.
Result<ManagerOptions> ParseManagerOptions(std::string_view participant_id,
                                           std::string_view config_json);

}  // namespace sds::capi

#endif  // SDS_CAPI_CONFIG_JSON_H_
