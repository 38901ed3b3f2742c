#include "runtime/train_run.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <utility>

#include "common/config.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "runtime/exit_codes.h"
#include "runtime/launcher.h"
#include "runtime/progress_report.h"
#include "runtime/run_directory.h"
#include "runtime/run_fork.h"
#include "runtime/run_lock.h"
#include "runtime/shutdown_signals.h"
#include "runtime/status_line.h"
#include "runtime/train_in_process.h"

namespace gorl::runtime {
namespace {

// Runs the prepared run in this process or hands it to the launcher;
// returns the exit code. `lock` is run_dir's: held here for an in-process
// run, released for the launcher's learner to take.
int TrainPrepared(const TrainRunOptions& options, const v1::TrainConfig& config,
                  const std::string& run_dir, const v1::LearnerCheckpoint* checkpoint,
                  RunLock lock) {
  if (!options.in_process) {
    { RunLock released = std::move(lock); }
    LaunchOptions launch;
    launch.config = config;
    launch.run_dir = run_dir;
    launch.resume = checkpoint != nullptr;
    launch.actors = options.actors > 0 ? options.actors : DefaultActorCount();
    launch.metrics_port = options.metrics_port;
    launch.start_timeout_s = options.start_timeout_s;
    launch.assets = options.assets;
    return RunLauncher(launch);
  }
  absl::StatusOr<std::unique_ptr<envs::TaskFactory>> factory =
      envs::MakeTaskFactory(config.task(), options.assets);
  // SIGINT / SIGTERM: the run stops at the next unroll (or refinement
  // minibatch) and leaves a checkpoint, as the launcher's learner does.
  std::atomic<bool> stop{false};
  StatusLine progress;
  OnShutdownSignal([&stop](int) { stop = true; });
  absl::StatusOr<TrainResult> run =
      factory.ok()
          ? TrainInProcess(
                config, **factory, run_dir,
                [&progress](const learner::Progress& p) { progress.Show(FormatProgress(p)); },
                checkpoint, &stop)
          : absl::StatusOr<TrainResult>(factory.status());
  OnShutdownSignal(nullptr);
  progress.Break();
  if (ShutdownSignalReceived() != 0 && run.status().code() == absl::StatusCode::kCancelled) {
    std::fprintf(stderr, "[gorl] stopped; `gorl train --resume %s` continues the run\n",
                 run_dir.c_str());
    return 128 + ShutdownSignalReceived();
  }
  if (!run.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", run.status().ToString().c_str());
    return ExitCodeFor(run.status());
  }
  ReportResult(config, run_dir, run->summary);
  return kExitOk;
}

absl::StatusOr<int> TrainNew(const TrainRunOptions& options) {
  GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, BuildTrainConfig(options.config));
  // Fail on an unknown task or missing assets before starting anything.
  GORL_RETURN_IF_ERROR(envs::MakeTaskFactory(config.task(), options.assets).status());
  const std::string run_dir = options.run_dir.empty() ? DefaultRunDir(config) : options.run_dir;
  GORL_ASSIGN_OR_RETURN(RunLock lock, RunLock::Acquire(run_dir, /*create=*/true));
  GORL_RETURN_IF_ERROR(PrepareRunDir(config, run_dir, options.overwrite));
  std::fprintf(stderr, "[gorl] %s\n[gorl] run directory: %s\n", DescribeConfig(config).c_str(),
               run_dir.c_str());
  return TrainPrepared(options, config, run_dir, nullptr, std::move(lock));
}

absl::StatusOr<int> TrainResumed(const TrainRunOptions& options) {
  GORL_ASSIGN_OR_RETURN(RunLock lock, RunLock::Acquire(options.resume_dir));
  GORL_ASSIGN_OR_RETURN(const SavedRun saved, LoadSavedRun(options.resume_dir));
  GORL_RETURN_IF_ERROR(envs::MakeTaskFactory(saved.config.task(), options.assets).status());
  std::fprintf(stderr, "[gorl] %s\n[gorl] resuming %s at %lld env steps\n",
               DescribeConfig(saved.config).c_str(), options.resume_dir.c_str(),
               static_cast<long long>(saved.checkpoint.env_steps()));
  return TrainPrepared(options, saved.config, options.resume_dir, &saved.checkpoint,
                       std::move(lock));
}

absl::StatusOr<int> TrainForked(const TrainRunOptions& options) {
  ForkOptions fork_options;
  fork_options.source_dir = options.fork_dir;
  fork_options.boundary = options.fork_boundary;
  fork_options.run_dir = options.run_dir;
  fork_options.overrides = options.config.overrides;
  fork_options.overwrite = options.overwrite;
  GORL_ASSIGN_OR_RETURN(const ForkPlan plan, PlanFork(fork_options));
  GORL_RETURN_IF_ERROR(envs::MakeTaskFactory(plan.fork.config.task(), options.assets).status());
  GORL_ASSIGN_OR_RETURN(RunLock lock, RunLock::Acquire(plan.run_dir, /*create=*/true));
  GORL_ASSIGN_OR_RETURN(const SavedRun fork, WriteFork(plan));
  std::fprintf(stderr, "[gorl] %s\n[gorl] forked %s at %lld env steps into %s (changes: %s)\n",
               DescribeConfig(fork.config).c_str(), plan.source_dir.c_str(),
               static_cast<long long>(fork.checkpoint.env_steps()), plan.run_dir.c_str(),
               plan.changes.c_str());
  return TrainPrepared(options, fork.config, plan.run_dir, &fork.checkpoint, std::move(lock));
}

}  // namespace

absl::StatusOr<int> RunTraining(const TrainRunOptions& options) {
  InstallShutdownSignals();
  if (!options.fork_dir.empty()) return TrainForked(options);
  return options.resume_dir.empty() ? TrainNew(options) : TrainResumed(options);
}

}  // namespace gorl::runtime
