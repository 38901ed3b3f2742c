// Tests for CheetahRun, Hopper*, Walker* and Cartpole* (docs/tasks.md §2.1-2.3, 2.7).
//
// Rewards are checked at states built by hand (qpos/qvel/ctrl, then
// mj_forward) against closed forms derived from the spec.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "envs/mujoco_task.h"
#include "tests/envs/dmc_test_util.h"
#include "tests/envs/task_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

using ::gorl::envs::testing::DofAdr;
using ::gorl::envs::testing::GaussianSigmoid;
using ::gorl::envs::testing::MakeMujocoTaskOrDie;
using ::gorl::envs::testing::Observe;
using ::gorl::envs::testing::Qpos;
using ::gorl::envs::testing::Qvel;

// Puts the model in its reference pose with zero velocity and control.
void Zero(MujocoTask& task) { mj_resetData(task.model(), task.data()); }
double RewardAfterForward(MujocoTask& task) {
  mj_forward(task.model(), task.data());
  return task.CurrentReward();
}

TEST(CheetahRunTest, RewardIsCentreOfMassSpeedOverTenClamped) {
  auto task = MakeMujocoTaskOrDie("cheetah-run");
  ASSERT_NE(task, nullptr);
  for (double v : {-3.0, 0.0, 2.5, 7.0, 10.0, 14.0}) {
    Zero(*task);
    // Every body moves with the root slide: the COM speed is v.
    Qvel(*task, "rootx") = v;
    EXPECT_NEAR(RewardAfterForward(*task), std::clamp(v / 10.0, 0.0, 1.0), 1e-9) << "v = " << v;
  }
}

TEST(CheetahRunTest, ResetSettlesForTwoSecondsAndRestartsTheClock) {
  auto task = MakeMujocoTaskOrDie("cheetah-run");
  ASSERT_NE(task, nullptr);
  Rng rng(3);
  std::vector<float> obs(17);
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  EXPECT_EQ(task->data()->time, 0.0);
  // After 200 settling steps the torso rests on the floor, well below its
  // 0.7 m reset height (rootz is obs[0]: qpos[1] relative to 0.7).
  EXPECT_LT(obs[0], -0.05);
}

TEST(HopperTest, StandRewardIsStandingTimesSmallControl) {
  auto task = MakeMujocoTaskOrDie("hopper-stand");
  ASSERT_NE(task, nullptr);
  Zero(*task);
  const double ctrl[4] = {0.5, 0.0, -1.0, 2.0};  // small_control 0.75, 1, 0, 0
  for (int i = 0; i < 4; ++i) task->data()->ctrl[i] = ctrl[i];
  const double reward = RewardAfterForward(*task);
  const int torso = mj_name2id(task->model(), mjOBJ_BODY, "torso");
  const int foot = mj_name2id(task->model(), mjOBJ_BODY, "foot");
  const double height = task->data()->xipos[3 * torso + 2] - task->data()->xipos[3 * foot + 2];
  ASSERT_GE(height, 0.6);  // the reference pose stands
  ASSERT_LE(height, 2.0);
  EXPECT_NEAR(reward, (4.0 + (0.75 + 1.0 + 0.0 + 0.0) / 4.0) / 5.0, 1e-12);

  // Upside down: the torso's centre of mass is below the foot's.
  Qpos(*task, "rooty") = M_PI;
  EXPECT_EQ(RewardAfterForward(*task), 0.0);
}

TEST(HopperTest, HopRewardIsStandingTimesSpeedOverTwo) {
  auto task = MakeMujocoTaskOrDie("hopper-hop");
  ASSERT_NE(task, nullptr);
  for (double v : {-1.0, 0.5, 1.0, 3.0}) {
    Zero(*task);
    Qvel(*task, "rootx") = v;
    EXPECT_NEAR(RewardAfterForward(*task), std::clamp(v / 2.0, 0.0, 1.0), 1e-9) << "v = " << v;
  }
}

TEST(HopperTest, ObservationIsQposWithoutRootxQvelAndLogTouch) {
  auto task = MakeMujocoTaskOrDie("hopper-stand");
  ASSERT_NE(task, nullptr);
  Rng rng(11);
  std::vector<float> obs(15);
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  for (int i = 1; i < 7; ++i) EXPECT_FLOAT_EQ(obs[i - 1], task->data()->qpos[i]);
  for (int i = 0; i < 7; ++i) EXPECT_FLOAT_EQ(obs[6 + i], task->data()->qvel[i]);
  EXPECT_GE(obs[13], 0.0f);
  EXPECT_GE(obs[14], 0.0f);
  // From the upright reference pose the hopper drops onto its foot: within
  // 2 s a touch sensor fires.
  Zero(*task);
  mj_forward(task->model(), task->data());
  float max_touch = 0.0f;
  std::vector<float> zero(4, 0.0f);
  for (int t = 0; t < 100; ++t) {
    task->Step(zero.data(), obs.data());
    max_touch = std::max({max_touch, obs[13], obs[14]});
  }
  EXPECT_GT(max_touch, 0.0f);
}

TEST(HopperTest, ResetDrawsTheRootAngleFromMinusPiToPi) {
  auto task = MakeMujocoTaskOrDie("hopper-stand");
  ASSERT_NE(task, nullptr);
  std::vector<float> obs(15);
  int below = 0, above = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Rng rng(seed);
    GORL_ASSERT_OK(task->Reset(rng, obs.data()));
    const float rooty = obs[1];  // qpos[2]
    ASSERT_GE(rooty, -M_PI);
    ASSERT_LE(rooty, M_PI);
    below += rooty < -M_PI / 2;
    above += rooty > M_PI / 2;
    EXPECT_EQ(obs[0], 0.0f);  // rootz starts at 0
  }
  EXPECT_GT(below, 5);
  EXPECT_GT(above, 5);
}

TEST(WalkerTest, UprightAndTallStandsWithRewardOne) {
  for (const char* name : {"walker-stand", "walker-walk", "walker-run"}) {
    auto task = MakeMujocoTaskOrDie(name);
    ASSERT_NE(task, nullptr);
    Zero(*task);
    // rootz = 0: the torso frame is at 1.3 m >= 1.2, and level.
    const double reward = RewardAfterForward(*task);
    if (std::string(name) == "walker-stand") {
      EXPECT_NEAR(reward, 1.0, 1e-12) << name;
    } else {
      // Standing still: move = 0, so stand * (5 * 0 + 1) / 6.
      EXPECT_NEAR(reward, 1.0 / 6.0, 1e-12) << name;
    }
  }
}

TEST(WalkerTest, LowTorsoDecaysWithTheGaussianSigmoid) {
  auto task = MakeMujocoTaskOrDie("walker-stand");
  ASSERT_NE(task, nullptr);
  Zero(*task);
  Qpos(*task, "rootz") = -0.4;  // torso frame at 0.9 m: half a margin (0.6) below 1.2
  const double standing = GaussianSigmoid(0.5);
  EXPECT_NEAR(RewardAfterForward(*task), (3.0 * standing + 1.0) / 4.0, 1e-9);
  // Lying on its back: upright = (1 + cos(pi/2)) / 2 = 1/2.
  Zero(*task);
  Qpos(*task, "rooty") = M_PI / 2;
  const double upright = 0.5;
  mj_forward(task->model(), task->data());
  const int torso = mj_name2id(task->model(), mjOBJ_BODY, "torso");
  const double z = task->data()->xpos[3 * torso + 2];
  const double expected_standing = z >= 1.2 ? 1.0 : GaussianSigmoid((1.2 - z) / 0.6);
  EXPECT_NEAR(task->CurrentReward(), (3.0 * expected_standing + upright) / 4.0, 1e-9);
}

TEST(WalkerTest, MoveTermIsSpeedOverTargetClamped) {
  for (const auto& [name, speed] : {std::pair{"walker-walk", 1.0}, std::pair{"walker-run", 8.0}}) {
    auto task = MakeMujocoTaskOrDie(name);
    ASSERT_NE(task, nullptr);
    for (double fraction : {0.25, 0.5, 1.0, 2.0}) {
      Zero(*task);
      Qvel(*task, "rootx") = fraction * speed;
      const double move = std::min(fraction, 1.0);
      EXPECT_NEAR(RewardAfterForward(*task), (5.0 * move + 1.0) / 6.0, 1e-9)
          << name << " at " << fraction << " x target";
    }
  }
}

TEST(WalkerTest, ObservationHoldsBodyOrientationsHeightAndVelocity) {
  auto task = MakeMujocoTaskOrDie("walker-walk");
  ASSERT_NE(task, nullptr);
  Zero(*task);
  Qpos(*task, "rootz") = 0.1;
  Qpos(*task, "rooty") = 0.3;
  Qvel(*task, "right_knee") = 0.7;
  mj_forward(task->model(), task->data());
  const std::vector<float> obs = Observe(*task);
  ASSERT_EQ(obs.size(), 24u);
  // Torso first: (xx, xz) = (cos, sin) of its pitch.
  EXPECT_NEAR(obs[0], std::cos(0.3), 1e-6);
  EXPECT_NEAR(std::abs(obs[1]), std::sin(0.3), 1e-6);
  EXPECT_NEAR(obs[14], 1.4, 1e-6);  // torso frame height
  EXPECT_FLOAT_EQ(obs[15 + DofAdr(task->model(), "right_knee")], 0.7f);
}

TEST(CartpoleTest, UprightCentredStillPoleEarnsOneHangingEarnsZero) {
  for (const char* name : {"cartpole-swingup", "cartpole-balance"}) {
    auto task = MakeMujocoTaskOrDie(name);
    ASSERT_NE(task, nullptr);
    Zero(*task);
    EXPECT_NEAR(RewardAfterForward(*task), 1.0, 1e-12) << name;
    Qpos(*task, "hinge_1") = M_PI;
    EXPECT_NEAR(RewardAfterForward(*task), 0.0, 1e-12) << name;
  }
}

TEST(CartpoleTest, EachRewardFactorFollowsItsTolerance) {
  auto task = MakeMujocoTaskOrDie("cartpole-swingup");
  ASSERT_NE(task, nullptr);
  Zero(*task);
  Qpos(*task, "slider") = 1.0;  // half a margin (2) off centre
  EXPECT_NEAR(RewardAfterForward(*task), (1.0 + GaussianSigmoid(0.5)) / 2.0, 1e-9);
  Zero(*task);
  task->data()->ctrl[0] = 0.5;  // small_control = (4 + 0.75) / 5
  EXPECT_NEAR(RewardAfterForward(*task), 4.75 / 5.0, 1e-12);
  Zero(*task);
  Qvel(*task, "hinge_1") = 5.0;  // one margin: tolerance 0.1
  EXPECT_NEAR(RewardAfterForward(*task), 0.55, 1e-9);
  Zero(*task);
  Qpos(*task, "hinge_1") = M_PI / 3;  // upright = (1 + cos) / 2 = 0.75
  EXPECT_NEAR(RewardAfterForward(*task), 0.75, 1e-9);
  const std::vector<float> obs = Observe(*task);
  EXPECT_NEAR(obs[1], 0.5, 1e-6);
  EXPECT_NEAR(std::abs(obs[2]), std::sin(M_PI / 3), 1e-6);
}

TEST(CartpoleTest, SwingupStartsHangingBalanceStartsUpright) {
  auto swingup = MakeMujocoTaskOrDie("cartpole-swingup");
  auto balance = MakeMujocoTaskOrDie("cartpole-balance");
  ASSERT_NE(swingup, nullptr);
  ASSERT_NE(balance, nullptr);
  std::vector<float> obs(5);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng a(seed), b(seed);
    GORL_ASSERT_OK(swingup->Reset(a, obs.data()));
    EXPECT_LT(obs[1], -0.99f);           // cos(pi + small)
    EXPECT_LT(std::abs(obs[0]), 0.05f);  // 0.01 N(0, 1)
    GORL_ASSERT_OK(balance->Reset(b, obs.data()));
    EXPECT_GT(obs[1], std::cos(0.034f) - 1e-6f);
    EXPECT_LE(std::abs(obs[0]), 0.1f);
  }
}

// The kinematics-only refresh must give exactly what dm_control's mj_step1
// gives for everything the task reads.
TEST(CartpoleTest, StepObservationEqualsAFullMjStep1Refresh) {
  auto task = MakeMujocoTaskOrDie("cartpole-swingup");
  ASSERT_NE(task, nullptr);
  Rng rng(9), actions(10);
  std::vector<float> obs(5), refreshed(5);
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  for (int t = 0; t < 200; ++t) {
    const float action[1] = {static_cast<float>(actions.Uniform(-1.0, 1.0))};
    const StepOutcome outcome = task->Step(action, obs.data());
    mj_step1(task->model(), task->data());
    task->CurrentObservation(refreshed.data());
    ASSERT_EQ(obs, refreshed) << "step " << t;
    ASSERT_EQ(outcome.reward, task->CurrentReward()) << "step " << t;
  }
}

TEST(CartpoleTest, BalanceDoesNotTerminateWhenThePoleFalls) {
  auto task = MakeMujocoTaskOrDie("cartpole-balance");
  ASSERT_NE(task, nullptr);
  Rng rng(5);
  std::vector<float> obs(5);
  GORL_ASSERT_OK(task->Reset(rng, obs.data()));
  const float push[1] = {1.0f};
  bool fell = false;
  for (int t = 0; t < 1000; ++t) {
    const StepOutcome outcome = task->Step(push, obs.data());
    ASSERT_FALSE(outcome.terminated) << "step " << t;
    fell = fell || obs[1] < 0.0f;
  }
  EXPECT_TRUE(fell);  // pushing one way the whole time topples the pole
}

}  // namespace
}  // namespace gorl::envs
