// Early-return helpers for absl::Status / absl::StatusOr at API boundaries.
#ifndef GORL_COMMON_STATUS_MACROS_H_
#define GORL_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GORL_CONCAT_INNER_(a, b) a##b
#define GORL_CONCAT_(a, b) GORL_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` is not OK. Not const, so
// that the return moves the status out.
#define GORL_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status gorl_status_ = (expr);        \
    if (!gorl_status_.ok()) return gorl_status_; \
  } while (0)

// `GORL_ASSIGN_OR_RETURN(auto x, MakeX());` unwraps a StatusOr or returns its error.
#define GORL_ASSIGN_OR_RETURN(lhs, expr) \
  GORL_ASSIGN_OR_RETURN_IMPL_(GORL_CONCAT_(gorl_statusor_, __LINE__), lhs, expr)
// `statusor` is a name and `lhs` a declaration: neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define GORL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // GORL_COMMON_STATUS_MACROS_H_
