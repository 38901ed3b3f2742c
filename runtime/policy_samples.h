// `gorl sample`'s work: actions of a saved policy (a run's
// policy_stage<k>.pb, a gorl.v1.PolicySnapshot) at given observations, for
// looking at a stage's action distribution (GoRL's multimodality,
// docs/learning.md) and for reports.
#ifndef GORL_RUNTIME_POLICY_SAMPLES_H_
#define GORL_RUNTIME_POLICY_SAMPLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gorl::runtime {

struct PolicySampleOptions {
  std::string policy_path;
  // Raw observations, each of the policy's obs size.
  std::vector<std::vector<float>> observations;
  int samples = 4000;
  // "encoder" (z ~ N(mu, sigma)), "mean" (z = mu) or "prior" (z ~ N(0, I)).
  std::string latents = "encoder";
  uint64_t seed = 0;
};

struct PolicySamples {
  int action_size = 0;
  // Per observation, the actions row-major [samples, action_size], in [-1, 1].
  std::vector<std::vector<float>> actions;
};

// NotFound for a missing file; InvalidArgument for a file that is not a
// policy, an observation of the wrong size, a bad `latents` or samples < 1.
absl::StatusOr<PolicySamples> SamplePolicy(const PolicySampleOptions& options);

// Counts of `values` (every `stride`-th from `offset`) in `bins` equal bins
// over [-1, 1] (the ends included in the first and last bin).
std::vector<int64_t> ActionHistogram(const std::vector<float>& values, int offset, int stride,
                                     int bins);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_POLICY_SAMPLES_H_
