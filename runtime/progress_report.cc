#include "runtime/progress_report.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_format.h"
#include "common/config.h"

namespace gorl::runtime {

std::string FormatProgress(const learner::Progress& p) {
  const double eta =
      p.steps_per_second > 0 ? (p.total_env_steps - p.env_steps) / p.steps_per_second : 0.0;
  return absl::StrFormat(
      "[gorl] %d/%d env steps  %.0f steps/s  stage %d/%d  eval %s  ETA %s", p.env_steps,
      p.total_env_steps, p.steps_per_second, p.stage + 1, p.num_stages,
      std::isnan(p.last_eval_return) ? "-" : absl::StrFormat("%.1f", p.last_eval_return).c_str(),
      absl::StrFormat("%dm%02ds", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60));
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

}  // namespace gorl::runtime
