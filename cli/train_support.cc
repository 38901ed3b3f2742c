#include "cli/train_support.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, preset, "local", "Built-in preset: local, paper or reference");
ABSL_FLAG(std::string, config, "", "A text-format gorl.v1.TrainConfig file (instead of --preset)");
ABSL_FLAG(std::string, algo, "", "ppo, gorl-fm or gorl-diff (default: the preset's)");
ABSL_FLAG(std::string, run_dir, "", "Run directory (default: runs/<task>-<algo>-s<seed>-<time>)");
ABSL_FLAG(std::string, resume, "",
          "Continue the run in this directory from its checkpoint.pb and config.textproto");

namespace gorl::cli {

absl::StatusOr<std::vector<std::string>> ParseOverrides(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", arg, "' (overrides look like ppo.clip_epsilon=0.2)"));
    }
  }
  return args;
}

absl::StatusOr<v1::TrainConfig> BuildConfig(const std::vector<std::string>& overrides) {
  const std::string file = absl::GetFlag(FLAGS_config);
  GORL_ASSIGN_OR_RETURN(v1::TrainConfig config,
                        LoadPreset(file.empty() ? absl::GetFlag(FLAGS_preset) : file));
  if (!absl::GetFlag(FLAGS_task).empty()) config.set_task(absl::GetFlag(FLAGS_task));
  if (!absl::GetFlag(FLAGS_algo).empty()) {
    GORL_RETURN_IF_ERROR(ApplyOverride("algo=" + absl::GetFlag(FLAGS_algo), config));
  }
  if (absl::GetFlag(FLAGS_seed) >= 0) config.set_seed(absl::GetFlag(FLAGS_seed));
  for (const std::string& assignment : overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

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

std::string RunDirFor(const v1::TrainConfig& config) {
  const std::string flag = absl::GetFlag(FLAGS_run_dir);
  if (!flag.empty()) return flag;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return absl::StrCat("runs/", config.task(), "-", EnumUserName(config.algo()), "-s", config.seed(), "-", stamp);
}

absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir) {
  GORL_RETURN_IF_ERROR(MakeDirs(run_dir));
  std::ofstream out(run_dir + "/config.textproto");
  out << ConfigToText(config);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", run_dir, "/config.textproto"));
  return absl::OkStatus();
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

JsonRow FinalResult(const v1::TrainConfig& config, const learner::TrainingSummary& summary) {
  const learner::EvalPoint& final_eval = summary.final_evaluation;
  JsonRow result;
  result.Add("task", config.task())
      .Add("algo", EnumUserName(config.algo()))
      .Add("seed", static_cast<int64_t>(config.seed()))
      .Add("env_steps", summary.env_steps)
      .Add("collect_env_steps", summary.collect_env_steps)
      .Add("wall_seconds", summary.seconds)
      .Add("eval_episodes", config.eval().episodes())
      .Add("return_mean", final_eval.deterministic_mean)
      .Add("return_std", final_eval.deterministic_std)
      .Add("stochastic_return_mean", final_eval.stochastic_mean)
      .Add("diverged_episodes", summary.diverged_episodes);
  return result;
}

void ReportResult(const v1::TrainConfig& config, const std::string& run_dir,
                  const learner::TrainingSummary& summary) {
  const std::string result = FinalResult(config, summary).ToString();
  std::ofstream(run_dir + "/final_eval.json") << result << "\n";
  std::printf("%s\n", result.c_str());
  std::fflush(stdout);
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  const bool usage = status.code() == absl::StatusCode::kInvalidArgument ||
                     status.code() == absl::StatusCode::kNotFound ||
                     status.code() == absl::StatusCode::kFailedPrecondition;
  return usage ? kExitUsage : kExitFailure;
}

}  // namespace gorl::cli
