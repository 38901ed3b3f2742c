// GoRL's stage budgets: which stage a run is in after a number of env steps.
//
// Stage s gets fractions[s] / sum(fractions) of the total, rounded to whole
// PPO iterations (at least one each), so a boundary always falls between two
// iterations.
#ifndef GORL_LEARNER_STAGE_SCHEDULE_H_
#define GORL_LEARNER_STAGE_SCHEDULE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"

namespace gorl::learner {

class StageSchedule {
 public:
  static absl::StatusOr<StageSchedule> Create(int64_t total_env_steps,
                                              const std::vector<double>& fractions,
                                              int64_t env_steps_per_iteration);

  int num_stages() const { return static_cast<int>(iterations_.size()); }
  // PPO iterations in stage s.
  int64_t Iterations(int stage) const { return iterations_[stage]; }
  // Cumulative env steps when stage s ends.
  int64_t StageEnd(int stage) const;
  int64_t total_env_steps() const { return StageEnd(num_stages() - 1); }
  // The stage that the iteration starting at `env_steps` belongs to.
  int StageAt(int64_t env_steps) const;

 private:
  StageSchedule(std::vector<int64_t> iterations, int64_t steps_per_iteration)
      : iterations_(std::move(iterations)), steps_per_iteration_(steps_per_iteration) {}

  std::vector<int64_t> iterations_;
  int64_t steps_per_iteration_;
};

// The schedule of a run: Gaussian PPO and the flow baselines have one stage;
// GoRL splits total_env_steps by stages.fractions.
absl::StatusOr<StageSchedule> ScheduleFor(const v1::TrainConfig& config);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_STAGE_SCHEDULE_H_
