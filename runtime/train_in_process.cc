#include "runtime/train_in_process.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"
#include "learner/ppo_learner.h"
#include "runtime/in_process.h"

namespace gorl::runtime {

absl::StatusOr<TrainResult> TrainInProcess(
    const v1::TrainConfig& config, const envs::TaskFactory& factory, const std::string& run_dir,
    std::function<void(const learner::Progress&)> on_progress,
    const v1::LearnerCheckpoint* resume_from, const std::atomic<bool>* stop) {
  const envs::TaskSpec& spec = factory.spec();
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<learner::PpoLearner> learner,
                        learner::PpoLearner::Create(config, spec.obs_size, spec.action_size));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<InProcessActors> actors,
                        InProcessActors::Create(factory, config, stop));
  InProcessRefiner refiner(config, stop);
  learner::TrainingLoopOptions options;
  options.config = config;
  options.run_dir = run_dir;
  // A resumed run takes its decoder from the checkpoint (the frozen
  // decoder's file is not needed again).
  if (resume_from == nullptr) {
    GORL_ASSIGN_OR_RETURN(options.initial_decoder,
                          InitialDecoder(config, spec.obs_size, spec.action_size));
  }
  options.on_progress = std::move(on_progress);
  learner::TrainingLoop loop(options, *learner, *actors, refiner);
  TrainResult result;
  GORL_ASSIGN_OR_RETURN(result.summary,
                        resume_from != nullptr ? loop.Resume(*resume_from) : loop.Run());
  result.final_policy = learner->Snapshot();
  *result.final_policy.mutable_decoder() = loop.decoder();
  return result;
}

}  // namespace gorl::runtime
