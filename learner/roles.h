// The learner's view of the other roles. The training loop talks only to
// these interfaces and only in gorl.v1 messages: runtime/in_process.h
// implements them with objects in the same process, and the distributed
// runtime implements them with gRPC clients.
#ifndef GORL_LEARNER_ROLES_H_
#define GORL_LEARNER_ROLES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::learner {

class ActorGroup {
 public:
  virtual ~ActorGroup() = default;
  // Sends a snapshot to every actor; later calls use it.
  virtual absl::Status Broadcast(const v1::PolicySnapshot& snapshot) = 0;
  // Unrolls of `unroll_length` steps from the broadcast policy, `sequences`
  // env-unrolls in total (a Rollout of N envs holds N sequences).
  virtual absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                                  int unroll_length) = 0;
  // Collect mode: (observation, pre-tanh action) pairs with stochastic z.
  virtual absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs,
                                                     uint64_t seed) = 0;
  // Eval mode: one episode per env, deterministic (z = mean) or not.
  virtual absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic,
                                                  uint64_t seed) = 0;
  // Actors connected now (reported with every update; an in-process group
  // is one actor).
  virtual int connected_actors() const { return 1; }
};

struct RefineOutcome {
  v1::Decoder decoder;
  double best_validation_loss = 0.0;
  double final_train_loss = 0.0;
  int epochs = 0;
  // Per epoch run (the decoder's learning curve).
  std::vector<double> train_losses;
  std::vector<double> validation_losses;
};

class Refiner {
 public:
  virtual ~Refiner() = default;
  // Trains a fresh decoder on `data`; the result carries `version`.
  virtual absl::StatusOr<RefineOutcome> Refine(const v1::RefinementData& data, int64_t version) = 0;
};

}  // namespace gorl::learner

#endif  // GORL_LEARNER_ROLES_H_
