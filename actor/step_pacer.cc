#include "actor/step_pacer.h"

#include <algorithm>

namespace gorl::actor {

StepPacer::StepPacer(double max_steps_per_second)
    : max_steps_per_second_(max_steps_per_second > 0 ? max_steps_per_second : 0) {}

void StepPacer::Record(Clock::time_point start, double steps) {
  if (!capped()) return;
  // Starting from max(start, the previous turn) rather than from the
  // previous turn alone is what keeps idle time from turning into a burst.
  const Clock::time_point from = std::max(start, next_start_);
  next_start_ = from + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(steps / max_steps_per_second_));
}

}  // namespace gorl::actor
