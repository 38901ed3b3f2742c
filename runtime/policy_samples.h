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

// Fixed states at which to compare the stages of a run (`gorl report`'s
// action densities): the raw observations that a policy's deterministic
// actions (z = mu) visit on `task`, at the given steps of one episode from
// a reset seeded by `seed`.
struct VisitedStatesOptions {
  std::string policy_path;
  std::string task;
  std::string assets;         // model assets root ("" = $GORL_ASSETS)
  std::vector<int> at_steps;  // >= 0; step 0 is the reset observation
  uint64_t seed = 0;
};

// In the order of `at_steps`. InvalidArgument for a negative step or a
// policy of another observation or action size than the task's;
// FailedPrecondition when the episode ends before the last step (say which).
absl::StatusOr<std::vector<std::vector<float>>> VisitedStates(const VisitedStatesOptions& options);

// Counts of `values` (every `stride`-th from `offset`) in `bins` equal bins
// over [-1, 1] (the ends included in the first and last bin).
std::vector<int64_t> ActionHistogram(const std::vector<float>& values, int offset, int stride,
                                     int bins);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_POLICY_SAMPLES_H_
