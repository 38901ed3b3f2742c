// `gorl sweep`: a grid of training runs (tasks x algorithms x seeds, one
// preset or config file and the same overrides), each a `gorl train` child
// process with its own directory <dir>/<task>-<algo>-s<seed> and log
// <dir>/<task>-<algo>-s<seed>.log, one after another or `parallel` at once.
//
// Running the same sweep again skips the finished runs (final_eval.json),
// resumes the stopped ones from their checkpoints and starts the rest; a
// run whose saved configuration differs from the one the sweep would give it
// now is refused before anything starts (a changed grid is a new sweep),
// unless the sweep started it with the same command (recorded in
// <run_dir>/sweep_cell.json) and only the built-in preset changed since, in
// fields the command does not set (a newer gorl): that run continues with
// its own configuration, and the sweep says what changed.
// SIGINT / SIGTERM stop every running run with a checkpoint (the children
// get SIGTERM, as `gorl train` handles it) and the sweep exits 128 + signal.
// At the end, `gorl report` over the sweep directory.
#ifndef GORL_RUNTIME_SWEEP_H_
#define GORL_RUNTIME_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"
#include "runtime/launcher.h"
#include "runtime/run_config.h"

namespace gorl::runtime {

struct SweepOptions {
  std::string dir;
  std::vector<std::string> tasks;
  std::vector<std::string> algos;
  std::vector<int64_t> seeds;
  // preset or config_file, and the overrides, for every run (its task,
  // algo and seed fields are the grid's).
  ConfigSource config;
  int parallel = 1;
  // Passed to each `gorl train`.
  bool in_process = false;
  int actors = 0;
  int start_timeout_s = kDefaultStartTimeoutSeconds;
  std::string assets;
  // `gorl report <dir> --out <dir>/report` at the end (when every run
  // finished).
  bool report = true;
};

// One cell of the grid.
struct SweepRun {
  std::string name;  // <task>-<algo>-s<seed>
  std::string dir;
  ConfigSource config;    // what `gorl train` is given
  v1::TrainConfig built;  // what that gives (validated)
};

// The grid in order (tasks, then algorithms, then seeds), each run's
// configuration built and validated: InvalidArgument for a bad grid, a bad
// setting or a duplicate cell.
absl::StatusOr<std::vector<SweepRun>> PlanSweep(const SweepOptions& options);

// Runs the sweep; an error when it cannot start (a bad grid, a run
// directory holding another configuration), else the exit code: 0 when
// every run finished (and the report was written), 1 when a run failed
// (the others still ran), 128 + signal when stopped.
absl::StatusOr<int> RunSweep(const SweepOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_SWEEP_H_
