#include "learner/policy_term.h"

#include <memory>
#include <utility>
#include <vector>

#include <glog/logging.h>

#include "common/config.h"
#include "common/nn/decoder.h"
#include "common/nn/distributions.h"
#include "common/nn/latent_policy.h"
#include "learner/ppo_math.h"

namespace gorl::learner {
namespace {

// A [rows..., cols] float tensor viewing a packed repeated field (no copy).
torch::Tensor View(const google::protobuf::RepeatedField<float>& field, torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(field.data()), shape, torch::kFloat32);
}

// One record of every rollout, [T, n, inner...] each, concatenated along
// envs (cat copies, so the result owns its memory).
template <typename Field>
torch::Tensor Concat(const std::vector<v1::Rollout>& rollouts, Field field,
                     const std::vector<int64_t>& inner) {
  std::vector<torch::Tensor> parts;
  for (const v1::Rollout& r : rollouts) {
    std::vector<int64_t> shape = {r.unroll_length(), r.num_envs()};
    shape.insert(shape.end(), inner.begin(), inner.end());
    parts.push_back(View(field(r), shape));
  }
  return torch::cat(parts, /*dim=*/1);
}

// GoRL's latent Gaussian encoder, and Gaussian PPO's policy over u.
class LatentTerm : public PolicyTerm {
 public:
  LatentTerm(const v1::TrainConfig& config, int obs_size, int latent_size,
             torch::Generator generator)
      : tanh_entropy_(config.algo() == v1::ALGO_PPO),
        reinit_to_prior_(config.stages().reinit_to_prior()) {
    const v1::EncoderConfig& enc = config.encoder();
    nn::LatentPolicyOptions options;
    options.obs_size = obs_size;
    options.latent_size = latent_size;
    options.hidden.assign(enc.hidden().begin(), enc.hidden().end());
    options.min_std = enc.min_std();
    options.max_std = enc.max_std();
    encoder_ = std::make_unique<nn::LatentPolicy>(options, std::move(generator));
  }

  torch::nn::Module& network() override { return *encoder_->net(); }
  // A stage boundary's fresh encoder: a new draw, or exactly the prior
  // (stages.reinit_to_prior).
  void Reinitialize(torch::Generator generator) override {
    if (reinit_to_prior_) {
      encoder_->ReinitializeToPrior(std::move(generator));
    } else {
      encoder_->Reinitialize(std::move(generator));
    }
  }
  void WriteTo(const RunningNormalizer& /*normalizer*/,
               v1::PolicySnapshot& snapshot) const override {
    encoder_->WriteTo(snapshot);
  }
  std::vector<torch::Tensor> Records(const std::vector<v1::Rollout>& /*rollouts*/) const override {
    return {};
  }
  bool draws_entropy_samples() const override { return tanh_entropy_; }

  PolicyTermLoss Loss(const PolicyBatch& batch, const PolicyTermSettings& settings,
                      torch::Generator* entropy_generator) override {
    const auto [mean, std_dev] = encoder_->Distribution(batch.obs_norm);
    const nn::DiagGaussian dist{mean, std_dev};
    PpoLossInputs in;
    // The actors record log N(z; mu, sigma) without the tanh Jacobian for
    // every algorithm; the Jacobian would cancel in the ratio anyway.
    in.log_prob = dist.LogProb(batch.latents);
    in.old_log_prob = batch.old_log_prob;
    in.advantages = batch.advantages;
    in.values = batch.values;
    in.value_targets = batch.value_targets;
    in.entropy =
        tanh_entropy_ ? nn::TanhGaussian{dist}.Entropy(*entropy_generator) : dist.Entropy();
    in.mask = batch.mask;
    in.mean = mean;
    in.std = std_dev;
    PpoLossOptions options;
    options.clip_epsilon = settings.clip_epsilon;
    options.value_loss_coefficient = settings.value_loss_coefficient;
    options.entropy_cost = settings.entropy_cost;
    options.prior_penalty = settings.prior_penalty;
    PolicyTermLoss out;
    out.terms = ComputePpoLoss(in, options);
    out.std_sum = std_dev.detach().sum().item<double>();
    return out;
  }

 private:
  bool tanh_entropy_;     // algo "ppo": Brax's tanh-Gaussian entropy
  bool reinit_to_prior_;  // stages.reinit_to_prior
  std::unique_ptr<nn::LatentPolicy> encoder_;
};

// FPO and DPPO: the flow network of common/nn/decoder (FLOW kind, velocity
// scaled), trained directly; actors sample it from N(0, I).
class FlowTerm : public PolicyTerm {
 public:
  FlowTerm(const v1::TrainConfig& config, int obs_size, int latent_size, torch::Generator generator)
      : dppo_(config.algo() == v1::ALGO_DPPO), settings_(FlowBaselineSection(config)) {
    flow_ = nn::DecoderModel::NewFlowPolicy(
        obs_size, latent_size,
        std::vector<int>(settings_.hidden().begin(), settings_.hidden().end()), settings_.steps(),
        settings_.velocity_scale(), std::move(generator));
  }

  torch::nn::Module& network() override { return **flow_->net(); }
  void Reinitialize(torch::Generator generator) override {
    (*flow_->net())->Reinitialize(std::move(generator));
  }
  void WriteTo(const RunningNormalizer& normalizer, v1::PolicySnapshot& snapshot) const override {
    snapshot.set_policy_kind(dppo_ ? v1::POLICY_KIND_DPPO : v1::POLICY_KIND_FPO);
    v1::Decoder* policy = snapshot.mutable_flow_policy();
    *policy = flow_->ToProto(/*version=*/0);
    // The actors normalise with the learner's current statistics, like the encoder's.
    *policy->mutable_normalizer() = normalizer.ToProto();
    if (dppo_) {
      snapshot.set_dppo_sigma(settings_.sigma());
    } else {
      snapshot.set_fpo_draws(settings_.draws());
    }
  }

  std::vector<torch::Tensor> Records(const std::vector<v1::Rollout>& rollouts) const override {
    const int64_t a = flow_->action_size();
    if (dppo_) {
      const int64_t k = flow_->steps();
      return {
          Concat(rollouts, [](const v1::Rollout& r) -> const auto& { return r.dppo_chain(); },
                 {k + 1, a}),
          Concat(rollouts,
                 [](const v1::Rollout& r) -> const auto& { return r.dppo_old_log_probs(); }, {k})};
    }
    const int64_t m = settings_.draws();
    return {
        Concat(rollouts, [](const v1::Rollout& r) -> const auto& { return r.fpo_times(); }, {m}),
        Concat(rollouts, [](const v1::Rollout& r) -> const auto& { return r.fpo_noise(); }, {m, a}),
        Concat(rollouts, [](const v1::Rollout& r) -> const auto& { return r.fpo_old_losses(); },
               {m})};
  }

  PolicyTermLoss Loss(const PolicyBatch& batch, const PolicyTermSettings& settings,
                      torch::Generator* /*entropy_generator*/) override {
    torch::Tensor log_ratio;
    if (dppo_) {
      // One ratio per denoising step, each sharing the env step's advantage.
      log_ratio = flow_->StepLogLikelihoods(batch.obs_norm, batch.records[0], settings_.sigma()) -
                  batch.records[1];
    } else {
      // One ratio per (tau, eps) draw, from the change of its CFM loss.
      const torch::Tensor losses =
          flow_->CfmLosses(batch.obs_norm, batch.latents, batch.records[0], batch.records[1]);
      log_ratio = FpoLogRatios(batch.records[2], losses, settings_.log_ratio_clip());
    }
    const SurrogateTerms surrogate =
        ClippedSurrogate(log_ratio, batch.advantages, settings.clip_epsilon);
    PolicyTermLoss out;
    PpoLossTerms& terms = out.terms;
    terms.policy_loss = surrogate.loss;
    terms.value_loss =
        ValueLoss(batch.values, batch.value_targets, batch.mask, settings.value_loss_coefficient);
    // No entropy term and no prior penalty (docs/algorithm.md §2).
    terms.entropy = torch::zeros({});
    terms.prior_penalty = torch::zeros({});
    terms.total = terms.policy_loss + terms.value_loss;
    terms.approx_kl = surrogate.approx_kl;
    terms.clip_fraction = surrogate.clip_fraction;
    return out;
  }

 private:
  bool dppo_;
  v1::FlowBaselineConfig settings_;
  std::unique_ptr<nn::DecoderModel> flow_;
};

}  // namespace

std::unique_ptr<PolicyTerm> MakePolicyTerm(const v1::TrainConfig& config, int obs_size,
                                           int latent_size, torch::Generator generator) {
  if (IsFlowBaseline(config.algo())) {
    return std::make_unique<FlowTerm>(config, obs_size, latent_size, std::move(generator));
  }
  return std::make_unique<LatentTerm>(config, obs_size, latent_size, std::move(generator));
}

}  // namespace gorl::learner
