// Validation of gorl.v1 messages before any of their contents reach shared
// state or a network: sizes against the task and against each other, finite
// values, values within documented bounds. The one place for these rules:
// the learner's service, the PPO learner, the refiner and the actor all
// check with these functions. Every error is InvalidArgument, names the
// field and the index, and carries a short reason (RefusalReason) that the
// learner counts in gorl_messages_refused_total{reason}. No LibTorch.
//
// Why bounds on finite values: a reward of 3e38 is finite, but the first
// sum or square of it in a PPO update overflows to inf and the weights turn
// NaN. The bounds are far beyond anything a sane environment or policy
// produces (MuJoCo observations and rewards are O(1e3) at most; a diverging
// simulation is zeroed by the env and flagged as diverged; latents and
// actions are O(10)), and far below what float arithmetic over a batch
// can overflow: squares of 1e6 are 1e12, sums of 1e7 of them 1e19, while
// float overflows at 3.4e38.
#ifndef GORL_COMMON_MESSAGE_CHECKS_H_
#define GORL_COMMON_MESSAGE_CHECKS_H_

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gorl/v1/policy.pb.h"

namespace gorl {

// InvalidArgument naming `what[i]` for the first NaN or infinity in
// `values` (a protobuf RepeatedField, std::vector or anything with size()
// and operator[]).
// Largest |value| accepted per field (see above).
inline constexpr float kMaxAbsObservation = 1e6f;  // raw env observations
inline constexpr float kMaxAbsLatent = 1e6f;       // pre-tanh Gaussian samples
inline constexpr float kMaxAbsLogProb = 1e6f;      // behaviour log-probs
inline constexpr float kMaxAbsReward = 1e6f;       // one step's reward
inline constexpr float kMaxAbsReturn = 1e12f;      // an episode's return
inline constexpr float kMaxAbsAction = 1e6f;       // collected pre-tanh actions
// FPO's per-draw CFM losses, squared distances in pre-tanh action space: 1e6
// means pre-tanh actions near 1e3, a flow that has diverged (tanh saturates
// beyond |a| ~ 4), and the learner clips l_old - l_new to +-3 anyway.
inline constexpr float kMaxFpoLoss = 1e6f;
// FPO draws per transition and DPPO Euler steps per env step: far beyond
// the released 8 and 10, small enough that sizes cannot overflow.
inline constexpr int kMaxFpoDraws = 1024;
inline constexpr int kMaxDppoSteps = 1024;

// The status payload key of the reason; values: "shape" (sizes or counts),
// "non_finite", "out_of_range" (finite but beyond the bound).
inline constexpr char kRefusalReasonPayload[] = "gorl.refusal_reason";

// The reason attached to a message check's error ("" when none).
std::string RefusalReason(const absl::Status& status);
// `status` with `reason` attached.
absl::Status WithRefusalReason(absl::Status status, const std::string& reason);

template <typename Values>
absl::Status CheckFinite(const Values& values, const std::string& what) {
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) {
    if (!std::isfinite(values[i])) {
      return WithRefusalReason(absl::InvalidArgumentError(
                                   absl::StrCat(what, "[", i, "] is not finite (", values[i], ")")),
                               "non_finite");
    }
  }
  return absl::OkStatus();
}

// CheckFinite, and InvalidArgument ("out_of_range") for the first value
// with |value| > `bound`.
template <typename Values>
absl::Status CheckBounded(const Values& values, float bound, const std::string& what) {
  if (absl::Status finite = CheckFinite(values, what); !finite.ok()) return finite;
  for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) {
    if (std::fabs(values[i]) > bound) {
      return WithRefusalReason(
          absl::InvalidArgumentError(
              absl::StrCat(what, "[", i, "] = ", values[i], " is beyond the bound +-", bound)),
          "out_of_range");
    }
  }
  return absl::OkStatus();
}

struct TaskShape {
  int obs_size = 0;
  int action_size = 0;
  // What the run's algorithm records per step (0: nothing): FPO's draws
  // (fpo_times, fpo_noise, fpo_old_losses) and DPPO's Euler steps
  // (dppo_chain, dppo_old_log_probs).
  int fpo_draws = 0;
  int dppo_steps = 0;
};

// A train-mode unroll from an actor that joined with `num_envs` envs.
absl::Status CheckRollout(const v1::Rollout& rollout, const TaskShape& shape, int num_envs);

// Collect-mode pairs (a whole set or one chunk of it).
absl::Status CheckRefinementData(const v1::RefinementData& data, const TaskShape& shape);

// Eval-mode returns for a share of `episodes` episodes.
absl::Status CheckEvalReport(const v1::EvalReport& report, int episodes);

}  // namespace gorl

#endif  // GORL_COMMON_MESSAGE_CHECKS_H_
