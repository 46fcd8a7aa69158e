// Encoding a message together with a live bloom filter (engine use).
#ifndef SDS_WIRE_ENCODE_WITH_BLOOM_H_
#define SDS_WIRE_ENCODE_WITH_BLOOM_H_

#include "sds/bloom_filter.h"
#include "sds/codec.h"

namespace sds::wire {

// Encode(message, dialect), except that the bloom_filter field holds `bloom`
// serialized straight into the output (message.bloom_filter is ignored) when
// `bloom` is not null. The engine sends its filter with every message; writing
// it in place instead of serializing and then copying halves the work of Wrap.
// `bloom` must use `dialect`'s wire form.
Bytes EncodeWithBloom(const Message& message, Dialect dialect, const BloomFilter* bloom);

}  // namespace sds::wire

#endif  // SDS_WIRE_ENCODE_WITH_BLOOM_H_
