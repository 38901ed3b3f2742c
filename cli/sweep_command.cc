// `gorl sweep`: a grid of training runs, one after another or several at
// once, that a rerun continues (runtime/sweep.h), then `gorl report` on it.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/shutdown_signals.h"
#include "runtime/sweep.h"

namespace gorl::cli {
namespace {

constexpr char kFooter[] =
    "Each run is a `gorl train` process in <dir>/<task>-<algo>-s<seed> (its log next to it, "
    "<dir>/<task>-<algo>-s<seed>.log; its final result on stdout). Running the same command "
    "again skips the finished runs and resumes the stopped ones from their checkpoints; a run "
    "directory holding another configuration is refused before anything starts, except a run "
    "whose preset has changed since it started (a newer gorl) in fields the command does not "
    "set: it continues with its own configuration. Ctrl-C (or "
    "SIGTERM) stops the running runs with a checkpoint. When every run has finished, the sweep "
    "writes `gorl report <dir> --out <dir>/report`.\n"
    "\n"
    "Examples:\n"
    "  gorl sweep --dir sweeps/cheetah --tasks cheetah-run --algos ppo,gorl-fm,gorl-diff "
    "--seeds 0,1,2\n"
    "  gorl sweep --dir sweeps/tiny --tasks twin-peaks --algos ppo,gorl-fm --seeds 0 "
    "--in_process --parallel 2 total_env_steps=200000";

int RunSweepCommand(const runtime::SweepOptions& options) {
  if (const absl::Status checked = runtime::CheckOverrides(options.config.overrides);
      !checked.ok()) {
    std::fprintf(stderr, "gorl sweep: %s\n", std::string(checked.message()).c_str());
    return runtime::kExitUsage;
  }
  // Before any thread exists; the children get SIGTERM from the sweep.
  runtime::InstallShutdownSignals();
  const absl::StatusOr<int> code = runtime::RunSweep(options);
  if (!code.ok()) {
    std::fprintf(stderr, "gorl sweep: %s\n", code.status().ToString().c_str());
    return runtime::ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace

Command AddSweepCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "sweep", "Run a grid of tasks x algorithms x seeds; a rerun continues it; then report");
  auto options = std::make_shared<runtime::SweepOptions>();
  app->add_option("--dir", options->dir, "The sweep directory (one run directory per cell)")
      ->required();
  app->add_option("--tasks", options->tasks, "Tasks, comma-separated")->required()->delimiter(',');
  app->add_option("--algos", options->algos,
                  "Algorithms, comma-separated: ppo, gorl-fm, gorl-diff, fpo, dppo")
      ->required()
      ->delimiter(',');
  app->add_option("--seeds", options->seeds, "Seeds, comma-separated")->required()->delimiter(',');
  AddPresetFlags(*app, options->config);
  app->add_option("--parallel", options->parallel, "Runs at once");
  app->add_flag("--in_process", options->in_process,
                "Each run in one process (`gorl train --in_process`)");
  app->add_option("--actors", options->actors,
                  "Actor processes per run (0: `gorl train`'s default)");
  AddStartTimeoutFlag(*app, options->start_timeout_s);
  app->add_flag("!--no_report", options->report, "Do not write the report at the end");
  AddAssetsFlag(*app, options->assets);
  app->footer(kFooter);
  return {app, [options] { return RunSweepCommand(*options); }};
}

}  // namespace gorl::cli
