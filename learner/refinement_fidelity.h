// How faithfully a refinement hands the policy over (docs/learning.md,
// "Refinement fidelity"). At states held out of the decoder's training data,
// the policy that collected the data and the new decoder are both sampled,
// and their actions compared in the space the environment sees (after
// tanh):
//
//   prior          the new decoder fed the fixed prior z ~ N(0, I): what
//                  the refinement was trained to reproduce;
//   fresh_encoder  the new decoder fed the next stage's freshly initialised
//                  encoder: what the next stage actually starts from.
//
// Per state and action dimension, the sample means and standard deviations
// are compared (mean absolute errors over states and dimensions), and one
// distribution distance is taken per state: the sliced 2-Wasserstein
// distance over random unit directions (exact W2 for one action dimension).
// Its floor is the same distance between two independent samples of the
// collecting policy: finite samples never reach 0, so a distance near the
// floor is as good as a measurement of this size can tell.
#ifndef GORL_LEARNER_REFINEMENT_FIDELITY_H_
#define GORL_LEARNER_REFINEMENT_FIDELITY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::learner {

struct ActionDistance {
  double mean_error = 0.0;          // mean |E[a] - E[a']| over states and dimensions
  double std_error = 0.0;           // mean |std(a) - std(a')| likewise
  double sliced_wasserstein = 0.0;  // mean over states of SW2(a, a')
};

struct RefinementFidelity {
  int states = 0;
  int samples = 0;  // per state and policy
  ActionDistance prior;
  ActionDistance fresh_encoder;
  ActionDistance floor;  // two independent samples of the collecting policy
};

struct FidelityOptions {
  int samples = 64;      // per state and policy
  int projections = 64;  // random directions of the sliced distance (1 for 1-D actions)
  uint64_t seed = 0;
};

// `collecting`: encoder, normaliser and decoder of the policy that collected
// the data; `next`: the next stage's encoder (and its normaliser) with the new
// decoder. `observations` holds the held-out raw observations, row-major
// [states, obs_size]. InvalidArgument on mismatched sizes or an empty set.
absl::StatusOr<RefinementFidelity> MeasureRefinementFidelity(const v1::PolicySnapshot& collecting,
                                                             const v1::PolicySnapshot& next,
                                                             const std::vector<float>& observations,
                                                             const FidelityOptions& options);

// What the decoder is asked to fit: the collected pre-tanh actions. A
// policy that saturates asks for large targets whose exact value the
// environment never sees (tanh(3) = 0.995), and a fit judged in pre-tanh
// space spends its capacity on them.
struct TargetStats {
  double abs_mean = 0.0;            // mean |u| over pairs and dimensions
  double abs_p99 = 0.0;             // 99th percentile of |u|
  double abs_max = 0.0;             // largest |u|
  double saturated_fraction = 0.0;  // share of |u| > atanh(0.99) = 2.65
};

// Statistics of `data`'s actions (pre-tanh); zeros for no pairs.
TargetStats MeasureTargets(const v1::RefinementData& data);

// Moves `states` pairs, chosen at random (from `seed`), out of `data` and
// returns their raw observations, row-major [states, obs_size]: states the
// new decoder never trains on. InvalidArgument unless `data` holds more
// than `states` pairs.
absl::StatusOr<std::vector<float>> TakeHeldOutStates(v1::RefinementData& data, int states,
                                                     uint64_t seed);

// The sliced 2-Wasserstein distance between two equal-sized samples,
// row-major [n, dim] each, over `projections` random unit directions drawn
// from `seed` (the exact W2 when dim is 1). Exposed for tests.
double SlicedWasserstein(const std::vector<float>& a, const std::vector<float>& b, int dim,
                         int projections, uint64_t seed);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_REFINEMENT_FIDELITY_H_
