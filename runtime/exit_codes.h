// The exit codes of every gorl process. They are part of the runtime, not
// only of the CLI: the launcher reads its children's codes (an actor that
// exits 0 has finished; anything else is restarted) and passes the
// learner's on.
#ifndef GORL_RUNTIME_EXIT_CODES_H_
#define GORL_RUNTIME_EXIT_CODES_H_

#include "absl/status/status.h"

namespace gorl::runtime {

// 0 success, 1 runtime failure, 2 bad usage or input; a process stopped by
// signal N exits 128 + N.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// 2 for errors in what the user gave (InvalidArgument, NotFound,
// FailedPrecondition: bad flags, unknown task, missing files), else 1.
inline int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  const bool usage = status.code() == absl::StatusCode::kInvalidArgument ||
                     status.code() == absl::StatusCode::kNotFound ||
                     status.code() == absl::StatusCode::kFailedPrecondition;
  return usage ? kExitUsage : kExitFailure;
}

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_EXIT_CODES_H_
