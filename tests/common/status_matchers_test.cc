// The status matchers pass on what they should and, when they fail, say why:
// the failure message carries the actual status.
#include "tests/status_matchers.h"

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gorl::testing {
namespace {

using ::testing::DescribeMatcher;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::Not;

// What `matcher` says about `value` when asked to explain the match.
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::ExplainMatchResult(matcher, value, &listener);
  return listener.str();
}

TEST(StatusMatchersTest, IsOkMatchesOkStatusAndStatusOr) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(absl::NotFoundError("gone"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::NotFoundError("gone")), Not(IsOk()));
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk(), /*negation=*/true), "is not OK");
}

TEST(StatusMatchersTest, IsOkFailurePrintsTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::NotFoundError("no such file"), IsOk()),
                          "NOT_FOUND: no such file");
  // A StatusOr prints as its status too, not as raw bytes.
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(absl::StatusOr<int>(absl::NotFoundError("no such file")), IsOk()),
      "NOT_FOUND: no such file");
}

TEST(StatusMatchersTest, ExpectAndAssertOkPassOnOk) {
  GORL_EXPECT_OK(absl::OkStatus());
  GORL_EXPECT_OK(absl::StatusOr<int>(1));
  GORL_ASSERT_OK(absl::OkStatus());
  GORL_ASSERT_OK(absl::StatusOr<int>(1)) << "context streams like any assertion";
}

TEST(StatusMatchersTest, ExpectAndAssertOkFailurePrintsTheStatus) {
  EXPECT_NONFATAL_FAILURE(GORL_EXPECT_OK(absl::InternalError("boom")), "INTERNAL: boom");
  EXPECT_NONFATAL_FAILURE(GORL_EXPECT_OK(absl::StatusOr<int>(absl::InternalError("boom"))),
                          "INTERNAL: boom");
  EXPECT_FATAL_FAILURE(GORL_ASSERT_OK(absl::AbortedError("stop")), "ABORTED: stop");
  EXPECT_FATAL_FAILURE(GORL_ASSERT_OK(absl::StatusOr<int>(absl::AbortedError("stop"))),
                       "ABORTED: stop");
}

TEST(StatusMatchersTest, AssertOkAndAssignUnwrapsTheValue) {
  GORL_ASSERT_OK_AND_ASSIGN(const int value, absl::StatusOr<int>(7));
  EXPECT_EQ(value, 7);
  // Move-only values are moved out.
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> pointer,
                            absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(4)));
  ASSERT_NE(pointer, nullptr);
  EXPECT_EQ(*pointer, 4);
}

TEST(StatusMatchersTest, AssertOkAndAssignFailureNamesTheExpressionAndStatus) {
  EXPECT_FATAL_FAILURE(
      {
        GORL_ASSERT_OK_AND_ASSIGN(const int value,
                                  absl::StatusOr<int>(absl::DataLossError("torn")));
        (void)value;
      },
      "absl::StatusOr<int>(absl::DataLossError(\"torn\")) is not OK: DATA_LOSS: torn");
}

TEST(StatusMatchersTest, IsOkAndHoldsMatchesTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(3));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(Gt(2)));
  EXPECT_THAT(absl::StatusOr<std::string>("abc"), IsOkAndHolds(HasSubstr("b")));
  EXPECT_THAT(absl::StatusOr<int>(3), Not(IsOkAndHolds(4)));
  EXPECT_THAT(absl::StatusOr<int>(absl::UnknownError("?")), Not(IsOkAndHolds(3)));
  EXPECT_EQ(DescribeMatcher<absl::StatusOr<int>>(IsOkAndHolds(Gt(2))),
            "is OK and has a value that is > 2");
}

TEST(StatusMatchersTest, IsOkAndHoldsFailureShowsTheValueOrTheStatus) {
  EXPECT_EQ(Explain(IsOkAndHolds(4), absl::StatusOr<int>(3)), "whose value 3 doesn't match");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::StatusOr<int>(3), IsOkAndHolds(4)),
                          "whose value 3 doesn't match");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(absl::StatusOr<int>(absl::UnavailableError("down")), IsOkAndHolds(3)),
      "UNAVAILABLE: down");
}

TEST(StatusMatchersTest, StatusIsMatchesTheCode) {
  EXPECT_THAT(absl::InvalidArgumentError("bad"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(absl::StatusOr<int>(absl::InvalidArgumentError("bad")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::InvalidArgumentError("bad"), Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound)),
            "has code NOT_FOUND");
}

TEST(StatusMatchersTest, StatusIsFailureShowsTheActualCode) {
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound), absl::InvalidArgumentError("bad")),
            "whose code is INVALID_ARGUMENT");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(absl::InvalidArgumentError("bad"), StatusIs(absl::StatusCode::kNotFound)),
      "INVALID_ARGUMENT: bad");
}

TEST(StatusMatchersTest, StatusIsWithAMessageMatchesCodeAndMessage) {
  const absl::Status status = absl::NotFoundError("no file /tmp/x");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("/tmp/x")));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, "no file /tmp/x"));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("/tmp/y"))));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInternal, HasSubstr("/tmp/x"))));
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound, HasSubstr("x"))),
            "has code NOT_FOUND and a message that has substring \"x\"");
}

TEST(StatusMatchersTest, StatusIsWithAMessageFailureShowsTheStatus) {
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound, HasSubstr("/tmp/y")),
                    absl::NotFoundError("no file /tmp/x")),
            "whose message doesn't match");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::NotFoundError("no file /tmp/x"),
                                      StatusIs(absl::StatusCode::kNotFound, HasSubstr("/tmp/y"))),
                          "NOT_FOUND: no file /tmp/x");
}

}  // namespace
}  // namespace gorl::testing
