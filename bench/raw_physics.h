// The reference every throughput benchmark divides by: one thread doing
// only what a task's physics must.
#ifndef GORL_BENCH_RAW_PHYSICS_H_
#define GORL_BENCH_RAW_PHYSICS_H_

#include <cstdint>

#include <mujoco/mujoco.h>

#include "envs/task.h"

namespace gorl::bench {

// Control steps one thread does in `seconds` over `batch` mjData stepped in
// turn (as an actor steps its envs: a batch larger than the cache costs
// physics time too): physics_substeps x mj_step per control step with
// random controls, and at each episode end mj_resetData plus the task's
// reset physics steps.
int64_t RawPhysicsLoop(const envs::TaskSpec& spec, const mjModel* model, uint64_t seed,
                       double seconds, int batch = 1);

}  // namespace gorl::bench

#endif  // GORL_BENCH_RAW_PHYSICS_H_
