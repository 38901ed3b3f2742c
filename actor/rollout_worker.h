// The actor's work, independent of transport: a vector env plus batched
// encoder and decoder inference.
//
//   snapshot -> encoder(obs_norm) -> z ~ N(mu, sigma) (or z = mu in eval)
//            -> decoder(obs, z) = pre-tanh u -> env.Step(tanh(u))
//
// FPO / DPPO snapshots (policy_kind) carry a flow policy instead: x_0 ~
// N(0, I) (0 in deterministic eval) -> Euler steps (DPPO: plus sigma noise)
// -> u -> env.Step(tanh(u)); train mode records the FPO draws and old CFM
// losses, or the DPPO chain and per-step log-likelihoods.
//
// Train mode produces Rollouts for the learner, collect mode produces
// (observation, pre-tanh action) pairs for the refiner, eval mode produces
// episode returns. Inference (common/nn/policy_inference.h, no LibTorch)
// always runs on the whole batch of envs at once: each layer is one sgemm.
#ifndef GORL_ACTOR_ROLLOUT_WORKER_H_
#define GORL_ACTOR_ROLLOUT_WORKER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "envs/task_registry.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::actor {

struct WorkerOptions {
  int num_envs = 1;
  int num_threads = 1;  // env stepping threads
  uint64_t seed = 0;
};

class RolloutWorker {
 public:
  static absl::StatusOr<std::unique_ptr<RolloutWorker>> Create(const envs::TaskFactory& factory,
                                                               const WorkerOptions& options);
  ~RolloutWorker();

  // Installs the encoder, its normaliser and the decoder. A snapshot whose
  // sizes do not match the task is refused and the old policy stays.
  absl::Status SetPolicy(const v1::PolicySnapshot& snapshot);

  // Train mode: `length` steps of every env, continuing their episodes.
  absl::StatusOr<v1::Rollout> Unroll(int length);

  // Collect mode: `pairs` (raw observation, pre-tanh action) pairs with
  // stochastic z, from `num_envs` fresh envs seeded `seed` (episodes reset
  // only when they end). The latents are kept for the encoder-input ablation.
  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed);

  // Eval mode: one full episode in each of `episodes` fresh envs seeded
  // `seed`; z = encoder mean when `deterministic`.
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic, uint64_t seed);

  // Env steps taken in train mode so far.
  int64_t train_env_steps() const;

 private:
  struct Impl;
  explicit RolloutWorker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gorl::actor

#endif  // GORL_ACTOR_ROLLOUT_WORKER_H_
