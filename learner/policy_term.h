// The policy half of PpoLearner's Brax loop, one implementation per kind of
// policy: the loop (normaliser, minibatches, GAE, advantage normalisation,
// Adam, rollback) is the same for all of them; what differs is the network
// being trained, what the actors record per step, and the policy's loss
// term (docs/learning.md, "Baselines"); each adds ppo_math's value loss.
//
//   latent : GoRL's encoder / Gaussian PPO: ratio of log N(z; mu, sigma),
//            entropy bonus, prior penalty.
//   fpo    : a flow policy; one ratio per (tau, eps) draw from the change
//            of its conditional-flow-matching loss (docs/algorithm.md §2).
//   dppo   : the same flow policy with fixed-sigma noise per Euler step;
//            one ratio per denoising step (docs/algorithm.md §3).
//
// Internal to the learner (LibTorch).
#ifndef GORL_LEARNER_POLICY_TERM_H_
#define GORL_LEARNER_POLICY_TERM_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "common/running_normalizer.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"
#include "learner/ppo_math.h"

namespace gorl::learner {

// One minibatch, flattened to S = T x B samples.
struct PolicyBatch {
  torch::Tensor obs_norm;              // [S, obs]
  torch::Tensor latents;               // [S, latent]: z, or the pre-tanh action u (FPO, DPPO)
  torch::Tensor old_log_prob;          // [S]
  std::vector<torch::Tensor> records;  // the term's Records(), each [S, ...]
  torch::Tensor advantages;            // [S], normalised
  torch::Tensor values;                // [S] current critic
  torch::Tensor value_targets;         // [S]
  torch::Tensor mask;                  // [S] 1 = counts in the value loss (0 at truncated steps)
};

// Settings of the current stage.
struct PolicyTermSettings {
  double clip_epsilon = 0.3;
  double entropy_cost = 0.0;
  double prior_penalty = 0.0;
  double value_loss_coefficient = 0.5;
};

struct PolicyTermLoss {
  PpoLossTerms terms;    // the whole loss (policy, value, entropy, penalty) and diagnostics
  double std_sum = 0.0;  // sum of the latent Gaussian's std (latent term only)
};

class PolicyTerm {
 public:
  virtual ~PolicyTerm() = default;

  // The trainable network (what the optimiser, the checkpoint and a
  // re-initialisation act on).
  virtual torch::nn::Module& network() = 0;
  virtual void Reinitialize(torch::Generator generator) = 0;
  // The policy fields of a snapshot; `normalizer` is the learner's current one.
  virtual void WriteTo(const RunningNormalizer& normalizer, v1::PolicySnapshot& snapshot) const = 0;
  // The term's per-step records of `rollouts` (already checked by
  // CheckRollout), each [T, N, ...] with the rollouts' envs concatenated.
  virtual std::vector<torch::Tensor> Records(const std::vector<v1::Rollout>& rollouts) const = 0;
  // Whether Loss needs a fresh entropy generator (Brax's tanh-Gaussian
  // single-sample entropy estimate).
  virtual bool draws_entropy_samples() const { return false; }
  virtual PolicyTermLoss Loss(const PolicyBatch& batch, const PolicyTermSettings& settings,
                              torch::Generator* entropy_generator) = 0;
};

// The term of config.algo(), freshly initialised from `generator`.
std::unique_ptr<PolicyTerm> MakePolicyTerm(const v1::TrainConfig& config, int obs_size,
                                           int latent_size, torch::Generator generator);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_POLICY_TERM_H_
