// Validation of what actors send, before any of it reaches shared state:
// sizes against the task and against each other, finite values. Every error
// is InvalidArgument and names the field.
#ifndef GORL_RUNTIME_MESSAGE_CHECKS_H_
#define GORL_RUNTIME_MESSAGE_CHECKS_H_

#include "absl/status/status.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::runtime {

struct TaskShape {
  int obs_size = 0;
  int action_size = 0;
};

// A train-mode unroll from an actor that joined with `num_envs` envs.
absl::Status CheckRollout(const v1::Rollout& rollout, const TaskShape& shape, int num_envs);

// Collect-mode pairs (a whole set or one chunk of it).
absl::Status CheckRefinementData(const v1::RefinementData& data, const TaskShape& shape);

// Eval-mode returns for a share of `episodes` episodes.
absl::Status CheckEvalReport(const v1::EvalReport& report, int episodes);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_MESSAGE_CHECKS_H_
