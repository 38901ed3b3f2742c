// `gorl bench envs`: per task, vector-env control steps/s against a raw
// mj_step loop measured in the same run, and their ratio.
//
// `gorl bench train`: one short training configuration run by the
// in-process driver and by the multi-process gRPC launcher, alternately,
// and the env steps/s of each with their ratio (bench/train_bench.h).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/env_bench.h"
#include "bench/train_bench.h"
#include "cli/commands.h"
#include "cli/launcher.h"
#include "cli/role_flags.h"
#include "cli/train_support.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "runtime/shutdown_signals.h"
#include "runtime/train_in_process.h"

ABSL_FLAG(std::string, tasks, "", "Comma-separated tasks to benchmark (default: all)");
ABSL_FLAG(double, seconds, 1.0, "Seconds per measurement");
ABSL_FLAG(int, rounds, 0,
          "Alternating measurements (envs: raw/vector per task, default 3; train: in-process/"
          "gRPC runs, default 2); the median is reported");
ABSL_FLAG(int, iterations, 10, "`bench train`: PPO iterations per run");

namespace gorl::cli {
namespace {

int RunEnvBench() {
  std::vector<std::string> names;
  const std::string list = absl::GetFlag(FLAGS_tasks);
  if (list.empty()) {
    for (const envs::TaskRegistration& task : envs::AllTasks()) names.push_back(task.spec.name);
  } else {
    names = absl::StrSplit(list, ',', absl::SkipEmpty());
  }
  bench::EnvBenchOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.rounds = absl::GetFlag(FLAGS_rounds) > 0 ? absl::GetFlag(FLAGS_rounds) : 3;
  options.seed = std::max<int64_t>(0, absl::GetFlag(FLAGS_seed));
  const bool json = absl::GetFlag(FLAGS_json);
  if (!json) {
    std::printf("one env per thread, %d thread(s), %d x %.1f s per measurement\n",
                options.threads, options.rounds, options.seconds);
    std::printf("%-18s %16s %16s %8s\n", "task", "vector steps/s", "raw steps/s", "ratio");
  }
  int failures = 0;
  for (const std::string& name : names) {
    auto factory = envs::MakeTaskFactory(name, absl::GetFlag(FLAGS_assets));
    if (!factory.ok()) {
      std::fprintf(stderr, "gorl bench envs: %s\n", factory.status().ToString().c_str());
      return kExitUsage;
    }
    absl::StatusOr<bench::EnvBenchResult> result = bench::BenchmarkTask(**factory, options);
    if (!result.ok()) {
      std::fprintf(stderr, "gorl bench envs: %s: %s\n", name.c_str(),
                   result.status().ToString().c_str());
      ++failures;
      continue;
    }
    if (json) {
      std::printf("{\"task\": \"%s\", \"threads\": %d, \"vector_steps_per_s\": %.1f, "
                  "\"raw_steps_per_s\": %.1f, \"ratio\": %.4f}\n",
                  name.c_str(), result->threads, result->vector_steps_per_s,
                  result->raw_steps_per_s, result->ratio());
    } else if (result->raw_steps_per_s > 0) {
      std::printf("%-18s %16.0f %16.0f %8.3f\n", name.c_str(), result->vector_steps_per_s,
                  result->raw_steps_per_s, result->ratio());
    } else {
      std::printf("%-18s %16.0f %16s %8s\n", name.c_str(), result->vector_steps_per_s, "-", "-");
    }
    std::fflush(stdout);
  }
  return failures == 0 ? kExitOk : kExitFailure;
}

// Evaluation episodes at the end of each benchmark run: enough to give
// every actor of a small launcher a share, few enough not to matter.
constexpr int kBenchEvalEpisodes = 4;

// The preset (--preset / --config, --task, --seed; --algo or ppo, so that
// no refinement runs unless asked) cut to --iterations, then `overrides`.
absl::StatusOr<v1::TrainConfig> TrainBenchConfig(const std::vector<std::string>& overrides) {
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config, BuildConfig({}));
  if (absl::GetFlag(FLAGS_algo).empty()) config.set_algo(v1::ALGO_PPO);
  config = bench::BenchTrainConfig(config, absl::GetFlag(FLAGS_iterations), kBenchEvalEpisodes);
  for (const std::string& assignment : overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

// One run of either driver: exactly what `gorl train --in_process` and
// `gorl train --actors K` do, minus the progress line and the result.
absl::Status RunOnce(bench::TrainDriver driver, const v1::TrainConfig& config,
                     const std::string& run_dir, int actors) {
  GORL_RETURN_IF_ERROR(PrepareRunDir(config, run_dir));
  if (driver == bench::TrainDriver::kGrpc) {
    LaunchOptions launch;
    launch.config = config;
    launch.run_dir = run_dir;
    launch.actors = actors;
    launch.assets = absl::GetFlag(FLAGS_assets);
    launch.quiet = true;
    const int code = RunLauncher(launch);
    if (code == kExitOk) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("the gRPC run exited with code ", code, "; logs in ", run_dir, "/logs"));
  }
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)));
  return runtime::TrainInProcess(config, *factory, run_dir).status();
}

absl::Status RunTrainBench(const std::vector<std::string>& overrides) {
  GORL_ASSIGN_OR_RETURN(const std::vector<std::string> checked, ParseOverrides(overrides));
  GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, TrainBenchConfig(checked));
  GORL_RETURN_IF_ERROR(envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)).status());
  const int actors =
      absl::GetFlag(FLAGS_actors) > 0 ? absl::GetFlag(FLAGS_actors) : DefaultActorCount();
  // Runs go to --run_dir (kept) or to a temporary directory, removed after
  // a successful benchmark.
  std::string work_dir = absl::GetFlag(FLAGS_run_dir);
  const bool temporary = work_dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                       "/gorl-bench-train-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create ", pattern));
    }
    work_dir = pattern;
  }
  bench::TrainBenchOptions options;
  options.config = config;
  options.rounds = absl::GetFlag(FLAGS_rounds) > 0 ? absl::GetFlag(FLAGS_rounds) : 2;
  options.work_dir = work_dir;
  const bool json = absl::GetFlag(FLAGS_json);
  std::fprintf(stderr,
               "[gorl] bench train: %s, %s, %d iteration(s) of %lld env steps, gRPC with %d "
               "actor(s), %d round(s); runs in %s\n",
               config.task().c_str(), EnumUserName(config.algo()).c_str(), absl::GetFlag(FLAGS_iterations),
               static_cast<long long>(EnvStepsPerIteration(config)), actors, options.rounds,
               work_dir.c_str());
  options.on_run = [](const bench::TrainRunTiming& run) {
    std::fprintf(stderr, "[gorl] %s #%d: %.1f s\n", bench::DriverName(run.driver), run.round,
                 run.wall_seconds);
  };
  absl::StatusOr<bench::TrainBenchResult> result = bench::BenchmarkTraining(
      options, [&](bench::TrainDriver driver, const v1::TrainConfig& c, const std::string& dir) {
        if (runtime::ShutdownSignalReceived() != 0) return absl::CancelledError("interrupted");
        return RunOnce(driver, c, dir, actors);
      });
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(result.status().message(), " (runs kept in ", work_dir, ")"));
  }
  const std::string report = json ? bench::FormatTrainBenchJson(*result, config, actors)
                                  : bench::FormatTrainBenchTable(*result);
  std::printf("%s", report.c_str());
  std::fflush(stdout);
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
  }
  return absl::OkStatus();
}

}  // namespace

int RunBenchCommand(const std::vector<std::string>& args) {
  const std::string which = args.empty() ? "" : args[0];
  if (which == "envs" && args.size() == 1) return RunEnvBench();
  if (which == "train") {
    // The launcher stops its children on Ctrl-C; block the signals before
    // any thread exists. (An in-process run finishes before the benchmark
    // stops; a second Ctrl-C ends it at once.)
    runtime::InstallShutdownSignals();
    const absl::Status status =
        RunTrainBench(std::vector<std::string>(args.begin() + 1, args.end()));
    if (!status.ok()) std::fprintf(stderr, "gorl bench train: %s\n", status.ToString().c_str());
    return ExitCodeFor(status);
  }
  std::fprintf(stderr,
               "usage: gorl bench envs [--tasks a,b] [--threads N] [--seconds S] [--rounds R]\n"
               "       gorl bench train [--task T] [--algo A] [--iterations N] [--actors K] "
               "[--rounds R] [--json] [path.to.field=value ...]\n");
  return kExitUsage;
}

}  // namespace gorl::cli
