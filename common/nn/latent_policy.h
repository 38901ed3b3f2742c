// GoRL's encoder: a state-dependent diagonal Gaussian over the latent z.
// MLP(obs_norm) -> [mu, raw]; std = StdFromRaw(raw). The actor builds one
// from a PolicySnapshot; the learner owns the trainable one.
#ifndef GORL_COMMON_NN_LATENT_POLICY_H_
#define GORL_COMMON_NN_LATENT_POLICY_H_

#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "common/nn/mlp.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

struct LatentPolicyOptions {
  int obs_size = 0;
  int latent_size = 0;
  std::vector<int> hidden = {32, 32, 32, 32};
  double min_std = 1e-3;
  double max_std = 10.0;
};

class LatentPolicy {
 public:
  LatentPolicy(const LatentPolicyOptions& options, torch::Generator generator);

  // Rebuilds the network described by a snapshot (sizes, widths, std range,
  // weights); InvalidArgument on any mismatch.
  static absl::StatusOr<std::unique_ptr<LatentPolicy>> FromSnapshot(
      const v1::PolicySnapshot& snapshot);

  // (mean, std), each [B, latent_size], of normalised observations [B, obs_size].
  std::pair<torch::Tensor, torch::Tensor> Distribution(const torch::Tensor& obs_norm) const;

  // Fills the encoder fields of a snapshot (sizes, widths, std range, weights).
  void WriteTo(v1::PolicySnapshot& snapshot) const;

  // A fresh LeCun draw (what GoRL's released code does at a stage boundary).
  void Reinitialize(torch::Generator generator) { net_->Reinitialize(std::move(generator)); }
  // A fresh draw whose output layer then makes the distribution exactly the
  // prior N(0, I) at every observation (zero weights; mean bias 0, std bias
  // StdFromRaw^-1(1)), so that a refined decoder fed this encoder sees what
  // it was trained on. The hidden layers keep their draw: the output
  // layer's gradient moves it off the prior at the first update.
  void ReinitializeToPrior(torch::Generator generator);

  int obs_size() const { return options_.obs_size; }
  int latent_size() const { return options_.latent_size; }
  const LatentPolicyOptions& options() const { return options_; }
  Mlp& net() { return net_; }

 private:
  LatentPolicyOptions options_;
  Mlp net_;
};

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_LATENT_POLICY_H_
