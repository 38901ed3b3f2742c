// Gym MuJoCo v2 locomotion: Hopper-v2, Walker2d-v2, HalfCheetah-v2
// (gym/envs/mujoco/*.py at v0.21.0, assets at 1b09a7eb; docs/tasks.md §4).
//
// Gym semantics: ctrl = action, frame_skip x mj_step, observations from
// qpos/qvel only; reward from the torso's x displacement over the step.
// Hopper and Walker2d terminate when they leave their healthy range; the
// alive bonus is paid on the terminating step too.
#include <algorithm>
#include <cmath>

#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"

namespace gorl::envs {
namespace {

enum class GymRobot { kHopper, kWalker2d, kHalfCheetah };

class GymLocomotion : public MujocoTask {
 public:
  GymLocomotion(GymRobot robot, const TaskSpec& spec, std::shared_ptr<const MujocoModel> model)
      : MujocoTask(spec, std::move(model), StepSemantics::kGym), robot_(robot) {}

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // mj_resetData has put qpos = qpos0 and qvel = 0; add Gym's noise.
    if (robot_ == GymRobot::kHalfCheetah) {
      for (int i = 0; i < model_->nq; ++i) data_->qpos[i] += rng.Uniform(-0.1, 0.1);
      for (int i = 0; i < model_->nv; ++i) data_->qvel[i] += 0.1 * rng.Normal();
    } else {
      for (int i = 0; i < model_->nq; ++i) data_->qpos[i] += rng.Uniform(-0.005, 0.005);
      for (int i = 0; i < model_->nv; ++i) data_->qvel[i] += rng.Uniform(-0.005, 0.005);
    }
    return absl::OkStatus();
  }

  void BeforePhysics() override { x_before_ = data_->qpos[0]; }

  double ComputeReward() override {
    const double forward = (data_->qpos[0] - x_before_) / spec_.control_timestep;
    // Control costs see the raw action (MuJoCo clamps only its own copy).
    double squared_action = 0.0;
    for (int i = 0; i < model_->nu; ++i) squared_action += data_->ctrl[i] * data_->ctrl[i];
    if (robot_ == GymRobot::kHalfCheetah) return forward - 0.1 * squared_action;
    return forward + 1.0 - 1e-3 * squared_action;
  }

  void WriteObservation(float* obs) override {
    // qpos[1:] (drops rootx) and qvel, clipped to [-10, 10] except for the cheetah.
    int k = 0;
    for (int i = 1; i < model_->nq; ++i) obs[k++] = static_cast<float>(data_->qpos[i]);
    const bool clip = robot_ != GymRobot::kHalfCheetah;
    for (int i = 0; i < model_->nv; ++i) {
      const double v = data_->qvel[i];
      obs[k++] = static_cast<float>(clip ? std::clamp(v, -10.0, 10.0) : v);
    }
  }

  bool IsTerminal() override {
    const double height = data_->qpos[1], angle = data_->qpos[2];
    switch (robot_) {
      case GymRobot::kHopper: {
        // Healthy: every state entry finite, |s_i| < 100 for s = [qpos, qvel]
        // without rootx and rootz, height > 0.7 and |angle| < 0.2.
        bool healthy = height > 0.7 && std::abs(angle) < 0.2;
        for (int i = 0; i < model_->nq; ++i) {
          healthy = healthy && std::isfinite(data_->qpos[i]) &&
                    (i < 2 || std::abs(data_->qpos[i]) < 100.0);
        }
        for (int i = 0; i < model_->nv; ++i) {
          healthy = healthy && std::isfinite(data_->qvel[i]) && std::abs(data_->qvel[i]) < 100.0;
        }
        return !healthy;
      }
      case GymRobot::kWalker2d:
        return !(height > 0.8 && height < 2.0 && angle > -1.0 && angle < 1.0);
      case GymRobot::kHalfCheetah:
        return false;
    }
    return false;
  }

 private:
  const GymRobot robot_;
  double x_before_ = 0.0;
};

TaskRegistration GymRegistration(const char* name, const char* file, GymRobot robot, int obs,
                                 int act, double dt, int frame_skip) {
  TaskSpec spec;
  spec.name = name;
  spec.family = "gym";
  spec.model_file = file;
  spec.obs_size = obs;
  spec.action_size = act;
  spec.control_timestep = dt;
  spec.physics_substeps = frame_skip;
  spec.can_terminate = robot != GymRobot::kHalfCheetah;
  return MujocoTaskRegistration(
      spec,
      [robot](const TaskSpec& s,
              std::shared_ptr<const MujocoModel> m) -> absl::StatusOr<std::unique_ptr<Task>> {
        return std::unique_ptr<Task>(new GymLocomotion(robot, s, std::move(m)));
      });
}

}  // namespace

void AddGymLocomotionTasks(std::vector<TaskRegistration>& tasks) {
  tasks.push_back(
      GymRegistration("hopper-v2", "gym/hopper.xml", GymRobot::kHopper, 11, 3, 0.008, 4));
  tasks.push_back(
      GymRegistration("walker2d-v2", "gym/walker2d.xml", GymRobot::kWalker2d, 17, 6, 0.008, 4));
  tasks.push_back(GymRegistration("halfcheetah-v2", "gym/half_cheetah.xml", GymRobot::kHalfCheetah,
                                  17, 6, 0.05, 5));
}

}  // namespace gorl::envs
