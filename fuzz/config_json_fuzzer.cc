// Feeds arbitrary text to the C ABI's configuration parser
// (SdsNewReliabilityManagerWithConfig's JSON, src/capi/config_json.h). The
// first input byte splits the rest into a participant id and the JSON.
// Whatever the input, parsing must not crash or trip a sanitizer, must fail
// with a message, and must never accept a configuration that the engine then
// refuses: what ParseManagerOptions returns creates a manager.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "capi/config_json.h"
#include "sds/reliability_manager.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "config_json_fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = std::min<size_t>(data[0] % 32, rest.size());
  const std::string_view participant_id = rest.substr(0, split);
  const std::string_view json = rest.substr(split);

  auto options = sds::capi::ParseManagerOptions(participant_id, json);
  if (!options.ok()) {
    if (options.status().message().empty()) Fail("an error without a message");
    return 0;
  }
  if (!options->config.Validate().ok()) Fail("accepted a configuration that does not validate");
  // No store: the path may name anything, and a fuzzer must not create files.
  auto manager = sds::ReliabilityManager::Create(options->config);
  if (!manager.ok()) Fail("accepted a configuration the engine refuses");
  return 0;
}
