// Vocabulary types shared by every sds header: bytes, identifiers and time.
//
// Time is never read by sds. The caller passes `now` into every operation as a
// Timestamp (milliseconds since the Unix epoch on the system clock); durations
// are std::chrono::milliseconds. Because Timestamp is a distinct type, a Lamport
// value (a plain integer) cannot be passed where wall-clock time is expected.
#ifndef SDS_TYPES_H_
#define SDS_TYPES_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sds {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// Identifiers are arbitrary byte strings (no UTF-8 requirement), as on the wire.
using MessageId = std::string;
using ChannelId = std::string;
using ParticipantId = std::string;

// Lamport timestamps are signed 64-bit on the wire of both dialects' decoders;
// values at or above 2^63 - 1 are rejected on receipt (they would overflow).
using LamportTime = int64_t;

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// "No deadline": what tick() returns when nothing is scheduled.
inline constexpr Timestamp kNoDeadline = Timestamp::max();

inline Timestamp TimestampFromUnixMillis(int64_t ms) { return Timestamp(Duration(ms)); }
inline int64_t UnixMillis(Timestamp t) { return t.time_since_epoch().count(); }

// Immutable bytes with shared ownership. Wire messages are large (a default
// bloom filter alone is ~18.8 KB), and one message is referenced by the
// outgoing buffer, the history and events at once; sharing avoids copies.
class SharedBytes {
 public:
  SharedBytes() = default;
  explicit SharedBytes(Bytes bytes) : data_(std::make_shared<const Bytes>(std::move(bytes))) {}

  const uint8_t* data() const { return data_ ? data_->data() : nullptr; }
  size_t size() const { return data_ ? data_->size() : 0; }
  bool empty() const { return size() == 0; }
  ByteSpan span() const { return data_ ? ByteSpan(*data_) : ByteSpan(); }
  operator ByteSpan() const { return span(); }  // NOLINT: implicit view
  Bytes ToBytes() const { return data_ ? *data_ : Bytes(); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    ByteSpan x = a.span(), y = b.span();
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
  }

 private:
  std::shared_ptr<const Bytes> data_;
};

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteSpan b) { return std::string(b.begin(), b.end()); }

}  // namespace sds

#endif  // SDS_TYPES_H_
