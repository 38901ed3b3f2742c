// The learner's PPO: owns the encoder (or the Gaussian PPO policy), the
// critic, their Adam optimisers and the observation normaliser, and turns
// batches of Rollouts into one PPO iteration (Brax semantics: normaliser
// updated on the whole batch first, then updates_per_batch passes over
// shuffled minibatches of sequences, GAE recomputed per minibatch with the
// current critic, advantages normalised per minibatch).
//
// The header is free of LibTorch so that the stage coordinator and the
// services compile without it.
#ifndef GORL_LEARNER_PPO_LEARNER_H_
#define GORL_LEARNER_PPO_LEARNER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::learner {

struct PpoMetrics {
  double policy_loss = 0, value_loss = 0, entropy = 0, prior_penalty = 0;
  double approx_kl = 0, clip_fraction = 0, explained_variance = 0;
  double grad_norm = 0;  // before clipping, mean over minibatches
  double mean_std = 0;   // mean latent std over the batch
  int64_t samples = 0;
};

class PpoLearner {
 public:
  // config.algo ALGO_PPO selects the baseline's tanh-Gaussian entropy (Brax's
  // single-sample estimate); GoRL uses the plain Gaussian entropy of z.
  static absl::StatusOr<std::unique_ptr<PpoLearner>> Create(const v1::TrainConfig& config,
                                                            int obs_size, int latent_size);
  ~PpoLearner();

  // One PPO iteration on `rollouts` (all of the same sizes and encoder
  // version). A rollout with wrong sizes or non-finite values is refused
  // before anything changes. After every minibatch the losses and the
  // gradient norm, after the update the weights and Adam moments are checked:
  // a non-finite one is an Aborted error naming the update and the metric,
  // and the learner is rolled back to its state before the update.
  absl::StatusOr<PpoMetrics> Update(const std::vector<v1::Rollout>& rollouts);

  // Stage 0 uses config.first_stage's overrides; later stages the base values.
  void SetStage(int stage);
  void ReinitializeEncoder(uint64_t seed);  // also resets its Adam state
  void ReinitializeCritic(uint64_t seed);

  // Encoder weights, sizes and the current normaliser (decoder left empty).
  v1::PolicySnapshot Snapshot() const;
  // What Snapshot() will hold after ReinitializeEncoder(seed), without
  // changing anything: the refinement fidelity measures the next stage's
  // starting policy before the stage starts.
  v1::PolicySnapshot FreshEncoderSnapshot(uint64_t seed) const;
  int64_t encoder_version() const;  // +1 per Update and per re-initialisation

  // Everything a resume needs of the learner: both networks, both Adam
  // states, the normaliser, version, stage and the positions of its random
  // streams. A learner restored from it behaves exactly like this one.
  v1::PpoLearnerState SaveState() const;
  // Restores a SaveState() of a learner created with the same config and
  // sizes. Everything is checked before anything changes: a mismatch is an
  // InvalidArgument naming the field, and the learner stays as it was.
  absl::Status RestoreState(const v1::PpoLearnerState& state);

 private:
  struct Impl;
  explicit PpoLearner(std::unique_ptr<Impl> impl);
  absl::StatusOr<PpoMetrics> UpdateOnce(const std::vector<v1::Rollout>& rollouts);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gorl::learner

#endif  // GORL_LEARNER_PPO_LEARNER_H_
