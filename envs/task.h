// One environment instance of a benchmark task.
//
// A Task knows its physics, reward, observation, reset distribution and
// termination rule. It does not know about time limits, auto-reset or
// batching: VectorEnv (envs/vector_env.h) adds those, so every task gets the
// same truncation and reset semantics.
#ifndef GORL_ENVS_TASK_H_
#define GORL_ENVS_TASK_H_

#include <string>

#include "absl/status/status.h"
#include "common/random.h"

namespace gorl::envs {

struct TaskSpec {
  std::string name;        // "cheetah-run", "hopper-v2", ...
  std::string family;      // "dm_control", "gym" or "toy"
  std::string model_file;  // relative to the assets root; empty for toy tasks
  int obs_size = 0;
  int action_size = 0;            // every action component lies in [-1, 1]
  double control_timestep = 0.0;  // seconds per control step
  int physics_substeps = 1;       // physics steps per control step
  int episode_length = 1000;      // control steps before truncation
  bool can_terminate = false;     // true only for tasks with failure states
  // Physics steps a reset simulates before the first observation (CheetahRun
  // settles for 200). Benchmarks add them to the raw mj_step baseline.
  int reset_physics_steps = 0;
};

// What one control step produced, apart from the observation.
struct StepOutcome {
  double reward = 0.0;
  // The episode reached a terminal state (Gym's "done" without time limit).
  bool terminated = false;
  // The simulator raised a warning (for example a bad acceleration) or the
  // state became non-finite. The episode ends as a failure; VectorEnv counts
  // it and reports it, it is never silently reset.
  bool diverged = false;
};

class Task {
 public:
  virtual ~Task() = default;

  virtual const TaskSpec& spec() const = 0;

  // Starts a new episode drawn with `rng` and writes the first observation
  // (spec().obs_size floats).
  virtual absl::Status Reset(Rng& rng, float* obs) = 0;

  // Applies `action` (spec().action_size values, not clipped), advances one
  // control step and writes the next observation.
  virtual StepOutcome Step(const float* action, float* obs) = 0;
};

}  // namespace gorl::envs

#endif  // GORL_ENVS_TASK_H_
