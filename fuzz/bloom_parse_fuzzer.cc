// Feeds arbitrary bytes to the peer bloom filter parsers (the contents of a
// received message's bloom field) and queries whatever they accept. nim-sds
// crashes or acknowledges everything on hostile filters (nim-sds.md 9.2); here
// parsing must reject them and lookups must stay inside the buffer.
//
// Input layout: byte 0 picks the spec geometry's k, byte 1 its m_bits spare
// bits, bytes 2..17 two hash values to look up; the rest is the filter, parsed
// in both wire forms (spec with a geometry that fits its size when possible,
// so that the accepting path is reached).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sds/bloom_filter.h"

namespace {

int64_t ReadInt64(const uint8_t* bytes) {
  uint64_t value = 0;
  std::memcpy(&value, bytes, sizeof(value));
  return static_cast<int64_t>(value);
}

// Lookups with keys from the input, from edge values (abs(INT64_MIN) is the
// case nim-sds overflows on) and from hashing the filter bytes as an id.
void QueryAll(const sds::PeerBloomView& view, const sds::BloomKey& input_key, std::string_view id) {
  constexpr int64_t kMin = INT64_MIN;
  constexpr int64_t kMax = INT64_MAX;
  const sds::BloomKey keys[] = {
      input_key,    {0, 0},  {kMin, kMin}, {kMax, kMin},
      {kMin, kMax}, {-1, 1}, {kMax, kMax}, sds::MakeBloomKey(view.dialect(), id)};
  for (const sds::BloomKey& key : keys) (void)view.Contains(key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeaderSize = 18;
  if (size < kHeaderSize) return 0;
  const int k = 1 + data[0] % 64;
  const int spare_bits = data[1] % 64;
  const sds::BloomKey input_key{ReadInt64(data + 2), ReadInt64(data + 10)};
  const sds::ByteSpan filter(data + kHeaderSize, size - kHeaderSize);
  const std::string_view id(reinterpret_cast<const char*>(filter.data()),
                            std::min<size_t>(filter.size(), 64));

  sds::Result<sds::PeerBloomView> nim = sds::PeerBloomView::ParseNim(filter);
  if (nim.ok()) QueryAll(*nim, input_key, id);

  // A geometry whose word count matches the filter's size when it is a whole
  // number of words, and the default geometry (which rejects all but 18,752
  // bytes).
  sds::BloomParameters fitted;
  fitted.k = k;
  const int64_t words = static_cast<int64_t>(filter.size() / 8);
  fitted.m_bits = words > 0 ? std::max<int64_t>(1, (words - 1) * 64 + spare_bits) : 1 + spare_bits;
  fitted.capacity = 1;
  for (const sds::BloomParameters& expected : {fitted, sds::BloomParameters{}}) {
    sds::Result<sds::PeerBloomView> spec = sds::PeerBloomView::ParseSpec(filter, expected);
    if (spec.ok()) QueryAll(*spec, input_key, id);
  }
  return 0;
}
