#include "learner/stage_schedule.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/config.h"

namespace gorl::learner {

absl::StatusOr<StageSchedule> StageSchedule::Create(int64_t total_env_steps,
                                                    const std::vector<double>& fractions,
                                                    int64_t env_steps_per_iteration) {
  if (fractions.empty()) return absl::InvalidArgumentError("stage schedule: no stages");
  if (total_env_steps <= 0 || env_steps_per_iteration <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("stage schedule: total ", total_env_steps,
                                                   " and steps per iteration ",
                                                   env_steps_per_iteration, " must be positive"));
  }
  double sum = 0;
  for (double f : fractions) {
    if (!(f > 0) || !std::isfinite(f)) {
      return absl::InvalidArgumentError(absl::StrCat("stage schedule: fraction ", f, " <= 0"));
    }
    sum += f;
  }
  std::vector<int64_t> iterations;
  for (double f : fractions) {
    const double steps = static_cast<double>(total_env_steps) * f / sum;
    iterations.push_back(std::max<int64_t>(1, std::llround(steps / env_steps_per_iteration)));
  }
  return StageSchedule(std::move(iterations), env_steps_per_iteration);
}

int64_t StageSchedule::StageEnd(int stage) const {
  int64_t iterations = 0;
  for (int s = 0; s <= stage; ++s) iterations += iterations_[s];
  return iterations * steps_per_iteration_;
}

int StageSchedule::StageAt(int64_t env_steps) const {
  for (int s = 0; s < num_stages(); ++s) {
    if (env_steps < StageEnd(s)) return s;
  }
  return num_stages() - 1;
}

absl::StatusOr<StageSchedule> ScheduleFor(const v1::TrainConfig& config) {
  std::vector<double> fractions(config.stages().fractions().begin(),
                                config.stages().fractions().end());
  if (!HasDecoder(config.algo())) fractions = {1.0};
  return StageSchedule::Create(config.total_env_steps(), fractions, EnvStepsPerIteration(config));
}

}  // namespace gorl::learner
