// `gorl train --fork SRC`: a new run that starts from another run's latest
// checkpoint under changed settings, leaving the source as it was. What an
// RL researcher does to ask "what if this boundary had refined with ten
// epochs", or to branch seeds from a shared start: the fork and the source
// share their history up to the checkpoint, so their curves differ only by
// the change.
//
// A fork may change what happens from the checkpoint on (kForkableFields:
// PPO's settings, future decoders and refinements, the stage schedule, the
// evaluation, the seed of the rest of the run); it refuses what the
// checkpoint's weights and data were made with (the task, the algorithm,
// the encoder, the rollout shape, the baselines' sampling, observation
// normalisation), and a schedule in which the checkpoint's position does
// not exist (learner/checkpoint_position.h).
#ifndef GORL_RUNTIME_RUN_FORK_H_
#define GORL_RUNTIME_RUN_FORK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/run_directory.h"

namespace gorl::runtime {

// The top-level TrainConfig fields a fork may change.
const std::vector<std::string>& ForkableFields();

struct ForkOptions {
  std::string source_dir;
  // Start from the checkpoint kept just before this boundary's refinement
  // (learner::BoundaryCheckpointPath) instead of the latest; -1: the latest.
  int boundary = -1;
  std::string run_dir;                 // "" = DefaultRunDir of the fork's config
  std::vector<std::string> overrides;  // path.to.field=value, applied in order
  bool overwrite = false;              // replace a run in run_dir (PrepareRunDir)
};

// A checked fork, nothing written yet.
struct ForkPlan {
  std::string source_dir;
  std::string run_dir;
  bool overwrite = false;
  SavedRun source;
  // The fork's configuration and its checkpoint (the source's, with this
  // configuration; metrics_bytes is set when the fork is written).
  SavedRun fork;
  std::string changes;  // "refine.epochs: 60 -> 10; seed: 0 -> 3", or "none"
};

// Loads the source and checks the fork: InvalidArgument for a bad override,
// a field that may not change (naming it) or a schedule that does not fit
// the checkpoint; FailedPrecondition for a run_dir that is the source's.
// Writes nothing.
absl::StatusOr<ForkPlan> PlanFork(const ForkOptions& options);

// Writes the fork's directory: config.textproto, the source's metrics.jsonl
// up to the checkpoint plus a {"event": "fork"} row naming the source and
// the changes, the decoders and stage policies the checkpoint's stage has
// seen, and the checkpoint. Returns the fork's config and checkpoint, ready
// to resume. A run_dir that holds a run is refused unless plan.overwrite.
absl::StatusOr<SavedRun> WriteFork(const ForkPlan& plan);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_RUN_FORK_H_
