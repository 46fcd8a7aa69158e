// Status and Result<T>: how every fallible sds call reports failure.
//
// No sds function throws. A call that can fail returns a Status (no value) or a
// Result<T> (a value or a Status). Codes are stable and grouped:
//
//   kInvalidArgument .. kMessageTooLarge    the caller passed something unusable
//   kDecode*                                bytes from the network were rejected
//   kPersistence                            the Store failed (see store policy)
//   kInternal                               a bug or resource exhaustion in sds
//
// A rejected network message never changes engine state: the engine decodes
// and validates everything before it touches a channel.
#ifndef SDS_STATUS_H_
#define SDS_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sds {

// X-macro table: one line per code, so names and numbers cannot drift apart.
#define SDS_ERROR_CODES(X)                                                              \
  X(kOk, 0, "ok")                                                                       \
  X(kInvalidArgument, 1, "invalid argument")                                            \
  X(kMessageTooLarge, 2, "message too large")                                           \
  X(kUnknownChannel, 3, "unknown channel")                                              \
  X(kDecodeMalformed, 10, "malformed protobuf")                                         \
  X(kDecodeMissingField, 11, "required field missing")                                  \
  X(kDecodeUnknownDialect, 12, "message matches no known wire dialect")                 \
  X(kDecodeLimitExceeded, 13, "message exceeds a configured limit")                     \
  X(kDecodeLamportOutOfRange, 14, "lamport timestamp out of range")                     \
  X(kDecodeBadBloomFilter, 15, "bloom filter rejected")                                 \
  X(kDecodeDialectMismatch, 16, "message is in a dialect this channel does not accept") \
  X(kPersistence, 20, "persistence failure")                                            \
  X(kInternal, 30, "internal error")

enum class ErrorCode : int {
#define SDS_ENUM_ENTRY(name, value, text) name = value,
  SDS_ERROR_CODES(SDS_ENUM_ENTRY)
#undef SDS_ENUM_ENTRY
};

// Stable short name of a code, e.g. "kDecodeMalformed".
std::string_view ErrorCodeName(ErrorCode code);
// Human readable description of a code, e.g. "malformed protobuf".
std::string_view ErrorCodeText(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  // Detail for logs and users: what was wrong and where, e.g.
  // "causal_history entry 3: field 1 (message_id) missing".
  const std::string& message() const { return message_; }
  // "<code name>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok() && "an ok Status carries no value");
  }
  Result(ErrorCode code, std::string message) : Result(Status(code, std::move(message))) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // The status: Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  // Value access; calling these on an error is a programming error (asserts).
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace sds

// Propagates a failed Status from an expression returning Status.
#define SDS_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::sds::Status sds_status_ = (expr);        \
    if (!sds_status_.ok()) return sds_status_; \
  } while (0)

#endif  // SDS_STATUS_H_
