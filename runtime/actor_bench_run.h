// `gorl bench actor`'s work: for each task and algorithm, a RolloutWorker
// with one thread and `batch` envs running a policy of that algorithm (a
// fresh encoder of the preset's size with the identity decoder for PPO, a
// 10-step flow decoder for GoRL-FM, a DDIM diffusion decoder for GoRL-Diff:
// weights do not change the cost), timed against raw mj_step
// (bench/actor_bench.h).
#ifndef GORL_RUNTIME_ACTOR_BENCH_RUN_H_
#define GORL_RUNTIME_ACTOR_BENCH_RUN_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/actor_bench.h"

namespace gorl::runtime {

struct ActorBenchRunOptions {
  std::vector<std::string> tasks = {"cheetah-run", "walker-walk", "humanoid-run"};
  std::vector<std::string> algos = {"ppo", "gorl-fm", "gorl-diff"};
  int batch = 16;                // envs stepped by the one thread, inferred together
  int unroll = 30;               // steps per Unroll call (a Rollout message each)
  std::string preset = "local";  // network sizes and decoder steps
  std::string assets;
  bench::ActorBenchOptions timing;
};

struct ActorBenchRow {
  std::string task;
  std::string algo;
  int batch = 0;
  bench::ActorBenchResult result;
};

// Calls `on_row` as each (task, algorithm) is measured. InvalidArgument for
// a bad option, task or algorithm.
absl::Status RunActorBench(const ActorBenchRunOptions& options,
                           const std::function<void(const ActorBenchRow&)>& on_row);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ACTOR_BENCH_RUN_H_
