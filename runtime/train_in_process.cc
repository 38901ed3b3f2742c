#include "runtime/train_in_process.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"
#include "learner/ppo_learner.h"
#include "runtime/in_process.h"

namespace gorl::runtime {

absl::StatusOr<TrainResult> TrainInProcess(const v1::TrainConfig& config,
                                           const envs::TaskFactory& factory,
                                           const std::string& run_dir,
                                           std::function<void(const learner::Progress&)> on_progress) {
  const envs::TaskSpec& spec = factory.spec();
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<learner::PpoLearner> learner,
                        learner::PpoLearner::Create(config, spec.obs_size, spec.action_size));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<InProcessActors> actors,
                        InProcessActors::Create(factory, config));
  InProcessRefiner refiner(config);
  learner::TrainingLoopOptions options;
  options.config = config;
  options.run_dir = run_dir;
  GORL_ASSIGN_OR_RETURN(options.initial_decoder,
                        InitialDecoder(config, spec.obs_size, spec.action_size));
  options.on_progress = std::move(on_progress);
  learner::TrainingLoop loop(options, *learner, *actors, refiner);
  TrainResult result;
  GORL_ASSIGN_OR_RETURN(result.summary, loop.Run());
  result.final_policy = learner->Snapshot();
  *result.final_policy.mutable_decoder() = loop.decoder();
  return result;
}

}  // namespace gorl::runtime
