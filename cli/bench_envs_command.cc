// `gorl bench envs`: per task, vector-env control steps/s against a raw
// mj_step loop measured in the same run, and their ratio (bench/env_bench.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_split.h"
#include "bench/env_bench.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "envs/task_registry.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

struct BenchEnvsFlags {
  std::string tasks;  // comma-separated; "" = all
  int threads = 1;
  double seconds = 1.0;
  int rounds = 3;
  int64_t seed = 0;
  bool json = false;
  std::string assets;
};

int RunEnvBench(const BenchEnvsFlags& flags) {
  std::vector<std::string> names;
  if (flags.tasks.empty()) {
    for (const envs::TaskRegistration& task : envs::AllTasks()) names.push_back(task.spec.name);
  } else {
    names = absl::StrSplit(flags.tasks, ',', absl::SkipEmpty());
  }
  bench::EnvBenchOptions options;
  options.threads = flags.threads;
  options.seconds = flags.seconds;
  options.rounds = flags.rounds > 0 ? flags.rounds : 3;
  options.seed = std::max<int64_t>(0, flags.seed);
  if (!flags.json) {
    std::printf("one env per thread, %d thread(s), %d x %.1f s per measurement\n", options.threads,
                options.rounds, options.seconds);
    std::printf("%-18s %16s %16s %8s\n", "task", "vector steps/s", "raw steps/s", "ratio");
  }
  int failures = 0;
  for (const std::string& name : names) {
    auto factory = envs::MakeTaskFactory(name, flags.assets);
    if (!factory.ok()) {
      std::fprintf(stderr, "gorl bench envs: %s\n", factory.status().ToString().c_str());
      return runtime::kExitUsage;
    }
    absl::StatusOr<bench::EnvBenchResult> result = bench::BenchmarkTask(**factory, options);
    if (!result.ok()) {
      std::fprintf(stderr, "gorl bench envs: %s: %s\n", name.c_str(),
                   result.status().ToString().c_str());
      ++failures;
      continue;
    }
    if (flags.json) {
      std::printf(
          "{\"task\": \"%s\", \"threads\": %d, \"vector_steps_per_s\": %.1f, "
          "\"raw_steps_per_s\": %.1f, \"ratio\": %.4f}\n",
          name.c_str(), result->threads, result->vector_steps_per_s, result->raw_steps_per_s,
          result->ratio());
    } else if (result->raw_steps_per_s > 0) {
      std::printf("%-18s %16.0f %16.0f %8.3f\n", name.c_str(), result->vector_steps_per_s,
                  result->raw_steps_per_s, result->ratio());
    } else {
      std::printf("%-18s %16.0f %16s %8s\n", name.c_str(), result->vector_steps_per_s, "-", "-");
    }
    std::fflush(stdout);
  }
  return failures == 0 ? runtime::kExitOk : runtime::kExitFailure;
}

}  // namespace

Command AddBenchEnvsCommand(CLI::App& bench) {
  CLI::App* app =
      bench.add_subcommand("envs", "Time every task's vector env against a raw mj_step loop");
  auto flags = std::make_shared<BenchEnvsFlags>();
  app->add_option("--tasks", flags->tasks, "Comma-separated tasks to benchmark (default: all)");
  AddThreadsFlag(*app, flags->threads);
  app->add_option("--seconds", flags->seconds, "Seconds per measurement");
  app->add_option("--rounds", flags->rounds,
                  "Alternating raw/vector measurements per task; the median is reported");
  app->add_option("--seed", flags->seed, "Random seed");
  AddJsonFlag(*app, flags->json);
  AddAssetsFlag(*app, flags->assets);
  app->footer(
      "Per task: control steps/s of the vector env and of a raw mj_step loop measured in the "
      "same run, and their ratio (medians of --rounds alternating measurements).\n"
      "\n"
      "Examples:\n"
      "  gorl bench envs --tasks cheetah-run,walker-walk --threads 1\n"
      "  gorl bench envs --seconds 2 --rounds 5 --json");
  return {app, [flags] { return RunEnvBench(*flags); }};
}

}  // namespace gorl::cli
