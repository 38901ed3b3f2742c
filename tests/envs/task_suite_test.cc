// Properties every task must have, checked over the whole catalogue.
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "envs/task_registry.h"
#include "envs/vector_env.h"
#include "tests/envs/task_test_util.h"

namespace gorl::envs {
namespace {

struct ExpectedSpec {
  int obs;
  int act;
  double control_dt;
  int substeps;
};

// Observation and action sizes and timing from TASKS.md §2 and §4.
const std::map<std::string, ExpectedSpec>& Expected() {
  static const auto* expected = new std::map<std::string, ExpectedSpec>{
      {"cheetah-run", {17, 6, 0.01, 1}},      {"hopper-stand", {15, 4, 0.02, 4}},
      {"hopper-hop", {15, 4, 0.02, 4}},       {"walker-stand", {24, 6, 0.025, 10}},
      {"walker-walk", {24, 6, 0.025, 10}},    {"walker-run", {24, 6, 0.025, 10}},
      {"finger-spin", {9, 2, 0.02, 2}},       {"finger-turn-easy", {12, 2, 0.02, 2}},
      {"finger-turn-hard", {12, 2, 0.02, 2}}, {"fish-upright", {21, 5, 0.04, 10}},
      {"fish-swim", {24, 5, 0.04, 10}},       {"humanoid-stand", {67, 21, 0.025, 5}},
      {"humanoid-walk", {67, 21, 0.025, 5}},  {"humanoid-run", {67, 21, 0.025, 5}},
      {"cartpole-swingup", {5, 1, 0.01, 1}},  {"cartpole-balance", {5, 1, 0.01, 1}},
      {"hopper-v2", {11, 3, 0.008, 4}},       {"walker2d-v2", {17, 6, 0.008, 4}},
      {"halfcheetah-v2", {17, 6, 0.05, 5}},
  };
  return *expected;
}

TEST(TaskSuiteTest, CatalogueHoldsEveryBenchmarkTaskWithTheRightSizes) {
  std::set<std::string> seen;
  for (const TaskRegistration& task : AllTasks()) {
    seen.insert(task.spec.name);
    auto it = Expected().find(task.spec.name);
    if (it == Expected().end()) {
      EXPECT_EQ(task.spec.family, "toy") << task.spec.name << " is not in the expected table";
      continue;
    }
    SCOPED_TRACE(task.spec.name);
    EXPECT_EQ(task.spec.obs_size, it->second.obs);
    EXPECT_EQ(task.spec.action_size, it->second.act);
    EXPECT_DOUBLE_EQ(task.spec.control_timestep, it->second.control_dt);
    EXPECT_EQ(task.spec.physics_substeps, it->second.substeps);
    EXPECT_EQ(task.spec.episode_length, 1000);
    EXPECT_EQ(task.spec.can_terminate,
              task.spec.name == "hopper-v2" || task.spec.name == "walker2d-v2");
  }
  for (const auto& [name, spec] : Expected()) EXPECT_TRUE(seen.count(name)) << name << " missing";
  EXPECT_TRUE(seen.count("twin-peaks"));
}

// One full episode of every MuJoCo task through the vector env: dm_control
// tasks run exactly 1000 steps, end by truncation, and pay within [0, 1].
TEST(TaskSuiteTest, EveryTaskRunsAFullEpisodeWithItsRewardRangeAndNoDivergence) {
  for (const TaskRegistration& registration : AllTasks()) {
    const TaskSpec& spec = registration.spec;
    SCOPED_TRACE(spec.name);
    auto factory = MakeTaskFactory(spec.name, "");
    ASSERT_TRUE(factory.ok()) << factory.status();
    auto env = VectorEnv::Create(**factory, {.num_envs = 1, .seed = 11});
    ASSERT_TRUE(env.ok()) << env.status();
    ASSERT_TRUE((*env)->Reset().ok());
    for (int i = 0; i < spec.obs_size; ++i) ASSERT_TRUE(std::isfinite((*env)->obs()[i]));
    Rng rng(3);
    std::vector<float> action(spec.action_size);
    int steps = 0;
    std::vector<EpisodeRecord> finished;
    while (finished.empty()) {
      for (float& a : action) a = static_cast<float>(rng.Uniform(-1.0, 1.0));
      ASSERT_TRUE((*env)->Step(action.data()).ok());
      ++steps;
      const float reward = (*env)->rewards()[0];
      if (spec.family == "dm_control") {
        ASSERT_GE(reward, 0.0f);
        ASSERT_LE(reward, 1.0f);
      }
      ASSERT_TRUE(std::isfinite(reward));
      finished = (*env)->TakeFinishedEpisodes();
      ASSERT_LE(steps, spec.episode_length);
    }
    EXPECT_FALSE(finished[0].diverged);
    if (!spec.can_terminate) {
      EXPECT_EQ(steps, spec.episode_length);
      EXPECT_TRUE(finished[0].truncated);
      EXPECT_EQ((*env)->truncated()[0], 1);
      EXPECT_EQ((*env)->terminated()[0], 0);
    }
  }
}

TEST(TaskSuiteTest, SameSeedSameTrajectoryDifferentSeedDifferentStart) {
  for (const TaskRegistration& registration : AllTasks()) {
    SCOPED_TRACE(registration.spec.name);
    auto a = testing::MakeTaskOrDie(registration.spec.name);
    auto b = testing::MakeTaskOrDie(registration.spec.name);
    auto c = testing::MakeTaskOrDie(registration.spec.name);
    ASSERT_TRUE(a && b && c);
    const testing::RolloutSummary first = testing::RandomRollout(*a, 9, 30);
    const testing::RolloutSummary again = testing::RandomRollout(*b, 9, 30);
    const testing::RolloutSummary other = testing::RandomRollout(*c, 10, 30);
    EXPECT_EQ(first.observations, again.observations);
    EXPECT_EQ(first.total_reward, again.total_reward);
    EXPECT_NE(first.observations, other.observations);
  }
}

TEST(TaskSuiteTest, ResetAfterAnEpisodeDependsOnlyOnTheRngNotOnThePast) {
  // A reset must wipe every trace of the previous episode.
  for (const char* name : {"cheetah-run", "finger-turn-hard", "humanoid-stand", "hopper-v2"}) {
    SCOPED_TRACE(name);
    auto used = testing::MakeTaskOrDie(name);
    auto fresh = testing::MakeTaskOrDie(name);
    ASSERT_TRUE(used && fresh);
    testing::RandomRollout(*used, 1, 40);
    const testing::RolloutSummary after_use = testing::RandomRollout(*used, 2, 20);
    const testing::RolloutSummary from_fresh = testing::RandomRollout(*fresh, 2, 20);
    EXPECT_EQ(after_use.observations, from_fresh.observations);
  }
}

TEST(TaskSuiteTest, NonFiniteVelocityIsReportedAsDivergenceNotSilentlyReset) {
  auto task = testing::MakeMujocoTaskOrDie("walker-walk");
  ASSERT_NE(task, nullptr);
  Rng rng(0);
  std::vector<float> obs(task->spec().obs_size), action(task->spec().action_size, 0.0f);
  ASSERT_TRUE(task->Reset(rng, obs.data()).ok());
  task->data()->qvel[2] = std::nan("");  // MuJoCo warns (bad qvel) and resets mjData
  const StepOutcome outcome = task->Step(action.data(), obs.data());
  EXPECT_TRUE(outcome.diverged);
  EXPECT_TRUE(outcome.terminated);
  EXPECT_EQ(outcome.reward, 0.0);
  for (float value : obs) EXPECT_TRUE(std::isfinite(value));
  // The next episode starts cleanly.
  ASSERT_TRUE(task->Reset(rng, obs.data()).ok());
  EXPECT_FALSE(task->Step(action.data(), obs.data()).diverged);
}

}  // namespace
}  // namespace gorl::envs
