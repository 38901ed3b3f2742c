// HumanoidStand, HumanoidWalk, HumanoidRun (dm_control/suite/humanoid.py at
// 1.0.7; docs/tasks.md §2.6).
//
// The actuator order differs from the joint order (abdomen_y comes before
// abdomen_z, ankles x before y). Nothing here maps between them: actions go
// to data->ctrl in actuator order, the control reward reads data->ctrl, and
// the joint_angles observation is qpos in joint order, all as in dm_control.
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "envs/joint_randomizer.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

constexpr double kStandHeight = 1.4;
constexpr double kWalkSpeed = 1.0;
constexpr double kRunSpeed = 10.0;
// dm_control loops without a bound until the pose is collision-free (about
// 1.2-1.7 draws on average); we stop at a bound no sane model reaches and
// report an error instead of hanging a worker.
constexpr int kMaxCollisionFreeAttempts = 10000;
// qpos[0:7] is the free root joint; the 21 hinges follow.
constexpr int kRootQposSize = 7;

class Humanoid : public MujocoTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model,
                                                      double move_speed) {
    Indices ix;
    GORL_ASSIGN_OR_RETURN(ix.torso, model->BodyId("torso"));
    GORL_ASSIGN_OR_RETURN(ix.head, model->BodyId("head"));
    // dm_control's extremities order: left then right, hand then foot.
    const char* const limbs[4] = {"left_hand", "left_foot", "right_hand", "right_foot"};
    for (int i = 0; i < 4; ++i) {
      GORL_ASSIGN_OR_RETURN(ix.limbs[i], model->BodyId(limbs[i]));
    }
    GORL_ASSIGN_OR_RETURN(ix.com_velocity, model->SensorAdr("torso_subtreelinvel"));
    const mjModel* m = model->get();
    if (m->nq <= kRootQposSize || m->jnt_type[0] != mjJNT_FREE) {
      return absl::FailedPreconditionError(
          absl::StrCat(spec.name, ": expected a free root joint first in ", model->path()));
    }
    return std::unique_ptr<Task>(new Humanoid(spec, std::move(model), ix, move_speed));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // Redraw until no geom touches anything (floor or self). The forward
    // without actuation is dm_control's physics.after_reset().
    for (int attempt = 0; attempt < kMaxCollisionFreeAttempts; ++attempt) {
      RandomizeLimitedAndRotationalJoints(model_, data_, rng);
      ForwardWithoutActuation();
      if (data_->ncon == 0) return absl::OkStatus();
    }
    return absl::InternalError(absl::StrCat(spec_.name, ": no collision-free initial pose in ",
                                            kMaxCollisionFreeAttempts, " attempts"));
  }

  double ComputeReward() override {
    const double standing = Tolerance(
        HeadHeight(), {.lower = kStandHeight, .upper = kInf, .margin = kStandHeight / 4.0});
    const double upright = Tolerance(TorsoRot(2, 2), {.lower = 0.9,
                                                      .upper = kInf,
                                                      .margin = 1.9,
                                                      .sigmoid = Sigmoid::kLinear,
                                                      .value_at_margin = 0.0});
    const double small_control = (4.0 + MeanSmallControl()) / 5.0;
    const double* com_velocity = data_->sensordata + ix_.com_velocity;
    if (move_speed_ == 0.0) {
      const ToleranceParams still = {.margin = 2.0};
      const double dont_move =
          0.5 * (Tolerance(com_velocity[0], still) + Tolerance(com_velocity[1], still));
      return small_control * standing * upright * dont_move;
    }
    const double speed = std::hypot(com_velocity[0], com_velocity[1]);
    const double move = Tolerance(speed, {.lower = move_speed_,
                                          .upper = kInf,
                                          .margin = move_speed_,
                                          .sigmoid = Sigmoid::kLinear,
                                          .value_at_margin = 0.0});
    return small_control * standing * upright * (5.0 * move + 1.0) / 6.0;
  }

  // joint_angles (21), head_height (1), extremities (12), torso_vertical (3),
  // com_velocity (3), velocity (27).
  void WriteObservation(float* obs) override {
    int k = 0;
    for (int i = kRootQposSize; i < model_->nq; ++i) obs[k++] = static_cast<float>(data_->qpos[i]);
    obs[k++] = static_cast<float>(HeadHeight());
    const mjtNum* torso_pos = data_->xpos + 3 * ix_.torso;
    for (int limb : ix_.limbs) {
      const mjtNum* limb_pos = data_->xpos + 3 * limb;
      const double world[3] = {limb_pos[0] - torso_pos[0], limb_pos[1] - torso_pos[1],
                               limb_pos[2] - torso_pos[2]};
      // R_torso^T (limb - torso): the limb in torso coordinates.
      for (int i = 0; i < 3; ++i) {
        obs[k++] = static_cast<float>(TorsoRot(0, i) * world[0] + TorsoRot(1, i) * world[1] +
                                      TorsoRot(2, i) * world[2]);
      }
    }
    // The world z axis in torso coordinates: the last row of R_torso.
    for (int i = 0; i < 3; ++i) obs[k++] = static_cast<float>(TorsoRot(2, i));
    for (int i = 0; i < 3; ++i)
      obs[k++] = static_cast<float>(data_->sensordata[ix_.com_velocity + i]);
    for (int i = 0; i < model_->nv; ++i) obs[k++] = static_cast<float>(data_->qvel[i]);
  }

 private:
  struct Indices {
    int torso;
    int head;
    std::array<int, 4> limbs;
    int com_velocity;  // sensordata address of torso_subtreelinvel
  };

  Humanoid(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model, const Indices& ix,
           double move_speed)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl),
        ix_(ix),
        move_speed_(move_speed) {}

  double HeadHeight() const { return data_->xpos[3 * ix_.head + 2]; }
  // Entry (row, col) of the torso's body-to-world rotation.
  double TorsoRot(int row, int col) const { return data_->xmat[9 * ix_.torso + 3 * row + col]; }

  // Mean over actuators of tol(ctrl; 0, 0, margin 1, quadratic, 0), i.e.
  // max(0, 1 - ctrl^2), on the raw (unclipped) control.
  double MeanSmallControl() const {
    const ToleranceParams params = {
        .margin = 1.0, .sigmoid = Sigmoid::kQuadratic, .value_at_margin = 0.0};
    double sum = 0.0;
    for (int i = 0; i < model_->nu; ++i) sum += Tolerance(data_->ctrl[i], params);
    return sum / model_->nu;
  }

  const Indices ix_;
  const double move_speed_;  // 0 for Stand
};

void AddHumanoid(std::vector<TaskRegistration>& tasks, const char* name, double move_speed) {
  TaskSpec spec;
  spec.name = name;
  spec.family = "dm_control";
  spec.model_file = "dm_control/humanoid.xml";
  spec.obs_size = 67;
  spec.action_size = 21;
  spec.control_timestep = 0.025;
  spec.physics_substeps = 5;
  tasks.push_back(MujocoTaskRegistration(
      spec, [move_speed](const TaskSpec& s, std::shared_ptr<const MujocoModel> model) {
        return Humanoid::Create(s, std::move(model), move_speed);
      }));
}

}  // namespace

void AddHumanoidTasks(std::vector<TaskRegistration>& tasks) {
  AddHumanoid(tasks, "humanoid-stand", 0.0);
  AddHumanoid(tasks, "humanoid-walk", kWalkSpeed);
  AddHumanoid(tasks, "humanoid-run", kRunSpeed);
}

}  // namespace gorl::envs
