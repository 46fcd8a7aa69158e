// Feeds arbitrary bytes to every persistence snapshot decoder
// (include/sds/snapshot.h): a store file is as hostile as the network.
// Whatever the input, decoding must not crash, read out of bounds, trip UBSan
// or allocate without bound; whatever decodes must re-encode to bytes that
// decode again and re-encode to the very same bytes (the encoding of a
// decoded snapshot is canonical).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "sds/snapshot.h"

namespace {

[[noreturn]] void Fail(const char* decoder, const char* what) {
  std::fprintf(stderr, "snapshot_decode_fuzzer (%s): %s\n", decoder, what);
  std::abort();
}

template <typename DecodeFn, typename EncodeFn>
void CheckCanonical(const char* name, sds::ByteSpan input, DecodeFn decode, EncodeFn encode) {
  auto decoded = decode(input);
  if (!decoded.ok()) {
    if (decoded.status().message().empty()) Fail(name, "an error without a message");
    return;
  }
  const sds::Bytes once = encode(*decoded);
  auto again = decode(once);
  if (!again.ok()) Fail(name, "the re-encoded snapshot does not decode");
  const sds::Bytes twice = encode(*again);
  if (!std::equal(once.begin(), once.end(), twice.begin(), twice.end())) {
    Fail(name, "encode(decode(encode(x))) differs from encode(x)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sds::ByteSpan input(data, size);
  CheckCanonical("ChannelMeta", input, sds::DecodeChannelMeta, sds::EncodeChannelMeta);
  CheckCanonical("ChannelData", input, sds::DecodeChannelData, sds::EncodeChannelData);
  CheckCanonical("HistoryUpdate", input, sds::DecodeHistoryUpdate, sds::EncodeHistoryUpdate);
  CheckCanonical("HistoryEntry", input, sds::DecodeSnapshotHistoryEntry,
                 sds::EncodeSnapshotHistoryEntry);
  return 0;
}
