// A saved policy (a PolicySnapshot: encoder, its normaliser and decoder)
// sampled at given observations, outside the actor: the refinement fidelity
// (learner/refinement_fidelity.h), `gorl sample` (through the torch-free
// common/nn/sample_actions.h) and the learning tests.
// The actor's own batched inference (actor/rollout_worker.cc) applies the
// same rule and also records latents and log-probabilities:
//
//   z ~ N(mu, sigma) of the encoder on the normalised observation
//   (z = mu when deterministic; z ~ N(0, I), the fixed prior, when asked),
//   u = decoder(raw observation, z), and the environment's action tanh(u).
#ifndef GORL_COMMON_NN_POLICY_SAMPLER_H_
#define GORL_COMMON_NN_POLICY_SAMPLER_H_

#include <memory>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "common/nn/decoder.h"
#include "common/nn/latent_policy.h"
#include "common/nn/sample_actions.h"
#include "common/running_normalizer.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

class PolicySampler {
 public:
  // Validates and rebuilds the snapshot's networks (InvalidArgument on any
  // inconsistency, naming the part).
  static absl::StatusOr<std::unique_ptr<PolicySampler>> FromSnapshot(
      const v1::PolicySnapshot& snapshot);

  // Environment actions tanh(u), [rows, action_size], at raw observations
  // [rows, obs_size].
  torch::Tensor Actions(const torch::Tensor& obs_raw, LatentSource source,
                        torch::Generator& generator) const;

  int obs_size() const { return encoder_->obs_size(); }
  int action_size() const { return decoder_->action_size(); }

 private:
  PolicySampler() = default;
  std::unique_ptr<LatentPolicy> encoder_;
  RunningNormalizer normalizer_;
  std::unique_ptr<DecoderModel> decoder_;
};

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_POLICY_SAMPLER_H_
