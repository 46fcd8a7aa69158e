// The right-sized filter (bloom/wire_bloom_filter.h): every size class is
// read by nim-sds exactly as ours reads it, stays within its error rate, and
// holds every id received within the horizon.
#include "bloom/wire_bloom_filter.h"

#include <farmhash.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/testutil/vectors.h"

namespace sds::internal {
namespace {

using std::chrono::seconds;

const Timestamp kT0 = TimestampFromUnixMillis(1'800'000'000'000);

// ---- nim-sds, rewritten from reference/nim-sds.md sections 2.10, 3.3, 4 ----

// deserializeBloomFilter: five fields, all required; words little-endian.
struct NimFilter {
  std::vector<uint64_t> words;
  uint64_t capacity = 0, error_rate_e6 = 0, k = 0, m_bits = 0;
};

bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && p != end; shift += 7) {
    const uint8_t byte = *p++;
    out |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::optional<NimFilter> NimDecode(const Bytes& bytes) {
  NimFilter f;
  bool seen[6] = {};
  const uint8_t* p = bytes.data();
  const uint8_t* end = p + bytes.size();
  while (p != end) {
    uint64_t tag = 0;
    if (!ReadVarint(p, end, tag)) return std::nullopt;
    const uint64_t field = tag >> 3;
    if ((tag & 7) == 2 && field == 1) {
      uint64_t length = 0;
      if (!ReadVarint(p, end, length) || length > static_cast<uint64_t>(end - p)) {
        return std::nullopt;
      }
      for (uint64_t w = 0; w + 8 <= length; w += 8) {
        uint64_t word = 0;
        for (int b = 0; b < 8; ++b) word |= uint64_t{p[w + b]} << (8 * b);
        f.words.push_back(word);
      }
      p += length;
    } else if ((tag & 7) == 0 && field >= 2 && field <= 5) {
      uint64_t value = 0;
      if (!ReadVarint(p, end, value)) return std::nullopt;
      (field == 2   ? f.capacity
       : field == 3 ? f.error_rate_e6
       : field == 4 ? f.k
                    : f.m_bits) = value;
    } else {
      return std::nullopt;
    }
    if (field <= 5) seen[field] = true;
  }
  for (int field = 1; field <= 5; ++field) {
    if (!seen[field]) return std::nullopt;
  }
  return f;
}

// hashN with Nim's hash (FarmHash Fingerprint64 as int64), overflow checks off.
int64_t NimAbs(int64_t x) { return x < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(x)) : x; }
int64_t NimHash(const std::string& s) {
  return static_cast<int64_t>(util::Fingerprint64(s.data(), s.size()));
}
int64_t HashN(const std::string& item, int64_t i, int64_t m_bits) {
  const int64_t a = NimAbs(NimHash(item)) % m_bits;
  const int64_t b = NimAbs(NimHash(item + " b")) % m_bits;
  return NimAbs(a + i * b) % m_bits;
}

// lookup: all k bits set.
bool NimContains(const NimFilter& f, const std::string& id) {
  for (uint64_t i = 0; i < f.k; ++i) {
    const int64_t h = HashN(id, static_cast<int64_t>(i), static_cast<int64_t>(f.m_bits));
    if ((f.words[static_cast<size_t>(h / 64)] >> (h % 64) & 1) == 0) return false;
  }
  return true;
}

// initializeBloomFilter(capacity, errorRate) with k = 0.
void ExpectNimGeometry(const NimFilter& f, int64_t capacity, double error_rate) {
  const double bits_per_element =
      std::ceil(-std::log(error_rate) / (std::log(2.0) * std::log(2.0)));
  EXPECT_EQ(f.capacity, static_cast<uint64_t>(capacity));
  EXPECT_EQ(f.error_rate_e6, static_cast<uint64_t>(error_rate * 1'000'000));
  EXPECT_EQ(f.k, static_cast<uint64_t>(std::round(std::log(2.0) * bits_per_element)));
  EXPECT_EQ(f.m_bits, static_cast<uint64_t>(capacity * static_cast<int64_t>(bits_per_element)));
  EXPECT_EQ(f.words.size(), 1 + f.m_bits / 64);
}

std::vector<std::string> VectorIds() {
  std::set<std::string> ids;
  for (const auto& v : testutil::NimVectors("bloom_bits_for_id")) ids.insert(v["id"]);
  for (const auto& v : testutil::NimVectors("hash_string")) ids.insert(v["input"]);
  return {ids.begin(), ids.end()};
}

TEST(WireBloomFilter, SizeClassesDoubleUpToTheConfiguredCapacity) {
  EXPECT_EQ(WireBloomFilter::SizeClasses(10000),
            (std::vector<int64_t>{128, 256, 512, 1024, 2048, 4096, 8192, 10000}));
  EXPECT_EQ(WireBloomFilter::SizeClasses(200), (std::vector<int64_t>{128, 200}));
  EXPECT_EQ(WireBloomFilter::SizeClasses(100), (std::vector<int64_t>{100}));
  EXPECT_EQ(WireBloomFilter::SizeClasses(10), (std::vector<int64_t>{10}));
}

// Each class written here, read by nim-sds's decoder: its geometry is
// nim-sds's for (capacity, error rate), every id answers `contains` as our
// filter does, inserted ids are found, and the bits nim-sds's hashN sets are
// exactly the bits our filter set.
TEST(WireBloomFilter, EveryClassDecodesAndAnswersAsNimSds) {
  const std::vector<std::string> ids = VectorIds();
  ASSERT_GT(ids.size(), 20u);
  for (double error_rate : {0.001, 0.01}) {
    for (int64_t capacity : WireBloomFilter::SizeClasses(10000)) {
      SCOPED_TRACE(std::to_string(capacity) + " / " + std::to_string(error_rate));
      // Enough live ids to select this class: a rebuild picks the smallest
      // class whose fill limit (3/4) holds twice them (the largest holds any number).
      const size_t live = static_cast<size_t>(capacity == 128     ? 1
                                              : capacity == 10000 ? 4500
                                                                  : capacity * 3 / 8 - 1);
      WireBloomFilter wire(10000, error_rate, Dialect::kNim);
      for (size_t i = 0; i < live; ++i) {
        const std::string& id = i < ids.size() / 2 ? ids[i] : "filler-" + std::to_string(i);
        wire.Add(MakeBloomKey(Dialect::kNim, id), kT0);
      }
      const BloomFilter& filter = wire.Filter();
      ASSERT_EQ(filter.params().capacity, capacity);
      auto nim = NimDecode(filter.Serialize());
      ASSERT_TRUE(nim.has_value());
      ExpectNimGeometry(*nim, capacity, error_rate);
      EXPECT_EQ(nim->words, filter.words());
      for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(NimContains(*nim, ids[i]), filter.Contains(ids[i])) << ids[i];
        if (i < std::min(live, ids.size() / 2)) {
          EXPECT_TRUE(NimContains(*nim, ids[i])) << ids[i];
        }
      }
      // A filter of one vector id: its bits are hashN's, nothing else.
      WireBloomFilter single(10000, error_rate, Dialect::kNim);
      single.Add(MakeBloomKey(Dialect::kNim, ids[0]), kT0);
      const BloomFilter& one = single.Filter();
      std::set<int64_t> bits;
      for (int i = 0; i < one.params().k; ++i) bits.insert(HashN(ids[0], i, one.params().m_bits));
      EXPECT_EQ(one.SetBits(), std::vector<int64_t>(bits.begin(), bits.end()));
    }
  }
}

// The golden bit positions of nim-sds's default filter are those our largest
// class (the fixed geometry) sets.
TEST(WireBloomFilter, LargestClassIsTheFixedGeometryBitForBit) {
  for (const auto& v : testutil::NimVectors("bloom_bits_for_id")) {
    if (v["capacity"] != 10000) continue;
    WireBloomFilter wire(10000, 0.001, Dialect::kNim);
    for (int i = 0; i < 6000; ++i) {
      wire.Add(MakeBloomKey(Dialect::kNim, "other-" + std::to_string(i)), kT0);
    }
    ASSERT_EQ(wire.Filter().params().capacity, 10000);
    BloomFilter alone(wire.Filter().params(), Dialect::kNim);
    alone.Insert(std::string(v["id"]));
    std::vector<int64_t> golden = v["setBits"];
    std::sort(golden.begin(), golden.end());
    golden.erase(std::unique(golden.begin(), golden.end()), golden.end());
    EXPECT_EQ(alone.SetBits(), golden) << v["id"];
  }
}

// Random receipts, expiries and sends: every id within the horizon (or among
// the newest min_ids) is in the filter sent; the ids set in the filter never
// exceed its class's capacity (so its false-positive rate is within target);
// and the filter is rebuilt rarely, not with every message.
TEST(WireBloomFilter, HoldsTheHorizonWithinItsCapacityAndRebuildsRarely) {
  std::mt19937_64 rng(5);
  WireBloomFilter wire(10000, 0.001, Dialect::kNim);
  const Duration horizon = seconds{360};
  const size_t min_ids = 10;
  std::deque<std::pair<std::string, Timestamp>> received;
  Timestamp now = kT0;
  int sends = 0;
  for (int step = 0; step < 30000; ++step) {
    // Bursts and lulls: the rate changes every few thousand steps.
    const int64_t gap_ms = (step / 3000) % 2 == 0 ? 50 : 2000;
    now += Duration{static_cast<int64_t>(rng() % static_cast<uint64_t>(gap_ms)) + 1};
    const std::string id = "m" + std::to_string(step);
    wire.Add(MakeBloomKey(Dialect::kNim, id), now);
    received.emplace_back(id, now);
    if (rng() % 4 != 0) continue;  // we send after some receipts only
    wire.Expire(now - horizon, min_ids, now);
    const BloomFilter& filter = wire.Filter();
    ++sends;
    ASSERT_LE(wire.inserted(), WireBloomFilter::FillLimit(filter.params().capacity, 10000)) << step;
    for (size_t back = 0; back < received.size() && back < 400; ++back) {
      const auto& [rid, at] = received[received.size() - 1 - back];
      if (at < now - horizon && back >= min_ids) break;
      ASSERT_TRUE(filter.Contains(rid)) << step << " " << rid;
    }
  }
  EXPECT_GT(sends, 5000);
  // Rebuilds (growing, shrinking, full) happen on changes of rate, not per message.
  EXPECT_LT(wire.rebuilds(), sends / 20);
  EXPECT_GT(wire.rebuilds(), 2);
}

// At its worst fill (its fill limit) each class's measured false-positive
// rate is at or below the configured error rate, with room for the sampling
// error of 200,000 probes; at full capacity the small classes would not be.
TEST(WireBloomFilter, FalsePositiveRateAtFullFillIsWithinTheErrorRate) {
  for (int64_t capacity : WireBloomFilter::SizeClasses(10000)) {
    auto params = BloomParameters::Compute(capacity, 0.001);
    ASSERT_TRUE(params.ok());
    BloomFilter filter(*params, Dialect::kNim);
    const int64_t fill = WireBloomFilter::FillLimit(capacity, 10000);
    for (int64_t i = 0; i < fill; ++i) filter.Insert("in-" + std::to_string(i));
    int hits = 0;
    const int probes = 200000;
    for (int i = 0; i < probes; ++i) hits += filter.Contains("out-" + std::to_string(i));
    // 0.001 * 200,000 = 200 expected at most; 3 sigma is ~42.
    EXPECT_LE(hits, 242) << capacity;
    if (capacity == 128) {
      BloomFilter full(*params, Dialect::kNim);
      for (int64_t i = 0; i < capacity; ++i) full.Insert("in-" + std::to_string(i));
      int full_hits = 0;
      for (int i = 0; i < probes; ++i) full_hits += full.Contains("out-" + std::to_string(i));
      EXPECT_GT(full_hits, 242);  // why the limit is below the capacity
    }
  }
}

TEST(WireBloomFilter, UndatedIdsCountFromTheFirstSend) {
  WireBloomFilter wire(10000, 0.001, Dialect::kNim);
  for (int i = 0; i < 50; ++i)
    wire.AddUndated(MakeBloomKey(Dialect::kNim, "old" + std::to_string(i)));
  const Timestamp first_send = kT0 + seconds{1000};
  wire.Expire(first_send - seconds{360}, 10, first_send);
  EXPECT_EQ(wire.live_ids(), 50u);  // counted as received at the first send
  EXPECT_TRUE(wire.Filter().Contains("old0"));
  const Timestamp later = first_send + seconds{361};
  wire.Expire(later - seconds{360}, 10, later);
  EXPECT_EQ(wire.live_ids(), 10u);  // the newest min_ids stay
  EXPECT_TRUE(wire.Filter().Contains("old49"));
}

}  // namespace
}  // namespace sds::internal
