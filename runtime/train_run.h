// `gorl train`: one training run on this machine, either as separate
// processes (the refiner, the learner and actors, started by the launcher,
// runtime/launcher.h) or with every role in this process (the in-process
// driver, runtime/train_in_process.h). Builds the configuration, prepares
// the run directory (or reopens one to resume) and reports like the
// learner does: the progress line on stderr, the final result on stdout.
#ifndef GORL_RUNTIME_TRAIN_RUN_H_
#define GORL_RUNTIME_TRAIN_RUN_H_

#include <string>

#include "absl/status/statusor.h"
#include "runtime/launcher.h"
#include "runtime/run_config.h"

namespace gorl::runtime {

struct TrainRunOptions {
  // A new run: its configuration, written to run_dir ("" = DefaultRunDir).
  ConfigSource config;
  std::string run_dir;
  // Or continue the run in this directory from its checkpoint.pb and
  // config.textproto (`config` and run_dir are then ignored: the caller
  // refuses them, since the resumed run must be the same run).
  std::string resume_dir;
  // Or a new run in run_dir that starts from this run's latest checkpoint,
  // with config.overrides applied to its configuration (runtime/run_fork.h).
  std::string fork_dir;
  int fork_boundary = -1;  // ForkOptions::boundary
  // A run_dir that holds a run is refused unless this is set: then the
  // earlier run's files are removed first (PrepareRunDir).
  bool overwrite = false;
  std::string assets;  // model files; "" = $GORL_ASSETS
  bool in_process = false;
  // Launcher only: actor processes (0 = DefaultActorCount()) and the first
  // of the roles' metrics ports (0 = none served).
  int actors = 0;
  int metrics_port = 0;
  int start_timeout_s = kDefaultStartTimeoutSeconds;  // LaunchOptions::start_timeout_s
};

// An error when the run cannot start (a bad configuration, an unknown task,
// missing assets or checkpoint); otherwise the run's exit code (see
// RunLauncher; 0 or ExitCodeFor the in-process driver's error; 128 + signal
// for a run stopped by SIGINT / SIGTERM, which leaves a checkpoint either
// way: the launcher stops its children, the in-process driver its loop).
// Installs the shutdown signals: call it on the main thread before any
// other thread exists.
absl::StatusOr<int> RunTraining(const TrainRunOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_TRAIN_RUN_H_
