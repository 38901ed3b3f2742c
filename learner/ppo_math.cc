#include "learner/ppo_math.h"

#include <vector>

namespace gorl::learner {
namespace {

// sum(mask * x) / max(sum(mask), 1): a mean over the unmasked samples that
// stays finite when every sample is masked.
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  return (x * mask).sum() / mask.sum().clamp_min(1.0);
}

}  // namespace

GaeResult ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values,
                     const torch::Tensor& bootstrap, const torch::Tensor& terminated,
                     const torch::Tensor& truncated, double discount, double lambda) {
  TORCH_CHECK(rewards.dim() == 2, "ComputeGae: rewards must be [T, N]");
  TORCH_CHECK(values.sizes() == rewards.sizes() && terminated.sizes() == rewards.sizes() &&
                  truncated.sizes() == rewards.sizes(),
              "ComputeGae: rewards, values, terminated and truncated must share [T, N]");
  TORCH_CHECK(bootstrap.dim() == 1 && bootstrap.size(0) == rewards.size(1),
              "ComputeGae: bootstrap must be [N]");
  const int64_t steps = rewards.size(0);
  const torch::Tensor not_term = 1.0 - terminated.to(rewards.scalar_type());
  const torch::Tensor not_trunc = 1.0 - truncated.to(rewards.scalar_type());
  // V_{t+1}: the next row's value, and the bootstrap value after the last step.
  const torch::Tensor next_values =
      torch::cat({values.slice(0, 1), bootstrap.unsqueeze(0)}, /*dim=*/0);
  const torch::Tensor deltas = (rewards + discount * not_term * next_values - values) * not_trunc;
  const torch::Tensor decay = discount * lambda * not_term * not_trunc;

  // Reverse scan over time; each step is a vector operation over the N envs.
  std::vector<torch::Tensor> advantages(steps);
  torch::Tensor acc = torch::zeros_like(bootstrap);
  for (int64_t t = steps - 1; t >= 0; --t) {
    acc = deltas[t] + decay[t] * acc;
    advantages[t] = acc;
  }
  GaeResult result;
  if (steps == 0) {
    result.advantages = torch::zeros_like(rewards);
    result.value_targets = torch::zeros_like(rewards);
    return result;
  }
  result.value_targets = torch::stack(advantages, 0) + values;
  const torch::Tensor next_targets =
      torch::cat({result.value_targets.slice(0, 1), bootstrap.unsqueeze(0)}, /*dim=*/0);
  result.advantages = (rewards + discount * not_term * next_targets - values) * not_trunc;
  return result;
}

SurrogateTerms ClippedSurrogate(const torch::Tensor& log_ratio, const torch::Tensor& advantages,
                                double clip_epsilon) {
  TORCH_CHECK(advantages.dim() == 1 && log_ratio.size(0) == advantages.size(0),
              "ClippedSurrogate: advantages must be [S] for log-ratios [S, ...]");
  const double eps = clip_epsilon;
  const torch::Tensor ratio = torch::exp(log_ratio);
  // [S] -> [S, 1, ...]: every ratio of a sample shares its advantage.
  std::vector<int64_t> shape(log_ratio.dim(), 1);
  shape[0] = advantages.size(0);
  const torch::Tensor adv = advantages.reshape(shape);
  const torch::Tensor surrogate = ratio * adv;
  const torch::Tensor clipped = torch::clamp(ratio, 1.0 - eps, 1.0 + eps) * adv;
  SurrogateTerms terms;
  // Brax averages the policy loss over every sample; truncated steps have
  // advantage 0 and so add nothing.
  terms.loss = -torch::min(surrogate, clipped).mean();
  {
    torch::NoGradGuard no_grad;
    // KL(old || new) with the low-variance, always non-negative estimator
    // E[(r - 1) - log r] (Schulman's "k3"), not mean(old - new).
    terms.approx_kl = ((ratio - 1.0) - log_ratio).mean().detach();
    terms.clip_fraction = ((ratio - 1.0).abs() > eps).to(torch::kFloat32).mean().detach();
  }
  return terms;
}

torch::Tensor ValueLoss(const torch::Tensor& values, const torch::Tensor& targets,
                        const torch::Tensor& mask, double coefficient) {
  return coefficient * 0.5 * MaskedMean((targets - values).pow(2), mask);
}

torch::Tensor FpoLogRatios(const torch::Tensor& old_losses, const torch::Tensor& new_losses,
                           double clip) {
  return torch::clamp(old_losses - new_losses, -clip, clip);
}

PpoLossTerms ComputePpoLoss(const PpoLossInputs& in, const PpoLossOptions& options) {
  const SurrogateTerms surrogate =
      ClippedSurrogate(in.log_prob - in.old_log_prob, in.advantages, options.clip_epsilon);
  PpoLossTerms terms;
  terms.policy_loss = surrogate.loss;
  terms.value_loss =
      ValueLoss(in.values, in.value_targets, in.mask, options.value_loss_coefficient);
  // `entropy` is the mean entropy itself (a diagnostic); the loss subtracts
  // entropy_cost times it.
  terms.entropy = in.entropy.mean();
  // The weighted penalty, as it enters the loss (0 when the coefficient is 0).
  terms.prior_penalty = options.prior_penalty * (in.mean.pow(2).mean() + in.std.pow(2).mean());
  terms.total = terms.policy_loss + terms.value_loss - options.entropy_cost * terms.entropy +
                terms.prior_penalty;
  terms.approx_kl = surrogate.approx_kl;
  terms.clip_fraction = surrogate.clip_fraction;
  return terms;
}

}  // namespace gorl::learner
