// `gorl train`: a training run of ppo, gorl-fm, gorl-diff, fpo or dppo on this machine
// (runtime/train_run.h). The configuration is a preset (--preset NAME or
// --config FILE) plus the flags plus any number of `path.to.field=value`
// arguments; the merged result is printed and written to
// <run_dir>/config.textproto.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/train_run.h"

namespace gorl::cli {
namespace {

struct TrainFlags {
  runtime::TrainRunOptions options;
  ConfigFlags config;
  CLI::Option* run_dir = nullptr;
};

constexpr char kDescription[] =
    "Train ppo / gorl-fm / gorl-diff on this machine (presets: local, paper, reference)";

constexpr char kFooter[] =
    "Starts the refiner, the learner and --actors actors as processes talking gRPC "
    "(--in_process: every role in this one process). The configuration is the preset (or "
    "--config), then --task/--algo/--seed, then the FIELD=VALUE overrides; it is written to "
    "<run_dir>/config.textproto. --resume RUN_DIR continues an interrupted run from its "
    "checkpoint.pb (nothing else may be set then). --fork RUN_DIR starts a new run (in "
    "--run_dir) from another run's latest checkpoint with the FIELD=VALUE changes: the source is "
    "left as it was, and the fork's metrics.jsonl holds the source's history and a fork row. A "
    "fork may change PPO's settings, the seed, future decoders and refinements, the stage "
    "schedule and the evaluation, not the task, algorithm, encoder or rollout shape. A "
    "--run_dir that holds a run is refused (exit 2) unless --overwrite replaces it.\n"
    "\n"
    "Examples:\n"
    "  gorl train --preset local --algo gorl-fm --task cheetah-run --seed 0\n"
    "  gorl train --preset reference --algo gorl-diff --task walker-walk ppo.clip_epsilon=0.25\n"
    "  gorl train --in_process --algo ppo --task cheetah-run total_env_steps=100000\n"
    "  gorl train --resume runs/cheetah-run-gorl-fm-s0-20261126-120000\n"
    "  gorl train --fork runs/cheetah-run-gorl-fm-s0-20261126-120000 --run_dir runs/ten-epochs "
    "refine.epochs=10";

int Train(const TrainFlags& flags) {
  const runtime::TrainRunOptions& options = flags.options;
  if (const absl::Status checked = runtime::CheckOverrides(options.config.overrides);
      !checked.ok()) {
    std::fprintf(stderr, "gorl train: %s\n", std::string(checked.message()).c_str());
    return runtime::kExitUsage;
  }
  const ConfigFlags& c = flags.config;
  const bool config_flags = c.preset->count() > 0 || c.config->count() > 0 || c.algo->count() > 0 ||
                            c.task->count() > 0 || c.seed->count() > 0;
  if (!options.fork_dir.empty()) {
    // The fork's configuration is the source's with the FIELD=VALUE changes.
    if (config_flags || !options.resume_dir.empty()) {
      std::fprintf(stderr,
                   "\ngorl train: INVALID_ARGUMENT: --fork starts from the source run's "
                   "config.textproto: give changes as FIELD=VALUE (seed=3, refine.epochs=10); "
                   "--preset, --config, --algo, --task, --seed and --resume are not allowed "
                   "with it\n");
      return runtime::kExitUsage;
    }
  }
  if (!options.resume_dir.empty()) {
    // The resumed run must be the same run: its own config.textproto only.
    const bool other_settings = !options.config.overrides.empty() || config_flags ||
                                flags.run_dir->count() > 0 || options.overwrite;
    if (other_settings) {
      std::fprintf(stderr,
                   "\ngorl train: INVALID_ARGUMENT: --resume continues a run with its own "
                   "config.textproto: overrides, --preset, --config, --algo, --task, --seed, "
                   "--run_dir and --overwrite are not allowed with it\n");
      return runtime::kExitUsage;
    }
  }
  const absl::StatusOr<int> code = runtime::RunTraining(options);
  if (!code.ok()) {
    std::fprintf(stderr, "\ngorl train: %s\n", code.status().ToString().c_str());
    return runtime::ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace

Command AddTrainCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand("train", kDescription);
  auto flags = std::make_shared<TrainFlags>();
  runtime::TrainRunOptions& options = flags->options;
  flags->config = AddConfigFlags(*app, options.config);
  flags->run_dir = app->add_option("--run_dir", options.run_dir,
                                   "Run directory (default: runs/<task>-<algo>-s<seed>-<time>)");
  app->add_option("--resume", options.resume_dir,
                  "Continue the run in this directory from its checkpoint.pb and "
                  "config.textproto");
  CLI::Option* fork =
      app->add_option("--fork", options.fork_dir,
                      "Start a new run (in --run_dir) from this run's latest checkpoint, with the "
                      "FIELD=VALUE changes; the source run is left as it was");
  app->add_option("--boundary", options.fork_boundary,
                  "With --fork: start from the checkpoint the source kept just before boundary "
                  "K's refinement (the end of stage K) instead of its latest, to redo that "
                  "refinement under the changes")
      ->check(CLI::NonNegativeNumber)
      ->needs(fork);
  app->add_flag("--overwrite", options.overwrite,
                "Replace the run in --run_dir (its checkpoints, metrics, decoders and logs are "
                "removed first); without it a directory that holds a run is refused");
  app->add_flag("--in_process", options.in_process,
                "Run every role in this one process instead of starting processes");
  app->add_option("--actors", options.actors,
                  "Actor processes to start (0: one per spare core, at least 1)");
  app->add_option("--metrics_port", options.metrics_port,
                  "Serve the roles' Prometheus metrics from this port on: the learner here, the "
                  "refiner on the next port and actor i on port + 2 + i (0: not served)");
  AddStartTimeoutFlag(*app, options.start_timeout_s);
  AddAssetsFlag(*app, options.assets);
  app->footer(kFooter);
  return {app, [flags] { return Train(*flags); }};
}

}  // namespace gorl::cli
