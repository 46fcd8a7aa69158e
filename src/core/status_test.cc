#include "sds/status.h"

#include <gtest/gtest.h>

namespace sds {
namespace {

TEST(StatusTest, DefaultIsOkAndCarriesNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "kOk");
}

TEST(StatusTest, ErrorKeepsCodeAndMessage) {
  Status s(ErrorCode::kDecodeMissingField, "field 4 (channel_id) missing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kDecodeMissingField);
  EXPECT_EQ(s.ToString(), "kDecodeMissingField: field 4 (channel_id) missing");
  EXPECT_EQ(ErrorCodeText(s.code()), "required field missing");
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());

  Result<int> bad(ErrorCode::kInvalidArgument, "empty payload");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "empty payload");
}

}  // namespace
}  // namespace sds
