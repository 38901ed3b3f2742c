#include "learner/ppo_learner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <glog/logging.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/nn/distributions.h"
#include "common/nn/latent_policy.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"
#include "common/random.h"
#include "common/running_normalizer.h"
#include "common/status_macros.h"
#include "learner/ppo_math.h"

namespace gorl::learner {
namespace {

// Seed streams of the learner's own random numbers, derived from the run
// seed (distinct from the training loop's and the runtime's streams).
constexpr uint64_t kEncoderInitStream = 701;
constexpr uint64_t kCriticInitStream = 702;
constexpr uint64_t kShuffleStream = 703;
constexpr uint64_t kEntropyStream = 704;

// The PPO settings that differ between stage 0 and later stages.
struct StageSettings {
  double clip_epsilon = 0.3;
  double max_grad_norm = 0.0;
  double prior_penalty = 0.0;
};

StageSettings SettingsFor(const v1::TrainConfig& config, int stage) {
  const v1::PpoConfig& ppo = config.ppo();
  StageSettings s{ppo.clip_epsilon(), ppo.max_grad_norm(), ppo.prior_penalty()};
  if (stage == 0) {
    const v1::PpoStageOverrides& first = config.first_stage();
    if (first.has_clip_epsilon()) s.clip_epsilon = first.clip_epsilon();
    if (first.has_max_grad_norm()) s.max_grad_norm = first.max_grad_norm();
    if (first.has_prior_penalty()) s.prior_penalty = first.prior_penalty();
  }
  return s;
}

std::unique_ptr<torch::optim::Adam> MakeAdam(std::vector<torch::Tensor> params, double lr) {
  return std::make_unique<torch::optim::Adam>(
      std::move(params),
      torch::optim::AdamOptions(lr).betas(std::make_tuple(0.9, 0.999)).eps(1e-8));
}

absl::Status CheckSize(int64_t actual, int64_t expected, const char* field, size_t index) {
  if (actual == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("rollout ", index, ": ", field, " has ", actual,
                                                 " values, expected ", expected));
}

template <typename Values>
absl::Status CheckFinite(const Values& values, const char* field, size_t index) {
  for (int i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values.Get(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("rollout ", index, ": non-finite ", field, " at index ", i));
    }
  }
  return absl::OkStatus();
}

// A [rows..., cols] float tensor viewing a packed repeated field (no copy;
// the caller copies before the field goes away).
torch::Tensor View(const google::protobuf::RepeatedField<float>& field,
                   torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(field.data()), shape, torch::kFloat32);
}

torch::Tensor ViewBool(const google::protobuf::RepeatedField<bool>& field,
                       torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<bool*>(field.data()), shape, torch::kBool)
      .to(torch::kFloat32);
}

// Sqrt of the summed squared gradients of `params` (optax's global norm).
double GlobalGradNorm(const std::vector<torch::Tensor>& params) {
  double sum = 0.0;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) sum += p.grad().pow(2).sum().item<double>();
  }
  return std::sqrt(sum);
}

// The batch of one iteration, concatenated along envs, time-major.
struct Batch {
  int64_t steps = 0, envs = 0;
  torch::Tensor obs_norm;   // [T + 1, N, obs]
  torch::Tensor latents;    // [T, N, latent]
  torch::Tensor log_probs;  // [T, N]
  torch::Tensor rewards;    // [T, N], scaled
  torch::Tensor terminated, truncated;  // [T, N], 0/1
};

}  // namespace

struct PpoLearner::Impl {
  v1::TrainConfig config;
  int obs_size = 0, latent_size = 0;
  bool tanh_entropy = false;  // algo "ppo": Brax's tanh-Gaussian entropy
  std::unique_ptr<nn::LatentPolicy> encoder;
  nn::Mlp critic{nullptr};
  // Adam is per-parameter, so two optimisers with the same settings equal
  // Brax's single optimiser over both networks; two make it easy to reset
  // one network's moments when it is re-initialised.
  std::unique_ptr<torch::optim::Adam> encoder_adam, critic_adam;
  RunningNormalizer normalizer;
  torch::Generator shuffle_gen, entropy_gen;
  int stage = 0;
  int64_t encoder_version = 0;

  std::vector<torch::Tensor> EncoderParams() { return encoder->net()->parameters(); }
  std::vector<torch::Tensor> AllParams() {
    std::vector<torch::Tensor> params = EncoderParams();
    for (const torch::Tensor& p : critic->parameters()) params.push_back(p);
    return params;
  }

  absl::Status Validate(const std::vector<v1::Rollout>& rollouts) const;
  Batch Assemble(const std::vector<v1::Rollout>& rollouts);
};

absl::Status PpoLearner::Impl::Validate(const std::vector<v1::Rollout>& rollouts) const {
  if (rollouts.empty()) return absl::InvalidArgumentError("PPO update: no rollouts");
  const int steps = rollouts[0].unroll_length();
  int64_t envs = 0;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const v1::Rollout& r = rollouts[i];
    if (r.num_envs() <= 0 || r.unroll_length() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("rollout ", i, ": num_envs ", r.num_envs(),
                                                     " and unroll_length ", r.unroll_length(),
                                                     " must be positive"));
    }
    if (r.unroll_length() != steps) {
      return absl::InvalidArgumentError(absl::StrCat("rollout ", i, ": unroll_length ",
                                                     r.unroll_length(), ", rollout 0 has ",
                                                     steps));
    }
    if (r.obs_size() != obs_size || r.latent_size() != latent_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rollout ", i, ": obs ", r.obs_size(), " / latent ", r.latent_size(),
          ", the learner has obs ", obs_size, " / latent ", latent_size));
    }
    // On-policy: the ratio's denominator must come from the encoder being
    // trained. A stale rollout (older version, e.g. from before a
    // re-initialisation) would silently bias the update.
    if (r.encoder_version() != encoder_version) {
      return absl::FailedPreconditionError(
          absl::StrCat("rollout ", i, ": collected with encoder version ", r.encoder_version(),
                       ", the learner is at version ", encoder_version));
    }
    const int64_t tn = int64_t{steps} * r.num_envs();
    GORL_RETURN_IF_ERROR(
        CheckSize(r.observations_size(), (tn + r.num_envs()) * obs_size, "observations", i));
    GORL_RETURN_IF_ERROR(CheckSize(r.latents_size(), tn * latent_size, "latents", i));
    GORL_RETURN_IF_ERROR(CheckSize(r.log_probs_size(), tn, "log_probs", i));
    GORL_RETURN_IF_ERROR(CheckSize(r.rewards_size(), tn, "rewards", i));
    GORL_RETURN_IF_ERROR(CheckSize(r.terminated_size(), tn, "terminated", i));
    GORL_RETURN_IF_ERROR(CheckSize(r.truncated_size(), tn, "truncated", i));
    GORL_RETURN_IF_ERROR(CheckFinite(r.observations(), "observation", i));
    GORL_RETURN_IF_ERROR(CheckFinite(r.latents(), "latent", i));
    GORL_RETURN_IF_ERROR(CheckFinite(r.log_probs(), "log_prob", i));
    GORL_RETURN_IF_ERROR(CheckFinite(r.rewards(), "reward", i));
    envs += r.num_envs();
  }
  if (envs < config.ppo().num_minibatches()) {
    return absl::InvalidArgumentError(absl::StrCat("PPO update: ", envs,
                                                   " sequences cannot fill ",
                                                   config.ppo().num_minibatches(),
                                                   " minibatches"));
  }
  return absl::OkStatus();
}

Batch PpoLearner::Impl::Assemble(const std::vector<v1::Rollout>& rollouts) {
  const int64_t steps = rollouts[0].unroll_length();
  std::vector<torch::Tensor> obs, latents, log_probs, rewards, terminated, truncated;
  for (const v1::Rollout& r : rollouts) {
    const int64_t n = r.num_envs();
    obs.push_back(View(r.observations(), {steps + 1, n, obs_size}));
    latents.push_back(View(r.latents(), {steps, n, latent_size}));
    log_probs.push_back(View(r.log_probs(), {steps, n}));
    rewards.push_back(View(r.rewards(), {steps, n}));
    terminated.push_back(ViewBool(r.terminated(), {steps, n}));
    truncated.push_back(ViewBool(r.truncated(), {steps, n}));
  }
  // cat copies, so the batch owns its memory.
  Batch batch;
  batch.steps = steps;
  torch::Tensor raw_obs = torch::cat(obs, 1).contiguous();
  batch.envs = raw_obs.size(1);
  batch.latents = torch::cat(latents, 1);
  batch.log_probs = torch::cat(log_probs, 1);
  batch.rewards = torch::cat(rewards, 1) * config.ppo().reward_scaling();
  batch.terminated = torch::cat(terminated, 1);
  batch.truncated = torch::cat(truncated, 1);

  // Brax updates the statistics once per iteration with the batch's T
  // observation rows (not the bootstrap row), before any gradient step, so
  // every minibatch of this iteration sees the same normalisation. The
  // values were checked finite, so Update cannot fail half-way.
  if (config.ppo().normalize_observations()) {
    const absl::Status status =
        normalizer.Update(raw_obs.data_ptr<float>(), steps * batch.envs);
    CHECK(status.ok()) << status;
  }
  // The actors normalise with the same function, so the first minibatch's
  // log-probs reproduce theirs (ratio exactly 1).
  normalizer.Normalize(raw_obs.data_ptr<float>(), (steps + 1) * batch.envs);
  batch.obs_norm = raw_obs;
  return batch;
}

PpoLearner::PpoLearner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PpoLearner::~PpoLearner() = default;

absl::StatusOr<std::unique_ptr<PpoLearner>> PpoLearner::Create(const v1::TrainConfig& config,
                                                               int obs_size, int latent_size) {
  if (obs_size <= 0 || latent_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("PPO learner: obs size ", obs_size,
                                                   " and latent size ", latent_size,
                                                   " must be positive"));
  }
  const v1::EncoderConfig& enc = config.encoder();
  if (enc.hidden().empty() || enc.critic_hidden().empty()) {
    return absl::InvalidArgumentError(
        "PPO learner: encoder.hidden and encoder.critic_hidden need at least one layer");
  }
  if (!(enc.min_std() > 0 && enc.max_std() > enc.min_std())) {
    return absl::InvalidArgumentError(absl::StrCat("PPO learner: need 0 < encoder.min_std (",
                                                   enc.min_std(), ") < encoder.max_std (",
                                                   enc.max_std(), ")"));
  }
  const v1::PpoConfig& ppo = config.ppo();
  if (!(ppo.learning_rate() > 0) || ppo.num_minibatches() <= 0 ||
      ppo.updates_per_batch() <= 0 || !(ppo.clip_epsilon() > 0) ||
      !(ppo.reward_scaling() > 0) || !(ppo.discount() > 0 && ppo.discount() <= 1) ||
      !(ppo.gae_lambda() >= 0 && ppo.gae_lambda() <= 1)) {
    return absl::InvalidArgumentError(
        "PPO learner: ppo.learning_rate, num_minibatches, updates_per_batch, clip_epsilon and "
        "reward_scaling must be > 0, discount in (0, 1], gae_lambda in [0, 1]");
  }
  if (config.learner_threads() > 0) torch::set_num_threads(config.learner_threads());

  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->obs_size = obs_size;
  impl->latent_size = latent_size;
  impl->tanh_entropy = config.algo() == "ppo";
  nn::LatentPolicyOptions options;
  options.obs_size = obs_size;
  options.latent_size = latent_size;
  options.hidden.assign(enc.hidden().begin(), enc.hidden().end());
  options.min_std = enc.min_std();
  options.max_std = enc.max_std();
  impl->encoder = std::make_unique<nn::LatentPolicy>(
      options, nn::MakeGenerator(DeriveSeed(config.seed(), kEncoderInitStream)));
  nn::MlpOptions critic;
  critic.input_size = obs_size;
  critic.hidden.assign(enc.critic_hidden().begin(), enc.critic_hidden().end());
  critic.output_size = 1;
  impl->critic =
      nn::Mlp(critic, nn::MakeGenerator(DeriveSeed(config.seed(), kCriticInitStream)));
  impl->encoder_adam = MakeAdam(impl->EncoderParams(), ppo.learning_rate());
  impl->critic_adam = MakeAdam(impl->critic->parameters(), ppo.learning_rate());
  impl->normalizer = RunningNormalizer(obs_size);
  impl->shuffle_gen = nn::MakeGenerator(DeriveSeed(config.seed(), kShuffleStream));
  impl->entropy_gen = nn::MakeGenerator(DeriveSeed(config.seed(), kEntropyStream));
  return std::unique_ptr<PpoLearner>(new PpoLearner(std::move(impl)));
}

absl::StatusOr<PpoMetrics> PpoLearner::Update(const std::vector<v1::Rollout>& rollouts) {
  Impl& m = *impl_;
  GORL_RETURN_IF_ERROR(m.Validate(rollouts));
  const Batch batch = m.Assemble(rollouts);
  const v1::PpoConfig& ppo = m.config.ppo();
  const StageSettings stage = SettingsFor(m.config, m.stage);
  PpoLossOptions loss_options;
  loss_options.clip_epsilon = stage.clip_epsilon;
  loss_options.value_loss_coefficient = ppo.value_loss_coefficient();
  loss_options.entropy_cost = ppo.entropy_cost();
  loss_options.prior_penalty = stage.prior_penalty;

  const int64_t T = batch.steps, N = batch.envs;
  const int64_t num_minibatches = ppo.num_minibatches();
  const std::vector<torch::Tensor> params = m.AllParams();
  PpoMetrics metrics;
  metrics.samples = T * N;
  int64_t steps_taken = 0;
  // Explained variance and the latent std come from the first epoch, which
  // sees every sequence once, with the critic close to the one that the
  // batch's value targets were computed with.
  std::vector<torch::Tensor> first_vs, first_values;
  double std_sum = 0.0;

  for (int epoch = 0; epoch < ppo.updates_per_batch(); ++epoch) {
    const torch::Tensor order =
        torch::randperm(N, m.shuffle_gen, torch::TensorOptions().dtype(torch::kLong));
    for (int64_t mb = 0; mb < num_minibatches; ++mb) {
      const torch::Tensor idx =
          order.slice(0, mb * N / num_minibatches, (mb + 1) * N / num_minibatches);
      const int64_t B = idx.size(0);
      const torch::Tensor obs = batch.obs_norm.index_select(1, idx);  // [T + 1, B, obs]
      const torch::Tensor values_all =
          m.critic->forward(obs.reshape({(T + 1) * B, m.obs_size})).reshape({T + 1, B});
      const torch::Tensor values = values_all.slice(0, 0, T);
      const torch::Tensor truncated = batch.truncated.index_select(1, idx);
      GaeResult gae;
      {
        // GAE is recomputed with the current critic but is a constant target.
        torch::NoGradGuard no_grad;
        gae = ComputeGae(batch.rewards.index_select(1, idx), values.detach(),
                         values_all[T].detach(), batch.terminated.index_select(1, idx),
                         truncated, ppo.discount(), ppo.gae_lambda());
      }
      torch::Tensor advantages = gae.advantages.reshape({T * B});
      if (ppo.normalize_advantages()) {
        advantages = (advantages - advantages.mean()) /
                     (advantages.std(/*unbiased=*/false) + 1e-8);
      }
      const auto [mean, std_dev] =
          m.encoder->Distribution(obs.slice(0, 0, T).reshape({T * B, m.obs_size}));
      const nn::DiagGaussian dist{mean, std_dev};
      const torch::Tensor z = batch.latents.index_select(1, idx).reshape({T * B, m.latent_size});
      PpoLossInputs in;
      // The actors record log N(z; mu, sigma) without the tanh Jacobian for
      // every algorithm; the Jacobian would cancel in the ratio anyway.
      in.log_prob = dist.LogProb(z);
      in.old_log_prob = batch.log_probs.index_select(1, idx).reshape({T * B});
      in.advantages = advantages;
      in.values = values.reshape({T * B});
      in.value_targets = gae.value_targets.reshape({T * B});
      in.entropy = m.tanh_entropy ? nn::TanhGaussian{dist}.Entropy(m.entropy_gen)
                                  : dist.Entropy();
      in.mask = (1.0 - truncated).reshape({T * B});
      in.mean = mean;
      in.std = std_dev;
      const PpoLossTerms terms = ComputePpoLoss(in, loss_options);

      m.encoder_adam->zero_grad();
      m.critic_adam->zero_grad();
      terms.total.backward();
      const double grad_norm = GlobalGradNorm(params);
      if (stage.max_grad_norm > 0 && grad_norm > stage.max_grad_norm) {
        // optax.clip_by_global_norm: scale every gradient by max / norm.
        const double scale = stage.max_grad_norm / grad_norm;
        torch::NoGradGuard no_grad;
        for (const torch::Tensor& p : params) {
          if (p.grad().defined()) p.grad().mul_(scale);
        }
      }
      m.encoder_adam->step();
      m.critic_adam->step();

      metrics.policy_loss += terms.policy_loss.item<double>();
      metrics.value_loss += terms.value_loss.item<double>();
      metrics.entropy += terms.entropy.item<double>();
      metrics.prior_penalty += terms.prior_penalty.item<double>();
      metrics.approx_kl += terms.approx_kl.item<double>();
      metrics.clip_fraction += terms.clip_fraction.item<double>();
      metrics.grad_norm += grad_norm;
      ++steps_taken;
      if (epoch == 0) {
        const torch::Tensor keep = in.mask > 0.5;
        first_vs.push_back(in.value_targets.masked_select(keep));
        first_values.push_back(in.values.detach().masked_select(keep));
        std_sum += std_dev.detach().sum().item<double>();
      }
    }
  }
  const double n = static_cast<double>(steps_taken);
  metrics.policy_loss /= n;
  metrics.value_loss /= n;
  metrics.entropy /= n;
  metrics.prior_penalty /= n;
  metrics.approx_kl /= n;
  metrics.clip_fraction /= n;
  metrics.grad_norm /= n;
  metrics.mean_std = std_sum / static_cast<double>(T * N * m.latent_size);
  const torch::Tensor vs = torch::cat(first_vs);
  const torch::Tensor v = torch::cat(first_values);
  const double target_var = vs.numel() > 0 ? vs.var(/*unbiased=*/false).item<double>() : 0.0;
  // Undefined (NaN) when the targets do not vary, as in other PPO codes.
  metrics.explained_variance =
      target_var > 0 ? 1.0 - (vs - v).var(/*unbiased=*/false).item<double>() / target_var
                     : std::numeric_limits<double>::quiet_NaN();
  ++m.encoder_version;
  return metrics;
}

void PpoLearner::SetStage(int stage) { impl_->stage = stage; }

void PpoLearner::ReinitializeEncoder(uint64_t seed) {
  impl_->encoder->Reinitialize(nn::MakeGenerator(seed));
  // Fresh Adam moments too: the old ones belong to the previous encoder.
  impl_->encoder_adam = MakeAdam(impl_->EncoderParams(), impl_->config.ppo().learning_rate());
  ++impl_->encoder_version;
}

// The critic is not part of the policy, so its re-initialisation leaves the
// encoder version alone.
void PpoLearner::ReinitializeCritic(uint64_t seed) {
  impl_->critic->Reinitialize(nn::MakeGenerator(seed));
  impl_->critic_adam = MakeAdam(impl_->critic->parameters(), impl_->config.ppo().learning_rate());
}

v1::PolicySnapshot PpoLearner::Snapshot() const {
  v1::PolicySnapshot snapshot;
  impl_->encoder->WriteTo(snapshot);
  snapshot.set_encoder_version(impl_->encoder_version);
  snapshot.set_stage(impl_->stage);
  snapshot.set_obs_size(impl_->obs_size);
  snapshot.set_latent_size(impl_->latent_size);
  *snapshot.mutable_normalizer() = impl_->normalizer.ToProto();
  return snapshot;
}

int64_t PpoLearner::encoder_version() const { return impl_->encoder_version; }

}  // namespace gorl::learner
