#include "learner/checkpoint_position.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/stage_schedule.h"

namespace gorl::learner {
namespace {

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("checkpoint: ", message));
}

}  // namespace

absl::Status CheckCheckpointPosition(const v1::LearnerCheckpoint& checkpoint,
                                     const v1::TrainConfig& config) {
  if (checkpoint.format_version() != kCheckpointFormatVersion) {
    return Invalid(absl::StrCat("format_version ", checkpoint.format_version(),
                                ", this build reads version ", kCheckpointFormatVersion));
  }
  GORL_ASSIGN_OR_RETURN(StageSchedule schedule, ScheduleFor(config));
  const int stage = checkpoint.stage();
  if (stage < 0 || stage > schedule.num_stages()) {
    return Invalid(absl::StrCat("stage ", stage, " is outside 0..", schedule.num_stages()));
  }
  const int64_t stage_iterations = stage < schedule.num_stages() ? schedule.Iterations(stage) : 0;
  if (checkpoint.iteration() < 0 || checkpoint.iteration() > stage_iterations) {
    return Invalid(absl::StrCat("iteration ", checkpoint.iteration(), " is outside 0..",
                                stage_iterations, " for stage ", stage));
  }
  const int64_t env_steps = (stage > 0 ? schedule.StageEnd(stage - 1) : 0) +
                            checkpoint.iteration() * EnvStepsPerIteration(config);
  if (checkpoint.env_steps() != env_steps) {
    return Invalid(absl::StrCat("env_steps ", checkpoint.env_steps(), " should be ", env_steps,
                                " at iteration ", checkpoint.iteration(), " of stage ", stage));
  }
  if (checkpoint.next_eval() <= checkpoint.env_steps()) {
    return Invalid(absl::StrCat("next_eval ", checkpoint.next_eval(), " must be after env_steps ",
                                checkpoint.env_steps()));
  }
  if (checkpoint.collect_env_steps() < 0 || checkpoint.diverged_episodes() < 0 ||
      checkpoint.eval_round() < 0 || !(checkpoint.elapsed_seconds() >= 0) ||
      checkpoint.metrics_bytes() < 0) {
    return Invalid(
        "collect_env_steps, diverged_episodes, eval_round, elapsed_seconds and metrics_bytes "
        "must be >= 0");
  }
  if (checkpoint.decoder().kind() == v1::DECODER_KIND_UNSPECIFIED) {
    return Invalid("decoder has no kind");
  }
  for (int i = 0; i < checkpoint.evaluations_size(); ++i) {
    const v1::EvalRecord& eval = checkpoint.evaluations(i);
    if (eval.env_steps() > checkpoint.env_steps() || eval.stage() > stage) {
      return Invalid(absl::StrCat("evaluations[", i, "] at env step ", eval.env_steps(), " (stage ",
                                  eval.stage(), ") is after the checkpoint"));
    }
  }
  if (stage == schedule.num_stages() && checkpoint.evaluations().empty()) {
    return Invalid("a finished run without evaluations");
  }
  return absl::OkStatus();
}

}  // namespace gorl::learner
