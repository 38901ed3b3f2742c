// Caps the env steps an actor's training unrolls take per second, on
// average, for a process that must not use a whole machine's worth of envs
// (a shared workstation, a test that needs a run to last). Time an actor
// spends idle or slow is not banked: after a pause it resumes at the cap,
// not in a burst to catch up.
#ifndef GORL_ACTOR_STEP_PACER_H_
#define GORL_ACTOR_STEP_PACER_H_

#include <chrono>

namespace gorl::actor {

class StepPacer {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_steps_per_second` <= 0: no cap.
  explicit StepPacer(double max_steps_per_second);

  bool capped() const { return max_steps_per_second_ > 0; }

  // The earliest the next unroll may start (the epoch: at once).
  Clock::time_point NextStart() const { return next_start_; }

  // An unroll of `steps` env steps started at `start`: the next may start
  // `steps / cap` seconds after it, or after the earlier unroll's turn when
  // this one started before that (it waited for it).
  void Record(Clock::time_point start, double steps);

 private:
  double max_steps_per_second_;
  Clock::time_point next_start_{};
};

}  // namespace gorl::actor

#endif  // GORL_ACTOR_STEP_PACER_H_
