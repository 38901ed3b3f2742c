// `gorl sample`: a saved policy's action distribution at given observations,
// or at the states another policy visits on a task (runtime/policy_samples.h):
// one JSON line per observation and action dimension with the mean, the
// standard deviation and a histogram over [-1, 1]; optionally every sampled
// action as CSV.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/metrics_log.h"
#include "runtime/exit_codes.h"
#include "runtime/policy_samples.h"

namespace gorl::cli {
namespace {

struct SampleFlags {
  runtime::PolicySampleOptions options;
  std::vector<std::string> observations;  // each "v1,v2,..."
  runtime::VisitedStatesOptions states;   // used when states.policy_path is set
  int64_t seed = 0;
  int bins = 20;
  std::string csv;
};

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "gorl sample: %s\n", message.c_str());
  return code;
}

int RunSample(SampleFlags flags) {
  if (flags.observations.empty() == flags.states.policy_path.empty()) {
    return Fail("give either --obs or --states_from (with --task and --at_steps)",
                runtime::kExitUsage);
  }
  if (!flags.states.policy_path.empty()) {
    if (flags.states.task.empty() || flags.states.at_steps.empty()) {
      return Fail("--states_from needs --task and --at_steps", runtime::kExitUsage);
    }
    flags.states.seed = static_cast<uint64_t>(flags.seed);
    absl::StatusOr<std::vector<std::vector<float>>> visited = runtime::VisitedStates(flags.states);
    if (!visited.ok()) {
      return Fail(visited.status().ToString(), runtime::ExitCodeFor(visited.status()));
    }
    for (const std::vector<float>& obs : *visited) {
      flags.observations.push_back(absl::StrJoin(obs, ","));
    }
  }
  for (const std::string& text : flags.observations) {
    std::vector<float> obs;
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      float value = 0;
      if (!absl::SimpleAtof(part, &value) || !std::isfinite(value)) {
        return Fail("--obs '" + text + "' is not a comma-separated list of numbers",
                    runtime::kExitUsage);
      }
      obs.push_back(value);
    }
    flags.options.observations.push_back(std::move(obs));
  }
  if (flags.bins < 1) return Fail("--bins must be >= 1", runtime::kExitUsage);
  flags.options.seed = static_cast<uint64_t>(flags.seed);
  const absl::StatusOr<runtime::PolicySamples> samples = runtime::SamplePolicy(flags.options);
  if (!samples.ok()) {
    return Fail(samples.status().ToString(), runtime::ExitCodeFor(samples.status()));
  }
  const int dims = samples->action_size;
  for (size_t i = 0; i < samples->actions.size(); ++i) {
    const std::vector<float>& actions = samples->actions[i];
    const int64_t n = static_cast<int64_t>(actions.size()) / dims;
    for (int d = 0; d < dims; ++d) {
      double sum = 0, sum_sq = 0;
      for (int64_t k = 0; k < n; ++k) {
        sum += actions[k * dims + d];
        sum_sq += actions[k * dims + d] * actions[k * dims + d];
      }
      const double mean = sum / n;
      std::vector<float> histogram;
      for (int64_t count : runtime::ActionHistogram(actions, d, dims, flags.bins)) {
        histogram.push_back(static_cast<float>(count));
      }
      std::printf("%s\n", JsonRow()
                              .Add("obs", flags.observations[i])
                              .Add("dim", d)
                              .Add("samples", n)
                              .Add("latents", flags.options.latents)
                              .Add("mean", mean)
                              .Add("std", std::sqrt(std::max(0.0, sum_sq / n - mean * mean)))
                              .Add("histogram", histogram)
                              .ToString()
                              .c_str());
    }
  }
  if (!flags.csv.empty()) {
    std::ofstream out(flags.csv);
    out << "obs_index";
    for (int d = 0; d < dims; ++d) out << ",a" << d;
    out << "\n";
    for (size_t i = 0; i < samples->actions.size(); ++i) {
      const std::vector<float>& actions = samples->actions[i];
      for (size_t k = 0; k < actions.size(); k += dims) {
        out << i;
        for (int d = 0; d < dims; ++d) out << "," << actions[k + d];
        out << "\n";
      }
    }
    if (!out.flush()) return Fail("cannot write " + flags.csv, runtime::kExitFailure);
  }
  return runtime::kExitOk;
}

}  // namespace

Command AddSampleCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "sample", "Sample a saved policy's actions at given observations: mean, std, histogram");
  auto flags = std::make_shared<SampleFlags>();
  app->add_option("--policy", flags->options.policy_path,
                  "A policy file: a run's policy_stage<k>.pb (the policy stage k ended with)")
      ->required();
  app->add_option("--obs", flags->observations,
                  "A raw observation as comma-separated numbers; repeat for several");
  app->add_option("--states_from", flags->states.policy_path,
                  "Instead of --obs: the states this policy file's deterministic actions visit "
                  "on --task at --at_steps (one episode from a reset seeded by --seed)")
      ->excludes("--obs");
  app->add_option("--task", flags->states.task, "With --states_from: the task to roll out");
  app->add_option("--at_steps", flags->states.at_steps,
                  "With --states_from: the episode steps whose states to sample at, e.g. "
                  "100,200,300 (0: the reset state)")
      ->delimiter(',');
  app->add_option("--assets", flags->states.assets,
                  "With --states_from: model assets root holding dm_control/ and gym/ (default: "
                  "$GORL_ASSETS)");
  app->add_option("--samples", flags->options.samples, "Actions per observation");
  app->add_option("--latents", flags->options.latents,
                  "encoder (z ~ N(mu, sigma), the acting policy), mean (z = mu) or prior "
                  "(z ~ N(0, I): the decoder alone)");
  app->add_option("--bins", flags->bins, "Histogram bins over [-1, 1]");
  app->add_option("--seed", flags->seed, "Random seed");
  app->add_option("--csv", flags->csv, "Also write every sampled action to this CSV file");
  app->footer(
      "Prints one JSON line per observation and action dimension.\n"
      "\n"
      "Examples:\n"
      "  gorl sample --policy runs/tp/policy_stage3.pb --obs 0 --obs 0.5\n"
      "  gorl sample --policy runs/tp/policy_stage1.pb --obs 0 --latents prior --csv a.csv\n"
      "  gorl sample --policy RUN/policy_stage0.pb --states_from RUN/policy_stage3.pb \\\n"
      "      --task cheetah-run --at_steps 100,200,300 --csv stage0.csv");
  return {app, [flags] { return RunSample(*flags); }};
}

}  // namespace gorl::cli
