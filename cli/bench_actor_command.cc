// `gorl bench actor`: per task and algorithm, one actor thread's env steps/s
// with the policy's inference against a raw mj_step loop measured in the
// same run, and their ratio (runtime/actor_bench_run.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/actor_bench_run.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

struct BenchActorFlags {
  runtime::ActorBenchRunOptions options;
  int64_t seed = 0;
  bool json = false;
};

int RunActorBenchCommand(BenchActorFlags flags) {
  runtime::ActorBenchRunOptions& options = flags.options;
  options.timing.seed = static_cast<uint64_t>(std::max<int64_t>(0, flags.seed));
  if (!flags.json) {
    std::printf(
        "one thread, %d envs per inference batch, unrolls of %d, %d x %.1f s per "
        "measurement (preset %s)\n",
        options.batch, options.unroll, options.timing.rounds, options.timing.seconds,
        options.preset.c_str());
    std::printf("%-16s %-10s %16s %16s %8s %18s\n", "task", "algo", "actor steps/s", "raw steps/s",
                "ratio", "us/step over raw");
  }
  const absl::Status status =
      runtime::RunActorBench(options, [&flags](const runtime::ActorBenchRow& row) {
        const bench::ActorBenchResult& r = row.result;
        if (flags.json) {
          std::printf(
              "{\"task\": \"%s\", \"algo\": \"%s\", \"batch\": %d, "
              "\"actor_steps_per_s\": %.1f, \"raw_steps_per_s\": %.1f, \"ratio\": %.4f, "
              "\"us_per_step_over_raw\": %.3f}\n",
              row.task.c_str(), row.algo.c_str(), row.batch, r.actor_steps_per_s, r.raw_steps_per_s,
              r.ratio(), r.MicrosecondsPerStepOverRaw());
        } else {
          std::printf("%-16s %-10s %16.0f %16.0f %8.3f %18.2f\n", row.task.c_str(),
                      row.algo.c_str(), r.actor_steps_per_s, r.raw_steps_per_s, r.ratio(),
                      r.MicrosecondsPerStepOverRaw());
        }
        std::fflush(stdout);
      });
  if (!status.ok()) {
    std::fprintf(stderr, "gorl bench actor: %s\n", status.ToString().c_str());
    return runtime::ExitCodeFor(status);
  }
  return runtime::kExitOk;
}

}  // namespace

Command AddBenchActorCommand(CLI::App& bench) {
  CLI::App* app = bench.add_subcommand(
      "actor", "Time one actor thread with PPO, GoRL-FM and GoRL-Diff inference against mj_step");
  auto flags = std::make_shared<BenchActorFlags>();
  runtime::ActorBenchRunOptions& options = flags->options;
  app->add_option("--tasks", options.tasks, "Tasks, comma-separated")->delimiter(',');
  app->add_option("--algos", options.algos, "Algorithms, comma-separated: ppo, gorl-fm, gorl-diff")
      ->delimiter(',');
  app->add_option("--batch", options.batch, "Envs the thread steps and infers together");
  app->add_option("--unroll", options.unroll, "Steps per Unroll call (one Rollout message each)");
  app->add_option("--preset", options.preset,
                  "Preset whose network sizes and decoder steps to use");
  app->add_option("--seconds", options.timing.seconds, "Seconds per measurement");
  app->add_option("--rounds", options.timing.rounds,
                  "Alternating raw/actor measurements; the median is reported");
  app->add_option("--seed", flags->seed, "Random seed");
  AddJsonFlag(*app, flags->json);
  AddAssetsFlag(*app, options.assets);
  app->footer(
      "Per task and algorithm: env steps/s of one actor thread (a RolloutWorker stepping --batch "
      "envs and running the policy's encoder and decoder on the whole batch each step) and of a "
      "raw mj_step loop of the same task measured alternately in the same run, and their ratio "
      "(medians of --rounds), and what one env step costs the actor beyond its physics, 1/actor - "
      "1/raw in microseconds (the policy and the actor's bookkeeping). Weights are fresh: a "
      "trained network costs the same.\n"
      "\n"
      "Examples:\n"
      "  gorl bench actor\n"
      "  gorl bench actor --tasks cheetah-run --algos gorl-fm --batch 64 --json");
  return {app, [flags] { return RunActorBenchCommand(*flags); }};
}

}  // namespace gorl::cli
