#include "learner/ppo_learner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <glog/logging.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/message_checks.h"
#include "common/nn/device.h"
#include "common/nn/distributions.h"
#include "common/nn/latent_policy.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"
#include "common/random.h"
#include "common/running_normalizer.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "learner/policy_term.h"
#include "learner/ppo_math.h"

namespace gorl::learner {
namespace {

// The PPO settings that differ between stage 0 and later stages.
struct StageSettings {
  double clip_epsilon = 0.3;
  double max_grad_norm = 0.0;
  double prior_penalty = 0.0;
};

StageSettings SettingsFor(const v1::TrainConfig& config, int stage) {
  if (IsFlowBaseline(config.algo())) {
    // One stage, the baseline's own clip and gradient clip, no penalty.
    const v1::FlowBaselineConfig& b = FlowBaselineSection(config);
    return {b.clip_epsilon(), b.max_grad_norm(), 0.0};
  }
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

// Adam's learning rate for both networks (the baselines' own, else ppo's).
double LearningRate(const v1::TrainConfig& config) {
  return IsFlowBaseline(config.algo()) ? FlowBaselineSection(config).learning_rate()
                                       : config.ppo().learning_rate();
}

// The entropy bonus's weight: the baselines have none.
double EntropyCost(const v1::TrainConfig& config) {
  return IsFlowBaseline(config.algo()) ? 0.0 : config.ppo().entropy_cost();
}

std::unique_ptr<torch::optim::Adam> MakeAdam(std::vector<torch::Tensor> params, double lr) {
  return std::make_unique<torch::optim::Adam>(
      std::move(params),
      torch::optim::AdamOptions(lr).betas(std::make_tuple(0.9, 0.999)).eps(1e-8));
}

// A [rows..., cols] float tensor viewing a packed repeated field (no copy;
// the caller copies before the field goes away).
torch::Tensor View(const google::protobuf::RepeatedField<float>& field, torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(field.data()), shape, torch::kFloat32);
}

torch::Tensor ViewBool(const google::protobuf::RepeatedField<bool>& field,
                       torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<bool*>(field.data()), shape, torch::kBool).to(torch::kFloat32);
}

// --- Checkpoint helpers. ---

void AddTensor(const std::string& name, const torch::Tensor& value, v1::TensorBundle& bundle) {
  const torch::Tensor cpu = value.detach().to(torch::kCPU, torch::kFloat).contiguous();
  v1::Tensor* tensor = bundle.add_tensors();
  tensor->set_name(name);
  for (int64_t dim : cpu.sizes()) tensor->add_shape(dim);
  tensor->mutable_values()->Add(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

// A copy of `tensor` shaped like `like` (and on its device), or an
// InvalidArgument naming `field` when the shape or a value is wrong.
absl::StatusOr<torch::Tensor> TensorLike(const v1::Tensor& tensor, const torch::Tensor& like,
                                         const std::string& field) {
  bool same_shape = tensor.shape_size() == like.dim();
  for (int d = 0; same_shape && d < tensor.shape_size(); ++d) {
    same_shape = tensor.shape(d) == like.size(d);
  }
  if (!same_shape || tensor.values_size() != like.numel()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": tensor '", tensor.name(), "' has ", tensor.values_size(), " values of shape [",
        absl::StrJoin(tensor.shape(), ", "), "], the learner's parameter has shape [",
        absl::StrJoin(like.sizes().begin(), like.sizes().end(), ", "), "]"));
  }
  GORL_RETURN_IF_ERROR(
      CheckFinite(tensor.values(), absl::StrCat(field, ": tensor '", tensor.name(), "'")));
  return torch::from_blob(const_cast<float*>(tensor.values().data()), like.sizes(), torch::kFloat32)
      .to(like.options(), /*non_blocking=*/false, /*copy=*/true);
}

// Adam keeps its per-parameter state under the parameter's TensorImpl
// address (LibTorch's own serialisation uses the same key): its printed form
// in LibTorch 1.x, the pointer itself in 2.x.
using AdamStateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>::key_type;

template <typename Key>
Key MakeAdamKey(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string did
    key << impl;
    return key.str();
  } else {
    return Key(impl);
  }
}

AdamStateKey AdamKey(const torch::Tensor& param) {
  return MakeAdamKey<AdamStateKey>(param.unsafeGetTensorImpl());
}

v1::AdamState SaveAdam(const torch::optim::Adam& adam, const torch::nn::Module& module) {
  v1::AdamState out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const auto found = adam.state().find(AdamKey(item.value()));
    if (found == adam.state().end()) continue;  // not stepped yet
    const auto& state = static_cast<const torch::optim::AdamParamState&>(*found->second);
    out.add_steps(state.step());
    AddTensor(item.key(), state.exp_avg(), *out.mutable_exp_avg());
    AddTensor(item.key(), state.exp_avg_sq(), *out.mutable_exp_avg_sq());
  }
  return out;
}

// Installs `saved` into `adam`, an optimiser over `module`'s parameters that
// has not stepped. Checks everything first; on error `adam` is untouched.
absl::Status RestoreAdam(const v1::AdamState& saved, const torch::nn::Module& module,
                         const std::string& field, torch::optim::Adam& adam) {
  const int n = saved.exp_avg().tensors_size();
  if (saved.exp_avg_sq().tensors_size() != n || saved.steps_size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", saved.steps_size(), " step counts, ", n, " exp_avg and ",
                     saved.exp_avg_sq().tensors_size(), " exp_avg_sq tensors; they must match"));
  }
  std::unordered_map<std::string, torch::Tensor> params;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    params.emplace(item.key(), item.value());
  }
  std::vector<std::pair<AdamStateKey, std::unique_ptr<torch::optim::AdamParamState>>> states;
  for (int i = 0; i < n; ++i) {
    const std::string& name = saved.exp_avg().tensors(i).name();
    const auto param = params.find(name);
    if (param == params.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": '", name, "' is not a parameter of the network"));
    }
    if (saved.exp_avg_sq().tensors(i).name() != name) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".exp_avg_sq[", i, "] is '",
                                                     saved.exp_avg_sq().tensors(i).name(),
                                                     "', exp_avg[", i, "] is '", name, "'"));
    }
    if (saved.steps(i) <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".steps[", i, "] = ", saved.steps(i), " must be > 0"));
    }
    GORL_ASSIGN_OR_RETURN(torch::Tensor exp_avg, TensorLike(saved.exp_avg().tensors(i),
                                                            param->second, field + ".exp_avg"));
    GORL_ASSIGN_OR_RETURN(
        torch::Tensor exp_avg_sq,
        TensorLike(saved.exp_avg_sq().tensors(i), param->second, field + ".exp_avg_sq"));
    if ((exp_avg_sq < 0).any().item<bool>()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".exp_avg_sq: tensor '", name, "' has negative values"));
    }
    auto state = std::make_unique<torch::optim::AdamParamState>();
    state->step(saved.steps(i));
    state->exp_avg(exp_avg);
    state->exp_avg_sq(exp_avg_sq);
    states.emplace_back(AdamKey(param->second), std::move(state));
    params.erase(param);  // a second entry for the same parameter is an error
  }
  adam.state().clear();
  for (auto& [key, state] : states) adam.state()[key] = std::move(state);
  return absl::OkStatus();
}

// The first non-finite value among `named` tensors, as "what 'name'", or ""
// when every value is finite. One device sync per tensor: called once per
// update, not per minibatch.
std::string FirstNonFinite(const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  for (const auto& [name, tensor] : named) {
    if (!torch::isfinite(tensor.detach()).all().item<bool>()) return name;
  }
  return "";
}

// The weights and Adam moments of `module` (trained by `adam`), named for an error.
void AddStateTensors(const std::string& network, const torch::nn::Module& module,
                     const torch::optim::Adam& adam,
                     std::vector<std::pair<std::string, torch::Tensor>>& out) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.emplace_back(absl::StrCat(network, " weight '", item.key(), "'"), item.value());
    const auto found = adam.state().find(AdamKey(item.value()));
    if (found == adam.state().end()) continue;
    const auto& state = static_cast<const torch::optim::AdamParamState&>(*found->second);
    out.emplace_back(absl::StrCat(network, " Adam exp_avg '", item.key(), "'"), state.exp_avg());
    out.emplace_back(absl::StrCat(network, " Adam exp_avg_sq '", item.key(), "'"),
                     state.exp_avg_sq());
  }
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
  torch::Tensor obs_norm;               // [T + 1, N, obs]
  torch::Tensor latents;                // [T, N, latent]
  torch::Tensor log_probs;              // [T, N]
  std::vector<torch::Tensor> records;   // the policy term's, [T, N, ...] each
  torch::Tensor rewards;                // [T, N], scaled
  torch::Tensor terminated, truncated;  // [T, N], 0/1
};

}  // namespace

struct PpoLearner::Impl {
  v1::TrainConfig config;
  int obs_size = 0, latent_size = 0;
  // The policy being trained: GoRL's encoder, Gaussian PPO's policy, or the
  // FPO / DPPO flow policy ("encoder" in the checkpoint and the versions).
  std::unique_ptr<PolicyTerm> policy;
  nn::Mlp critic{nullptr};
  // Adam is per-parameter, so two optimisers with the same settings equal
  // Brax's single optimiser over both networks; two make it easy to reset
  // one network's moments when it is re-initialised.
  std::unique_ptr<torch::optim::Adam> encoder_adam, critic_adam;
  RunningNormalizer normalizer;
  // The learner's random streams: draw k of a stream uses its own generator
  // seeded DeriveSeed(stream seed, k), so a stream's whole state is its draw
  // counter (which a checkpoint saves), not LibTorch's generator internals.
  uint64_t shuffle_seed = 0, entropy_seed = 0;
  uint64_t shuffle_draws = 0, entropy_draws = 0;
  int stage = 0;
  int64_t encoder_version = 0;
  // Where the networks, their Adam moments and each iteration's batch live
  // (config.device). Everything that leaves the learner is copied to the CPU.
  torch::Device device{torch::kCPU};

  // A fresh learner state (weights drawn from the run seed, no Adam steps).
  static absl::StatusOr<std::unique_ptr<Impl>> Create(const v1::TrainConfig& config, int obs_size,
                                                      int latent_size);

  std::vector<torch::Tensor> EncoderParams() { return policy->network().parameters(); }
  std::vector<torch::Tensor> AllParams() {
    std::vector<torch::Tensor> params = EncoderParams();
    for (const torch::Tensor& p : critic->parameters()) params.push_back(p);
    return params;
  }

  absl::Status Validate(const std::vector<v1::Rollout>& rollouts) const;
  Batch Assemble(const std::vector<v1::Rollout>& rollouts);

  // A uniformly random permutation of 0..n-1 (Fisher-Yates on the project's
  // own generator, so it is the same with every LibTorch).
  torch::Tensor NextPermutation(int64_t n) {
    Rng rng(DeriveSeed(shuffle_seed, shuffle_draws++));
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), int64_t{0});
    for (int64_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(rng.Uniform() * static_cast<double>(i + 1));
      std::swap(order[i], order[j]);
    }
    return torch::tensor(order, torch::TensorOptions().dtype(torch::kLong)).to(device);
  }
  // Runs `init` (which draws on the CPU generators of nn::MakeGenerator) with
  // `module` on the CPU, then moves it back: the same weights on every device.
  // Module::to keeps the parameters' identity, so optimisers stay valid.
  template <typename Init>
  void InitOnCpu(torch::nn::Module& module, Init init) {
    module.to(torch::kCPU);
    init();
    module.to(device);
  }
  torch::Generator NextEntropyGenerator() {
    return nn::MakeGenerator(DeriveSeed(entropy_seed, entropy_draws++));
  }
};

absl::Status PpoLearner::Impl::Validate(const std::vector<v1::Rollout>& rollouts) const {
  if (rollouts.empty()) return absl::InvalidArgumentError("PPO update: no rollouts");
  const int steps = rollouts[0].unroll_length();
  int64_t envs = 0;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const v1::Rollout& r = rollouts[i];
    const absl::Status valid = CheckRollout(
        r, {obs_size, latent_size, RecordedFpoDraws(config), RecordedDppoSteps(config)},
        r.num_envs());
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("rollout ", i, ": ", valid.message()));
    }
    if (r.unroll_length() != steps) {
      return absl::InvalidArgumentError(absl::StrCat("rollout ", i, ": unroll_length ",
                                                     r.unroll_length(), ", rollout 0 has ", steps));
    }
    // On-policy: the ratio's denominator must come from the encoder being
    // trained. A stale rollout (older version, e.g. from before a
    // re-initialisation) would silently bias the update.
    if (r.encoder_version() != encoder_version) {
      return absl::FailedPreconditionError(
          absl::StrCat("rollout ", i, ": collected with encoder version ", r.encoder_version(),
                       ", the learner is at version ", encoder_version));
    }
    envs += r.num_envs();
  }
  if (envs < config.ppo().num_minibatches()) {
    return absl::InvalidArgumentError(absl::StrCat("PPO update: ", envs, " sequences cannot fill ",
                                                   config.ppo().num_minibatches(), " minibatches"));
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
  batch.records = policy->Records(rollouts);

  // Brax updates the statistics once per iteration with the batch's T
  // observation rows (not the bootstrap row), before any gradient step, so
  // every minibatch of this iteration sees the same normalisation. The
  // values were checked finite, so Update cannot fail half-way.
  if (config.ppo().normalize_observations()) {
    const absl::Status status = normalizer.Update(raw_obs.data_ptr<float>(), steps * batch.envs);
    CHECK(status.ok()) << status;
  }
  // The actors normalise with the same function, so the first minibatch's
  // log-probs reproduce theirs (ratio exactly 1).
  normalizer.Normalize(raw_obs.data_ptr<float>(), (steps + 1) * batch.envs);
  batch.obs_norm = raw_obs;
  if (device != torch::kCPU) {
    for (torch::Tensor* t : {&batch.obs_norm, &batch.latents, &batch.log_probs, &batch.rewards,
                             &batch.terminated, &batch.truncated}) {
      *t = t->to(device);
    }
    for (torch::Tensor& t : batch.records) t = t.to(device);
  }
  return batch;
}

PpoLearner::PpoLearner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PpoLearner::~PpoLearner() = default;

absl::StatusOr<std::unique_ptr<PpoLearner::Impl>> PpoLearner::Impl::Create(
    const v1::TrainConfig& config, int obs_size, int latent_size) {
  if (obs_size <= 0 || latent_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PPO learner: obs size ", obs_size, " and latent size ", latent_size, " must be positive"));
  }
  GORL_RETURN_IF_ERROR(ValidateLearnerConfig(config));
  const v1::EncoderConfig& enc = config.encoder();
  GORL_ASSIGN_OR_RETURN(const torch::Device device, nn::ResolveDevice(config.device()));
  if (config.learner_threads() > 0) torch::set_num_threads(config.learner_threads());

  auto impl = std::make_unique<Impl>();
  impl->device = device;
  impl->config = config;
  impl->obs_size = obs_size;
  impl->latent_size = latent_size;
  impl->policy =
      MakePolicyTerm(config, obs_size, latent_size,
                     nn::MakeGenerator(SeedFor(config.seed(), SeedStream::kEncoderInit)));
  nn::MlpOptions critic;
  critic.input_size = obs_size;
  critic.hidden.assign(enc.critic_hidden().begin(), enc.critic_hidden().end());
  critic.output_size = 1;
  impl->critic =
      nn::Mlp(critic, nn::MakeGenerator(SeedFor(config.seed(), SeedStream::kCriticInit)));
  // Initialised on the CPU above (the same weights on every device), then moved.
  impl->policy->network().to(device);
  impl->critic->to(device);
  impl->encoder_adam = MakeAdam(impl->EncoderParams(), LearningRate(config));
  impl->critic_adam = MakeAdam(impl->critic->parameters(), LearningRate(config));
  impl->normalizer = RunningNormalizer(obs_size);
  impl->shuffle_seed = SeedFor(config.seed(), SeedStream::kShuffle);
  impl->entropy_seed = SeedFor(config.seed(), SeedStream::kEntropy);
  return impl;
}

absl::StatusOr<std::unique_ptr<PpoLearner>> PpoLearner::Create(const v1::TrainConfig& config,
                                                               int obs_size, int latent_size) {
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, Impl::Create(config, obs_size, latent_size));
  LOG(INFO) << "PPO learner: training on " << impl->device.str() << " (config device '"
            << EnumUserName(config.device()) << "')";
  return std::unique_ptr<PpoLearner>(new PpoLearner(std::move(impl)));
}

absl::StatusOr<PpoMetrics> PpoLearner::Update(const std::vector<v1::Rollout>& rollouts) {
  GORL_RETURN_IF_ERROR(impl_->Validate(rollouts));
  // The state to go back to when the update turns out non-finite: one copy
  // of the weights and moments per update, small next to the update itself.
  const v1::PpoLearnerState before = SaveState();
  absl::StatusOr<PpoMetrics> metrics = UpdateOnce(rollouts);
  if (metrics.status().code() == absl::StatusCode::kAborted) {
    const absl::Status restored = RestoreState(before);
    if (!restored.ok()) LOG(ERROR) << "cannot roll the learner back: " << restored;
  }
  return metrics;
}

absl::StatusOr<PpoMetrics> PpoLearner::UpdateOnce(const std::vector<v1::Rollout>& rollouts) {
  Impl& m = *impl_;
  const Batch batch = m.Assemble(rollouts);
  const v1::PpoConfig& ppo = m.config.ppo();
  const StageSettings stage = SettingsFor(m.config, m.stage);
  PolicyTermSettings term_settings;
  term_settings.clip_epsilon = stage.clip_epsilon;
  term_settings.entropy_cost = EntropyCost(m.config);
  term_settings.prior_penalty = stage.prior_penalty;
  term_settings.value_loss_coefficient = ppo.value_loss_coefficient();

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
  const int64_t version = m.encoder_version + 1;
  // A diverged update (a huge learning rate, rewards that overflow) stops
  // the run here, naming what went non-finite, before its weights reach the
  // actors or a checkpoint.
  auto non_finite = [&](const std::string& what, const std::string& where) {
    return absl::AbortedError(
        absl::StrCat("non-finite PPO update (update to encoder version ", version, where,
                     "): ", what, "; the learner is back at encoder version ", version - 1,
                     ". Lower ppo.learning_rate or ppo.reward_scaling, or set ppo.max_grad_norm"));
  };

  for (int epoch = 0; epoch < ppo.updates_per_batch(); ++epoch) {
    const torch::Tensor order = m.NextPermutation(N);
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
                         values_all[T].detach(), batch.terminated.index_select(1, idx), truncated,
                         ppo.discount(), ppo.gae_lambda());
      }
      torch::Tensor advantages = gae.advantages.reshape({T * B});
      if (ppo.normalize_advantages()) {
        advantages = (advantages - advantages.mean()) / (advantages.std(/*unbiased=*/false) + 1e-8);
      }
      const auto flat = [&](const torch::Tensor& t) {  // [T, N, ...] -> [T * B, ...]
        std::vector<int64_t> shape = {T * B};
        shape.insert(shape.end(), t.sizes().begin() + 2, t.sizes().end());
        return t.index_select(1, idx).reshape(shape);
      };
      PolicyBatch policy_batch;
      policy_batch.obs_norm = obs.slice(0, 0, T).reshape({T * B, m.obs_size});
      policy_batch.latents = flat(batch.latents);
      policy_batch.old_log_prob = flat(batch.log_probs);
      for (const torch::Tensor& record : batch.records) {
        policy_batch.records.push_back(flat(record));
      }
      policy_batch.advantages = advantages;
      policy_batch.mask = (1.0 - truncated).reshape({T * B});
      policy_batch.values = values.reshape({T * B});
      policy_batch.value_targets = gae.value_targets.reshape({T * B});
      torch::Generator entropy_gen;
      if (m.policy->draws_entropy_samples()) entropy_gen = m.NextEntropyGenerator();
      const PolicyTermLoss loss = m.policy->Loss(
          policy_batch, term_settings, m.policy->draws_entropy_samples() ? &entropy_gen : nullptr);
      const PpoLossTerms& terms = loss.terms;

      const std::pair<const char*, double> losses[] = {
          {"policy_loss", terms.policy_loss.item<double>()},
          {"value_loss", terms.value_loss.item<double>()},
          {"entropy", terms.entropy.item<double>()},
          {"prior_penalty", terms.prior_penalty.item<double>()},
          {"approx_kl", terms.approx_kl.item<double>()},
          {"clip_fraction", terms.clip_fraction.item<double>()},
          {"total_loss", terms.total.item<double>()}};
      const std::string where = absl::StrCat(", epoch ", epoch, ", minibatch ", mb);
      for (const auto& [name, value] : losses) {
        if (!std::isfinite(value)) return non_finite(absl::StrCat(name, " = ", value), where);
      }

      m.encoder_adam->zero_grad();
      m.critic_adam->zero_grad();
      terms.total.backward();
      const double grad_norm = GlobalGradNorm(params);
      if (!std::isfinite(grad_norm)) {
        return non_finite(absl::StrCat("grad_norm = ", grad_norm), where);
      }
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

      metrics.policy_loss += losses[0].second;
      metrics.value_loss += losses[1].second;
      metrics.entropy += losses[2].second;
      metrics.prior_penalty += losses[3].second;
      metrics.approx_kl += losses[4].second;
      metrics.clip_fraction += losses[5].second;
      metrics.grad_norm += grad_norm;
      ++steps_taken;
      if (epoch == 0) {
        const torch::Tensor keep = policy_batch.mask > 0.5;
        first_vs.push_back(policy_batch.value_targets.masked_select(keep));
        first_values.push_back(policy_batch.values.detach().masked_select(keep));
        std_sum += loss.std_sum;
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
  if (!std::isfinite(metrics.mean_std)) {
    return non_finite(absl::StrCat("latent_std = ", metrics.mean_std), "");
  }
  // The last minibatch's step can still overflow a weight or a moment.
  std::vector<std::pair<std::string, torch::Tensor>> state;
  AddStateTensors("encoder", m.policy->network(), *m.encoder_adam, state);
  AddStateTensors("critic", *m.critic, *m.critic_adam, state);
  if (const std::string bad = FirstNonFinite(state); !bad.empty()) {
    return non_finite(absl::StrCat(bad, " has non-finite values"), "");
  }
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
  impl_->InitOnCpu(impl_->policy->network(),
                   [&] { impl_->policy->Reinitialize(nn::MakeGenerator(seed)); });
  // Fresh Adam moments too: the old ones belong to the previous encoder.
  impl_->encoder_adam = MakeAdam(impl_->EncoderParams(), LearningRate(impl_->config));
  ++impl_->encoder_version;
}

// The critic is not part of the policy, so its re-initialisation leaves the
// encoder version alone.
void PpoLearner::ReinitializeCritic(uint64_t seed) {
  impl_->InitOnCpu(*impl_->critic, [&] { impl_->critic->Reinitialize(nn::MakeGenerator(seed)); });
  impl_->critic_adam = MakeAdam(impl_->critic->parameters(), LearningRate(impl_->config));
}

v1::PolicySnapshot PpoLearner::Snapshot() const {
  v1::PolicySnapshot snapshot;
  impl_->policy->WriteTo(impl_->normalizer, snapshot);
  snapshot.set_encoder_version(impl_->encoder_version);
  snapshot.set_stage(impl_->stage);
  snapshot.set_obs_size(impl_->obs_size);
  snapshot.set_latent_size(impl_->latent_size);
  *snapshot.mutable_normalizer() = impl_->normalizer.ToProto();
  return snapshot;
}

v1::PolicySnapshot PpoLearner::FreshEncoderSnapshot(uint64_t seed) const {
  // The same initialisation as ReinitializeEncoder's, on a CPU copy.
  const std::unique_ptr<PolicyTerm> fresh =
      MakePolicyTerm(impl_->config, impl_->obs_size, impl_->latent_size, nn::MakeGenerator(seed));
  fresh->Reinitialize(nn::MakeGenerator(seed));
  v1::PolicySnapshot snapshot = Snapshot();
  fresh->WriteTo(impl_->normalizer, snapshot);
  snapshot.set_encoder_version(impl_->encoder_version + 1);
  return snapshot;
}

int64_t PpoLearner::encoder_version() const { return impl_->encoder_version; }

v1::PpoLearnerState PpoLearner::SaveState() const {
  const Impl& m = *impl_;
  v1::PpoLearnerState state;
  state.set_obs_size(m.obs_size);
  state.set_latent_size(m.latent_size);
  *state.mutable_encoder() = nn::EncodeModule(m.policy->network());
  *state.mutable_critic() = nn::EncodeModule(*m.critic);
  *state.mutable_encoder_adam() = SaveAdam(*m.encoder_adam, m.policy->network());
  *state.mutable_critic_adam() = SaveAdam(*m.critic_adam, *m.critic);
  *state.mutable_normalizer() = m.normalizer.ToProto();
  state.set_encoder_version(m.encoder_version);
  state.set_stage(m.stage);
  state.set_shuffle_draws(m.shuffle_draws);
  state.set_entropy_draws(m.entropy_draws);
  return state;
}

absl::Status PpoLearner::RestoreState(const v1::PpoLearnerState& state) {
  const Impl& current = *impl_;
  if (state.obs_size() != current.obs_size || state.latent_size() != current.latent_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learner state: obs_size / latent_size are ", state.obs_size(), " / ", state.latent_size(),
        ", this learner has ", current.obs_size, " / ", current.latent_size));
  }
  if (state.encoder_version() < 0 || state.stage() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("learner state: encoder_version ",
                                                   state.encoder_version(), " and stage ",
                                                   state.stage(), " must be >= 0"));
  }
  // Everything goes into a fresh state that replaces the current one only
  // when all of it is valid.
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<Impl> fresh,
                        Impl::Create(current.config, current.obs_size, current.latent_size));
  absl::Status status = nn::DecodeModule(state.encoder(), fresh->policy->network());
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner state: encoder (does the config's encoder.hidden, or the "
                     "fpo / dppo section's hidden, match?): ",
                     status.message()));
  }
  status = nn::DecodeModule(state.critic(), *fresh->critic);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner state: critic (does the config's encoder.critic_hidden match?): ",
                     status.message()));
  }
  GORL_RETURN_IF_ERROR(RestoreAdam(state.encoder_adam(), fresh->policy->network(),
                                   "learner state: encoder_adam", *fresh->encoder_adam));
  GORL_RETURN_IF_ERROR(RestoreAdam(state.critic_adam(), *fresh->critic,
                                   "learner state: critic_adam", *fresh->critic_adam));
  absl::StatusOr<RunningNormalizer> normalizer = RunningNormalizer::FromProto(state.normalizer());
  if (!normalizer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("learner state: normalizer: ", normalizer.status().message()));
  }
  if (normalizer->size() != current.obs_size) {
    return absl::InvalidArgumentError(absl::StrCat("learner state: normalizer has size ",
                                                   normalizer->size(), ", expected obs size ",
                                                   current.obs_size));
  }
  fresh->normalizer = *std::move(normalizer);
  fresh->encoder_version = state.encoder_version();
  fresh->stage = state.stage();
  fresh->shuffle_draws = state.shuffle_draws();
  fresh->entropy_draws = state.entropy_draws();
  impl_ = std::move(fresh);
  return absl::OkStatus();
}

}  // namespace gorl::learner
