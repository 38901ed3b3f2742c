// gmock matchers and assertions for absl::Status and absl::StatusOr<T>.
//
// Debian 12's Abseil ships no absl/status/status_matchers.h, so these are
// small versions of the usual ones. A failure prints the status itself (code
// and message), not just "false":
//
//   GORL_ASSERT_OK(env->Reset());
//   GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Task> task, factory->NewTask());
//   EXPECT_THAT(LoadPreset("local"), IsOkAndHolds(Property(&v1::TrainConfig::preset, "local")));
//   EXPECT_THAT(MakeTaskFactory("cheetah-fly", ""),
//               StatusIs(absl::StatusCode::kNotFound, HasSubstr("cheetah-run")));
#ifndef GORL_TESTS_STATUS_MATCHERS_H_
#define GORL_TESTS_STATUS_MATCHERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gorl::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// IsOk(): matches an OK Status or StatusOr. gtest prints the actual value,
// i.e. the status, so a mismatch needs no further explanation.
class IsOkMatcher {
 public:
  using is_gtest_matcher = void;

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, std::ostream* /*explanation*/) const {
    return GetStatus(actual).ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

// IsOkAndHolds(m). A class template with a conversion to Matcher<StatusOr<T>>
// because `m` can only be described once T is known.
template <typename ValueMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(ValueMatcher value) : value_(std::move(value)) {}

  template <typename StatusOrType>
  operator ::testing::Matcher<StatusOrType>() const {  // NOLINT(google-explicit-constructor)
    using Value = typename std::decay_t<StatusOrType>::value_type;
    return ::testing::Matcher<StatusOrType>(
        new Impl<StatusOrType>(::testing::SafeMatcherCast<const Value&>(value_)));
  }

 private:
  template <typename StatusOrType>
  class Impl : public ::testing::MatcherInterface<StatusOrType> {
   public:
    using Value = typename std::decay_t<StatusOrType>::value_type;
    explicit Impl(::testing::Matcher<const Value&> value) : value_(std::move(value)) {}

    bool MatchAndExplain(StatusOrType actual,
                         ::testing::MatchResultListener* listener) const override {
      if (!actual.ok()) return false;  // the printed actual value is the status
      ::testing::StringMatchResultListener value_listener;
      const bool matches = value_.MatchAndExplain(*actual, &value_listener);
      const std::string explanation = value_listener.str();
      *listener << "whose value " << ::testing::PrintToString(*actual)
                << (matches ? " matches" : " doesn't match");
      if (!explanation.empty()) *listener << ", " << explanation;
      return matches;
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "is OK and has a value that ";
      value_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "is not OK or has a value that ";
      value_.DescribeNegationTo(os);
    }

   private:
    const ::testing::Matcher<const Value&> value_;
  };

  const ValueMatcher value_;
};

// StatusIs(code[, message]): the code and, when given, the message.
class StatusIsMatcher {
 public:
  using is_gtest_matcher = void;

  StatusIsMatcher(absl::StatusCode code,
                  std::optional<::testing::Matcher<const std::string&>> message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    if (status.code() != code_) {
      *listener << "whose code is " << status.code();
      return false;
    }
    if (!message_.has_value()) return true;
    ::testing::StringMatchResultListener message_listener;
    const bool matches =
        message_->MatchAndExplain(std::string(status.message()), &message_listener);
    const std::string explanation = message_listener.str();
    if (!matches) *listener << "whose message doesn't match";
    if (!explanation.empty()) *listener << (matches ? "" : ", ") << explanation;
    return matches;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has code " << code_;
    if (message_.has_value()) {
      *os << " and a message that ";
      message_->DescribeTo(os);
    }
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "doesn't have code " << code_;
    if (message_.has_value()) {
      *os << " or has a message that ";
      message_->DescribeNegationTo(os);
    }
  }

 private:
  const absl::StatusCode code_;
  const std::optional<::testing::Matcher<const std::string&>> message_;
};

}  // namespace internal

// Matches an OK absl::Status or absl::StatusOr<T>.
inline internal::IsOkMatcher IsOk() { return {}; }

// Matches an OK absl::StatusOr<T> whose value matches `value` (a matcher or a
// plain value to compare with ==).
template <typename ValueMatcher>
internal::IsOkAndHoldsMatcher<std::decay_t<ValueMatcher>> IsOkAndHolds(ValueMatcher&& value) {
  return internal::IsOkAndHoldsMatcher<std::decay_t<ValueMatcher>>(
      std::forward<ValueMatcher>(value));
}

// Matches a Status or StatusOr with code `code` (whatever its message).
inline internal::StatusIsMatcher StatusIs(absl::StatusCode code) {
  return internal::StatusIsMatcher(code, std::nullopt);
}

// Matches a Status or StatusOr with code `code` and a message that matches
// `message` (a string matcher such as HasSubstr, or a string to compare with ==).
template <typename MessageMatcher>
internal::StatusIsMatcher StatusIs(absl::StatusCode code, MessageMatcher&& message) {
  return internal::StatusIsMatcher(
      code, ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message)));
}

}  // namespace gorl::testing

// gtest finds a printer for a type by looking up PrintTo in the type's
// namespace. Abseil 20220623 gives StatusOr no operator<<, so without this a
// failing expectation would print a StatusOr as raw bytes.
namespace absl {
template <typename T>
void PrintTo(const StatusOr<T>& status_or, std::ostream* os) {
  if (status_or.ok()) {
    *os << "OK with value " << ::testing::PrintToString(*status_or);
  } else {
    *os << status_or.status();
  }
}
}  // namespace absl

#define GORL_TESTING_CONCAT_INNER_(a, b) a##b
#define GORL_TESTING_CONCAT_(a, b) GORL_TESTING_CONCAT_INNER_(a, b)

// Check that `expr`, an absl::Status or absl::StatusOr<T>, is OK; on failure
// they print the status. Like every gtest assertion they take `<< context`.
#define GORL_EXPECT_OK(expr) EXPECT_THAT((expr), ::gorl::testing::IsOk())
#define GORL_ASSERT_OK(expr) ASSERT_THAT((expr), ::gorl::testing::IsOk())

// `GORL_ASSERT_OK_AND_ASSIGN(auto x, MakeX());` unwraps an absl::StatusOr or
// fails the test fatally, printing the expression and its status. Declares
// a variable, so it cannot be the body of an unbraced if or loop.
#define GORL_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  GORL_ASSERT_OK_AND_ASSIGN_IMPL_(GORL_TESTING_CONCAT_(gorl_statusor_, __LINE__), lhs, rexpr)
// `lhs` may be a declaration ("const auto x"), which parentheses would break.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define GORL_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)                  \
  auto statusor = (rexpr);                                                     \
  if (!statusor.ok()) FAIL() << #rexpr << " is not OK: " << statusor.status(); \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // GORL_TESTS_STATUS_MATCHERS_H_
