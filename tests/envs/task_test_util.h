// Helpers shared by the task tests: build tasks from $GORL_ASSETS and drive them.
#ifndef GORL_TESTS_ENVS_TASK_TEST_UTIL_H_
#define GORL_TESTS_ENVS_TASK_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "envs/mujoco_task.h"
#include "envs/task_registry.h"

namespace gorl::envs::testing {

// A fresh instance of `name`; fails the test (fatally) when the factory cannot
// be built, e.g. because GORL_ASSETS is not set.
inline std::unique_ptr<Task> MakeTaskOrDie(const std::string& name) {
  absl::StatusOr<std::unique_ptr<TaskFactory>> factory = MakeTaskFactory(name, "");
  if (!factory.ok()) {
    ADD_FAILURE() << factory.status();
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<Task>> task = (*factory)->NewTask();
  if (!task.ok()) {
    ADD_FAILURE() << task.status();
    return nullptr;
  }
  return std::move(*task);
}

// The same, as a MujocoTask so a test can construct states by hand.
inline std::unique_ptr<MujocoTask> MakeMujocoTaskOrDie(const std::string& name) {
  std::unique_ptr<Task> task = MakeTaskOrDie(name);
  auto* mujoco = dynamic_cast<MujocoTask*>(task.get());
  if (mujoco == nullptr) {
    ADD_FAILURE() << name << " is not a MuJoCo task";
    return nullptr;
  }
  task.release();
  return std::unique_ptr<MujocoTask>(mujoco);
}

// Result of running one episode with uniform random actions.
struct RolloutSummary {
  int steps = 0;
  double total_reward = 0.0;
  double min_reward = 1e300;
  double max_reward = -1e300;
  bool terminated = false;
  bool diverged = false;
  std::vector<float> observations;  // steps+1 rows (reset observation first)
};

// Resets with `seed` and steps with uniform [-1, 1] actions drawn from a
// generator seeded `seed`, until termination or `max_steps`.
inline RolloutSummary RandomRollout(Task& task, uint64_t seed, int max_steps) {
  RolloutSummary summary;
  const TaskSpec& spec = task.spec();
  Rng reset_rng(seed), action_rng(seed + 1);
  std::vector<float> obs(spec.obs_size), action(spec.action_size);
  EXPECT_TRUE(task.Reset(reset_rng, obs.data()).ok());
  summary.observations.insert(summary.observations.end(), obs.begin(), obs.end());
  for (int t = 0; t < max_steps; ++t) {
    for (float& a : action) a = static_cast<float>(action_rng.Uniform(-1.0, 1.0));
    const StepOutcome outcome = task.Step(action.data(), obs.data());
    summary.observations.insert(summary.observations.end(), obs.begin(), obs.end());
    ++summary.steps;
    summary.total_reward += outcome.reward;
    summary.min_reward = std::min(summary.min_reward, outcome.reward);
    summary.max_reward = std::max(summary.max_reward, outcome.reward);
    summary.diverged = summary.diverged || outcome.diverged;
    if (outcome.terminated) {
      summary.terminated = true;
      break;
    }
  }
  return summary;
}

}  // namespace gorl::envs::testing

#endif  // GORL_TESTS_ENVS_TASK_TEST_UTIL_H_
