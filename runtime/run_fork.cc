#include "runtime/run_fork.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/config_diff.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/checkpoint_position.h"

namespace gorl::runtime {
namespace {

namespace fs = std::filesystem;

bool Forkable(const std::string& name) {
  for (const std::string& allowed : ForkableFields()) {
    if (allowed == name) return true;
  }
  return false;
}

// InvalidArgument naming the fields that differ and may not.
absl::Status CheckForkable(const std::vector<ConfigChange>& changes) {
  std::vector<std::string> refused;
  for (const ConfigChange& change : changes) {
    std::string field = change.path.substr(0, change.path.find('.'));
    // PPO's settings may change, but the checkpoint's observation normaliser
    // exists only when the run normalised.
    if (change.path == "ppo.normalize_observations") field = change.path;
    if (Forkable(field)) continue;
    if (refused.empty() || refused.back() != field) refused.push_back(field);
  }
  if (refused.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "a fork cannot change ", absl::StrJoin(refused, ", "),
      ": the checkpoint's weights and data were made with them (a fork may change ",
      absl::StrJoin(ForkableFields(), ", "), ", and ppo.* except normalize_observations)"));
}

// The checkpoint kept before boundary `boundary`: NotFound naming the
// boundaries the source has kept when it has not reached that one.
absl::StatusOr<v1::LearnerCheckpoint> LoadBoundaryCheckpoint(const std::string& source_dir,
                                                             int boundary) {
  absl::StatusOr<v1::LearnerCheckpoint> checkpoint =
      learner::ReadCheckpoint(learner::BoundaryCheckpointPath(source_dir, boundary));
  if (checkpoint.ok() || checkpoint.status().code() != absl::StatusCode::kNotFound) {
    return checkpoint;
  }
  std::vector<std::string> kept;
  for (int k = 0; fs::exists(learner::BoundaryCheckpointPath(source_dir, k)); ++k) {
    kept.push_back(absl::StrCat(k));
  }
  return absl::NotFoundError(absl::StrCat(
      source_dir, " has no checkpoint before boundary ", boundary, " (",
      kept.empty() ? std::string("it has kept none: no refinement has started yet, or the run "
                                 "predates boundary checkpoints")
                   : absl::StrCat("it has kept boundaries ", absl::StrJoin(kept, ", ")),
      ")"));
}

absl::StatusOr<std::string> ReadPrefix(const std::string& path, int64_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text(static_cast<size_t>(bytes), '\0');
  in.read(text.data(), bytes);
  if (in.gcount() != bytes) {
    return absl::DataLossError(
        absl::StrCat(path, " holds ", in.gcount(), " bytes, fewer than its checkpoint's ", bytes));
  }
  return text;
}

// Copies `name` from the source when it exists there.
absl::Status CopyIfPresent(const std::string& from_dir, const std::string& to_dir,
                           const std::string& name) {
  std::error_code error;
  if (!fs::exists(fs::path(from_dir) / name, error)) return absl::OkStatus();
  fs::copy_file(fs::path(from_dir) / name, fs::path(to_dir) / name,
                fs::copy_options::overwrite_existing, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot copy ", from_dir, "/", name, " to ", to_dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

// The source as an absolute path: the fork row outlives the working directory.
std::string SourcePath(const std::string& dir) {
  std::error_code error;
  const fs::path absolute = fs::absolute(dir, error);
  return error ? dir : absolute.lexically_normal().string();
}

bool SameDirectory(const std::string& a, const std::string& b) {
  std::error_code error;
  return fs::exists(b, error) && fs::equivalent(a, b, error);
}

}  // namespace

const std::vector<std::string>& ForkableFields() {
  static const auto* const kFields = new std::vector<std::string>{"preset",
                                                                  "seed",
                                                                  "total_env_steps",
                                                                  "ppo",
                                                                  "first_stage",
                                                                  "decoder",
                                                                  "refine",
                                                                  "stages",
                                                                  "eval",
                                                                  "learner_threads",
                                                                  "checkpoint_every_iterations",
                                                                  "device"};
  return *kFields;
}

absl::StatusOr<ForkPlan> PlanFork(const ForkOptions& options) {
  ForkPlan plan;
  plan.source_dir = options.source_dir;
  plan.overwrite = options.overwrite;
  // The source is only read: it may be running, and it is not this run.
  GORL_ASSIGN_OR_RETURN(plan.source,
                        LoadSavedRun(options.source_dir, learner::UnreadableLatest::kLeave));
  if (options.boundary >= 0) {
    GORL_ASSIGN_OR_RETURN(plan.source.checkpoint,
                          LoadBoundaryCheckpoint(options.source_dir, options.boundary));
  }
  plan.fork = plan.source;
  v1::TrainConfig& config = plan.fork.config;
  for (const std::string& assignment : options.overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  const std::vector<ConfigChange> changes = ConfigChanges(plan.source.config, config);
  GORL_RETURN_IF_ERROR(CheckForkable(changes));
  const v1::LearnerCheckpoint& checkpoint = plan.source.checkpoint;
  if (const absl::Status fits = learner::CheckCheckpointPosition(checkpoint, config); !fits.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the fork's schedule does not fit the checkpoint of ", options.source_dir,
                     " (stage ", checkpoint.stage(), ", iteration ", checkpoint.iteration(), ", ",
                     checkpoint.env_steps(), " env steps): ", fits.message()));
  }
  // A changed evaluation period counts from the checkpoint on.
  if (config.eval().every_env_steps() != plan.source.config.eval().every_env_steps()) {
    const int64_t every = config.eval().every_env_steps();
    plan.fork.checkpoint.set_next_eval((checkpoint.env_steps() / every + 1) * every);
  }
  *plan.fork.checkpoint.mutable_config() = config;
  plan.changes = FormatConfigChanges(changes);
  plan.run_dir = options.run_dir.empty() ? DefaultRunDir(config) : options.run_dir;
  if (SameDirectory(options.source_dir, plan.run_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--run_dir ", plan.run_dir,
                     " is the source run: a fork needs its own "
                     "directory (continue the source itself with --resume)"));
  }
  return plan;
}

absl::StatusOr<SavedRun> WriteFork(const ForkPlan& plan) {
  SavedRun fork = plan.fork;
  const v1::LearnerCheckpoint& source = plan.source.checkpoint;
  GORL_ASSIGN_OR_RETURN(std::string metrics,
                        ReadPrefix(plan.source_dir + "/metrics.jsonl", source.metrics_bytes()));
  GORL_RETURN_IF_ERROR(PrepareRunDir(fork.config, plan.run_dir, plan.overwrite));
  // What the checkpoint's stage has seen: decoders 0..stage (decoder k + 1
  // is written by boundary k's refinement) and the policies stages
  // 0..stage-1 ended with. Later files of the source are after its
  // checkpoint and not the fork's history.
  for (int k = 0; k <= source.stage(); ++k) {
    GORL_RETURN_IF_ERROR(
        CopyIfPresent(plan.source_dir, plan.run_dir, absl::StrCat("decoder_stage", k, ".pb")));
    if (k < source.stage()) {
      GORL_RETURN_IF_ERROR(
          CopyIfPresent(plan.source_dir, plan.run_dir, absl::StrCat("policy_stage", k, ".pb")));
    }
  }
  const JsonRow row = JsonRow()
                          .Add("event", "fork")
                          .Add("source", SourcePath(plan.source_dir))
                          .Add("env_steps", source.env_steps())
                          .Add("stage", source.stage())
                          .Add("changes", plan.changes);
  absl::StrAppend(&metrics, row.ToString(), "\n");
  GORL_RETURN_IF_ERROR(learner::WriteFileAtomically(plan.run_dir + "/metrics.jsonl", metrics));
  // The fork's resume keeps the history and the fork row.
  fork.checkpoint.set_metrics_bytes(static_cast<int64_t>(metrics.size()));
  GORL_RETURN_IF_ERROR(learner::SaveRunCheckpoint(fork.checkpoint, plan.run_dir));
  return fork;
}

}  // namespace gorl::runtime
