// `gorl bench train`: one short training configuration run by the
// in-process driver and by the multi-process gRPC launcher, alternately,
// and the env steps/s of each with their ratio (bench/train_bench.h).
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "bench/train_bench.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "runtime/exit_codes.h"
#include "runtime/launcher.h"
#include "runtime/run_config.h"
#include "runtime/run_directory.h"
#include "runtime/shutdown_signals.h"
#include "runtime/train_in_process.h"

namespace gorl::cli {
namespace {

// Evaluation episodes at the end of each benchmark run: enough to give
// every actor of a small launcher a share, few enough not to matter.
constexpr int kBenchEvalEpisodes = 4;

struct BenchTrainFlags {
  runtime::ConfigSource config;
  int iterations = 10;
  int actors = 0;  // 0 = runtime::DefaultActorCount()
  int rounds = 2;
  std::string run_dir;  // "" = a temporary directory
  bool json = false;
  std::string assets;
};

// The preset (--preset / --config, --task, --seed; --algo or ppo, so that
// no refinement runs unless asked) cut to --iterations, then the overrides.
absl::StatusOr<v1::TrainConfig> TrainBenchConfig(const BenchTrainFlags& flags) {
  runtime::ConfigSource base = flags.config;
  base.overrides.clear();
  if (base.algo.empty()) base.algo = "ppo";
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config, runtime::BuildTrainConfig(base));
  config = bench::BenchTrainConfig(config, flags.iterations, kBenchEvalEpisodes);
  for (const std::string& assignment : flags.config.overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

// One run of either driver: exactly what `gorl train --in_process` and
// `gorl train --actors K` do, minus the progress line and the result.
absl::Status RunOnce(const BenchTrainFlags& flags, bench::TrainDriver driver,
                     const v1::TrainConfig& config, const std::string& run_dir, int actors) {
  GORL_RETURN_IF_ERROR(runtime::PrepareRunDir(config, run_dir));
  if (driver == bench::TrainDriver::kGrpc) {
    runtime::LaunchOptions launch;
    launch.config = config;
    launch.run_dir = run_dir;
    launch.actors = actors;
    launch.assets = flags.assets;
    launch.quiet = true;
    const int code = runtime::RunLauncher(launch);
    if (code == runtime::kExitOk) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("the gRPC run exited with code ", code, "; logs in ", run_dir, "/logs"));
  }
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), flags.assets));
  return runtime::TrainInProcess(config, *factory, run_dir).status();
}

absl::Status RunTrainBench(const BenchTrainFlags& flags) {
  GORL_RETURN_IF_ERROR(runtime::CheckOverrides(flags.config.overrides));
  GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, TrainBenchConfig(flags));
  GORL_RETURN_IF_ERROR(envs::MakeTaskFactory(config.task(), flags.assets).status());
  const int actors = flags.actors > 0 ? flags.actors : runtime::DefaultActorCount();
  // Runs go to --run_dir (kept) or to a temporary directory, removed after
  // a successful benchmark.
  std::string work_dir = flags.run_dir;
  const bool temporary = work_dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/gorl-bench-train-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create ", pattern));
    }
    work_dir = pattern;
  }
  bench::TrainBenchOptions options;
  options.config = config;
  options.rounds = flags.rounds > 0 ? flags.rounds : 2;
  options.work_dir = work_dir;
  std::fprintf(stderr,
               "[gorl] bench train: %s, %s, %d iteration(s) of %lld env steps, gRPC with %d "
               "actor(s), %d round(s); runs in %s\n",
               config.task().c_str(), EnumUserName(config.algo()).c_str(), flags.iterations,
               static_cast<long long>(EnvStepsPerIteration(config)), actors, options.rounds,
               work_dir.c_str());
  options.on_run = [](const bench::TrainRunTiming& run) {
    std::fprintf(stderr, "[gorl] %s #%d: %.1f s\n", bench::DriverName(run.driver), run.round,
                 run.wall_seconds);
  };
  absl::StatusOr<bench::TrainBenchResult> result = bench::BenchmarkTraining(
      options, [&](bench::TrainDriver driver, const v1::TrainConfig& c, const std::string& dir) {
        if (runtime::ShutdownSignalReceived() != 0) return absl::CancelledError("interrupted");
        return RunOnce(flags, driver, c, dir, actors);
      });
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(result.status().message(), " (runs kept in ", work_dir, ")"));
  }
  const std::string report = flags.json ? bench::FormatTrainBenchJson(*result, config, actors)
                                        : bench::FormatTrainBenchTable(*result);
  std::printf("%s", report.c_str());
  std::fflush(stdout);
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
  }
  return absl::OkStatus();
}

int BenchTrain(const BenchTrainFlags& flags) {
  // The launcher stops its children on Ctrl-C; block the signals before
  // any thread exists. (An in-process run finishes before the benchmark
  // stops; a second Ctrl-C ends it at once.)
  runtime::InstallShutdownSignals();
  const absl::Status status = RunTrainBench(flags);
  if (!status.ok()) std::fprintf(stderr, "gorl bench train: %s\n", status.ToString().c_str());
  return runtime::ExitCodeFor(status);
}

}  // namespace

Command AddBenchTrainCommand(CLI::App& bench) {
  CLI::App* app = bench.add_subcommand(
      "train", "Time the gRPC runtime against the in-process driver on one config");
  auto flags = std::make_shared<BenchTrainFlags>();
  const ConfigFlags config = AddConfigFlags(*app, flags->config);
  config.algo->description(
      "ppo, gorl-fm, gorl-diff, fpo or dppo (default: ppo, so that no refinement runs)");
  app->add_option("--iterations", flags->iterations, "PPO iterations per run");
  app->add_option("--actors", flags->actors,
                  "Actor processes of the gRPC runs (0: one per spare core, at least 1)");
  app->add_option("--rounds", flags->rounds,
                  "Rounds of one in-process and one gRPC run; the median is reported");
  app->add_option("--run_dir", flags->run_dir,
                  "Keep the runs in this directory (default: a temporary one, removed after a "
                  "successful benchmark)");
  AddJsonFlag(*app, flags->json);
  AddAssetsFlag(*app, flags->assets);
  app->footer(
      "Runs one short configuration (the preset cut to --iterations, then the overrides) with "
      "both drivers, alternately, and prints each one's env steps/s and their ratio (medians "
      "of --rounds rounds).\n"
      "\n"
      "Examples:\n"
      "  gorl bench train --task cheetah-run --iterations 10 --actors 1\n"
      "  gorl bench train --task twin-peaks --iterations 2 --rounds 1 --json rollout.num_envs=8");
  return {app, [flags] { return BenchTrain(*flags); }};
}

}  // namespace gorl::cli
