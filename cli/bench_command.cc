// `gorl bench envs`: per task, vector-env control steps/s against a raw
// mj_step loop measured in the same run, and their ratio.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "bench/env_bench.h"
#include "cli/commands.h"

ABSL_FLAG(std::string, tasks, "", "Comma-separated tasks to benchmark (default: all)");
ABSL_FLAG(double, seconds, 1.0, "Seconds per measurement");
ABSL_FLAG(int, rounds, 3, "Alternating raw/vector measurements per task (median is reported)");

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
  options.rounds = absl::GetFlag(FLAGS_rounds);
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

}  // namespace

int RunBenchCommand(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "envs") {
    std::fprintf(stderr, "usage: gorl bench envs [--tasks a,b] [--threads N] [--seconds S]\n");
    return kExitUsage;
  }
  return RunEnvBench();
}

}  // namespace gorl::cli
