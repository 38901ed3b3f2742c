#include "envs/joint_randomizer.h"

#include <cmath>

#include <gtest/gtest.h>

#include "envs/assets.h"
#include "envs/mujoco_model.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

std::shared_ptr<MujocoModel> LoadOrDie(const std::string& relative) {
  auto dir = ResolveAssetsDir("");
  GORL_EXPECT_OK(dir);
  if (!dir.ok()) return nullptr;
  auto model = MujocoModel::Load(*dir + "/" + relative);
  GORL_EXPECT_OK(model);
  return model.ok() ? *model : nullptr;
}

TEST(JointRandomizerTest, HopperJointsFollowTheirTypeAndLimits) {
  auto model = LoadOrDie("dm_control/hopper.xml");
  ASSERT_NE(model, nullptr);
  const mjModel* m = model->get();
  mjData* d = mj_makeData(m);
  Rng rng(4);
  double min_rooty = 10, max_rooty = -10;
  for (int trial = 0; trial < 500; ++trial) {
    mj_resetData(m, d);
    RandomizeLimitedAndRotationalJoints(m, d, rng);
    // rootx, rootz: unlimited slides, untouched.
    EXPECT_EQ(d->qpos[0], m->qpos0[0]);
    EXPECT_EQ(d->qpos[1], m->qpos0[1]);
    // rooty: unlimited hinge, uniform in [-pi, pi].
    min_rooty = std::min(min_rooty, d->qpos[2]);
    max_rooty = std::max(max_rooty, d->qpos[2]);
    // waist, hip, knee, ankle: limited hinges, inside their (radian) ranges.
    for (int j = 3; j < m->njnt; ++j) {
      ASSERT_TRUE(m->jnt_limited[j]);
      EXPECT_GE(d->qpos[m->jnt_qposadr[j]], m->jnt_range[2 * j]);
      EXPECT_LE(d->qpos[m->jnt_qposadr[j]], m->jnt_range[2 * j + 1]);
    }
  }
  EXPECT_GE(min_rooty, -M_PI);
  EXPECT_LE(max_rooty, M_PI);
  EXPECT_LT(min_rooty, -3.0);  // the whole circle is covered
  EXPECT_GT(max_rooty, 3.0);
  // The knee range is 5..150 degrees, compiled to radians.
  const int knee = mj_name2id(m, mjOBJ_JOINT, "knee");
  EXPECT_NEAR(m->jnt_range[2 * knee], 5 * M_PI / 180, 1e-9);
  EXPECT_NEAR(m->jnt_range[2 * knee + 1], 150 * M_PI / 180, 1e-9);
  mj_deleteData(d);
}

TEST(JointRandomizerTest, FreeJointKeepsPositionAndDrawsAPositiveOrthantQuaternion) {
  auto model = LoadOrDie("dm_control/humanoid.xml");
  ASSERT_NE(model, nullptr);
  const mjModel* m = model->get();
  mjData* d = mj_makeData(m);
  Rng rng(8);
  for (int trial = 0; trial < 100; ++trial) {
    mj_resetData(m, d);
    RandomizeLimitedAndRotationalJoints(m, d, rng);
    EXPECT_EQ(d->qpos[0], 0.0);
    EXPECT_EQ(d->qpos[1], 0.0);
    EXPECT_EQ(d->qpos[2], 1.5);
    double norm = 0;
    for (int i = 3; i < 7; ++i) {
      EXPECT_GE(d->qpos[i], 0.0);  // dm_control's U[0,1)^4 quirk
      norm += d->qpos[i] * d->qpos[i];
    }
    EXPECT_NEAR(norm, 1.0, 1e-12);
  }
  mj_deleteData(d);
}

}  // namespace
}  // namespace gorl::envs
