#include "actor/rollout_worker.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/message_checks.h"
#include "common/nn/policy_inference.h"
#include "common/random.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "envs/vector_env.h"

namespace gorl::actor {
namespace {

using nn::ActOutput;
using nn::LatentSource;

// A non-finite output is the policy's fault, not the caller's: Internal.
absl::Status CheckPolicyOutput(const std::vector<float>& values, const char* what) {
  absl::Status finite = CheckFinite(values, what);
  if (finite.ok()) return finite;
  return absl::InternalError(absl::StrCat("policy produced ", finite.message()));
}

}  // namespace

struct RolloutWorker::Impl {
  const envs::TaskFactory* factory = nullptr;
  WorkerOptions options;
  std::unique_ptr<envs::VectorEnv> env;
  bool env_started = false;
  std::unique_ptr<nn::PolicyInference> policy;
  Rng rng;
  int64_t train_env_steps = 0;

  // A reset vector env of `num_envs` fresh episodes seeded `seed`, for the
  // collect and eval modes (they never disturb the train-mode episodes).
  absl::StatusOr<std::unique_ptr<envs::VectorEnv>> FreshEnv(int num_envs, uint64_t seed) const {
    envs::VectorEnvOptions env_options;
    env_options.num_envs = num_envs;
    env_options.num_threads = options.num_threads;
    env_options.seed = seed;
    GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::VectorEnv> env,
                          envs::VectorEnv::Create(*factory, env_options));
    GORL_RETURN_IF_ERROR(env->Reset());
    return env;
  }
};

RolloutWorker::RolloutWorker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RolloutWorker::~RolloutWorker() = default;

absl::StatusOr<std::unique_ptr<RolloutWorker>> RolloutWorker::Create(
    const envs::TaskFactory& factory, const WorkerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->factory = &factory;
  impl->options = options;
  envs::VectorEnvOptions env_options;
  env_options.num_envs = options.num_envs;
  env_options.num_threads = options.num_threads;
  env_options.seed = options.seed;
  GORL_ASSIGN_OR_RETURN(impl->env, envs::VectorEnv::Create(factory, env_options));
  impl->rng.Seed(DeriveSeed(options.seed, kLatentNoiseStream));
  return std::unique_ptr<RolloutWorker>(new RolloutWorker(std::move(impl)));
}

absl::Status RolloutWorker::SetPolicy(const v1::PolicySnapshot& snapshot) {
  const envs::TaskSpec& spec = impl_->factory->spec();
  if (snapshot.obs_size() != spec.obs_size || snapshot.latent_size() != spec.action_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy snapshot is for obs ", snapshot.obs_size(), " / latent ", snapshot.latent_size(),
        ", but task ", spec.name, " has obs ", spec.obs_size, " / action ", spec.action_size));
  }
  // Every part's own sizes are checked against the snapshot's there.
  GORL_ASSIGN_OR_RETURN(impl_->policy, nn::PolicyInference::FromSnapshot(snapshot));
  return absl::OkStatus();
}

absl::StatusOr<v1::Rollout> RolloutWorker::Unroll(int length) {
  if (impl_->policy == nullptr) return absl::FailedPreconditionError("actor: no policy installed");
  if (length < 1) return absl::InvalidArgumentError("actor: unroll length must be >= 1");
  envs::VectorEnv& env = *impl_->env;
  if (!impl_->env_started) {
    GORL_RETURN_IF_ERROR(env.Reset());
    impl_->env_started = true;
  }
  const int n = env.num_envs(), obs_size = env.obs_size();
  v1::Rollout rollout;
  rollout.set_encoder_version(impl_->policy->encoder_version());
  rollout.set_num_envs(n);
  rollout.set_unroll_length(length);
  rollout.set_obs_size(obs_size);
  rollout.set_latent_size(env.action_size());
  auto* observations = rollout.mutable_observations();
  observations->Reserve(static_cast<int>((length + 1) * n * obs_size));
  observations->Add(env.obs(), env.obs() + static_cast<size_t>(n) * obs_size);
  nn::PolicyInference& policy = *impl_->policy;
  if (policy.kind() == v1::POLICY_KIND_FPO) rollout.set_fpo_draws(policy.fpo_draws());
  if (policy.kind() == v1::POLICY_KIND_DPPO) rollout.set_dppo_steps(policy.flow_steps());
  ActOutput out;
  for (int t = 0; t < length; ++t) {
    policy.Act(env.obs(), n, LatentSource::kEncoder, /*record=*/true, impl_->rng, out);
    GORL_RETURN_IF_ERROR(CheckPolicyOutput(out.actions, "action"));
    GORL_RETURN_IF_ERROR(env.Step(out.actions.data()));
    rollout.mutable_latents()->Add(out.latents.begin(), out.latents.end());
    rollout.mutable_log_probs()->Add(out.log_probs.begin(), out.log_probs.end());
    rollout.mutable_fpo_times()->Add(out.fpo_times.begin(), out.fpo_times.end());
    rollout.mutable_fpo_noise()->Add(out.fpo_noise.begin(), out.fpo_noise.end());
    rollout.mutable_fpo_old_losses()->Add(out.fpo_old_losses.begin(), out.fpo_old_losses.end());
    rollout.mutable_dppo_chain()->Add(out.dppo_chain.begin(), out.dppo_chain.end());
    rollout.mutable_dppo_old_log_probs()->Add(out.dppo_log_probs.begin(), out.dppo_log_probs.end());
    rollout.mutable_rewards()->Add(env.rewards(), env.rewards() + n);
    for (int i = 0; i < n; ++i) {
      rollout.add_terminated(env.terminated()[i]);
      rollout.add_truncated(env.truncated()[i]);
    }
    observations->Add(env.obs(), env.obs() + static_cast<size_t>(n) * obs_size);
    for (const envs::EpisodeRecord& record : env.TakeFinishedEpisodes()) {
      rollout.add_episode_returns(static_cast<float>(record.episode_return));
      if (record.diverged) rollout.set_diverged_episodes(rollout.diverged_episodes() + 1);
    }
  }
  impl_->train_env_steps += int64_t{length} * n;
  return rollout;
}

absl::StatusOr<v1::RefinementData> RolloutWorker::Collect(int64_t pairs, int num_envs,
                                                          uint64_t seed) {
  if (impl_->policy == nullptr) return absl::FailedPreconditionError("actor: no policy installed");
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::VectorEnv> env, impl_->FreshEnv(num_envs, seed));
  Rng rng(DeriveSeed(seed, kLatentNoiseStream));
  const int obs_size = env->obs_size(), act = env->action_size();
  v1::RefinementData data;
  data.set_obs_size(obs_size);
  data.set_action_size(act);
  data.mutable_observations()->Reserve(static_cast<int>(pairs * obs_size));
  data.mutable_actions()->Reserve(static_cast<int>(pairs * act));
  ActOutput out;
  int64_t collected = 0;
  while (collected < pairs) {
    const int take = static_cast<int>(std::min<int64_t>(num_envs, pairs - collected));
    impl_->policy->Act(env->obs(), num_envs, LatentSource::kEncoder, /*record=*/false, rng, out);
    GORL_RETURN_IF_ERROR(CheckPolicyOutput(out.pre_tanh, "pre-tanh action"));
    data.mutable_observations()->Add(env->obs(), env->obs() + static_cast<size_t>(take) * obs_size);
    data.mutable_actions()->Add(out.pre_tanh.begin(), out.pre_tanh.begin() + int64_t{take} * act);
    data.mutable_latents()->Add(out.latents.begin(), out.latents.begin() + int64_t{take} * act);
    collected += take;
    GORL_RETURN_IF_ERROR(env->Step(out.actions.data()));
  }
  return data;
}

absl::StatusOr<v1::EvalReport> RolloutWorker::Evaluate(int episodes, bool deterministic,
                                                       uint64_t seed) {
  if (impl_->policy == nullptr) return absl::FailedPreconditionError("actor: no policy installed");
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::VectorEnv> env, impl_->FreshEnv(episodes, seed));
  Rng rng(DeriveSeed(seed, kLatentNoiseStream));
  v1::EvalReport report;
  report.set_encoder_version(impl_->policy->encoder_version());
  report.set_deterministic(deterministic);
  std::vector<float> returns(episodes, 0.0f);
  std::vector<bool> done(episodes, false);
  int remaining = episodes;
  ActOutput out;
  while (remaining > 0) {
    impl_->policy->Act(env->obs(), episodes,
                       deterministic ? LatentSource::kEncoderMean : LatentSource::kEncoder,
                       /*record=*/false, rng, out);
    GORL_RETURN_IF_ERROR(CheckPolicyOutput(out.actions, "action"));
    GORL_RETURN_IF_ERROR(env->Step(out.actions.data()));
    // Only each env's first episode counts; envs that finished keep running
    // (cheaper than masking) but are ignored.
    for (const envs::EpisodeRecord& record : env->TakeFinishedEpisodes()) {
      if (done[record.env]) continue;
      done[record.env] = true;
      returns[record.env] = static_cast<float>(record.episode_return);
      if (record.diverged) report.set_diverged_episodes(report.diverged_episodes() + 1);
      --remaining;
    }
  }
  report.mutable_episode_returns()->Add(returns.begin(), returns.end());
  return report;
}

int64_t RolloutWorker::train_env_steps() const { return impl_->train_env_steps; }

}  // namespace gorl::actor
