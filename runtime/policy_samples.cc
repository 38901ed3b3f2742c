#include "runtime/policy_samples.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/nn/policy_inference.h"
#include "common/nn/sample_actions.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"

namespace gorl::runtime {
namespace {

absl::StatusOr<nn::LatentSource> ParseLatents(const std::string& name) {
  if (name == "encoder") return nn::LatentSource::kEncoder;
  if (name == "mean") return nn::LatentSource::kEncoderMean;
  if (name == "prior") return nn::LatentSource::kPrior;
  return absl::InvalidArgumentError(
      absl::StrCat("latents '", name, "' is not one of encoder, mean, prior"));
}

absl::StatusOr<v1::PolicySnapshot> ReadPolicy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read policy file ", path));
  v1::PolicySnapshot snapshot;
  if (!snapshot.ParseFromIstream(&in) || snapshot.obs_size() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a policy (a run's policy_stage<k>.pb)"));
  }
  return snapshot;
}

}  // namespace

absl::StatusOr<PolicySamples> SamplePolicy(const PolicySampleOptions& options) {
  GORL_ASSIGN_OR_RETURN(const nn::LatentSource source, ParseLatents(options.latents));
  if (options.samples < 1) {
    return absl::InvalidArgumentError(absl::StrCat("samples must be >= 1, got ", options.samples));
  }
  GORL_ASSIGN_OR_RETURN(const v1::PolicySnapshot snapshot, ReadPolicy(options.policy_path));
  PolicySamples out;
  out.action_size = snapshot.latent_size();
  for (size_t i = 0; i < options.observations.size(); ++i) {
    auto actions = nn::SampleActions(snapshot, options.observations[i], options.samples, source,
                                     DeriveSeed(options.seed, i));
    if (!actions.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.policy_path, ": ", actions.status().message()));
    }
    out.actions.push_back(std::move(*actions));
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<float>>> VisitedStates(const VisitedStatesOptions& options) {
  int last_step = -1;
  for (int step : options.at_steps) {
    if (step < 0) return absl::InvalidArgumentError(absl::StrCat("step ", step, " is negative"));
    last_step = std::max(last_step, step);
  }
  GORL_ASSIGN_OR_RETURN(const v1::PolicySnapshot policy, ReadPolicy(options.policy_path));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(options.task, options.assets));
  const envs::TaskSpec& spec = factory->spec();
  if (policy.obs_size() != spec.obs_size || policy.latent_size() != spec.action_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.policy_path, " takes ", policy.obs_size(), " observations and gives ",
                     policy.latent_size(), " actions; ", options.task, " has ", spec.obs_size,
                     " and ", spec.action_size));
  }
  // Built once: rebuilding the policy for every step cost more than the physics.
  absl::StatusOr<std::unique_ptr<nn::PolicyInference>> inference =
      nn::PolicyInference::FromSnapshot(policy);
  if (!inference.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.policy_path, ": ", inference.status().message()));
  }
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::Task> task, factory->NewTask());
  Rng rng(options.seed);
  Rng policy_rng(options.seed);  // unused by the deterministic policy
  nn::ActOutput act;
  std::vector<float> obs(spec.obs_size);
  GORL_RETURN_IF_ERROR(task->Reset(rng, obs.data()));
  std::vector<std::vector<float>> visited(last_step + 1);
  for (int step = 0; step <= last_step; ++step) {
    visited[step] = obs;
    if (step == last_step) break;
    (*inference)
        ->Act(obs.data(), 1, nn::LatentSource::kEncoderMean, /*record=*/false, policy_rng, act);
    const envs::StepOutcome outcome = task->Step(act.actions.data(), obs.data());
    const bool ended = outcome.diverged || step + 1 > spec.episode_length ||
                       (outcome.terminated && step + 1 < last_step);
    if (ended) {
      return absl::FailedPreconditionError(absl::StrCat("the episode of ", options.task, " under ",
                                                        options.policy_path, " ended at step ",
                                                        step + 1, ", before step ", last_step));
    }
  }
  std::vector<std::vector<float>> states;
  for (int step : options.at_steps) states.push_back(visited[step]);
  return states;
}

std::vector<int64_t> ActionHistogram(const std::vector<float>& values, int offset, int stride,
                                     int bins) {
  std::vector<int64_t> counts(std::max(bins, 1), 0);
  for (size_t i = offset; i < values.size(); i += stride) {
    const int bin = static_cast<int>(std::floor((values[i] + 1.0f) * 0.5f * bins));
    ++counts[std::clamp(bin, 0, bins - 1)];
  }
  return counts;
}

}  // namespace gorl::runtime
