// A saved policy's actions at one observation, by its own sampling rule
// (common/nn/policy_inference.h), without LibTorch.
#ifndef GORL_COMMON_NN_SAMPLE_ACTIONS_H_
#define GORL_COMMON_NN_SAMPLE_ACTIONS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

enum class LatentSource {
  kEncoder,      // z ~ N(mu, sigma): the policy as it acts in training
  kEncoderMean,  // z = mu: the deterministic evaluation's policy
  kPrior,        // z ~ N(0, I): the decoder alone, as a refinement trains it
};

// `samples` environment actions of `policy` at the raw observation `obs`,
// row-major [samples, action_size]; for FPO / DPPO policies kEncoder is the
// stochastic and kEncoderMean the deterministic policy. InvalidArgument on
// an inconsistent policy, an observation of the wrong size, or kPrior for a
// policy without a latent prior.
absl::StatusOr<std::vector<float>> SampleActions(const v1::PolicySnapshot& policy,
                                                 const std::vector<float>& obs, int samples,
                                                 LatentSource source, uint64_t seed);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_SAMPLE_ACTIONS_H_
