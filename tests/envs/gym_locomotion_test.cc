// Tests for the Gym v2 tasks (docs/tasks.md §4): reset noise, reward, velocity
// clipping and the termination rules.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "envs/mujoco_task.h"
#include "tests/envs/task_test_util.h"

namespace gorl::envs {
namespace {

using ::gorl::envs::testing::MakeMujocoTaskOrDie;
using ::gorl::envs::testing::RandomRollout;
using ::gorl::envs::testing::ResetOrFail;

TEST(GymTest, HopperAndWalkerResetWithinHalfACentimetreOfTheReferencePose) {
  for (const char* name : {"hopper-v2", "walker2d-v2"}) {
    auto task = MakeMujocoTaskOrDie(name);
    ASSERT_NE(task, nullptr);
    const mjModel* m = task->model();
    for (uint64_t seed = 0; seed < 10; ++seed) {
      ResetOrFail(*task, seed);
      for (int i = 0; i < m->nq; ++i) {
        EXPECT_LE(std::abs(task->data()->qpos[i] - m->qpos0[i]), 0.005) << name << " qpos " << i;
      }
      for (int i = 0; i < m->nv; ++i) EXPECT_LE(std::abs(task->data()->qvel[i]), 0.005);
    }
    // rootz has ref 1.25: the first observation is the torso height.
    const std::vector<float> obs = ResetOrFail(*task, 0);
    EXPECT_NEAR(obs[0], 1.25, 0.0051) << name;
  }
}

TEST(GymTest, HalfCheetahResetNoiseIsUniformPositionAndGaussianVelocity) {
  auto task = MakeMujocoTaskOrDie("halfcheetah-v2");
  ASSERT_NE(task, nullptr);
  double sum_sq = 0.0, max_pos = 0.0;
  int count = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    ResetOrFail(*task, seed);
    for (int i = 0; i < task->model()->nq; ++i) {
      max_pos = std::max(max_pos, std::abs(task->data()->qpos[i] - task->model()->qpos0[i]));
    }
    for (int i = 0; i < task->model()->nv; ++i, ++count) {
      sum_sq += task->data()->qvel[i] * task->data()->qvel[i];
    }
  }
  EXPECT_LE(max_pos, 0.1);
  EXPECT_GT(max_pos, 0.09);                           // 1800 uniform draws reach close to the bound
  EXPECT_NEAR(std::sqrt(sum_sq / count), 0.1, 0.01);  // 0.1 N(0, 1)
}

TEST(GymTest, RewardIsForwardVelocityPlusAliveBonusMinusControlCost) {
  struct Case {
    const char* name;
    double dt, alive, ctrl_cost;
  };
  for (const Case& c : {Case{"hopper-v2", 0.008, 1.0, 1e-3}, Case{"walker2d-v2", 0.008, 1.0, 1e-3},
                        Case{"halfcheetah-v2", 0.05, 0.0, 0.1}}) {
    auto task = MakeMujocoTaskOrDie(c.name);
    ASSERT_NE(task, nullptr);
    std::vector<float> obs = ResetOrFail(*task, 1);
    Rng rng(2);
    for (int t = 0; t < 5; ++t) {
      std::vector<float> action(task->spec().action_size);
      double squared = 0.0;
      for (float& a : action) {
        a = static_cast<float>(rng.Uniform(-1.5, 1.5));  // raw actions may exceed the range
        squared += double{a} * a;
      }
      const double x_before = task->data()->qpos[0];
      const StepOutcome outcome = task->Step(action.data(), obs.data());
      const double forward = (task->data()->qpos[0] - x_before) / c.dt;
      EXPECT_NEAR(outcome.reward, forward + c.alive - c.ctrl_cost * squared, 1e-9)
          << c.name << " step " << t;
      if (outcome.terminated) break;
    }
  }
}

TEST(GymTest, HopperClipsObservedVelocitiesHalfCheetahDoesNot) {
  auto hopper = MakeMujocoTaskOrDie("hopper-v2");
  auto cheetah = MakeMujocoTaskOrDie("halfcheetah-v2");
  ASSERT_NE(hopper, nullptr);
  ASSERT_NE(cheetah, nullptr);
  ResetOrFail(*hopper, 0);
  ResetOrFail(*cheetah, 0);
  hopper->data()->qvel[3] = 50.0;
  hopper->data()->qvel[4] = -50.0;
  cheetah->data()->qvel[3] = 50.0;
  std::vector<float> obs(17);
  hopper->CurrentObservation(obs.data());
  EXPECT_EQ(obs[5 + 3], 10.0f);
  EXPECT_EQ(obs[5 + 4], -10.0f);
  cheetah->CurrentObservation(obs.data());
  EXPECT_EQ(obs[8 + 3], 50.0f);
}

TEST(GymTest, HopperTerminatesWhenTooLowOrTilted) {
  auto task = MakeMujocoTaskOrDie("hopper-v2");
  ASSERT_NE(task, nullptr);
  std::vector<float> obs = ResetOrFail(*task, 0);
  std::vector<float> zero(3, 0.0f);
  EXPECT_FALSE(task->Step(zero.data(), obs.data()).terminated);  // healthy start
  // Tilted by 0.5 rad (> 0.2): the next step terminates, and still pays the alive bonus.
  ResetOrFail(*task, 0);
  task->data()->qpos[2] = 0.5;
  const double x_before = task->data()->qpos[0];
  const StepOutcome tilted = task->Step(zero.data(), obs.data());
  EXPECT_TRUE(tilted.terminated);
  EXPECT_NEAR(tilted.reward, (task->data()->qpos[0] - x_before) / 0.008 + 1.0, 1e-9);
  // Torso at 0.5 m (< 0.7).
  ResetOrFail(*task, 0);
  task->data()->qpos[1] = 0.5;
  EXPECT_TRUE(task->Step(zero.data(), obs.data()).terminated);
  // A joint velocity of 200 (|s_i| >= 100 outside rootx/rootz).
  ResetOrFail(*task, 0);
  task->data()->qvel[2] = 200.0;
  EXPECT_TRUE(task->Step(zero.data(), obs.data()).terminated);
}

TEST(GymTest, Walker2dTerminatesOutsideItsHeightAndAngleRange) {
  auto task = MakeMujocoTaskOrDie("walker2d-v2");
  ASSERT_NE(task, nullptr);
  std::vector<float> obs = ResetOrFail(*task, 0);
  std::vector<float> zero(6, 0.0f);
  EXPECT_FALSE(task->Step(zero.data(), obs.data()).terminated);
  for (const auto& [height, angle] :
       {std::pair{0.7, 0.0}, std::pair{2.2, 0.0}, std::pair{1.25, 1.3}, std::pair{1.25, -1.3}}) {
    ResetOrFail(*task, 0);
    task->data()->qpos[1] = height;
    task->data()->qpos[2] = angle;
    EXPECT_TRUE(task->Step(zero.data(), obs.data()).terminated)
        << "height " << height << " angle " << angle;
  }
}

TEST(GymTest, RandomHopperFallsQuicklyHalfCheetahNeverTerminates) {
  auto hopper = MakeMujocoTaskOrDie("hopper-v2");
  auto cheetah = MakeMujocoTaskOrDie("halfcheetah-v2");
  ASSERT_NE(hopper, nullptr);
  ASSERT_NE(cheetah, nullptr);
  int total_steps = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto summary = RandomRollout(*hopper, seed, 1000);
    EXPECT_TRUE(summary.terminated);
    EXPECT_FALSE(summary.diverged);
    total_steps += summary.steps;
  }
  EXPECT_LT(total_steps / 10, 200);  // docs/tasks.md measures about 20-25 steps
  const auto summary = RandomRollout(*cheetah, 0, 1000);
  EXPECT_FALSE(summary.terminated);
  EXPECT_EQ(summary.steps, 1000);
}

}  // namespace
}  // namespace gorl::envs
