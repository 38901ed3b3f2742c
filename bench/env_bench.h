// Vector-env throughput against the raw physics of the same task, measured
// in one run so that the ratio survives a noisy, shared machine.
#ifndef GORL_BENCH_ENV_BENCH_H_
#define GORL_BENCH_ENV_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "envs/task_registry.h"

namespace gorl::bench {

struct EnvBenchOptions {
  int threads = 1;       // envs = threads: one env per thread
  double seconds = 1.0;  // per measurement; each is taken `rounds` times
  int rounds = 3;        // raw and vector measurements alternate
  uint64_t seed = 0;
};

struct EnvBenchResult {
  std::string task;
  int threads = 0;
  // Control steps per second over all threads (medians over the rounds).
  double vector_steps_per_s = 0.0;
  // A loop doing only what physics must: physics_substeps x mj_step per
  // control step with random controls, and at each episode end mj_resetData
  // plus the task's reset physics steps. 0 for tasks without a model.
  double raw_steps_per_s = 0.0;
  double ratio() const { return raw_steps_per_s > 0 ? vector_steps_per_s / raw_steps_per_s : 0.0; }
};

absl::StatusOr<EnvBenchResult> BenchmarkTask(const envs::TaskFactory& factory,
                                             const EnvBenchOptions& options);

}  // namespace gorl::bench

#endif  // GORL_BENCH_ENV_BENCH_H_
