// OwnEchoes: which of the messages we produced are recognised when they come
// back, and which are forgotten when more than kOwnEchoMemory were produced.
#include "core/own_echoes.h"

#include <gtest/gtest.h>

#include <string>

namespace sds::internal {
namespace {

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(OwnEchoes, RecognisesTheIdWithTheExactBytesOnly) {
  OwnEchoes echoes;
  echoes.Remember("m1", Span("wire of m1"));
  EXPECT_TRUE(echoes.IsOurs("m1", Span("wire of m1")));
  EXPECT_FALSE(echoes.IsOurs("m1", Span("wire of m1 from a peer")));  // a peer reusing our id
  EXPECT_FALSE(echoes.IsOurs("m1", Span("wire of m2")));
  EXPECT_FALSE(echoes.IsOurs("m2", Span("wire of m1")));  // our bytes under another id
}

TEST(OwnEchoes, EveryResendOfAnIdIsRecognised) {
  OwnEchoes echoes;
  echoes.Remember("m1", Span("first send"));
  echoes.Remember("m1", Span("resend with a newer filter"));
  EXPECT_TRUE(echoes.IsOurs("m1", Span("first send")));
  EXPECT_TRUE(echoes.IsOurs("m1", Span("resend with a newer filter")));
}

TEST(OwnEchoes, ForgetsTheOldestFingerprintFirst) {
  OwnEchoes echoes;
  echoes.Remember("m1", Span("first send"));
  echoes.Remember("m1", Span("first send"));  // the same bytes again: one entry
  for (size_t i = 1; i < kOwnEchoMemory; ++i) {
    echoes.Remember("filler-" + std::to_string(i), Span("x" + std::to_string(i)));
  }
  EXPECT_TRUE(echoes.IsOurs("m1", Span("first send")));  // exactly kOwnEchoMemory remembered
  // A resend of m1 pushes out the oldest entry, which is m1's first send.
  echoes.Remember("m1", Span("resend"));
  EXPECT_FALSE(echoes.IsOurs("m1", Span("first send")));
  EXPECT_TRUE(echoes.IsOurs("m1", Span("resend")));
  EXPECT_TRUE(echoes.IsOurs("filler-1", Span("x1")));
  echoes.Remember("one more", Span("y"));
  EXPECT_FALSE(echoes.IsOurs("filler-1", Span("x1")));
  EXPECT_TRUE(echoes.IsOurs("filler-2", Span("x2")));
  EXPECT_TRUE(echoes.IsOurs("m1", Span("resend")));
}

}  // namespace
}  // namespace sds::internal
