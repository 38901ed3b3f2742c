// Helpers shared by the task tests: build tasks from $GORL_ASSETS and drive them.
#ifndef GORL_TESTS_ENVS_TASK_TEST_UTIL_H_
#define GORL_TESTS_ENVS_TASK_TEST_UTIL_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "envs/mujoco_task.h"
#include "envs/task_registry.h"
#include "tests/status_matchers.h"

namespace gorl::envs::testing {

// A fresh instance of `name`; fails the test (fatally) when the factory cannot
// be built, e.g. because GORL_ASSETS is not set.
inline std::unique_ptr<Task> MakeTaskOrDie(const std::string& name) {
  absl::StatusOr<std::unique_ptr<TaskFactory>> factory = MakeTaskFactory(name, "");
  GORL_EXPECT_OK(factory) << name;
  if (!factory.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<Task>> task = (*factory)->NewTask();
  GORL_EXPECT_OK(task) << name;
  if (!task.ok()) return nullptr;
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

// The observation after resetting with a generator seeded `seed`; a failed
// reset fails the test.
inline std::vector<float> ResetOrFail(Task& task, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> obs(task.spec().obs_size);
  GORL_EXPECT_OK(task.Reset(rng, obs.data()));
  return obs;
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
  GORL_EXPECT_OK(task.Reset(reset_rng, obs.data()));
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

// The name of every task in the catalogue, in listing order.
inline std::vector<std::string> AllTaskNames() {
  std::vector<std::string> names;
  for (const TaskRegistration& registration : AllTasks()) names.push_back(registration.spec.name);
  return names;
}

// Names parameterised tests by task ("finger-turn-easy" -> "finger_turn_easy";
// gtest allows only letters, digits and '_'). The parameter is a task name or
// a struct with a `name` member.
struct TaskParamName {
  static std::string ForTask(std::string task) {
    std::replace(task.begin(), task.end(), '-', '_');
    return task;
  }
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const {
    return ForTask(info.param);
  }
  template <typename Param>
  std::string operator()(const ::testing::TestParamInfo<Param>& info) const {
    return ForTask(info.param.name);
  }
};

}  // namespace gorl::envs::testing

#endif  // GORL_TESTS_ENVS_TASK_TEST_UTIL_H_
