// `gorl bench actor`: one actor thread's env steps/s with a policy's
// inference in the loop, against a raw mj_step loop of the same task
// measured alternately in the same run, so that the ratio (what inference
// and the actor's bookkeeping cost on top of physics) survives a noisy,
// shared machine.
//
// The library only times and compares: the caller supplies the actor loop
// (the CLI builds a RolloutWorker with a PPO, GoRL-FM or GoRL-Diff policy),
// so that this target needs no LibTorch.
#ifndef GORL_BENCH_ACTOR_BENCH_H_
#define GORL_BENCH_ACTOR_BENCH_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "envs/task_registry.h"

namespace gorl::bench {

// Runs the actor for about `seconds`; returns the env steps it took.
using ActorLoop = std::function<absl::StatusOr<int64_t>(double seconds)>;

struct ActorBenchOptions {
  int batch = 1;         // envs the actor steps; the raw loop steps as many mjData
  double seconds = 1.0;  // per measurement; each is taken `rounds` times
  int rounds = 3;        // raw and actor measurements alternate
  uint64_t seed = 0;
};

struct ActorBenchResult {
  // Env steps per second of one thread (medians over the rounds).
  double actor_steps_per_s = 0.0;
  double raw_steps_per_s = 0.0;  // 0 for tasks without a model
  double ratio() const { return raw_steps_per_s > 0 ? actor_steps_per_s / raw_steps_per_s : 0.0; }
  // What one env step costs the actor beyond its physics (the policy and
  // the bookkeeping): 1/actor - 1/raw, in microseconds; 0 without a raw rate.
  double MicrosecondsPerStepOverRaw() const {
    if (raw_steps_per_s <= 0 || actor_steps_per_s <= 0) return 0.0;
    return 1e6 / actor_steps_per_s - 1e6 / raw_steps_per_s;
  }
};

absl::StatusOr<ActorBenchResult> BenchmarkActor(const envs::TaskFactory& factory,
                                                const ActorLoop& actor,
                                                const ActorBenchOptions& options);

}  // namespace gorl::bench

#endif  // GORL_BENCH_ACTOR_BENCH_H_
