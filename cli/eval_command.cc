// `gorl eval`: run K episodes of a fixed policy and report the return.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/random.h"
#include "common/seed_streams.h"
#include "envs/vector_env.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

using runtime::kExitFailure;
using runtime::kExitOk;
using runtime::kExitUsage;

struct EvalOptions {
  std::string task = "cheetah-run";
  std::string policy = "random";
  int episodes = 10;
  int num_envs = 16;
  int64_t seed = 0;
  int threads = 1;
  bool json = false;
  std::string assets;
};

struct EvalSummary {
  std::vector<double> returns;
  std::vector<int> lengths;
  int64_t divergences = 0;
  int64_t steps = 0;
  double seconds = 0.0;
};

absl::StatusOr<EvalSummary> Evaluate(envs::VectorEnv& env, const std::string& policy, int episodes,
                                     uint64_t seed) {
  EvalSummary summary;
  Rng rng(DeriveSeed(seed, kEvalCommandPolicyStream));
  std::vector<float> actions(static_cast<size_t>(env.num_envs()) * env.action_size(), 0.0f);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = env.Reset();
  if (!status.ok()) return status;
  while (static_cast<int>(summary.returns.size()) < episodes) {
    if (policy == "random") {
      for (float& a : actions) a = static_cast<float>(rng.Uniform(-1.0, 1.0));
    }
    status = env.Step(actions.data());
    if (!status.ok()) return status;
    summary.steps += env.num_envs();
    for (const envs::EpisodeRecord& record : env.TakeFinishedEpisodes()) {
      if (static_cast<int>(summary.returns.size()) == episodes) break;
      summary.returns.push_back(record.episode_return);
      summary.lengths.push_back(record.length);
      summary.divergences += record.diverged;
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

int RunEval(const EvalOptions& flags) {
  const std::string& policy = flags.policy;
  const int episodes = flags.episodes;
  const uint64_t seed = std::max<int64_t>(0, flags.seed);
  if (policy != "random" && policy != "zero") {
    std::fprintf(stderr, "gorl eval: --policy must be random or zero, got '%s'\n", policy.c_str());
    return kExitUsage;
  }
  if (episodes < 1) {
    std::fprintf(stderr, "gorl eval: --episodes must be >= 1\n");
    return kExitUsage;
  }
  const std::string task_name = flags.task.empty() ? "cheetah-run" : flags.task;
  auto factory = envs::MakeTaskFactory(task_name, flags.assets);
  if (!factory.ok()) {
    std::fprintf(stderr, "gorl eval: %s\n", factory.status().ToString().c_str());
    return kExitUsage;
  }
  envs::VectorEnvOptions options;
  options.num_envs = std::max(1, std::min(episodes, flags.num_envs));
  options.num_threads = flags.threads;
  options.seed = seed;
  auto env = envs::VectorEnv::Create(**factory, options);
  if (!env.ok()) {
    std::fprintf(stderr, "gorl eval: %s\n", env.status().ToString().c_str());
    return kExitUsage;
  }
  absl::StatusOr<EvalSummary> summary = Evaluate(**env, policy, episodes, seed);
  if (!summary.ok()) {
    std::fprintf(stderr, "gorl eval: %s\n", summary.status().ToString().c_str());
    return kExitFailure;
  }
  double mean = 0.0, var = 0.0, mean_length = 0.0;
  for (double r : summary->returns) mean += r / episodes;
  for (double r : summary->returns) var += (r - mean) * (r - mean) / episodes;
  for (int l : summary->lengths) mean_length += static_cast<double>(l) / episodes;
  const double std_dev = std::sqrt(var);
  const std::string& task = (*factory)->spec().name;
  if (flags.json) {
    std::printf(
        "{\"task\": \"%s\", \"policy\": \"%s\", \"episodes\": %d, \"seed\": %llu, "
        "\"num_envs\": %d, \"return_mean\": %.6f, \"return_std\": %.6f, \"mean_length\": %.3f, "
        "\"divergences\": %lld, \"env_steps\": %lld, \"seconds\": %.3f, \"returns\": [%s]}\n",
        task.c_str(), policy.c_str(), episodes, static_cast<unsigned long long>(seed),
        options.num_envs, mean, std_dev, mean_length, static_cast<long long>(summary->divergences),
        static_cast<long long>(summary->steps), summary->seconds,
        absl::StrJoin(summary->returns, ", ").c_str());
  } else {
    std::printf(
        "%s, %s policy, %d episodes (seed %llu): return %.2f +- %.2f, mean length %.1f, "
        "%lld diverged, %.0f env steps/s\n",
        task.c_str(), policy.c_str(), episodes, static_cast<unsigned long long>(seed), mean,
        std_dev, mean_length, static_cast<long long>(summary->divergences),
        summary->steps / std::max(summary->seconds, 1e-9));
  }
  return kExitOk;
}

}  // namespace

Command AddEvalCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "eval", "Evaluate a policy (random|zero) on a task: mean/std of the return");
  auto flags = std::make_shared<EvalOptions>();
  app->add_option("--task", flags->task, "Task name (see `gorl tasks`)");
  app->add_option("--policy", flags->policy,
                  "Policy to evaluate: random (uniform in [-1, 1]) or zero (all-zero actions)");
  app->add_option("--episodes", flags->episodes, "Number of episodes");
  app->add_option("--num_envs", flags->num_envs,
                  "Environments stepped in parallel (results depend on it)");
  app->add_option("--seed", flags->seed, "Random seed");
  AddThreadsFlag(*app, flags->threads);
  AddJsonFlag(*app, flags->json);
  AddAssetsFlag(*app, flags->assets);
  app->footer(
      "Runs --episodes episodes on --num_envs environments; the result depends only on the "
      "task, the policy, --episodes, --num_envs and --seed.\n"
      "\n"
      "Examples:\n"
      "  gorl eval --task cheetah-run --policy random --episodes 10 --seed 0\n"
      "  gorl eval --task hopper-v2 --policy zero --episodes 5 --json");
  return {app, [flags] { return RunEval(*flags); }};
}

}  // namespace gorl::cli
