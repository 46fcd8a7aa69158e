// How the library reports what it cannot return: a log callback, silent by default.
#ifndef SDS_LOG_H_
#define SDS_LOG_H_

#include <cstdint>
#include <functional>
#include <string_view>

namespace sds {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warning", "error".
const char* LogLevelName(LogLevel level);

// Called synchronously from inside the operation that logs; must not call
// back into the manager.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

}  // namespace sds

#endif  // SDS_LOG_H_
