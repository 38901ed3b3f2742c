// The two action distributions of docs/algorithm.md: GoRL's latent diagonal
// Gaussian over z, and Brax's tanh-Gaussian over actions (used by the
// Gaussian PPO baseline, whose latent z is the pre-tanh action u).
// All functions work on batches: [B, D] inputs, [B] outputs (summed over D).
#ifndef GORL_COMMON_NN_DISTRIBUTIONS_H_
#define GORL_COMMON_NN_DISTRIBUTIONS_H_

#include <torch/torch.h>

namespace gorl::nn {

// std = clamp(softplus(raw) + min_std, min_std, max_std) (Brax: min_std 1e-3;
// GoRL additionally clips to [1e-3, 10]).
torch::Tensor StdFromRaw(const torch::Tensor& raw, double min_std, double max_std);

// Diagonal Gaussian N(mean, std^2).
struct DiagGaussian {
  torch::Tensor mean, std;

  torch::Tensor Sample(torch::Generator& generator) const;
  torch::Tensor LogProb(const torch::Tensor& x) const;
  // Closed form: sum(0.5 + 0.5 log(2 pi) + log std).
  torch::Tensor Entropy() const;
};

// log |d tanh(u) / du| = 2 (log 2 - u - softplus(-2u)), summed over the last dim.
torch::Tensor TanhLogDetJacobian(const torch::Tensor& u);

// Brax's NormalTanhDistribution over pre-tanh u.
struct TanhGaussian {
  DiagGaussian base;

  // log pi(tanh(u)) = log N(u) - log|d tanh/du|(u).
  torch::Tensor LogProb(const torch::Tensor& u) const;
  // Brax's single-sample estimate: Gaussian entropy + log-det term at one
  // fresh sample u ~ base (drawn from `generator`).
  torch::Tensor Entropy(torch::Generator& generator) const;
  torch::Tensor Mode() const { return torch::tanh(base.mean); }
};

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_DISTRIBUTIONS_H_
