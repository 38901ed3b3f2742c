// `gorl train`: a training run of ppo, gorl-fm or gorl-diff.
//
// The configuration is a preset (--preset NAME or --config FILE) plus the
// flags below plus any number of `path.to.field=value` arguments; the merged
// result is printed and written to <run_dir>/config.textproto.
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"
#include "learner/training_loop.h"
#include "runtime/train_in_process.h"

ABSL_FLAG(std::string, preset, "local", "Built-in preset: local, paper or reference");
ABSL_FLAG(std::string, config, "", "A text-format gorl.v1.TrainConfig file (instead of --preset)");
ABSL_FLAG(std::string, algo, "", "ppo, gorl-fm or gorl-diff (default: the preset's)");
ABSL_FLAG(std::string, run_dir, "", "Run directory (default: runs/<task>-<algo>-s<seed>-<time>)");

namespace gorl::cli {
namespace {

absl::Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::UnavailableError(
            absl::StrCat("cannot create ", partial, ": ", std::strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TrainConfig> BuildConfig(const std::vector<std::string>& overrides) {
  const std::string file = absl::GetFlag(FLAGS_config);
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config,
                        LoadPreset(file.empty() ? absl::GetFlag(FLAGS_preset) : file));
  if (!absl::GetFlag(FLAGS_task).empty()) config.set_task(absl::GetFlag(FLAGS_task));
  if (!absl::GetFlag(FLAGS_algo).empty()) config.set_algo(absl::GetFlag(FLAGS_algo));
  if (absl::GetFlag(FLAGS_seed) >= 0) config.set_seed(absl::GetFlag(FLAGS_seed));
  for (const std::string& assignment : overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

std::string DefaultRunDir(const v1::TrainConfig& config) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return absl::StrCat("runs/", config.task(), "-", config.algo(), "-s", config.seed(), "-", stamp);
}

void PrintProgress(const learner::Progress& p) {
  const double eta = p.steps_per_second > 0
                         ? (p.total_env_steps - p.env_steps) / p.steps_per_second
                         : 0.0;
  std::fprintf(stderr, "\r[gorl] %lld/%lld env steps  %.0f steps/s  stage %d/%d  eval %s  ETA %s   ",
               static_cast<long long>(p.env_steps), static_cast<long long>(p.total_env_steps),
               p.steps_per_second, p.stage + 1, p.num_stages,
               std::isnan(p.last_eval_return) ? "-"
                                              : absl::StrFormat("%.1f", p.last_eval_return).c_str(),
               absl::StrFormat("%dm%02ds", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60)
                   .c_str());
  std::fflush(stderr);
}

absl::Status Train(const std::vector<std::string>& overrides) {
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config, BuildConfig(overrides));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)));
  std::string run_dir = absl::GetFlag(FLAGS_run_dir);
  if (run_dir.empty()) run_dir = DefaultRunDir(config);
  GORL_RETURN_IF_ERROR(MakeDirs(run_dir));
  {
    std::ofstream out(run_dir + "/config.textproto");
    out << ConfigToText(config);
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", run_dir, "/config.textproto"));
  }
  std::fprintf(stderr, "[gorl] %s\n[gorl] run directory: %s\n", DescribeConfig(config).c_str(),
               run_dir.c_str());

  GORL_ASSIGN_OR_RETURN(runtime::TrainResult run,
                        runtime::TrainInProcess(config, *factory, run_dir, PrintProgress));
  std::fprintf(stderr, "\n");
  const learner::TrainingSummary& summary = run.summary;

  const learner::EvalPoint& final_eval = summary.final_evaluation;
  JsonRow result;
  result.Add("task", config.task())
      .Add("algo", config.algo())
      .Add("seed", static_cast<int64_t>(config.seed()))
      .Add("env_steps", summary.env_steps)
      .Add("collect_env_steps", summary.collect_env_steps)
      .Add("wall_seconds", summary.seconds)
      .Add("eval_episodes", config.eval().episodes())
      .Add("return_mean", final_eval.deterministic_mean)
      .Add("return_std", final_eval.deterministic_std)
      .Add("stochastic_return_mean", final_eval.stochastic_mean)
      .Add("diverged_episodes", summary.diverged_episodes);
  std::ofstream(run_dir + "/final_eval.json") << result.ToString() << "\n";
  std::printf("%s\n", result.ToString().c_str());
  return absl::OkStatus();
}

}  // namespace

int RunTrainCommand(const std::vector<std::string>& args) {
  std::vector<std::string> overrides;
  for (const std::string& arg : args) {
    if (arg.find('=') == std::string::npos) {
      std::fprintf(stderr, "gorl train: unexpected argument '%s' (overrides look like "
                           "ppo.clip_epsilon=0.2)\n", arg.c_str());
      return kExitUsage;
    }
    overrides.push_back(arg);
  }
  const absl::Status status = Train(overrides);
  if (!status.ok()) {
    std::fprintf(stderr, "\ngorl train: %s\n", status.ToString().c_str());
    const bool usage = status.code() == absl::StatusCode::kInvalidArgument ||
                       status.code() == absl::StatusCode::kNotFound ||
                       status.code() == absl::StatusCode::kFailedPrecondition;
    return usage ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

}  // namespace gorl::cli
