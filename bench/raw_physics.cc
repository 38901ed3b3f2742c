#include "bench/raw_physics.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/random.h"

namespace gorl::bench {

int64_t RawPhysicsLoop(const envs::TaskSpec& spec, const mjModel* model, uint64_t seed,
                       double seconds, int batch) {
  std::vector<mjData*> data(std::max(1, batch));
  for (mjData*& d : data) d = mj_makeData(model);
  std::vector<int> episode_step(data.size(), 0);
  Rng rng(seed);
  int64_t steps = 0;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    // Check the clock every 64 control steps of each env: cheap, and still
    // fine-grained.
    for (int k = 0; k < 64; ++k) {
      for (size_t e = 0; e < data.size(); ++e) {
        mjData* d = data[e];
        for (int a = 0; a < model->nu; ++a) d->ctrl[a] = rng.Uniform(-1.0, 1.0);
        for (int s = 0; s < spec.physics_substeps; ++s) mj_step(model, d);
        ++steps;
        if (++episode_step[e] == spec.episode_length) {
          episode_step[e] = 0;
          mj_resetData(model, d);
          for (int s = 0; s < spec.reset_physics_steps; ++s) mj_step(model, d);
        }
      }
    }
    if (Clock::now() >= deadline) break;
  }
  for (mjData* d : data) mj_deleteData(d);
  return steps;
}

}  // namespace gorl::bench
