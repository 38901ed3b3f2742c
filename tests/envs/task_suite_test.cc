// Properties every task must have, checked over the whole catalogue, one
// test per task.
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "envs/task_registry.h"
#include "envs/vector_env.h"
#include "tests/envs/expected_specs.h"
#include "tests/envs/task_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

using ::gorl::envs::testing::AllTaskNames;
using ::gorl::envs::testing::ExpectedSpec;
using ::gorl::envs::testing::ExpectedSpecs;
using ::gorl::envs::testing::MakeMujocoTaskOrDie;
using ::gorl::envs::testing::MakeTaskOrDie;
using ::gorl::envs::testing::RandomRollout;
using ::gorl::envs::testing::RolloutSummary;
using ::gorl::envs::testing::TaskParamName;

TEST(TaskSuiteTest, CatalogueHoldsEveryBenchmarkTaskAndOtherwiseOnlyToys) {
  std::set<std::string> expected, seen;
  for (const ExpectedSpec& spec : ExpectedSpecs()) expected.insert(spec.name);
  for (const TaskRegistration& task : AllTasks()) {
    seen.insert(task.spec.name);
    if (expected.count(task.spec.name) == 0) {
      EXPECT_EQ(task.spec.family, "toy") << task.spec.name << " is not in the expected table";
    }
  }
  for (const std::string& name : expected) EXPECT_TRUE(seen.count(name)) << name << " missing";
  EXPECT_TRUE(seen.count("twin-peaks"));
}

// Observation and action sizes and timing from docs/tasks.md §2 and §4.
class BenchmarkSpecTest : public ::testing::TestWithParam<ExpectedSpec> {};

TEST_P(BenchmarkSpecTest, RegistrationHasTheRightSizes) {
  const ExpectedSpec& expected = GetParam();
  GORL_ASSERT_OK_AND_ASSIGN(const TaskRegistration* registration, FindTask(expected.name));
  const TaskSpec& spec = registration->spec;
  EXPECT_EQ(spec.obs_size, expected.obs_size);
  EXPECT_EQ(spec.action_size, expected.action_size);
  EXPECT_DOUBLE_EQ(spec.control_timestep, expected.control_timestep);
  EXPECT_EQ(spec.physics_substeps, expected.substeps);
  EXPECT_EQ(spec.episode_length, 1000);
  EXPECT_EQ(spec.can_terminate, spec.name == "hopper-v2" || spec.name == "walker2d-v2");
}

INSTANTIATE_TEST_SUITE_P(TaskSuite, BenchmarkSpecTest, ::testing::ValuesIn(ExpectedSpecs()),
                         TaskParamName());

// Every task in the catalogue, toys included.
class EveryTaskTest : public ::testing::TestWithParam<std::string> {};

// One full episode through the vector env: dm_control tasks run exactly
// 1000 steps, end by truncation, and pay within [0, 1].
TEST_P(EveryTaskTest, RunsAFullEpisodeWithItsRewardRangeAndNoDivergence) {
  GORL_ASSERT_OK_AND_ASSIGN(const TaskRegistration* registration, FindTask(GetParam()));
  const TaskSpec& spec = registration->spec;
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<TaskFactory> factory, MakeTaskFactory(spec.name, ""));
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VectorEnv> env,
                            VectorEnv::Create(*factory, {.num_envs = 1, .seed = 11}));
  GORL_ASSERT_OK(env->Reset());
  for (int i = 0; i < spec.obs_size; ++i) ASSERT_TRUE(std::isfinite(env->obs()[i]));
  Rng rng(3);
  std::vector<float> action(spec.action_size);
  int steps = 0;
  std::vector<EpisodeRecord> finished;
  while (finished.empty()) {
    for (float& a : action) a = static_cast<float>(rng.Uniform(-1.0, 1.0));
    GORL_ASSERT_OK(env->Step(action.data()));
    ++steps;
    const float reward = env->rewards()[0];
    if (spec.family == "dm_control") {
      ASSERT_GE(reward, 0.0f);
      ASSERT_LE(reward, 1.0f);
    }
    ASSERT_TRUE(std::isfinite(reward));
    finished = env->TakeFinishedEpisodes();
    ASSERT_LE(steps, spec.episode_length);
  }
  EXPECT_FALSE(finished[0].diverged);
  if (!spec.can_terminate) {
    EXPECT_EQ(steps, spec.episode_length);
    EXPECT_TRUE(finished[0].truncated);
    EXPECT_EQ(env->truncated()[0], 1);
    EXPECT_EQ(env->terminated()[0], 0);
  }
}

TEST_P(EveryTaskTest, SameSeedSameTrajectoryDifferentSeedDifferentStart) {
  auto a = MakeTaskOrDie(GetParam());
  auto b = MakeTaskOrDie(GetParam());
  auto c = MakeTaskOrDie(GetParam());
  ASSERT_TRUE(a && b && c);
  const RolloutSummary first = RandomRollout(*a, 9, 30);
  const RolloutSummary again = RandomRollout(*b, 9, 30);
  const RolloutSummary other = RandomRollout(*c, 10, 30);
  EXPECT_EQ(first.observations, again.observations);
  EXPECT_EQ(first.total_reward, again.total_reward);
  EXPECT_NE(first.observations, other.observations);
}

INSTANTIATE_TEST_SUITE_P(TaskSuite, EveryTaskTest, ::testing::ValuesIn(AllTaskNames()),
                         TaskParamName());

// A reset must wipe every trace of the previous episode.
class ReusedTaskTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReusedTaskTest, ResetAfterAnEpisodeDependsOnlyOnTheRngNotOnThePast) {
  auto used = MakeTaskOrDie(GetParam());
  auto fresh = MakeTaskOrDie(GetParam());
  ASSERT_TRUE(used && fresh);
  RandomRollout(*used, 1, 40);
  const RolloutSummary after_use = RandomRollout(*used, 2, 20);
  const RolloutSummary from_fresh = RandomRollout(*fresh, 2, 20);
  EXPECT_EQ(after_use.observations, from_fresh.observations);
}

INSTANTIATE_TEST_SUITE_P(TaskSuite, ReusedTaskTest,
                         ::testing::Values("cheetah-run", "finger-turn-hard", "humanoid-stand",
                                           "hopper-v2"),
                         TaskParamName());

TEST(TaskSuiteTest, NonFiniteVelocityIsReportedAsDivergenceNotSilentlyReset) {
  auto task = MakeMujocoTaskOrDie("walker-walk");
  ASSERT_NE(task, nullptr);
  Rng rng(0);
  std::vector<float> obs(task->spec().obs_size), action(task->spec().action_size, 0.0f);
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  task->data()->qvel[2] = std::nan("");  // MuJoCo warns (bad qvel) and resets mjData
  const StepOutcome outcome = task->Step(action.data(), obs.data());
  EXPECT_TRUE(outcome.diverged);
  EXPECT_TRUE(outcome.terminated);
  EXPECT_EQ(outcome.reward, 0.0);
  for (float value : obs) EXPECT_TRUE(std::isfinite(value));
  // The next episode starts cleanly.
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  EXPECT_FALSE(task->Step(action.data(), obs.data()).diverged);
}

}  // namespace
}  // namespace gorl::envs
