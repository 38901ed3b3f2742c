// FishUpright, FishSwim (dm_control/suite/fish.py at 1.0.7; docs/tasks.md
// §2.5).
//
// dm_control's Swim moves the world geom `target` in the model every
// episode. The fish model has all constraints disabled, so that geom takes no
// part in the dynamics; each Swim instance keeps its own target position
// instead of editing the model that other envs share.
#include <array>
#include <cmath>

#include "common/status_macros.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

constexpr int kNumJoints = 7;
// The hinges in dm_control's _JOINTS order (the observation order).
constexpr std::array<const char*, kNumJoints> kJoints = {
    "tail1",          "tail_twist",   "tail2",        "finright_roll",
    "finright_pitch", "finleft_roll", "finleft_pitch"};
constexpr double kJointInitRange = 0.2;  // hinges start uniform in [-0.2, 0.2]

// Addresses both tasks read.
struct FishIndices {
  int root_qpos;  // free joint: x, y, z, qw, qx, qy, qz
  std::array<int, kNumJoints> joint_qpos;
  int torso;  // body

  static absl::StatusOr<FishIndices> Find(const MujocoModel& model) {
    FishIndices ix;
    GORL_ASSIGN_OR_RETURN(ix.root_qpos, model.JointQposAdr("root"));
    for (int i = 0; i < kNumJoints; ++i) {
      GORL_ASSIGN_OR_RETURN(ix.joint_qpos[i], model.JointQposAdr(kJoints[i]));
    }
    GORL_ASSIGN_OR_RETURN(ix.torso, model.BodyId("torso"));
    return ix;
  }
};

class FishTask : public MujocoTask {
 protected:
  FishTask(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
           const FishIndices& indices)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl), ix_(indices) {}

  // A uniformly random orientation (normalised 4-D standard normal) and
  // small hinge angles; the root position stays at qpos0.
  void RandomizePose(Rng& rng) {
    double* quat = data_->qpos + ix_.root_qpos + 3;
    double norm2 = 0.0;
    for (int i = 0; i < 4; ++i) {
      quat[i] = rng.Normal();
      norm2 += quat[i] * quat[i];
    }
    const double norm = std::sqrt(norm2);
    for (int i = 0; i < 4; ++i) quat[i] /= norm;
    for (int adr : ix_.joint_qpos) {
      data_->qpos[adr] = rng.Uniform(-kJointInitRange, kJointInitRange);
    }
  }

  // The torso's zz: cosine of the angle between its z axis and the world's.
  double Upright() const { return data_->xmat[9 * ix_.torso + 8]; }

  int WriteJointAngles(float* obs) const {
    for (int i = 0; i < kNumJoints; ++i)
      obs[i] = static_cast<float>(data_->qpos[ix_.joint_qpos[i]]);
    return kNumJoints;
  }

  int WriteVelocity(float* obs) const {
    for (int i = 0; i < model_->nv; ++i) obs[i] = static_cast<float>(data_->qvel[i]);
    return model_->nv;
  }

  const FishIndices ix_;
};

class FishUpright : public FishTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const FishIndices indices, FishIndices::Find(*model));
    return std::unique_ptr<Task>(new FishUpright(spec, std::move(model), indices));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    RandomizePose(rng);
    return absl::OkStatus();
  }

  double ComputeReward() override {
    return Tolerance(Upright(), {.lower = 1.0, .upper = 1.0, .margin = 1.0});
  }

  // joint_angles (7), upright (1), velocity (13).
  void WriteObservation(float* obs) override {
    int k = WriteJointAngles(obs);
    obs[k++] = static_cast<float>(Upright());
    WriteVelocity(obs + k);
  }

 private:
  FishUpright(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
              const FishIndices& indices)
      : FishTask(spec, std::move(model), indices) {}
};

class FishSwim : public FishTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const FishIndices indices, FishIndices::Find(*model));
    GORL_ASSIGN_OR_RETURN(const int mouth, model->GeomId("mouth"));
    GORL_ASSIGN_OR_RETURN(const int target, model->GeomId("target"));
    const mjModel* m = model->get();
    // The target geom hangs off the world body: its geom_xpos is its
    // geom_pos, so the XML position is the right value before any reset.
    std::array<double, 3> xml_target = {m->geom_pos[3 * target], m->geom_pos[3 * target + 1],
                                        m->geom_pos[3 * target + 2]};
    const double radii = m->geom_size[3 * mouth] + m->geom_size[3 * target];
    return std::unique_ptr<Task>(
        new FishSwim(spec, std::move(model), indices, mouth, xml_target, radii));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // Same draw order as dm_control: orientation, hinges, then the target.
    RandomizePose(rng);
    target_[0] = rng.Uniform(-0.4, 0.4);
    target_[1] = rng.Uniform(-0.4, 0.4);
    target_[2] = rng.Uniform(0.1, 0.3);
    return absl::OkStatus();
  }

  double ComputeReward() override {
    const std::array<double, 3> v = MouthToTarget();
    const double distance = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    const double in_target =
        Tolerance(distance, {.lower = 0.0, .upper = radii_, .margin = 2.0 * radii_});
    const double is_upright = 0.5 * (Upright() + 1.0);
    return (7.0 * in_target + is_upright) / 8.0;
  }

  // joint_angles (7), upright (1), target = mouth_to_target (3), velocity (13).
  void WriteObservation(float* obs) override {
    int k = WriteJointAngles(obs);
    obs[k++] = static_cast<float>(Upright());
    for (double v : MouthToTarget()) obs[k++] = static_cast<float>(v);
    WriteVelocity(obs + k);
  }

 private:
  FishSwim(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
           const FishIndices& indices, int mouth, const std::array<double, 3>& target, double radii)
      : FishTask(spec, std::move(model), indices), mouth_(mouth), radii_(radii), target_(target) {}

  // R_mouth^T (target - mouth): the target as seen from the mouth geom.
  std::array<double, 3> MouthToTarget() const {
    const mjtNum* pos = data_->geom_xpos + 3 * mouth_;
    const mjtNum* rot = data_->geom_xmat + 9 * mouth_;
    const double world[3] = {target_[0] - pos[0], target_[1] - pos[1], target_[2] - pos[2]};
    std::array<double, 3> local;
    for (int i = 0; i < 3; ++i) {
      local[i] = rot[i] * world[0] + rot[3 + i] * world[1] + rot[6 + i] * world[2];
    }
    return local;
  }

  const int mouth_;
  const double radii_;  // mouth radius + target radius (0.045)
  // This episode's target centre in world coordinates (see the file comment).
  std::array<double, 3> target_;
};

TaskSpec FishSpec(const char* name, int obs_size) {
  TaskSpec spec;
  spec.name = name;
  spec.family = "dm_control";
  spec.model_file = "dm_control/fish.xml";
  spec.obs_size = obs_size;
  spec.action_size = 5;
  spec.control_timestep = 0.04;
  spec.physics_substeps = 10;
  return spec;
}

}  // namespace

void AddFishTasks(std::vector<TaskRegistration>& tasks) {
  tasks.push_back(MujocoTaskRegistration(FishSpec("fish-upright", 21), &FishUpright::Create));
  tasks.push_back(MujocoTaskRegistration(FishSpec("fish-swim", 24), &FishSwim::Create));
}

}  // namespace gorl::envs
