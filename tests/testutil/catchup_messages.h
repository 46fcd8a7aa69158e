// Random catch-up protocol messages (include/sds/catchup_protocol.h) for
// round-trip, cross-check and fuzz-corpus tests. Every message generated is
// one the decoder must accept: it obeys the rules of proto/catchup.proto
// (dense DELTA pages, a reason iff cold, epochs set where required, ...), and
// spreads its numbers over every varint length, up to the 64-bit edges.
#ifndef SDS_TESTS_TESTUTIL_CATCHUP_MESSAGES_H_
#define SDS_TESTS_TESTUTIL_CATCHUP_MESSAGES_H_

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sds/catchup_protocol.h"

namespace sds::testutil {

class RandomCatchupMessages {
 public:
  explicit RandomCatchupMessages(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t bound) { return bound == 0 ? 0 : rng_() % bound; }
  bool Chance(int one_in) { return Below(static_cast<uint64_t>(one_in)) == 0; }
  // A value of every varint length: 0 .. 2^64 - 1.
  uint64_t AnyU64() { return rng_() >> Below(65 - 1); }
  uint32_t AnyU32() { return static_cast<uint32_t>(rng_() >> (32 + Below(33 - 1))); }

  std::string AnyBytes(size_t min_size, size_t max_size) {
    std::string out(min_size + Below(max_size - min_size + 1), '\0');
    for (char& c : out) c = static_cast<char>(rng_());
    return out;
  }
  // Printable ASCII: text fields are proto3 `string`, which must be UTF-8.
  std::string AnyText(size_t min_size, size_t max_size) {
    std::string out(min_size + Below(max_size - min_size + 1), '\0');
    for (char& c : out) c = static_cast<char>(' ' + Below(95));
    return out;
  }
  Bytes AnyByteVector(size_t min_size, size_t max_size) {
    const std::string s = AnyBytes(min_size, max_size);
    return Bytes(s.begin(), s.end());
  }

  catchup::Epoch AnyEpoch() {
    catchup::Epoch epoch;
    do {
      for (uint8_t& b : epoch) b = static_cast<uint8_t>(rng_());
    } while (epoch == catchup::kNoEpoch);
    return epoch;
  }

  LamportTime AnyLamport() {
    return static_cast<LamportTime>(AnyU64() >> 1);  // 0 .. 2^63 - 1
  }

  catchup::Entry AnyEntry(uint64_t seq) {
    catchup::Entry e;
    e.seq = seq;
    e.message_id = AnyBytes(1, 48);
    e.lamport = Chance(6) ? 0 : AnyLamport();
    if (!Chance(4)) e.payload = AnyByteVector(0, 300);
    return e;
  }

  // `count` dense entries from `first`.
  std::vector<catchup::Entry> DenseEntries(uint64_t first, uint64_t count) {
    std::vector<catchup::Entry> entries;
    for (uint64_t i = 0; i < count; ++i) entries.push_back(AnyEntry(first + i));
    return entries;
  }

  // A log's bounds: 1 <= low <= head + 1.
  void AnyLogBounds(uint64_t* low, uint64_t* head) {
    *head = AnyU64();
    if (*head == std::numeric_limits<uint64_t>::max()) *head -= 1 + Below(2);
    const uint64_t kept = Chance(5) ? 0 : Below(*head) + 1;  // entries retained
    *low = *head - kept + 1;
    if (*head == 0 || kept == 0) *low = *head + 1;
  }

  ChannelId AnyChannelId() { return Chance(10) ? ChannelId() : AnyBytes(1, 24); }
  Bytes AnyStoreId() { return AnyByteVector(1, 24); }

  catchup::ServiceError AnyServiceError() {
    catchup::ServiceError e;
    e.code = static_cast<catchup::ServiceErrorCode>(1 + Below(5));
    if (!Chance(4)) e.message = AnyText(1, 60);
    if (Chance(2)) e.retry_after_ms = AnyU32();
    if (Chance(3)) e.supported_version = AnyU32();
    return e;
  }

  catchup::SyncRequest AnySyncRequest() {
    catchup::SyncRequest r;
    r.protocol_version = Chance(5) ? AnyU32() : catchup::kProtocolVersion;
    r.channels.resize(Below(6));
    for (catchup::ChannelCursor& c : r.channels) {
      c.channel_id = AnyChannelId();
      if (!Chance(4)) c.cursor = catchup::Cursor{AnyEpoch(), Chance(8) ? 0 : AnyU64()};
    }
    r.max_entries = Chance(4) ? 0 : AnyU32();
    r.max_bytes = Chance(4) ? 0 : AnyU64();
    r.ids_only = Chance(2);
    return r;
  }

  catchup::ChannelResult AnyChannelResult() {
    catchup::ChannelResult r;
    r.channel_id = AnyChannelId();
    r.status = static_cast<catchup::SyncStatus>(1 + Below(4));
    if (r.status == catchup::SyncStatus::kUnknownChannel ||
        r.status == catchup::SyncStatus::kUpToDate) {
      return r;  // channel_id and status only
    }
    r.epoch = AnyEpoch();
    if (r.status == catchup::SyncStatus::kDelta) {
      // low <= from <= to <= head, to - from + 1 entries.
      const uint64_t count = 1 + Below(5);
      r.from_seq = 1 + AnyU64() % (std::numeric_limits<uint64_t>::max() - 8);
      r.to_seq = r.from_seq + count - 1;
      r.low_seq = Chance(3) ? r.from_seq : r.from_seq - Below(r.from_seq);  // 1 .. from_seq
      const uint64_t room = std::numeric_limits<uint64_t>::max() - r.to_seq;
      r.head_seq = r.to_seq;
      if (room > 0 && Chance(2)) r.head_seq += 1 + Below(room < 1000 ? room : 1000);
      r.has_more = r.to_seq < r.head_seq;
      r.entries = DenseEntries(r.from_seq, count);
      return r;
    }
    AnyLogBounds(&r.low_seq, &r.head_seq);
    if (r.status == catchup::SyncStatus::kColdStartRequired) {
      r.reason = static_cast<catchup::ColdReason>(1 + Below(4));
    }
    return r;
  }

  catchup::SyncResponse AnySyncResponse() {
    catchup::SyncResponse r;
    r.store_id = AnyStoreId();
    r.channels.resize(Below(6));
    for (catchup::ChannelResult& c : r.channels) c = AnyChannelResult();
    return r;
  }

  catchup::SnapshotRequest AnySnapshotRequest() {
    catchup::SnapshotRequest r;
    r.protocol_version = Chance(5) ? AnyU32() : catchup::kProtocolVersion;
    r.channel_ids.resize(Below(6));
    for (ChannelId& id : r.channel_ids) id = AnyChannelId();
    r.entries_per_channel = Chance(4) ? 0 : AnyU32();
    return r;
  }

  catchup::ChannelSnapshot AnyChannelSnapshot() {
    catchup::ChannelSnapshot s;
    s.channel_id = AnyChannelId();
    s.epoch = AnyEpoch();
    AnyLogBounds(&s.low_seq, &s.snapshot_seq);
    const uint64_t retained = s.snapshot_seq - (s.low_seq - 1);
    const uint64_t count = Below((retained < 5 ? retained : 5) + 1);
    s.entries = DenseEntries(s.snapshot_seq - count + 1, count);
    s.max_lamport = Chance(5) ? 0 : AnyLamport();
    s.retained_count = Chance(5) ? 0 : AnyU64();
    return s;
  }

  catchup::SnapshotResponse AnySnapshotResponse() {
    catchup::SnapshotResponse r;
    r.store_id = AnyStoreId();
    r.channels.resize(Below(4));
    for (catchup::ChannelSnapshot& c : r.channels) c = AnyChannelSnapshot();
    r.unknown_channel_ids.resize(Below(3));
    for (ChannelId& id : r.unknown_channel_ids) id = AnyChannelId();
    return r;
  }

  catchup::FetchRequest AnyFetchRequest() {
    catchup::FetchRequest r;
    r.protocol_version = Chance(5) ? AnyU32() : catchup::kProtocolVersion;
    r.channel_id = AnyChannelId();
    r.message_ids.resize(Below(5));
    for (MessageId& id : r.message_ids) id = AnyBytes(0, 40);
    r.retrieval_hints.resize(Below(4));
    for (Bytes& hint : r.retrieval_hints) hint = AnyByteVector(0, 40);
    return r;
  }

  catchup::FetchResponse AnyFetchResponse() {
    catchup::FetchResponse r;
    r.store_id = AnyStoreId();
    const bool unknown_channel = Chance(6);
    if (!unknown_channel) {
      r.epoch = AnyEpoch();
      uint64_t seq = 1 + Below(1000);
      const uint64_t count = Below(5);
      for (uint64_t i = 0; i < count; ++i) {
        r.entries.push_back(AnyEntry(seq));
        seq += 1 + Below(50);
      }
    }
    r.missing_ids.resize(Below(4));
    for (MessageId& id : r.missing_ids) id = AnyBytes(0, 40);
    r.missing_hints.resize(Below(3));
    for (Bytes& hint : r.missing_hints) hint = AnyByteVector(0, 40);
    return r;
  }

  catchup::BackfillRequest AnyBackfillRequest() {
    catchup::BackfillRequest r;
    r.protocol_version = Chance(5) ? AnyU32() : catchup::kProtocolVersion;
    r.channel_id = AnyChannelId();
    r.epoch = AnyEpoch();
    r.before_seq = AnyU64();
    r.limit = Chance(4) ? 0 : AnyU32();
    return r;
  }

  catchup::BackfillResponse AnyBackfillResponse() {
    catchup::BackfillResponse r;
    r.store_id = AnyStoreId();
    switch (Below(4)) {
      case 0:
        r.status = catchup::SyncStatus::kUnknownChannel;
        return r;
      case 1:
        r.status = catchup::SyncStatus::kColdStartRequired;
        r.epoch = AnyEpoch();
        r.low_seq = Chance(3) ? 0 : AnyU64();
        return r;
      default:
        break;
    }
    r.status = catchup::SyncStatus::kDelta;
    r.epoch = AnyEpoch();
    r.low_seq = 1 + Below(1u << 20);
    const uint64_t count = Below(5);
    const uint64_t first = r.low_seq + (Chance(2) ? 0 : Below(100));
    r.entries = DenseEntries(first, count);
    r.reached_low = count == 0 ? Chance(2) : first == r.low_seq;
    return r;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace sds::testutil

#endif  // SDS_TESTS_TESTUTIL_CATCHUP_MESSAGES_H_
