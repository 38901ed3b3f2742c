// Helpers for the dm_control task tests, which build states by hand (editing
// qpos/qvel/ctrl, then mj_forward) and compare rewards with closed forms.
#ifndef GORL_TESTS_ENVS_DMC_TEST_UTIL_H_
#define GORL_TESTS_ENVS_DMC_TEST_UTIL_H_

#include <mujoco/mujoco.h>

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "envs/mujoco_task.h"

namespace gorl::envs::testing {

// sqrt(-2 ln 0.1): the gaussian sigmoid's scale for value_at_margin 0.1.
inline const double kGaussianK = std::sqrt(-2.0 * std::log(0.1));

// dm_control's gaussian tolerance at `d` margins outside the bounds.
inline double GaussianSigmoid(double d) {
  return std::exp(-0.5 * (d * kGaussianK) * (d * kGaussianK));
}

// The id of the named object of `type`; fails the test when there is none.
inline int Id(const mjModel* m, mjtObj type, const char* name) {
  const int id = mj_name2id(m, type, name);
  EXPECT_GE(id, 0) << "no " << mju_type2Str(type) << " named " << name;
  return id;
}
inline int JointId(const mjModel* m, const char* joint) { return Id(m, mjOBJ_JOINT, joint); }

// Where the joint's first position / velocity coordinate sits in qpos / qvel.
inline int QposAdr(const mjModel* m, const char* joint) {
  return m->jnt_qposadr[JointId(m, joint)];
}
inline int DofAdr(const mjModel* m, const char* joint) { return m->jnt_dofadr[JointId(m, joint)]; }

// The joint's (first) position / velocity coordinate, to read or set.
inline double& Qpos(MujocoTask& task, const char* joint) {
  return task.data()->qpos[QposAdr(task.model(), joint)];
}
inline double& Qvel(MujocoTask& task, const char* joint) {
  return task.data()->qvel[DofAdr(task.model(), joint)];
}

// The observation of the current state (after the caller's mj_forward).
inline std::vector<float> Observe(MujocoTask& task) {
  std::vector<float> obs(task.spec().obs_size);
  task.CurrentObservation(obs.data());
  return obs;
}

}  // namespace gorl::envs::testing

#endif  // GORL_TESTS_ENVS_DMC_TEST_UTIL_H_
