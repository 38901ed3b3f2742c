// A whole training run in one process: the learner, one actor group with
// every env and the refiner, wired through the role interfaces (the
// learning-core driver behind `gorl train` and the learning tests).
#ifndef GORL_RUNTIME_TRAIN_IN_PROCESS_H_
#define GORL_RUNTIME_TRAIN_IN_PROCESS_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "envs/task_registry.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"
#include "learner/training_loop.h"

namespace gorl::runtime {

struct TrainResult {
  learner::TrainingSummary summary;
  // The final encoder with the decoder it was trained against.
  v1::PolicySnapshot final_policy;
};

// Runs `config` (validated by the caller) on `factory`'s task. `run_dir` must
// exist; the run writes metrics.jsonl, decoder_stage<k>.pb and checkpoint.pb
// there. With `resume_from` (a checkpoint of this run, whose config must
// equal `config`) it continues that run instead of starting afresh. Once
// `*stop` (if given) turns true, the run writes its checkpoint and returns
// Cancelled within one unroll or refinement minibatch.
absl::StatusOr<TrainResult> TrainInProcess(
    const v1::TrainConfig& config, const envs::TaskFactory& factory, const std::string& run_dir,
    std::function<void(const learner::Progress&)> on_progress = nullptr,
    const v1::LearnerCheckpoint* resume_from = nullptr, const std::atomic<bool>* stop = nullptr);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_TRAIN_IN_PROCESS_H_
