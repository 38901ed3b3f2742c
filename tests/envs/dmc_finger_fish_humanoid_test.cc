// Tests for FingerSpin/Turn*, FishUpright/Swim and Humanoid* (docs/tasks.md §2.4-2.6).
//
// Expected values come from the spec and the XML files by hand (closed
// forms); states are built by editing qpos/qvel/ctrl and running mj_forward.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "envs/joint_randomizer.h"
#include "envs/mujoco_task.h"
#include "envs/task_registry.h"
#include "tests/envs/dmc_test_util.h"
#include "tests/envs/expected_specs.h"
#include "tests/envs/task_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

using ::gorl::envs::testing::DofAdr;
using ::gorl::envs::testing::ExpectedSpec;
using ::gorl::envs::testing::ExpectedSpecsOf;
using ::gorl::envs::testing::Id;
using ::gorl::envs::testing::kGaussianK;
using ::gorl::envs::testing::MakeMujocoTaskOrDie;
using ::gorl::envs::testing::MakeTaskOrDie;
using ::gorl::envs::testing::Observe;
using ::gorl::envs::testing::QposAdr;
using ::gorl::envs::testing::RandomRollout;
using ::gorl::envs::testing::ResetOrFail;
using ::gorl::envs::testing::RolloutSummary;
using ::gorl::envs::testing::TaskParamName;

// Two instances from one factory: they share one mjModel.
std::vector<std::unique_ptr<MujocoTask>> TwoInstancesOfOneFactory(const std::string& name) {
  std::vector<std::unique_ptr<MujocoTask>> tasks;
  absl::StatusOr<std::unique_ptr<TaskFactory>> factory = MakeTaskFactory(name, "");
  GORL_EXPECT_OK(factory);
  if (!factory.ok()) return tasks;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<Task>> task = (*factory)->NewTask();
    GORL_EXPECT_OK(task);
    if (!task.ok()) return {};
    tasks.emplace_back(dynamic_cast<MujocoTask*>(task->release()));
  }
  return tasks;
}

// -------------------------------------------------------------------------
// Catalogue entries.

class DmcTaskSpecTest : public ::testing::TestWithParam<ExpectedSpec> {};

TEST_P(DmcTaskSpecTest, MatchesSpecAndWritesExactlyObsSizeValues) {
  const ExpectedSpec& expected = GetParam();
  GORL_ASSERT_OK_AND_ASSIGN(const TaskRegistration* registration, FindTask(expected.name));
  const TaskSpec& spec = registration->spec;
  EXPECT_EQ(spec.name, expected.name);
  EXPECT_EQ(spec.family, "dm_control");
  EXPECT_EQ(spec.obs_size, expected.obs_size);
  EXPECT_EQ(spec.action_size, expected.action_size);
  EXPECT_DOUBLE_EQ(spec.control_timestep, expected.control_timestep);
  EXPECT_EQ(spec.physics_substeps, expected.substeps);
  EXPECT_EQ(spec.episode_length, 1000);
  EXPECT_FALSE(spec.can_terminate);

  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie(expected.name);
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->model()->nu, expected.action_size);
  EXPECT_NEAR(task->model()->opt.timestep * expected.substeps, expected.control_timestep, 1e-12);

  // NaN sentinels after the observation must survive; every entry of the
  // observation must be overwritten with a finite value.
  std::vector<float> buffer(expected.obs_size + 8, std::nanf(""));
  Rng rng(1);
  GORL_ASSERT_OK(task->Reset(rng, buffer.data()));
  for (int i = 0; i < expected.obs_size; ++i) EXPECT_TRUE(std::isfinite(buffer[i])) << i;
  for (int i = expected.obs_size; i < expected.obs_size + 8; ++i)
    EXPECT_TRUE(std::isnan(buffer[i]));
  std::vector<float> action(expected.action_size, 0.0f);
  std::fill(buffer.begin(), buffer.end(), std::nanf(""));
  const StepOutcome outcome = task->Step(action.data(), buffer.data());
  EXPECT_FALSE(outcome.diverged);
  EXPECT_FALSE(outcome.terminated);
  for (int i = 0; i < expected.obs_size; ++i) EXPECT_TRUE(std::isfinite(buffer[i])) << i;
  for (int i = expected.obs_size; i < expected.obs_size + 8; ++i)
    EXPECT_TRUE(std::isnan(buffer[i]));
}

// The prefix makes the names match the Finger* test filter.
INSTANTIATE_TEST_SUITE_P(FingerFishHumanoid, DmcTaskSpecTest,
                         ::testing::ValuesIn(ExpectedSpecsOf({"finger-", "fish-", "humanoid-"})),
                         TaskParamName());

// -------------------------------------------------------------------------
// Finger.

constexpr double kSpinnerX = 0.2;  // spinner body pos in finger.xml
constexpr double kSpinnerZ = 0.4;
constexpr double kTipRadius = 0.13;  // tip site at (0, 0, 0.13) on the spinner

TEST(FingerSpinTest, RewardIsOneIffHingeVelocityAtMostMinus15) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("finger-spin");
  ASSERT_NE(task, nullptr);
  ResetOrFail(*task, 0);
  const mjModel* m = task->model();
  mjData* d = task->data();
  const int hinge = DofAdr(m, "hinge");
  struct Case {
    double velocity;
    double reward;
  };
  for (const Case& c : {Case{-15.0, 1.0}, Case{-20.0, 1.0}, Case{-14.99, 0.0}, Case{0.0, 0.0},
                        Case{15.0, 0.0}, Case{16.0, 0.0}}) {
    d->qvel[hinge] = c.velocity;
    mj_forward(m, d);
    EXPECT_EQ(task->CurrentReward(), c.reward) << "hinge velocity " << c.velocity;
    EXPECT_FLOAT_EQ(Observe(*task)[6], c.velocity);  // velocity[2] = hinge_velocity
  }
}

TEST(FingerSpinTest, DampingPatchStaysOnTheSpinModel) {
  std::unique_ptr<MujocoTask> spin = MakeMujocoTaskOrDie("finger-spin");
  std::unique_ptr<MujocoTask> turn = MakeMujocoTaskOrDie("finger-turn-easy");
  ASSERT_NE(spin, nullptr);
  ASSERT_NE(turn, nullptr);
  EXPECT_NE(spin->model(), turn->model());
  EXPECT_DOUBLE_EQ(spin->model()->dof_damping[DofAdr(spin->model(), "hinge")], 0.03);
  EXPECT_DOUBLE_EQ(turn->model()->dof_damping[DofAdr(turn->model(), "hinge")], 0.5);
  // Only the hinge changes: the finger joints keep the class damping 2.5.
  EXPECT_DOUBLE_EQ(spin->model()->dof_damping[DofAdr(spin->model(), "proximal")], 2.5);
  EXPECT_DOUBLE_EQ(spin->model()->dof_damping[DofAdr(spin->model(), "distal")], 2.5);
}

TEST(FingerSpinTest, ObservationLayoutAtAConstructedState) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("finger-spin");
  ASSERT_NE(task, nullptr);
  ResetOrFail(*task, 0);
  const mjModel* m = task->model();
  mjData* d = task->data();
  d->qpos[QposAdr(m, "proximal")] = 0.3;
  d->qpos[QposAdr(m, "distal")] = -0.2;
  d->qpos[QposAdr(m, "hinge")] = M_PI / 2;
  d->qvel[DofAdr(m, "proximal")] = 1.5;
  d->qvel[DofAdr(m, "distal")] = -2.5;
  d->qvel[DofAdr(m, "hinge")] = 3.5;
  mj_forward(m, d);
  const std::vector<float> obs = Observe(*task);
  EXPECT_FLOAT_EQ(obs[0], 0.3);
  EXPECT_FLOAT_EQ(obs[1], -0.2);
  // The hinge axis is -y: a rotation by q takes (0, 0, 0.13) to
  // (-0.13 sin q, 0, 0.13 cos q); at q = pi/2 that is (-0.13, 0).
  EXPECT_NEAR(obs[2], -kTipRadius, 1e-6);
  EXPECT_NEAR(obs[3], 0.0, 1e-6);
  EXPECT_FLOAT_EQ(obs[4], 1.5);
  EXPECT_FLOAT_EQ(obs[5], -2.5);
  EXPECT_FLOAT_EQ(obs[6], 3.5);
  EXPECT_GE(obs[7], 0.0f);
  EXPECT_GE(obs[8], 0.0f);
}

TEST(FingerSpinTest, TouchObservationIsLog1pOfTouchSensors) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("finger-spin");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  const int top = m->sensor_adr[Id(m, mjOBJ_SENSOR, "touchtop")];
  const int bottom = m->sensor_adr[Id(m, mjOBJ_SENSOR, "touchbottom")];
  std::vector<float> obs = ResetOrFail(*task, 5);
  Rng action_rng(6);
  std::vector<float> action(2);
  int touching_steps = 0;
  for (int t = 0; t < 300; ++t) {
    for (float& a : action) a = static_cast<float>(action_rng.Uniform(-1.0, 1.0));
    task->Step(action.data(), obs.data());
    // The step leaves the last substep's touch values in sensordata.
    ASSERT_FLOAT_EQ(obs[7], std::log1p(task->data()->sensordata[top])) << t;
    ASSERT_FLOAT_EQ(obs[8], std::log1p(task->data()->sensordata[bottom])) << t;
    if (task->data()->sensordata[top] > 0 || task->data()->sensordata[bottom] > 0) ++touching_steps;
  }
  // Random flailing touches the spinner now and then, so the check above
  // also saw non-zero forces (where log1p(x) != x).
  EXPECT_GT(touching_steps, 0);
}

TEST(FingerResetTest, RandomJointDrawsSometimesTouch) {
  // Without this, the no-contact test below could pass without a rejection
  // loop. dm_control needs ~1.1 draws per reset, i.e. ~10% of draws touch.
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("finger-spin");
  ASSERT_NE(task, nullptr);
  mjData* d = mj_makeData(task->model());
  Rng rng(11);
  int touching = 0;
  for (int i = 0; i < 300; ++i) {
    RandomizeLimitedAndRotationalJoints(task->model(), d, rng);
    mj_forward(task->model(), d);
    if (d->ncon > 0) ++touching;
  }
  mj_deleteData(d);
  EXPECT_GT(touching, 0);
}

TEST(FingerResetTest, ResetIsCollisionFreeAtRestAndInRange) {
  for (const char* name : {"finger-spin", "finger-turn-hard"}) {
    std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie(name);
    ASSERT_NE(task, nullptr);
    const mjModel* m = task->model();
    for (uint64_t seed = 0; seed < 60; ++seed) {
      ResetOrFail(*task, seed);
      const mjData* d = task->data();
      EXPECT_EQ(d->ncon, 0) << name << " seed " << seed;
      for (int i = 0; i < m->nv; ++i) EXPECT_EQ(d->qvel[i], 0.0);
      for (const char* joint : {"proximal", "distal"}) {
        const int j = Id(m, mjOBJ_JOINT, joint);
        const double q = d->qpos[m->jnt_qposadr[j]];
        // +-110 degrees.
        EXPECT_GE(q, -110.0 * M_PI / 180.0 - 1e-12);
        EXPECT_LE(q, 110.0 * M_PI / 180.0 + 1e-12);
      }
      const double hinge = d->qpos[QposAdr(m, "hinge")];
      EXPECT_GE(hinge, -M_PI);
      EXPECT_LE(hinge, M_PI);
    }
  }
}

// The two turn tasks differ only in the target's radius.
struct TurnCase {
  std::string name;
  double radius;
};
void PrintTo(const TurnCase& c, std::ostream* os) { *os << c.name; }

class FingerTurnRadiusTest : public ::testing::TestWithParam<TurnCase> {};

// Checks the target circle and the radius through the observation:
// target_position = target - spinner, dist = |target - tip| - radius.
TEST_P(FingerTurnRadiusTest, TargetOnCircleAndRadius) {
  const std::string& name = GetParam().name;
  const double radius = GetParam().radius;
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie(name);
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  const int spinner = Id(m, mjOBJ_BODY, "spinner");
  double min_angle = 10.0, max_angle = -10.0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> obs = ResetOrFail(*task, seed);
    const mjData* d = task->data();
    // The spinner only rotates about its own origin.
    EXPECT_NEAR(d->xpos[3 * spinner], kSpinnerX, 1e-12);
    EXPECT_NEAR(d->xpos[3 * spinner + 2], kSpinnerZ, 1e-12);
    // Target on the circle of radius 0.13 around the hinge (0.2, 0, 0.4).
    const double target_x = obs[9] + d->xpos[3 * spinner];
    const double target_z = obs[10] + d->xpos[3 * spinner + 2];
    EXPECT_NEAR(std::hypot(target_x - kSpinnerX, target_z - kSpinnerZ), kTipRadius, 1e-6);
    // dist_to_target = |target_position - tip_position| - radius.
    const double tip_to_target = std::hypot(obs[9] - obs[2], obs[10] - obs[3]);
    EXPECT_NEAR(obs[11], tip_to_target - radius, 1e-6) << name << " seed " << seed;
    EXPECT_EQ(task->CurrentReward(), obs[11] <= 0.0f ? 1.0 : 0.0);
    const double angle = std::atan2(obs[9], obs[10]);
    min_angle = std::min(min_angle, angle);
    max_angle = std::max(max_angle, angle);
  }
  // U(-pi, pi): 20 draws spread well beyond one radian.
  EXPECT_GT(max_angle - min_angle, 3.0);
  // The model's site stays where the XML put it.
  const int site = Id(m, mjOBJ_SITE, "target");
  EXPECT_EQ(m->site_pos[3 * site + 0], 0.0);
  EXPECT_EQ(m->site_pos[3 * site + 2], 0.4);
  EXPECT_EQ(m->site_size[3 * site], 0.03);
}

// Turns the spinner so the tip sits at a known angular offset from the
// target and checks dist and the sparse reward.
TEST_P(FingerTurnRadiusTest, RewardIsOneIffTipWithinRadius) {
  const std::string& name = GetParam().name;
  const double radius = GetParam().radius;
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie(name);
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  mjData* d = task->data();
  const std::vector<float> obs = ResetOrFail(*task, 3);
  // target - spinner = 0.13 (sin phi, cos phi); the tip at hinge angle q is
  // 0.13 (-sin q, cos q), so q = -phi puts the tip on the target centre.
  const double phi = std::atan2(obs[9], obs[10]);
  const int hinge = QposAdr(m, "hinge");
  std::vector<float> now;
  auto reward_at = [&](double offset) {
    d->qpos[hinge] = -phi + offset;
    mj_forward(m, d);
    now = Observe(*task);
    return task->CurrentReward();
  };
  // Chord between tip and target for an angular offset a: 0.26 sin(a/2).
  // It equals the radius at a* = 2 asin(radius / 0.26).
  const double edge = 2.0 * std::asin(radius / (2.0 * kTipRadius));
  EXPECT_EQ(reward_at(0.0), 1.0);
  EXPECT_NEAR(now[11], -radius, 1e-6);
  EXPECT_EQ(reward_at(0.98 * edge), 1.0);
  EXPECT_NEAR(now[11], 2.0 * kTipRadius * std::sin(0.49 * edge) - radius, 1e-6);
  EXPECT_LT(now[11], 0.0f);
  EXPECT_EQ(reward_at(-1.02 * edge), 0.0);
  EXPECT_GT(now[11], 0.0f);
  EXPECT_EQ(reward_at(M_PI), 0.0);
  EXPECT_NEAR(now[11], 2.0 * kTipRadius - radius, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(FingerTurn, FingerTurnRadiusTest,
                         ::testing::Values(TurnCase{"finger-turn-easy", 0.07},
                                           TurnCase{"finger-turn-hard", 0.03}),
                         TaskParamName());

TEST(FingerTurnTest, InstancesSharingAModelKeepTheirOwnTargets) {
  std::vector<std::unique_ptr<MujocoTask>> tasks = TwoInstancesOfOneFactory("finger-turn-easy");
  ASSERT_EQ(tasks.size(), 2u);
  ASSERT_EQ(tasks[0]->model(), tasks[1]->model());
  const std::vector<float> first = ResetOrFail(*tasks[0], 100);
  const std::vector<float> second = ResetOrFail(*tasks[1], 200);
  EXPECT_NE(std::make_pair(first[9], first[10]), std::make_pair(second[9], second[10]));
  // Resetting the second env must not move the first env's target.
  const std::vector<float> again = Observe(*tasks[0]);
  EXPECT_EQ(again[9], first[9]);
  EXPECT_EQ(again[10], first[10]);
  EXPECT_EQ(again[11], first[11]);
}

// -------------------------------------------------------------------------
// Fish.

constexpr double kFishMouthRadius = 0.005;  // geom "mouth" size
constexpr double kFishTargetRadius = 0.04;  // geom "target" size

// Sets the root orientation, zeroes the hinges and translates the fish so
// the mouth geom's centre lands on `mouth_world`.
void PlaceFish(MujocoTask& task, const double quat[4], const double mouth_world[3]) {
  const mjModel* m = task.model();
  mjData* d = task.data();
  const int root = QposAdr(m, "root");
  const int mouth = Id(m, mjOBJ_GEOM, "mouth");
  for (int i = 0; i < 4; ++i) d->qpos[root + 3 + i] = quat[i];
  for (int j = 1; j < m->njnt; ++j) d->qpos[m->jnt_qposadr[j]] = 0.0;
  mj_forward(m, d);
  for (int i = 0; i < 3; ++i) d->qpos[root + i] += mouth_world[i] - d->geom_xpos[3 * mouth + i];
  mj_forward(m, d);
}

// The world target recovered from the observation: mouth + R_mouth * m2t.
std::vector<double> WorldTargetFromObs(MujocoTask& task, const std::vector<float>& obs) {
  const mjModel* m = task.model();
  const mjData* d = task.data();
  const int mouth = Id(m, mjOBJ_GEOM, "mouth");
  const mjtNum* rot = d->geom_xmat + 9 * mouth;
  std::vector<double> target(3);
  for (int i = 0; i < 3; ++i) {
    target[i] = d->geom_xpos[3 * mouth + i];
    for (int j = 0; j < 3; ++j) target[i] += rot[3 * i + j] * obs[8 + j];
  }
  return target;
}

TEST(FishUprightTest, RewardAtUprightSidewaysAndUpsideDown) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("fish-upright");
  ASSERT_NE(task, nullptr);
  ResetOrFail(*task, 0);
  const mjModel* m = task->model();
  mjData* d = task->data();
  const int root = QposAdr(m, "root");
  auto reward_at = [&](double w, double x, double y, double z) {
    const double quat[4] = {w, x, y, z};
    for (int i = 0; i < 4; ++i) d->qpos[root + 3 + i] = quat[i];
    mj_forward(m, d);
    return task->CurrentReward();
  };
  // Identity: zz = 1, inside the bounds [1, 1].
  EXPECT_DOUBLE_EQ(reward_at(1, 0, 0, 0), 1.0);
  EXPECT_FLOAT_EQ(Observe(*task)[7], 1.0f);
  // 90 degrees about x: zz = 0, one margin away -> value_at_margin 0.1.
  EXPECT_NEAR(reward_at(std::sqrt(0.5), std::sqrt(0.5), 0, 0), 0.1, 1e-9);
  EXPECT_NEAR(Observe(*task)[7], 0.0, 1e-7);
  // 180 degrees about x: zz = -1, two margins away.
  EXPECT_NEAR(reward_at(0, 1, 0, 0), std::exp(-0.5 * std::pow(kGaussianK * 2.0, 2)), 1e-12);
  EXPECT_NEAR(reward_at(0, 1, 0, 0), std::exp(-0.5 * std::pow(2.145966 * 2.0, 2)), 1e-6);
  EXPECT_FLOAT_EQ(Observe(*task)[7], -1.0f);
  // Yaw about z keeps the fish upright.
  EXPECT_NEAR(reward_at(std::cos(0.6), 0, 0, std::sin(0.6)), 1.0, 1e-12);
}

TEST(FishUprightTest, ResetDrawsUniformOrientationAndSmallHinges) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("fish-upright");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  const int root = QposAdr(m, "root");
  // Counts per quaternion component of negative values: a normalised
  // Gaussian takes both signs; dm_control's U[0,1)^4 quirk (humanoid) would not.
  int negative[4] = {0, 0, 0, 0};
  const int kSeeds = 60;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    const std::vector<float> obs = ResetOrFail(*task, seed);
    const mjData* d = task->data();
    EXPECT_EQ(d->qpos[root + 0], 0.0);
    EXPECT_EQ(d->qpos[root + 1], 0.0);
    EXPECT_EQ(d->qpos[root + 2], 0.1);
    double norm2 = 0.0;
    for (int i = 0; i < 4; ++i) {
      const double q = d->qpos[root + 3 + i];
      norm2 += q * q;
      if (q < 0) ++negative[i];
    }
    EXPECT_NEAR(norm2, 1.0, 1e-12);
    for (int j = 1; j < m->njnt; ++j) {
      EXPECT_LE(std::abs(d->qpos[m->jnt_qposadr[j]]), 0.2);
    }
    for (int i = 0; i < m->nv; ++i) EXPECT_EQ(d->qvel[i], 0.0);
    // Observation: the 7 hinges in _JOINTS order, then zz of the torso, then qvel.
    const char* joints[7] = {"tail1",          "tail_twist",   "tail2",        "finright_roll",
                             "finright_pitch", "finleft_roll", "finleft_pitch"};
    for (int i = 0; i < 7; ++i) EXPECT_FLOAT_EQ(obs[i], d->qpos[QposAdr(m, joints[i])]);
    EXPECT_FLOAT_EQ(obs[7], d->xmat[9 * Id(m, mjOBJ_BODY, "torso") + 8]);
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_GT(negative[i], kSeeds / 5) << "component " << i;
    EXPECT_LT(negative[i], kSeeds - kSeeds / 5) << "component " << i;
  }
}

TEST(FishUprightTest, ObservationAfterStepDescribesTheNewState) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("fish-upright");
  ASSERT_NE(task, nullptr);
  std::vector<float> obs = ResetOrFail(*task, 9);
  const std::vector<float> action = {1.0f, -1.0f, 0.5f, -0.5f, 1.0f};
  for (int t = 0; t < 5; ++t) task->Step(action.data(), obs.data());
  // Recompute the kinematics of the current qpos in a scratch copy: the
  // upright entry must already describe it (dm_control's trailing mj_step1).
  const mjModel* m = task->model();
  mjData* fresh = mj_copyData(nullptr, m, task->data());
  mj_kinematics(m, fresh);
  EXPECT_FLOAT_EQ(obs[7], fresh->xmat[9 * Id(m, mjOBJ_BODY, "torso") + 8]);
  for (int i = 0; i < m->nv; ++i) EXPECT_FLOAT_EQ(obs[8 + i], task->data()->qvel[i]);
  mj_deleteData(fresh);
}

TEST(FishSwimTest, TargetIsDrawnPerEnvInsideItsBoxAndModelStaysUntouched) {
  std::vector<std::unique_ptr<MujocoTask>> tasks = TwoInstancesOfOneFactory("fish-swim");
  ASSERT_EQ(tasks.size(), 2u);
  MujocoTask& a = *tasks[0];
  MujocoTask& b = *tasks[1];
  const std::vector<double> target_a = WorldTargetFromObs(a, ResetOrFail(a, 1));
  const std::vector<double> target_b = WorldTargetFromObs(b, ResetOrFail(b, 2));
  for (const std::vector<double>& t : {target_a, target_b}) {
    EXPECT_LE(std::abs(t[0]), 0.4 + 1e-6);
    EXPECT_LE(std::abs(t[1]), 0.4 + 1e-6);
    EXPECT_GE(t[2], 0.1 - 1e-6);
    EXPECT_LE(t[2], 0.3 + 1e-6);
  }
  EXPECT_GT(std::hypot(target_a[0] - target_b[0], target_a[1] - target_b[1]), 1e-3);
  // b's reset did not move a's target, and the model's geom is where the XML put it.
  const std::vector<double> again = WorldTargetFromObs(a, Observe(a));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(again[i], target_a[i], 1e-6);
  const mjModel* m = a.model();
  const int geom = Id(m, mjOBJ_GEOM, "target");
  EXPECT_EQ(m->geom_pos[3 * geom + 0], 0.0);
  EXPECT_EQ(m->geom_pos[3 * geom + 1], 0.4);
  EXPECT_EQ(m->geom_pos[3 * geom + 2], 0.1);
}

TEST(FishSwimTest, RewardWithMouthOnTargetAndOneMarginAway) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("fish-swim");
  ASSERT_NE(task, nullptr);
  const std::vector<double> target = WorldTargetFromObs(*task, ResetOrFail(*task, 7));
  const double identity[4] = {1, 0, 0, 0};
  const double upside_down[4] = {0, 1, 0, 0};

  // Mouth on the target: in_target = 1; is_upright = (zz + 1) / 2.
  PlaceFish(*task, identity, target.data());
  EXPECT_NEAR(task->CurrentReward(), (7.0 + 1.0) / 8.0, 1e-12);
  const std::vector<float> obs = Observe(*task);
  for (int i = 8; i < 11; ++i) EXPECT_NEAR(obs[i], 0.0, 1e-6);
  PlaceFish(*task, upside_down, target.data());
  EXPECT_NEAR(task->CurrentReward(), (7.0 + 0.0) / 8.0, 1e-12);
  const double sideways[4] = {std::sqrt(0.5), std::sqrt(0.5), 0, 0};  // zz = 0
  PlaceFish(*task, sideways, target.data());
  EXPECT_NEAR(task->CurrentReward(), (7.0 + 0.5) / 8.0, 1e-9);

  // Bounds [0, 0.045] and margin 0.09: at distance 0.045 + 0.09 the
  // gaussian gives value_at_margin 0.1.
  const double radii = kFishMouthRadius + kFishTargetRadius;
  const double away = radii + 2.0 * radii;
  const double mouth[3] = {target[0] + away, target[1], target[2]};
  PlaceFish(*task, identity, mouth);
  EXPECT_NEAR(task->CurrentReward(), (7.0 * 0.1 + 1.0) / 8.0, 1e-5);
  // Just inside the bounds still counts fully.
  const double edge[3] = {target[0], target[1] + 0.99 * radii, target[2]};
  PlaceFish(*task, identity, edge);
  EXPECT_NEAR(task->CurrentReward(), 1.0, 1e-12);
}

TEST(FishSwimTest, MouthToTargetIsInTheMouthFrame) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("fish-swim");
  ASSERT_NE(task, nullptr);
  const std::vector<double> target = WorldTargetFromObs(*task, ResetOrFail(*task, 8));
  // A tilted fish, mouth offset from the target by w.
  const double half = 0.35;
  const double quat[4] = {std::cos(half), std::sin(half) * 0.6, 0.0, std::sin(half) * 0.8};
  const double w[3] = {0.01, -0.02, 0.03};
  const double mouth_world[3] = {target[0] - w[0], target[1] - w[1], target[2] - w[2]};
  PlaceFish(*task, quat, mouth_world);
  const std::vector<float> obs = Observe(*task);
  const mjModel* m = task->model();
  const mjtNum* rot = task->data()->geom_xmat + 9 * Id(m, mjOBJ_GEOM, "mouth");
  for (int i = 0; i < 3; ++i) {
    const double expected = rot[i] * w[0] + rot[3 + i] * w[1] + rot[6 + i] * w[2];
    EXPECT_NEAR(obs[8 + i], expected, 1e-6) << i;
  }
  // A rotation preserves length; a world-frame vector would differ from
  // the local one here because the mouth frame is not the identity.
  EXPECT_NEAR(std::sqrt(obs[8] * obs[8] + obs[9] * obs[9] + obs[10] * obs[10]),
              std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]), 1e-6);
  EXPECT_GT(std::abs(obs[8] - w[0]) + std::abs(obs[9] - w[1]) + std::abs(obs[10] - w[2]), 1e-3);
}

// -------------------------------------------------------------------------
// Humanoid.

constexpr double kTorsoZ0 = 1.5;      // torso body pos
constexpr double kHeadOffset = 0.19;  // head body pos relative to the torso

// qpos0 (standing, identity orientation, joints 0), zero velocity and
// control, kinematics computed.
void StandAtQpos0(MujocoTask& task) {
  mj_resetData(task.model(), task.data());
  mj_forward(task.model(), task.data());
}

TEST(HumanoidTest, HeadHeightAtQpos0ComesFromTheModel) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-stand");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  const int torso = Id(m, mjOBJ_BODY, "torso");
  const int head = Id(m, mjOBJ_BODY, "head");
  EXPECT_EQ(m->body_parentid[head], torso);
  EXPECT_DOUBLE_EQ(m->body_pos[3 * torso + 2], kTorsoZ0);
  EXPECT_DOUBLE_EQ(m->body_pos[3 * head + 2], kHeadOffset);
  StandAtQpos0(*task);
  const std::vector<float> obs = Observe(*task);
  EXPECT_FLOAT_EQ(obs[21], kTorsoZ0 + kHeadOffset);  // 1.69 >= 1.4: standing
}

TEST(HumanoidTest, ObservationLayoutAtQpos0) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-stand");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  mjData* d = task->data();
  ASSERT_EQ(m->nq, 28);
  ASSERT_EQ(m->nv, 27);
  StandAtQpos0(*task);
  // A com velocity we can recognise: the whole body translating.
  d->qvel[0] = 0.25;
  d->qvel[1] = -0.5;
  d->qvel[2] = 0.75;
  mj_forward(m, d);
  std::vector<float> obs = Observe(*task);
  for (int i = 0; i < 21; ++i) EXPECT_EQ(obs[i], 0.0f) << i;
  EXPECT_FLOAT_EQ(obs[21], 1.69f);
  // Extremities in torso coordinates, summed from the XML body positions
  // (the arm chains have identity body orientations):
  // left hand (0, .17, .06) + (.18, .18, -.18) + (.18, -.18, .18).
  EXPECT_NEAR(obs[22], 0.36, 1e-6);
  EXPECT_NEAR(obs[23], 0.17, 1e-6);
  EXPECT_NEAR(obs[24], 0.06, 1e-6);
  // Left foot: lower_waist, pelvis, thigh, shin, foot sum to (-0.01,
  // 0.1 - 0.01, -0.26 - 0.165 - 0.04 - 0.403 - 0.39). lower_waist and pelvis
  // are tilted by ~0.004 rad about y each, which moves x by < 0.01 and
  // leaves y exact.
  EXPECT_NEAR(obs[25], -0.01, 0.01);
  EXPECT_NEAR(obs[26], 0.09, 1e-6);
  EXPECT_NEAR(obs[27], -1.258, 0.01);
  // Right hand (0, -.17, .06) + (.18, -.18, -.18) + (.18, .18, .18).
  EXPECT_NEAR(obs[28], 0.36, 1e-6);
  EXPECT_NEAR(obs[29], -0.17, 1e-6);
  EXPECT_NEAR(obs[30], 0.06, 1e-6);
  // Right foot mirrors the left one.
  EXPECT_NEAR(obs[31], obs[25], 1e-6);
  EXPECT_NEAR(obs[32], -0.09, 1e-6);
  EXPECT_NEAR(obs[33], obs[27], 1e-6);
  // torso_vertical for the identity orientation.
  EXPECT_FLOAT_EQ(obs[34], 0.0f);
  EXPECT_FLOAT_EQ(obs[35], 0.0f);
  EXPECT_FLOAT_EQ(obs[36], 1.0f);
  // com_velocity, then qvel.
  EXPECT_NEAR(obs[37], 0.25, 1e-6);
  EXPECT_NEAR(obs[38], -0.5, 1e-6);
  EXPECT_NEAR(obs[39], 0.75, 1e-6);
  for (int i = 0; i < 27; ++i) EXPECT_FLOAT_EQ(obs[40 + i], d->qvel[i]);

  // Rolled 90 degrees about x: R = [[1,0,0],[0,0,-1],[0,1,0]], so the world
  // z axis in torso coordinates is (0, 1, 0); limbs stay put in the torso
  // frame because the body is rigid at qpos0.
  const std::vector<float> upright = obs;
  d->qpos[3] = std::sqrt(0.5);
  d->qpos[4] = std::sqrt(0.5);
  mj_forward(m, d);
  obs = Observe(*task);
  EXPECT_NEAR(obs[34], 0.0, 1e-6);
  EXPECT_NEAR(obs[35], 1.0, 1e-6);
  EXPECT_NEAR(obs[36], 0.0, 1e-6);
  for (int i = 22; i < 34; ++i) EXPECT_NEAR(obs[i], upright[i], 1e-6) << i;
  // The head is now level with the torso.
  EXPECT_NEAR(obs[21], kTorsoZ0, 1e-6);
}

TEST(HumanoidTest, JointAnglesAreQposAfterTheRootAndObsIsFreshAfterStep) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-walk");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  std::vector<float> obs = ResetOrFail(*task, 21);
  std::vector<float> action(21, 0.3f);
  for (int t = 0; t < 3; ++t) task->Step(action.data(), obs.data());
  const mjData* d = task->data();
  for (int i = 0; i < 21; ++i) EXPECT_FLOAT_EQ(obs[i], d->qpos[7 + i]) << i;
  // The joint order in qpos starts abdomen_z, abdomen_y (the actuators start
  // abdomen_y, abdomen_z).
  EXPECT_EQ(QposAdr(m, "abdomen_z"), 7);
  EXPECT_EQ(QposAdr(m, "abdomen_y"), 8);
  EXPECT_EQ(m->actuator_trnid[2 * Id(m, mjOBJ_ACTUATOR, "abdomen_y")],
            Id(m, mjOBJ_JOINT, "abdomen_y"));
  for (int i = 0; i < 21; ++i) EXPECT_FLOAT_EQ(d->ctrl[i], 0.3);
  // Head height and torso orientation describe the current qpos.
  mjData* fresh = mj_copyData(nullptr, m, d);
  mj_kinematics(m, fresh);
  const int head = Id(m, mjOBJ_BODY, "head");
  const int torso = Id(m, mjOBJ_BODY, "torso");
  EXPECT_FLOAT_EQ(obs[21], fresh->xpos[3 * head + 2]);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(obs[34 + i], fresh->xmat[9 * torso + 6 + i]);
  mj_deleteData(fresh);
  for (int i = 0; i < 27; ++i) EXPECT_FLOAT_EQ(obs[40 + i], d->qvel[i]);
}

TEST(HumanoidTest, StandRewardAtConstructedStates) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-stand");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  mjData* d = task->data();

  // qpos0: head at 1.69 >= 1.4, zz = 1, zero control, zero velocity.
  StandAtQpos0(*task);
  ASSERT_GE(d->xpos[3 * Id(m, mjOBJ_BODY, "head") + 2], 1.4);
  EXPECT_DOUBLE_EQ(task->CurrentReward(), 1.0);

  // small_control = (4 + mean(1 - u^2)) / 5 on the raw control.
  for (int i = 0; i < m->nu; ++i) d->ctrl[i] = 0.5;
  EXPECT_NEAR(task->CurrentReward(), (4.0 + 0.75) / 5.0, 1e-12);
  for (int i = 0; i < m->nu; ++i) d->ctrl[i] = 2.0;  // beyond ctrlrange: not clipped
  EXPECT_NEAR(task->CurrentReward(), 4.0 / 5.0, 1e-12);
  for (int i = 0; i < m->nu; ++i) d->ctrl[i] = (i == 0) ? 1.0 : 0.0;
  EXPECT_NEAR(task->CurrentReward(), (4.0 + 20.0 / 21.0) / 5.0, 1e-12);

  // dont_move: mean over x, y of tol(v; 0, 0, margin 2); 2 m/s is one margin.
  StandAtQpos0(*task);
  d->qvel[0] = 2.0;
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), (0.1 + 1.0) / 2.0, 1e-9);
  d->qvel[1] = -2.0;
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), 0.1, 1e-9);
  d->qvel[0] = d->qvel[1] = 0.0;
  d->qvel[2] = 3.0;  // vertical motion does not count
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), 1.0, 1e-9);

  // standing: head one margin (1.4 / 4) below 1.4 gives 0.1.
  StandAtQpos0(*task);
  d->qpos[2] = 1.4 - 0.35 - kHeadOffset;
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), 0.1, 1e-9);
  // Half a margin: exp(-0.5 (k / 2)^2).
  d->qpos[2] = 1.4 - 0.175 - kHeadOffset;
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), std::exp(-0.5 * std::pow(kGaussianK / 2.0, 2)), 1e-9);

  // upright: tilted 60 degrees about x (zz = 0.5), lifted so the head stays
  // above 1.4: (1 + zz) / 1.9.
  StandAtQpos0(*task);
  d->qpos[2] = 1.6;
  d->qpos[3] = std::cos(M_PI / 6);
  d->qpos[4] = std::sin(M_PI / 6);
  mj_forward(m, d);
  ASSERT_GE(d->xpos[3 * Id(m, mjOBJ_BODY, "head") + 2], 1.4);
  EXPECT_NEAR(task->CurrentReward(), 1.5 / 1.9, 1e-9);
  // Upside down: zz = -1 is one margin (1.9) below 0.9 -> 0.
  StandAtQpos0(*task);
  d->qpos[2] = 3.0;
  d->qpos[3] = 0.0;
  d->qpos[4] = 1.0;
  mj_forward(m, d);
  EXPECT_NEAR(task->CurrentReward(), 0.0, 1e-12);
}

TEST(HumanoidTest, WalkAndRunRewardsFollowHorizontalComSpeed) {
  std::unique_ptr<MujocoTask> walk = MakeMujocoTaskOrDie("humanoid-walk");
  std::unique_ptr<MujocoTask> run = MakeMujocoTaskOrDie("humanoid-run");
  ASSERT_NE(walk, nullptr);
  ASSERT_NE(run, nullptr);
  // reward = small_control * stand * (5 move + 1) / 6, move = clamp(speed / V).
  auto reward_at = [](MujocoTask& task, double vx, double vy, double vz) {
    StandAtQpos0(task);
    task.data()->qvel[0] = vx;
    task.data()->qvel[1] = vy;
    task.data()->qvel[2] = vz;
    mj_forward(task.model(), task.data());
    return task.CurrentReward();
  };
  EXPECT_NEAR(reward_at(*walk, 0, 0, 0), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(reward_at(*walk, 0.3, 0.4, 0), (5 * 0.5 + 1) / 6.0, 1e-9);
  EXPECT_NEAR(reward_at(*walk, -0.6, 0.8, 0), 1.0, 1e-9);
  EXPECT_NEAR(reward_at(*walk, 3.0, 4.0, 0), 1.0, 1e-9);
  EXPECT_NEAR(reward_at(*walk, 0, 0, 5.0), 1.0 / 6.0, 1e-9);
  EXPECT_NEAR(reward_at(*run, 0.3, 0.4, 0), (5 * 0.05 + 1) / 6.0, 1e-9);
  EXPECT_NEAR(reward_at(*run, 3.0, 4.0, 0), (5 * 0.5 + 1) / 6.0, 1e-9);
  EXPECT_NEAR(reward_at(*run, 6.0, -8.0, 0), 1.0, 1e-9);
  // So do the standing and upright factors: tilted 60 degrees about x and
  // lifted so the head stays above 1.4, upright = (1 + 0.5) / 1.9; head one
  // margin too low, standing = 0.1.
  StandAtQpos0(*walk);
  walk->data()->qpos[2] = 1.6;
  walk->data()->qpos[3] = std::cos(M_PI / 6);
  walk->data()->qpos[4] = std::sin(M_PI / 6);
  walk->data()->qvel[0] = 1.0;
  mj_forward(walk->model(), walk->data());
  EXPECT_NEAR(walk->CurrentReward(), 1.5 / 1.9, 1e-9);
  StandAtQpos0(*run);
  run->data()->qpos[2] = 1.4 - 0.35 - kHeadOffset;
  run->data()->qvel[1] = 10.0;
  mj_forward(run->model(), run->data());
  EXPECT_NEAR(run->CurrentReward(), 0.1, 1e-9);
  // The control factor multiplies as in Stand.
  StandAtQpos0(*walk);
  walk->data()->qvel[0] = 1.0;
  for (int i = 0; i < walk->model()->nu; ++i) walk->data()->ctrl[i] = -0.5;
  mj_forward(walk->model(), walk->data());
  EXPECT_NEAR(walk->CurrentReward(), (4.0 + 0.75) / 5.0, 1e-9);
}

TEST(HumanoidResetTest, RandomPosesSometimesTouch) {
  // Makes the no-contact test below meaningful (dm_control: ~1.2-1.7 draws
  // per reset).
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-stand");
  ASSERT_NE(task, nullptr);
  mjData* d = mj_makeData(task->model());
  Rng rng(13);
  int touching = 0;
  for (int i = 0; i < 50; ++i) {
    RandomizeLimitedAndRotationalJoints(task->model(), d, rng);
    mj_forward(task->model(), d);
    if (d->ncon > 0) ++touching;
  }
  mj_deleteData(d);
  EXPECT_GT(touching, 0);
}

TEST(HumanoidResetTest, ResetIsCollisionFreeAtRestWithPositiveOrthantQuaternion) {
  std::unique_ptr<MujocoTask> task = MakeMujocoTaskOrDie("humanoid-run");
  ASSERT_NE(task, nullptr);
  const mjModel* m = task->model();
  std::vector<std::vector<float>> starts;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    starts.push_back(ResetOrFail(*task, seed));
    const mjData* d = task->data();
    EXPECT_EQ(d->ncon, 0) << "seed " << seed;
    EXPECT_EQ(d->qpos[0], 0.0);
    EXPECT_EQ(d->qpos[1], 0.0);
    EXPECT_EQ(d->qpos[2], 1.5);
    double norm2 = 0.0;
    for (int i = 3; i < 7; ++i) {
      EXPECT_GE(d->qpos[i], 0.0);  // dm_control's U[0,1)^4 quirk
      norm2 += d->qpos[i] * d->qpos[i];
    }
    EXPECT_NEAR(norm2, 1.0, 1e-12);
    for (int j = 1; j < m->njnt; ++j) {
      ASSERT_TRUE(m->jnt_limited[j]);
      const double q = d->qpos[m->jnt_qposadr[j]];
      EXPECT_GE(q, m->jnt_range[2 * j]);
      EXPECT_LE(q, m->jnt_range[2 * j + 1]);
    }
    for (int i = 0; i < m->nv; ++i) EXPECT_EQ(d->qvel[i], 0.0);
  }
  EXPECT_NE(starts[0], starts[1]);
}

// -------------------------------------------------------------------------
// Long random rollouts: the same seed replays the same trajectory (rewards
// stay in [0, 1], nothing diverges or ends early), another seed starts
// elsewhere.

struct RolloutCase {
  std::string name;
  uint64_t seed;
  int steps;
};
void PrintTo(const RolloutCase& c, std::ostream* os) { *os << c.name; }

class DmcDeterminismTest : public ::testing::TestWithParam<RolloutCase> {};

TEST_P(DmcDeterminismTest, SameSeedSameTrajectoryDifferentSeedDifferentStart) {
  const RolloutCase& c = GetParam();
  std::unique_ptr<Task> a = MakeTaskOrDie(c.name);
  std::unique_ptr<Task> b = MakeTaskOrDie(c.name);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const RolloutSummary ra = RandomRollout(*a, c.seed, c.steps);
  const RolloutSummary rb = RandomRollout(*b, c.seed, c.steps);
  EXPECT_EQ(ra.steps, c.steps);
  EXPECT_FALSE(ra.diverged);
  EXPECT_FALSE(ra.terminated);
  EXPECT_EQ(ra.observations, rb.observations);
  EXPECT_EQ(ra.total_reward, rb.total_reward);
  EXPECT_GE(ra.min_reward, 0.0);
  EXPECT_LE(ra.max_reward, 1.0);
  EXPECT_NE(ResetOrFail(*a, 1), ResetOrFail(*b, 2));
}

// The prefix makes the names match the Finger*, Fish* and Humanoid* filters.
INSTANTIATE_TEST_SUITE_P(FingerFishHumanoid, DmcDeterminismTest,
                         ::testing::Values(RolloutCase{"finger-turn-hard", 42, 1000},
                                           RolloutCase{"fish-swim", 5, 300},
                                           RolloutCase{"humanoid-walk", 3, 200}),
                         TaskParamName());

}  // namespace
}  // namespace gorl::envs
