// Brax PPO's generalised advantage estimation (brax/training/agents/ppo/
// losses.py compute_gae; docs/algorithm.md §4), as a pure function over
// time-major [T, N] tensors:
//   delta_t = (r_t + gamma (1 - term_t) V_{t+1} - V_t) (1 - trunc_t)
//   G_t     = delta_t + gamma lambda (1 - term_t) (1 - trunc_t) G_{t+1}
//   vs_t    = G_t + V_t                                  (value targets)
//   A_t     = (r_t + gamma (1 - term_t) vs_{t+1} - V_t) (1 - trunc_t)
// The policy's advantage is Brax's one-step form on the lambda-returns vs
// (it equals delta_t + gamma (1 - term_t) G_{t+1}), kept exactly because it
// is what Brax and the GoRL release train with. A truncated step has
// advantage 0 and never bootstraps. `values` is [T, N], `bootstrap` [N] is
// V of the observation after the last step (it also stands for vs_T).
#ifndef GORL_LEARNER_PPO_MATH_H_
#define GORL_LEARNER_PPO_MATH_H_

#include <torch/torch.h>

namespace gorl::learner {

struct GaeResult {
  torch::Tensor advantages;     // [T, N]
  torch::Tensor value_targets;  // [T, N] (vs)
};

GaeResult ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values,
                     const torch::Tensor& bootstrap, const torch::Tensor& terminated,
                     const torch::Tensor& truncated, double discount, double lambda);

// Clipped surrogate PPO loss pieces on flattened samples.
struct PpoLossInputs {
  torch::Tensor log_prob;       // [B] under the current policy
  torch::Tensor old_log_prob;   // [B] behaviour
  torch::Tensor advantages;     // [B]
  torch::Tensor values;         // [B] current critic
  torch::Tensor value_targets;  // [B]
  torch::Tensor entropy;        // [B]
  torch::Tensor mask;           // [B] 1 = counts in the value loss (0 at truncated steps)
  torch::Tensor mean, std;      // [B, D] latent Gaussian (prior penalty)
};

struct PpoLossTerms {
  torch::Tensor total;
  torch::Tensor policy_loss, value_loss, entropy, prior_penalty;
  torch::Tensor approx_kl, clip_fraction;  // diagnostics (no gradient)
};

struct PpoLossOptions {
  double clip_epsilon = 0.3;
  double value_loss_coefficient = 0.5;  // Brax: 0.5 * 0.5 MSE = 0.25 MSE
  double entropy_cost = 1e-2;
  double prior_penalty = 0.0;
};

PpoLossTerms ComputePpoLoss(const PpoLossInputs& in, const PpoLossOptions& options);

// PPO's clipped surrogate on log-ratios [S] or [S, M] (M ratios per sample,
// e.g. FPO's draws or DPPO's denoising steps) that share the sample's
// advantage [S]: loss = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) over
// every entry; approx_kl = mean((r - 1) - log r); clip_fraction = the share
// of entries with |r - 1| > eps (both without gradient).
struct SurrogateTerms {
  torch::Tensor loss, approx_kl, clip_fraction;
};
SurrogateTerms ClippedSurrogate(const torch::Tensor& log_ratio, const torch::Tensor& advantages,
                                double clip_epsilon);

// 0.5 * coefficient * mean of (targets - values)^2 over the unmasked samples.
torch::Tensor ValueLoss(const torch::Tensor& values, const torch::Tensor& targets,
                        const torch::Tensor& mask, double coefficient);

// FPO's per-draw log-ratios (docs/algorithm.md §2, the variant GoRL runs):
// clamp(old_losses - new_losses, -clip, clip), [S, M].
torch::Tensor FpoLogRatios(const torch::Tensor& old_losses, const torch::Tensor& new_losses,
                           double clip);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_PPO_MATH_H_
