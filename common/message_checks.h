// Validation of gorl.v1 messages before any of their contents reach shared
// state or a network: sizes against the task and against each other, finite
// values. The one place for these rules: the learner's service, the PPO
// learner, the refiner and the actor all check with these functions. Every
// error is InvalidArgument and names the field and the index. No LibTorch.
#ifndef GORL_COMMON_MESSAGE_CHECKS_H_
#define GORL_COMMON_MESSAGE_CHECKS_H_

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gorl/v1/policy.pb.h"

namespace gorl {

// InvalidArgument naming `what[i]` for the first NaN or infinity in
// `values` (a protobuf RepeatedField, std::vector or anything with size()
// and operator[]).
template <typename Values>
absl::Status CheckFinite(const Values& values, const std::string& what) {
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", i, "] is not finite (", values[i], ")"));
    }
  }
  return absl::OkStatus();
}

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

}  // namespace gorl

#endif  // GORL_COMMON_MESSAGE_CHECKS_H_
