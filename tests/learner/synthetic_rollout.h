// Test helper: on-policy rollouts sampled from a PolicySnapshot's encoder
// with synthetic observations and rewards, shaped exactly like an actor's.
#ifndef GORL_TESTS_LEARNER_SYNTHETIC_ROLLOUT_H_
#define GORL_TESTS_LEARNER_SYNTHETIC_ROLLOUT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "common/config.h"
#include "common/nn/decoder.h"
#include "common/nn/distributions.h"
#include "common/nn/latent_policy.h"
#include "common/nn/tensor_codec.h"
#include "common/random.h"
#include "common/running_normalizer.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::learner::testing {

// A tiny GoRL-FM config (PPO with Brax's defaults, batch 4 x 2 minibatches,
// small networks) that the learner and loop tests adjust field by field.
inline v1::TrainConfig TinyTrainConfig(const std::vector<int>& hidden,
                                       const std::vector<int>& critic_hidden) {
  v1::TrainConfig config;
  config.set_algo(v1::ALGO_GORL_FM);
  config.set_learner_threads(1);
  v1::PpoConfig& ppo = *config.mutable_ppo();
  ppo.set_learning_rate(1e-3);
  ppo.set_entropy_cost(1e-2);
  ppo.set_discount(0.99);
  ppo.set_gae_lambda(0.95);
  ppo.set_reward_scaling(1.0);
  ppo.set_clip_epsilon(0.3);
  ppo.set_max_grad_norm(1.0);
  ppo.set_value_loss_coefficient(0.5);
  ppo.set_batch_size(4);
  ppo.set_num_minibatches(2);
  ppo.set_updates_per_batch(2);
  ppo.set_normalize_observations(true);
  ppo.set_normalize_advantages(true);
  v1::EncoderConfig& encoder = *config.mutable_encoder();
  for (int w : hidden) encoder.add_hidden(w);
  for (int w : critic_hidden) encoder.add_critic_hidden(w);
  encoder.set_min_std(1e-3);
  encoder.set_max_std(10);
  // The baselines' sections (used only with algo fpo / dppo): small networks,
  // few steps and draws.
  for (v1::FlowBaselineConfig* b : {config.mutable_fpo(), config.mutable_dppo()}) {
    b->set_learning_rate(1e-3);
    b->set_max_grad_norm(0);
    for (int w : hidden) b->add_hidden(w);
    b->set_steps(4);
    b->set_velocity_scale(0.25);
  }
  config.mutable_fpo()->set_clip_epsilon(0.05);
  config.mutable_fpo()->set_draws(3);
  config.mutable_fpo()->set_log_ratio_clip(3);
  config.mutable_dppo()->set_clip_epsilon(0.2);
  config.mutable_dppo()->set_sigma(0.05);
  return config;
}

// The stage-loop tests' run: TinyTrainConfig over 3 stages x 2 iterations of
// 4 envs x 2 unrolls x 5 steps (240 env steps), evaluations every 40 steps,
// 10-pair refinements.
inline v1::TrainConfig TinyLoopConfig(const std::string& algo, const std::string& collect_with) {
  v1::TrainConfig config = TinyTrainConfig({8, 8}, {16});
  config.set_algo(ParseEnum<v1::Algo>(algo).value());
  config.set_seed(5);
  config.set_total_env_steps(240);
  config.mutable_rollout()->set_num_envs(4);
  config.mutable_rollout()->set_unroll_length(5);
  config.mutable_rollout()->set_num_threads(1);
  config.mutable_refine()->set_num_pairs(10);
  config.mutable_refine()->set_collect_envs(2);
  // A small flow decoder, for the tests that build real decoders.
  config.mutable_decoder()->add_hidden(8);
  config.mutable_decoder()->set_steps(4);
  v1::StageConfig& stages = *config.mutable_stages();
  for (double f : {1.0, 1.0, 1.0}) stages.add_fractions(f);
  stages.set_reinit_encoder(true);
  stages.set_reinit_critic(true);
  stages.set_collect_with(ParseEnum<v1::CollectWith>(collect_with).value());
  config.mutable_eval()->set_episodes(3);
  config.mutable_eval()->set_every_env_steps(40);
  return config;
}

struct SyntheticOptions {
  int num_envs = 4;
  int unroll_length = 5;
  uint64_t seed = 0;
  // Reward of a step from its latent (latent_size values).
  std::function<float(const float* z)> reward = [](const float*) { return 0.0f; };
  // Every step ends an episode by termination (a bandit).
  bool terminate_every_step = false;
  // Steps t with (t + 1) % truncate_every == 0 end by truncation (0: never).
  int truncate_every = 0;
  double obs_offset = 0.0;  // observations are N(obs_offset, obs_scale^2)
  double obs_scale = 1.0;
};

// 8 envs x 5 steps, a truncation every 3 steps, observations N(2, 3^2), and
// rewards that depend on the latent so the policy gradient is non-zero.
inline SyntheticOptions Synthetic(uint64_t seed) {
  SyntheticOptions options;
  options.num_envs = 8;
  options.unroll_length = 5;
  options.seed = seed;
  options.truncate_every = 3;
  options.obs_offset = 2.0;
  options.obs_scale = 3.0;
  options.reward = [](const float* z) { return z[0] - 0.5f * z[1] * z[1]; };
  return options;
}

// FPO / DPPO: u from the snapshot's flow policy started at x0 ~ N(0, I),
// with the records the actor makes (its draws and old CFM losses, or its
// noisy chain and per-step log-likelihoods). Returns u [n, latent].
inline torch::Tensor SampleFlowStep(const v1::PolicySnapshot& snapshot,
                                    const nn::DecoderModel& flow, const torch::Tensor& obs_norm,
                                    torch::Generator& gen, v1::Rollout& rollout) {
  const int64_t n = obs_norm.size(0), a = flow.action_size();
  const torch::Tensor x0 = torch::randn({n, a}, gen);
  torch::Tensor chain;
  const bool dppo = snapshot.policy_kind() == v1::POLICY_KIND_DPPO;
  const double sigma = dppo ? snapshot.dppo_sigma() : 0.0;
  torch::Tensor u = flow.SampleNormalized(obs_norm, x0, sigma, &gen, &chain).contiguous();
  auto add = [](const torch::Tensor& t, google::protobuf::RepeatedField<float>* field) {
    const torch::Tensor c = t.contiguous();
    field->Add(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  if (dppo) {
    const torch::Tensor log_probs = flow.StepLogLikelihoods(obs_norm, chain, sigma);
    add(chain, rollout.mutable_dppo_chain());
    add(log_probs, rollout.mutable_dppo_old_log_probs());
    add(log_probs.sum(-1), rollout.mutable_log_probs());
  } else {
    const int64_t m = snapshot.fpo_draws();
    const torch::Tensor grid = torch::tensor(flow.StepTimes(), torch::kDouble).to(torch::kFloat);
    const torch::Tensor taus =
        grid.index_select(0, torch::randint(0, flow.steps(), {n * m}, gen, torch::kLong))
            .reshape({n, m});
    const torch::Tensor eps = torch::randn({n, m, a}, gen);
    const torch::Tensor losses = flow.CfmLosses(obs_norm, u, taus, eps);
    add(taus, rollout.mutable_fpo_times());
    add(eps, rollout.mutable_fpo_noise());
    add(losses, rollout.mutable_fpo_old_losses());
    add(-losses.mean(-1), rollout.mutable_log_probs());
  }
  return u;
}

// Samples z ~ encoder(normalised obs) like the actor does and records its
// log N(z; mu, sigma) (FPO / DPPO snapshots: SampleFlowStep). Aborts the
// test binary on a malformed snapshot.
inline v1::Rollout SampleRollout(const v1::PolicySnapshot& snapshot,
                                 const SyntheticOptions& options) {
  const bool flow_kind = snapshot.policy_kind() != v1::POLICY_KIND_LATENT;
  std::unique_ptr<nn::LatentPolicy> encoder;
  std::unique_ptr<nn::DecoderModel> flow;
  if (flow_kind) {
    auto decoded = nn::DecoderModel::FromProto(snapshot.flow_policy());
    TORCH_CHECK(decoded.ok(), "bad flow policy");
    flow = std::move(decoded).value();
  } else {
    auto decoded = nn::LatentPolicy::FromSnapshot(snapshot);
    TORCH_CHECK(decoded.ok(), "bad encoder");
    encoder = std::move(decoded).value();
  }
  auto normalizer = RunningNormalizer::FromProto(snapshot.normalizer());
  TORCH_CHECK(normalizer.ok(), "bad snapshot");
  const int n = options.num_envs, steps = options.unroll_length;
  const int obs_size = snapshot.obs_size(), latent = snapshot.latent_size();
  Rng rng(options.seed);
  torch::Generator gen = nn::MakeGenerator(options.seed + 1);

  v1::Rollout rollout;
  rollout.set_encoder_version(snapshot.encoder_version());
  rollout.set_num_envs(n);
  rollout.set_unroll_length(steps);
  rollout.set_obs_size(obs_size);
  rollout.set_latent_size(latent);
  if (flow_kind && snapshot.policy_kind() == v1::POLICY_KIND_FPO) {
    rollout.set_fpo_draws(snapshot.fpo_draws());
  }
  if (flow_kind && snapshot.policy_kind() == v1::POLICY_KIND_DPPO) {
    rollout.set_dppo_steps(flow->steps());
  }
  for (int i = 0; i < (steps + 1) * n * obs_size; ++i) {
    rollout.add_observations(static_cast<float>(rng.Normal(options.obs_offset, options.obs_scale)));
  }
  std::vector<float> obs_norm(rollout.observations().begin(), rollout.observations().end());
  normalizer->Normalize(obs_norm.data(), static_cast<int64_t>(steps + 1) * n);
  torch::NoGradGuard no_grad;
  for (int t = 0; t < steps; ++t) {
    const torch::Tensor obs = torch::from_blob(
        obs_norm.data() + static_cast<size_t>(t) * n * obs_size, {n, obs_size}, torch::kFloat32);
    torch::Tensor z, log_prob;
    if (flow_kind) {
      z = SampleFlowStep(snapshot, *flow, obs, gen, rollout);
    } else {
      const auto [mean, std_dev] = encoder->Distribution(obs);
      const nn::DiagGaussian dist{mean, std_dev};
      z = (mean + std_dev * torch::randn({n, latent}, gen)).contiguous();
      log_prob = dist.LogProb(z).contiguous();
    }
    const float* z_data = z.data_ptr<float>();
    for (int e = 0; e < n; ++e) {
      if (!flow_kind) rollout.add_log_probs(log_prob.data_ptr<float>()[e]);
      rollout.add_rewards(options.reward(z_data + static_cast<size_t>(e) * latent));
      const bool truncated = options.truncate_every > 0 && (t + 1) % options.truncate_every == 0;
      rollout.add_truncated(truncated);
      rollout.add_terminated(!truncated && options.terminate_every_step);
    }
    rollout.mutable_latents()->Add(z_data, z_data + static_cast<size_t>(n) * latent);
  }
  return rollout;
}

}  // namespace gorl::learner::testing

#endif  // GORL_TESTS_LEARNER_SYNTHETIC_ROLLOUT_H_
