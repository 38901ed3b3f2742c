// The roles wired together in one process, exchanging only gorl.v1
// messages (the learning-core driver; the distributed runtime replaces these
// with gRPC clients and servers).
#ifndef GORL_RUNTIME_IN_PROCESS_H_
#define GORL_RUNTIME_IN_PROCESS_H_

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "actor/rollout_worker.h"
#include "envs/task_registry.h"
#include "gorl/v1/config.pb.h"
#include "learner/roles.h"

namespace gorl::runtime {

// One rollout worker holding all rollout.num_envs environments. Once `*stop`
// (if given; it must outlive this) is true, every call returns Cancelled,
// which the training loop answers with a checkpoint (Ctrl-C of
// `gorl train --in_process`).
class InProcessActors : public learner::ActorGroup {
 public:
  static absl::StatusOr<std::unique_ptr<InProcessActors>> Create(
      const envs::TaskFactory& factory, const v1::TrainConfig& config,
      const std::atomic<bool>* stop = nullptr);

  absl::Status Broadcast(const v1::PolicySnapshot& snapshot) override;
  absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                          int unroll_length) override;
  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed) override;
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic, uint64_t seed) override;

 private:
  InProcessActors(std::unique_ptr<actor::RolloutWorker> worker, int num_envs,
                  const std::atomic<bool>* stop)
      : worker_(std::move(worker)), num_envs_(num_envs), stop_(stop) {}
  absl::Status CheckNotStopped() const;
  std::unique_ptr<actor::RolloutWorker> worker_;
  int num_envs_;
  const std::atomic<bool>* stop_;
};

// Trains decoders with the refiner library, in this process; `*stop` (if
// given) cancels a training between two minibatches.
class InProcessRefiner : public learner::Refiner {
 public:
  explicit InProcessRefiner(const v1::TrainConfig& config, const std::atomic<bool>* stop = nullptr)
      : config_(config), stop_(stop) {}
  absl::StatusOr<learner::RefineOutcome> Refine(const v1::RefinementData& data,
                                                int64_t version) override;

 private:
  v1::TrainConfig config_;
  const std::atomic<bool>* stop_;
};

// The decoder a run starts from: the identity (zero) decoder of the
// algorithm's kind, or the frozen decoder named by stages.frozen_decoder.
absl::StatusOr<v1::Decoder> InitialDecoder(const v1::TrainConfig& config, int obs_size,
                                           int action_size);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_IN_PROCESS_H_
