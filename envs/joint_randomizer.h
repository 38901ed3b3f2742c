// dm_control's randomize_limited_and_rotational_joints
// (dm_control/suite/utils/randomizers.py at 1.0.7), over every joint in model
// order:
//   limited hinge/slide -> uniform in jnt_range (radians after compilation);
//   limited ball        -> random axis (normalised 3-D Gaussian), angle
//                          uniform in [0, range_max);
//   unlimited hinge     -> uniform in [-pi, pi];
//   unlimited ball      -> normalised 4-D Gaussian quaternion;
//   free joint          -> position untouched, quaternion = normalised
//                          U[0,1)^4 (positive orthant: dm_control's quirk, kept);
//   unlimited slide     -> untouched.
#ifndef GORL_ENVS_JOINT_RANDOMIZER_H_
#define GORL_ENVS_JOINT_RANDOMIZER_H_

#include <mujoco/mujoco.h>

#include "common/random.h"

namespace gorl::envs {

void RandomizeLimitedAndRotationalJoints(const mjModel* model, mjData* data, Rng& rng);

}  // namespace gorl::envs

#endif  // GORL_ENVS_JOINT_RANDOMIZER_H_
