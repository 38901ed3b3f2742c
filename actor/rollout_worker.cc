#include "actor/rollout_worker.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/message_checks.h"
#include "common/nn/decoder.h"
#include "common/nn/latent_policy.h"
#include "common/random.h"
#include "common/running_normalizer.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "envs/vector_env.h"

namespace gorl::actor {
namespace {

// The installed policy: encoder, its normaliser and decoder (GoRL, PPO), or
// the flow policy of FPO / DPPO (docs/learning.md, "Baselines").
struct Policy {
  v1::PolicyKind kind = v1::POLICY_KIND_LATENT;
  std::unique_ptr<nn::LatentPolicy> encoder;
  RunningNormalizer normalizer;
  std::unique_ptr<nn::DecoderModel> decoder;
  std::unique_ptr<nn::DecoderModel> flow;  // FPO, DPPO
  int fpo_draws = 0;
  double dppo_sigma = 0.0;
  int64_t encoder_version = 0;
};

// Outputs of one batched inference call; each is a row-major [N, dim]
// buffer (for FPO / DPPO `latents` is the pre-tanh action, and the fpo_* /
// dppo_* buffers are filled only when recording).
struct ActOutput {
  std::vector<float> latents, log_probs, pre_tanh, actions;
  std::vector<float> fpo_times, fpo_noise, fpo_old_losses;  // [N, M], [N, M, A], [N, M]
  std::vector<float> dppo_chain, dppo_log_probs;            // [N, K + 1, A], [N, K]
};

void Assign(const torch::Tensor& tensor, std::vector<float>& out) {
  const torch::Tensor c = tensor.contiguous();
  out.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// FPO and DPPO: x_0 ~ N(0, I) (0 when deterministic), then the flow's Euler
// steps (DPPO: plus sigma noise each, none when deterministic). `record`
// adds what the learner's loss needs, computed with this snapshot.
void ActFlow(const Policy& policy, const float* obs_raw, int n, int obs_size, bool deterministic,
             bool record, torch::Generator& gen, ActOutput& out) {
  torch::InferenceMode guard;
  const nn::DecoderModel& flow = *policy.flow;
  const int a = flow.action_size();
  const torch::Tensor obs_norm = flow.NormalizeObs(
      torch::from_blob(const_cast<float*>(obs_raw), {n, obs_size}, torch::kFloat32));
  const torch::Tensor x0 = deterministic ? torch::zeros({n, a}) : torch::randn({n, a}, gen);
  const bool dppo = policy.kind == v1::POLICY_KIND_DPPO;
  const double sigma = dppo && !deterministic ? policy.dppo_sigma : 0.0;
  torch::Tensor chain;
  const torch::Tensor u = flow.SampleNormalized(obs_norm, x0, sigma, &gen, &chain);
  Assign(u, out.latents);
  out.pre_tanh = out.latents;
  Assign(torch::tanh(u), out.actions);
  if (!record) {
    out.log_probs.assign(n, 0.0f);
    return;
  }
  if (dppo) {
    const torch::Tensor step_log_probs = flow.StepLogLikelihoods(obs_norm, chain, sigma);
    Assign(chain, out.dppo_chain);
    Assign(step_log_probs, out.dppo_log_probs);
    Assign(step_log_probs.sum(-1), out.log_probs);
    return;
  }
  // tau_i uniform on the sampling grid {1, 1 - 1/K, ..., 1/K}, eps_i ~ N(0, I).
  const int m = policy.fpo_draws;
  const torch::Tensor grid = torch::tensor(flow.StepTimes(), torch::kDouble).to(torch::kFloat);
  const torch::Tensor taus =
      grid.index_select(0, torch::randint(0, flow.steps(), {int64_t{n} * m}, gen, torch::kLong))
          .reshape({n, m});
  const torch::Tensor eps = torch::randn({n, m, a}, gen);
  const torch::Tensor losses = flow.CfmLosses(obs_norm, u, taus, eps);
  Assign(taus, out.fpo_times);
  Assign(eps, out.fpo_noise);
  Assign(losses, out.fpo_old_losses);
  Assign(-losses.mean(-1), out.log_probs);
}

void Act(const Policy& policy, const float* obs_raw, int n, int obs_size, bool deterministic,
         torch::Generator& gen, ActOutput& out, bool record = false) {
  if (policy.kind != v1::POLICY_KIND_LATENT) {
    ActFlow(policy, obs_raw, n, obs_size, deterministic, record, gen, out);
    return;
  }
  torch::InferenceMode guard;
  const int latent = policy.encoder->latent_size();
  std::vector<float> obs_norm(obs_raw, obs_raw + static_cast<size_t>(n) * obs_size);
  policy.normalizer.Normalize(obs_norm.data(), n);
  const torch::Tensor obs_t = torch::from_blob(obs_norm.data(), {n, obs_size}, torch::kFloat32);
  const auto [mean, std_dev] = policy.encoder->Distribution(obs_t);
  torch::Tensor z = mean;
  if (!deterministic) z = mean + std_dev * torch::randn({n, latent}, gen);
  // Diagonal Gaussian log-density of z, summed over latent dimensions.
  const torch::Tensor log_prob =
      (-0.5 * ((z - mean) / std_dev).pow(2) - std_dev.log() - 0.5 * std::log(2 * M_PI)).sum(-1);
  const torch::Tensor raw_obs_t =
      torch::from_blob(const_cast<float*>(obs_raw), {n, obs_size}, torch::kFloat32);
  const torch::Tensor u = policy.decoder->Decode(raw_obs_t, z).contiguous();
  const torch::Tensor action = torch::tanh(u).contiguous();
  const torch::Tensor z_c = z.contiguous();
  const torch::Tensor lp_c = log_prob.contiguous();
  out.latents.assign(z_c.data_ptr<float>(), z_c.data_ptr<float>() + z_c.numel());
  out.log_probs.assign(lp_c.data_ptr<float>(), lp_c.data_ptr<float>() + lp_c.numel());
  out.pre_tanh.assign(u.data_ptr<float>(), u.data_ptr<float>() + u.numel());
  out.actions.assign(action.data_ptr<float>(), action.data_ptr<float>() + action.numel());
}

// A non-finite output is the policy's fault, not the caller's: Internal.
absl::Status CheckPolicyOutput(const std::vector<float>& values, const char* what) {
  const absl::Status finite = CheckFinite(values, what);
  if (finite.ok()) return finite;
  return absl::InternalError(absl::StrCat("policy produced ", finite.message()));
}

}  // namespace

struct RolloutWorker::Impl {
  const envs::TaskFactory* factory = nullptr;
  WorkerOptions options;
  std::unique_ptr<envs::VectorEnv> env;
  bool env_started = false;
  std::unique_ptr<Policy> policy;
  torch::Generator gen;
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
  impl->gen = at::detail::createCPUGenerator(DeriveSeed(options.seed, kLatentNoiseStream));
  return std::unique_ptr<RolloutWorker>(new RolloutWorker(std::move(impl)));
}

absl::Status RolloutWorker::SetPolicy(const v1::PolicySnapshot& snapshot) {
  const envs::TaskSpec& spec = impl_->factory->spec();
  if (snapshot.obs_size() != spec.obs_size || snapshot.latent_size() != spec.action_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy snapshot is for obs ", snapshot.obs_size(), " / latent ", snapshot.latent_size(),
        ", but task ", spec.name, " has obs ", spec.obs_size, " / action ", spec.action_size));
  }
  if (snapshot.policy_kind() != v1::POLICY_KIND_LATENT) return SetFlowPolicy(snapshot);
  auto policy = std::make_unique<Policy>();
  GORL_ASSIGN_OR_RETURN(policy->encoder, nn::LatentPolicy::FromSnapshot(snapshot));
  GORL_ASSIGN_OR_RETURN(policy->normalizer, RunningNormalizer::FromProto(snapshot.normalizer()));
  if (policy->normalizer.size() != spec.obs_size) {
    return absl::InvalidArgumentError(absl::StrCat("policy snapshot normaliser has size ",
                                                   policy->normalizer.size(), ", expected ",
                                                   spec.obs_size));
  }
  GORL_ASSIGN_OR_RETURN(policy->decoder, nn::DecoderModel::FromProto(snapshot.decoder()));
  // A decoder for other sizes would only fail (in LibTorch) at the first step.
  if (policy->decoder->obs_size() != spec.obs_size ||
      policy->decoder->action_size() != spec.action_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy snapshot decoder is for obs ", policy->decoder->obs_size(),
                     " / action ", policy->decoder->action_size(), ", but task ", spec.name,
                     " has obs ", spec.obs_size, " / action ", spec.action_size));
  }
  policy->encoder_version = snapshot.encoder_version();
  impl_->policy = std::move(policy);
  return absl::OkStatus();
}

absl::Status RolloutWorker::SetFlowPolicy(const v1::PolicySnapshot& snapshot) {
  const envs::TaskSpec& spec = impl_->factory->spec();
  auto policy = std::make_unique<Policy>();
  policy->kind = snapshot.policy_kind();
  if (!v1::PolicyKind_IsValid(policy->kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy snapshot: unknown policy_kind ", static_cast<int>(policy->kind)));
  }
  GORL_ASSIGN_OR_RETURN(policy->flow, nn::DecoderModel::FromProto(snapshot.flow_policy()));
  if (policy->flow->kind() != v1::DECODER_KIND_FLOW || policy->flow->obs_size() != spec.obs_size ||
      policy->flow->action_size() != spec.action_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy snapshot: the FPO/DPPO flow_policy must be a flow network for obs ",
                     spec.obs_size, " / action ", spec.action_size, " (task ", spec.name, ")"));
  }
  if (policy->kind == v1::POLICY_KIND_FPO) {
    policy->fpo_draws = snapshot.fpo_draws();
    if (policy->fpo_draws < 1 || policy->fpo_draws > kMaxFpoDraws) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy snapshot: fpo_draws ", policy->fpo_draws, " must be in 1..", kMaxFpoDraws));
    }
  } else {
    policy->dppo_sigma = snapshot.dppo_sigma();
    if (!(policy->dppo_sigma > 0) || !std::isfinite(policy->dppo_sigma)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy snapshot: dppo_sigma ", policy->dppo_sigma, " must be > 0"));
    }
  }
  policy->encoder_version = snapshot.encoder_version();
  impl_->policy = std::move(policy);
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
  rollout.set_encoder_version(impl_->policy->encoder_version);
  rollout.set_num_envs(n);
  rollout.set_unroll_length(length);
  rollout.set_obs_size(obs_size);
  rollout.set_latent_size(env.action_size());
  auto* observations = rollout.mutable_observations();
  observations->Reserve(static_cast<int>((length + 1) * n * obs_size));
  observations->Add(env.obs(), env.obs() + n * obs_size);
  const Policy& policy = *impl_->policy;
  if (policy.kind == v1::POLICY_KIND_FPO) rollout.set_fpo_draws(policy.fpo_draws);
  if (policy.kind == v1::POLICY_KIND_DPPO) rollout.set_dppo_steps(policy.flow->steps());
  ActOutput out;
  for (int t = 0; t < length; ++t) {
    Act(policy, env.obs(), n, obs_size, /*deterministic=*/false, impl_->gen, out,
        /*record=*/true);
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
    observations->Add(env.obs(), env.obs() + n * obs_size);
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
  torch::Generator gen = at::detail::createCPUGenerator(DeriveSeed(seed, kLatentNoiseStream));
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
    Act(*impl_->policy, env->obs(), num_envs, obs_size, /*deterministic=*/false, gen, out);
    GORL_RETURN_IF_ERROR(CheckPolicyOutput(out.pre_tanh, "pre-tanh action"));
    data.mutable_observations()->Add(env->obs(), env->obs() + take * obs_size);
    data.mutable_actions()->Add(out.pre_tanh.begin(), out.pre_tanh.begin() + take * act);
    data.mutable_latents()->Add(out.latents.begin(), out.latents.begin() + take * act);
    collected += take;
    GORL_RETURN_IF_ERROR(env->Step(out.actions.data()));
  }
  return data;
}

absl::StatusOr<v1::EvalReport> RolloutWorker::Evaluate(int episodes, bool deterministic,
                                                       uint64_t seed) {
  if (impl_->policy == nullptr) return absl::FailedPreconditionError("actor: no policy installed");
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::VectorEnv> env, impl_->FreshEnv(episodes, seed));
  torch::Generator gen = at::detail::createCPUGenerator(DeriveSeed(seed, kLatentNoiseStream));
  v1::EvalReport report;
  report.set_encoder_version(impl_->policy->encoder_version);
  report.set_deterministic(deterministic);
  std::vector<float> returns(episodes, 0.0f);
  std::vector<bool> done(episodes, false);
  int remaining = episodes;
  ActOutput out;
  while (remaining > 0) {
    Act(*impl_->policy, env->obs(), episodes, env->obs_size(), deterministic, gen, out);
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
