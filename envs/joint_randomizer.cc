#include "envs/joint_randomizer.h"

#include <cmath>

namespace gorl::envs {
namespace {

void NormalizeQuat(double* q) {
  const double norm = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  for (int i = 0; i < 4; ++i) q[i] /= norm;
}

}  // namespace

void RandomizeLimitedAndRotationalJoints(const mjModel* model, mjData* data, Rng& rng) {
  for (int j = 0; j < model->njnt; ++j) {
    const bool limited = model->jnt_limited[j] != 0;
    const double lo = model->jnt_range[2 * j];
    const double hi = model->jnt_range[2 * j + 1];
    double* qpos = data->qpos + model->jnt_qposadr[j];
    switch (model->jnt_type[j]) {
      case mjJNT_HINGE:
        qpos[0] = limited ? rng.Uniform(lo, hi) : rng.Uniform(-M_PI, M_PI);
        break;
      case mjJNT_SLIDE:
        if (limited) qpos[0] = rng.Uniform(lo, hi);
        break;
      case mjJNT_BALL:
        if (limited) {
          double axis[3] = {rng.Normal(), rng.Normal(), rng.Normal()};
          const double norm = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
          for (double& a : axis) a /= norm;
          const double angle = rng.Uniform(0.0, hi);
          mju_axisAngle2Quat(qpos, axis, angle);
        } else {
          for (int i = 0; i < 4; ++i) qpos[i] = rng.Normal();
          NormalizeQuat(qpos);
        }
        break;
      case mjJNT_FREE:
        for (int i = 0; i < 4; ++i) qpos[3 + i] = rng.Uniform();
        NormalizeQuat(qpos + 3);
        break;
    }
  }
}

}  // namespace gorl::envs
