#include "common/message_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace gorl {
namespace {

absl::Status CheckCount(int64_t actual, int64_t expected, const char* what) {
  if (actual == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", actual, " values, expected ", expected));
}

// Errors without a reason of their own are about sizes and counts.
absl::Status ShapeUnlessReason(absl::Status status) {
  if (status.ok() || !RefusalReason(status).empty()) return status;
  return WithRefusalReason(std::move(status), "shape");
}

int64_t EpisodeEnds(const v1::Rollout& r) {
  int64_t ends = 0;
  for (int i = 0; i < r.terminated_size(); ++i) ends += r.terminated(i) || r.truncated(i);
  return ends;
}

absl::Status CheckRolloutImpl(const v1::Rollout& r, const TaskShape& shape, int num_envs);
absl::Status CheckRefinementDataImpl(const v1::RefinementData& d, const TaskShape& shape);
absl::Status CheckEvalReportImpl(const v1::EvalReport& report, int episodes);

}  // namespace

std::string RefusalReason(const absl::Status& status) {
  const auto reason = status.GetPayload(kRefusalReasonPayload);
  return reason.has_value() ? std::string(*reason) : std::string();
}

absl::Status WithRefusalReason(absl::Status status, const std::string& reason) {
  if (!status.ok()) status.SetPayload(kRefusalReasonPayload, absl::Cord(reason));
  return status;
}

absl::Status CheckRollout(const v1::Rollout& r, const TaskShape& shape, int num_envs) {
  return ShapeUnlessReason(CheckRolloutImpl(r, shape, num_envs));
}

absl::Status CheckRefinementData(const v1::RefinementData& d, const TaskShape& shape) {
  return ShapeUnlessReason(CheckRefinementDataImpl(d, shape));
}

absl::Status CheckEvalReport(const v1::EvalReport& report, int episodes) {
  return ShapeUnlessReason(CheckEvalReportImpl(report, episodes));
}

namespace {

// FPO's and DPPO's per-step records: the counts the run's algorithm
// declares (none for the others), then their values.
absl::Status CheckFlowBaselineFields(const v1::Rollout& r, const TaskShape& shape, int64_t tn) {
  if (r.fpo_draws() != shape.fpo_draws || r.dppo_steps() != shape.dppo_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout records fpo_draws ", r.fpo_draws(), " / dppo_steps ", r.dppo_steps(),
                     ", the run's algorithm records ", shape.fpo_draws, " / ", shape.dppo_steps,
                     " (FPO draws / DPPO steps; 0 for PPO and GoRL)"));
  }
  if (shape.fpo_draws < 0 || shape.fpo_draws > kMaxFpoDraws || shape.dppo_steps < 0 ||
      shape.dppo_steps > kMaxDppoSteps) {
    return absl::InvalidArgumentError(absl::StrCat("fpo_draws ", shape.fpo_draws,
                                                   " and dppo_steps ", shape.dppo_steps,
                                                   " must be in 0..", kMaxFpoDraws));
  }
  const int64_t a = r.latent_size();
  const int64_t m = shape.fpo_draws, k = shape.dppo_steps;
  // tn * a fits an int (checked above); the factors here are at most 1025.
  constexpr int64_t kMaxValues = std::numeric_limits<int>::max();
  if (tn * m * a > kMaxValues || tn * (k + 1) * a > kMaxValues) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout declares ", tn, " steps x ", m, " FPO draws / ", k, " DPPO steps of ",
                     a, " actions: more values than a message can hold"));
  }
  GORL_RETURN_IF_ERROR(CheckCount(r.fpo_times_size(), tn * m, "rollout.fpo_times"));
  GORL_RETURN_IF_ERROR(CheckCount(r.fpo_noise_size(), tn * m * a, "rollout.fpo_noise"));
  GORL_RETURN_IF_ERROR(CheckCount(r.fpo_old_losses_size(), tn * m, "rollout.fpo_old_losses"));
  GORL_RETURN_IF_ERROR(
      CheckCount(r.dppo_chain_size(), k > 0 ? tn * (k + 1) * a : 0, "rollout.dppo_chain"));
  GORL_RETURN_IF_ERROR(
      CheckCount(r.dppo_old_log_probs_size(), tn * k, "rollout.dppo_old_log_probs"));
  GORL_RETURN_IF_ERROR(CheckFinite(r.fpo_times(), "rollout.fpo_times"));
  for (int i = 0; i < r.fpo_times_size(); ++i) {
    if (r.fpo_times(i) < 0 || r.fpo_times(i) > 1) {
      return WithRefusalReason(
          absl::InvalidArgumentError(
              absl::StrCat("rollout.fpo_times[", i, "] = ", r.fpo_times(i), " is outside [0, 1]")),
          "out_of_range");
    }
  }
  GORL_RETURN_IF_ERROR(CheckBounded(r.fpo_noise(), kMaxAbsLatent, "rollout.fpo_noise"));
  GORL_RETURN_IF_ERROR(CheckBounded(r.fpo_old_losses(), kMaxFpoLoss, "rollout.fpo_old_losses"));
  GORL_RETURN_IF_ERROR(CheckBounded(r.dppo_chain(), kMaxAbsLatent, "rollout.dppo_chain"));
  return CheckBounded(r.dppo_old_log_probs(), kMaxAbsLogProb, "rollout.dppo_old_log_probs");
}

absl::Status CheckRolloutImpl(const v1::Rollout& r, const TaskShape& shape, int num_envs) {
  if (r.obs_size() != shape.obs_size || r.latent_size() != shape.action_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout sizes obs ", r.obs_size(), " / latent ", r.latent_size(),
                     ", the task has obs ", shape.obs_size, " / action ", shape.action_size));
  }
  if (r.num_envs() != num_envs) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout has ", r.num_envs(), " envs, the actor joined with ", num_envs));
  }
  if (r.num_envs() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout num_envs ", r.num_envs(), " must be > 0"));
  }
  if (r.unroll_length() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout unroll_length ", r.unroll_length(), " must be > 0"));
  }
  if (r.encoder_version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout encoder_version ", r.encoder_version(), " must be >= 0"));
  }
  const int64_t tn = int64_t{r.unroll_length()} * r.num_envs();
  // The peer declares these sizes: before their products are formed (they
  // could overflow int64), refuse any that a repeated field could not hold.
  constexpr int64_t kMaxValues = std::numeric_limits<int>::max();
  if (tn + r.num_envs() > kMaxValues / std::max(1, r.obs_size()) ||
      tn > kMaxValues / std::max(1, r.latent_size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rollout declares ", r.unroll_length(), " steps x ", r.num_envs(), " envs of obs ",
        r.obs_size(), " / latent ", r.latent_size(), ": more values than a message can hold"));
  }
  GORL_RETURN_IF_ERROR(CheckCount(r.observations_size(), (tn + r.num_envs()) * r.obs_size(),
                                  "rollout.observations"));
  GORL_RETURN_IF_ERROR(CheckCount(r.latents_size(), tn * r.latent_size(), "rollout.latents"));
  GORL_RETURN_IF_ERROR(CheckCount(r.log_probs_size(), tn, "rollout.log_probs"));
  GORL_RETURN_IF_ERROR(CheckCount(r.rewards_size(), tn, "rollout.rewards"));
  GORL_RETURN_IF_ERROR(CheckCount(r.terminated_size(), tn, "rollout.terminated"));
  GORL_RETURN_IF_ERROR(CheckCount(r.truncated_size(), tn, "rollout.truncated"));
  // One return per episode that ended in this unroll, no more.
  const int64_t ends = EpisodeEnds(r);
  if (r.episode_returns_size() > ends) {
    return absl::InvalidArgumentError(absl::StrCat("rollout.episode_returns has ",
                                                   r.episode_returns_size(), " values, but only ",
                                                   ends, " episodes ended in the unroll"));
  }
  if (r.diverged_episodes() < 0 || r.diverged_episodes() > r.episode_returns_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.diverged_episodes ", r.diverged_episodes(), " must be in [0, ",
                     r.episode_returns_size(), "] (the episodes that ended)"));
  }
  GORL_RETURN_IF_ERROR(CheckFlowBaselineFields(r, shape, tn));
  GORL_RETURN_IF_ERROR(CheckBounded(r.observations(), kMaxAbsObservation, "rollout.observations"));
  GORL_RETURN_IF_ERROR(CheckBounded(r.latents(), kMaxAbsLatent, "rollout.latents"));
  GORL_RETURN_IF_ERROR(CheckBounded(r.log_probs(), kMaxAbsLogProb, "rollout.log_probs"));
  GORL_RETURN_IF_ERROR(CheckBounded(r.rewards(), kMaxAbsReward, "rollout.rewards"));
  return CheckBounded(r.episode_returns(), kMaxAbsReturn, "rollout.episode_returns");
}

absl::Status CheckRefinementDataImpl(const v1::RefinementData& d, const TaskShape& shape) {
  if (d.obs_size() != shape.obs_size || d.action_size() != shape.action_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinement data sizes obs ", d.obs_size(), " / action ", d.action_size(),
                     ", expected obs ", shape.obs_size, " / action ", shape.action_size));
  }
  if (shape.obs_size <= 0 || shape.action_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("refinement data sizes obs_size ",
                                                   shape.obs_size, " / action_size ",
                                                   shape.action_size, " must be > 0"));
  }
  if (d.observations_size() % d.obs_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("refinement data has ", d.observations_size(),
                                                   " observation values, not a multiple of ",
                                                   d.obs_size()));
  }
  const int64_t pairs = d.observations_size() / d.obs_size();
  GORL_RETURN_IF_ERROR(
      CheckCount(d.actions_size(), pairs * d.action_size(), "refinement data.actions"));
  if (d.latents_size() != 0) {
    GORL_RETURN_IF_ERROR(
        CheckCount(d.latents_size(), pairs * d.action_size(), "refinement data.latents"));
  }
  GORL_RETURN_IF_ERROR(
      CheckBounded(d.observations(), kMaxAbsObservation, "refinement data.observations"));
  GORL_RETURN_IF_ERROR(CheckBounded(d.actions(), kMaxAbsAction, "refinement data.actions"));
  return CheckBounded(d.latents(), kMaxAbsLatent, "refinement data.latents");
}

absl::Status CheckEvalReportImpl(const v1::EvalReport& report, int episodes) {
  GORL_RETURN_IF_ERROR(CheckCount(report.episode_returns_size(), episodes, "eval report.returns"));
  if (report.diverged_episodes() < 0 || report.diverged_episodes() > episodes) {
    return absl::InvalidArgumentError(absl::StrCat("eval report: ", report.diverged_episodes(),
                                                   " diverged of ", episodes, " episodes"));
  }
  return CheckBounded(report.episode_returns(), kMaxAbsReturn, "eval report.returns");
}

}  // namespace

}  // namespace gorl
