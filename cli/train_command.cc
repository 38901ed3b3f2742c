// `gorl train`: a training run of ppo, gorl-fm or gorl-diff.
//
// The configuration is a preset (--preset NAME or --config FILE) plus the
// flags below plus any number of `path.to.field=value` arguments; the merged
// result is printed and written to <run_dir>/config.textproto.
//
// By default the roles run as separate processes on this machine (the learner,
// the refiner and --actors actors, see cli/launcher.h); --in_process runs
// them all in this process (the learning-core driver, used by the learning
// tests and the benchmark).
//
// `gorl train --resume RUN_DIR` continues an interrupted run from
// RUN_DIR/checkpoint.pb with RUN_DIR/config.textproto (nothing else may be
// set: the resumed run must be the same run).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "cli/commands.h"
#include "cli/launcher.h"
#include "cli/role_flags.h"
#include "cli/train_support.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/training_loop.h"
#include "runtime/shutdown_signals.h"
#include "runtime/train_in_process.h"

namespace gorl::cli {
namespace {

// Either runs in this process or hands the prepared run to the launcher;
// returns the exit code.
int TrainPrepared(const v1::TrainConfig& config, const std::string& run_dir,
                  const v1::LearnerCheckpoint* checkpoint) {
  if (!absl::GetFlag(FLAGS_in_process)) {
    LaunchOptions launch;
    launch.config = config;
    launch.run_dir = run_dir;
    launch.resume = checkpoint != nullptr;
    launch.actors =
        absl::GetFlag(FLAGS_actors) > 0 ? absl::GetFlag(FLAGS_actors) : DefaultActorCount();
    launch.metrics_port = absl::GetFlag(FLAGS_metrics_port);
    launch.assets = absl::GetFlag(FLAGS_assets);
    return RunLauncher(launch);
  }
  absl::StatusOr<std::unique_ptr<envs::TaskFactory>> factory =
      envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets));
  absl::StatusOr<runtime::TrainResult> run =
      factory.ok() ? runtime::TrainInProcess(config, **factory, run_dir, PrintProgress, checkpoint)
                   : absl::StatusOr<runtime::TrainResult>(factory.status());
  std::fprintf(stderr, "\n");
  if (!run.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", run.status().ToString().c_str());
    return ExitCodeFor(run.status());
  }
  ReportResult(config, run_dir, run->summary);
  return kExitOk;
}

absl::StatusOr<int> Train(const std::vector<std::string>& overrides) {
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config, BuildConfig(overrides));
  // Fail on an unknown task or missing assets before starting anything.
  GORL_RETURN_IF_ERROR(
      envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)).status());
  const std::string run_dir = RunDirFor(config);
  GORL_RETURN_IF_ERROR(PrepareRunDir(config, run_dir));
  std::fprintf(stderr, "[gorl] %s\n[gorl] run directory: %s\n", DescribeConfig(config).c_str(),
               run_dir.c_str());
  return TrainPrepared(config, run_dir, nullptr);
}

absl::StatusOr<int> Resume(const std::string& run_dir, const std::vector<std::string>& overrides) {
  // Debian's Abseil keeps IsSpecifiedOnCommandLine private: a flag counts as
  // set when it differs from its default.
  auto set = [](const absl::CommandLineFlag& flag) {
    return flag.CurrentValue() != flag.DefaultValue();
  };
  const bool other_settings =
      !overrides.empty() || set(absl::GetFlagReflectionHandle(FLAGS_preset)) ||
      set(absl::GetFlagReflectionHandle(FLAGS_config)) ||
      set(absl::GetFlagReflectionHandle(FLAGS_algo)) ||
      set(absl::GetFlagReflectionHandle(FLAGS_task)) ||
      set(absl::GetFlagReflectionHandle(FLAGS_seed)) ||
      set(absl::GetFlagReflectionHandle(FLAGS_run_dir));
  if (other_settings) {
    return absl::InvalidArgumentError(
        "--resume continues a run with its own config.textproto: overrides, --preset, --config, "
        "--algo, --task, --seed and --run_dir are not allowed with it");
  }
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config, LoadPreset(run_dir + "/config.textproto"));
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  GORL_ASSIGN_OR_RETURN(v1::LearnerCheckpoint checkpoint,
                        learner::ReadCheckpoint(learner::CheckpointPath(run_dir)));
  GORL_RETURN_IF_ERROR(
      envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)).status());
  std::fprintf(stderr, "[gorl] %s\n[gorl] resuming %s at %lld env steps\n",
               DescribeConfig(config).c_str(), run_dir.c_str(),
               static_cast<long long>(checkpoint.env_steps()));
  return TrainPrepared(config, run_dir, &checkpoint);
}

}  // namespace

int RunTrainCommand(const std::vector<std::string>& args) {
  // The launcher forwards Ctrl-C / SIGTERM to its children; block the
  // signals before any thread exists.
  if (!absl::GetFlag(FLAGS_in_process)) runtime::InstallShutdownSignals();
  absl::StatusOr<std::vector<std::string>> overrides = ParseOverrides(args);
  if (!overrides.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", std::string(overrides.status().message()).c_str());
    return kExitUsage;
  }
  const std::string resume = absl::GetFlag(FLAGS_resume);
  const absl::StatusOr<int> code = resume.empty() ? Train(*overrides) : Resume(resume, *overrides);
  if (!code.ok()) {
    std::fprintf(stderr, "\ngorl train: %s\n", code.status().ToString().c_str());
    return ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace gorl::cli
