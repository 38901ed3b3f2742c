// FingerSpin, FingerTurnEasy, FingerTurnHard (dm_control/suite/finger.py at
// 1.0.7; docs/tasks.md §2.4).
//
// Every observation is read from the model's sensors, as in dm_control,
// except the target: dm_control moves the world site `target` in the model
// every episode, which we must not do on a model shared by many envs. The
// site takes no part in the dynamics (sites never collide), so each Turn
// instance keeps its own target centre and computes what the `target`
// sensor would have read.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "envs/joint_randomizer.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"

namespace gorl::envs {
namespace {

constexpr double kSpinVelocity = 15.0;  // rad/s, clockwise (negative)
constexpr double kSpinHingeDamping = 0.03;
constexpr double kEasyTargetRadius = 0.07;
constexpr double kHardTargetRadius = 0.03;
// dm_control's _set_random_joint_angles gives up (raises) after this many
// draws that all touch.
constexpr int kMaxCollisionFreeAttempts = 1000;

// Sensor addresses shared by the three tasks.
struct FingerSensors {
  int proximal;
  int distal;
  int proximal_velocity;
  int distal_velocity;
  int hinge_velocity;
  int tip;
  int spinner;
  int touchtop;
  int touchbottom;

  static absl::StatusOr<FingerSensors> Find(const MujocoModel& model) {
    FingerSensors s;
    GORL_ASSIGN_OR_RETURN(s.proximal, model.SensorAdr("proximal"));
    GORL_ASSIGN_OR_RETURN(s.distal, model.SensorAdr("distal"));
    GORL_ASSIGN_OR_RETURN(s.proximal_velocity, model.SensorAdr("proximal_velocity"));
    GORL_ASSIGN_OR_RETURN(s.distal_velocity, model.SensorAdr("distal_velocity"));
    GORL_ASSIGN_OR_RETURN(s.hinge_velocity, model.SensorAdr("hinge_velocity"));
    GORL_ASSIGN_OR_RETURN(s.tip, model.SensorAdr("tip"));
    GORL_ASSIGN_OR_RETURN(s.spinner, model.SensorAdr("spinner"));
    GORL_ASSIGN_OR_RETURN(s.touchtop, model.SensorAdr("touchtop"));
    GORL_ASSIGN_OR_RETURN(s.touchbottom, model.SensorAdr("touchbottom"));
    return s;
  }
};

// What Spin and Turn share: the sensor-based observation prefix and the
// collision-free initial configuration.
class FingerTask : public MujocoTask {
 protected:
  FingerTask(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
             const FingerSensors& sensors)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl), sensors_(sensors) {}

  double sensor(int adr) const { return data_->sensordata[adr]; }

  // (x, z) of the tip relative to the spinner's frame origin.
  double tip_x() const { return sensor(sensors_.tip) - sensor(sensors_.spinner); }
  double tip_z() const { return sensor(sensors_.tip + 2) - sensor(sensors_.spinner + 2); }

  // Redraws the joints until nothing touches. The forward without actuation
  // in the loop is dm_control's physics.after_reset(); the base class runs
  // one more after we return, exactly like the reset context does.
  absl::Status RandomizeUntilNoContact(Rng& rng) {
    for (int attempt = 0; attempt < kMaxCollisionFreeAttempts; ++attempt) {
      RandomizeLimitedAndRotationalJoints(model_, data_, rng);
      ForwardWithoutActuation();
      if (data_->ncon == 0) return absl::OkStatus();
    }
    return absl::InternalError(absl::StrCat(spec_.name, ": no collision-free initial state in ",
                                            kMaxCollisionFreeAttempts, " attempts"));
  }

  // position (4) = [proximal, distal, tip - spinner (x, z)],
  // velocity (3), touch (2) = log(1 + touch). Returns the entries written.
  int WriteCommonObservation(float* obs) const {
    int k = 0;
    obs[k++] = static_cast<float>(sensor(sensors_.proximal));
    obs[k++] = static_cast<float>(sensor(sensors_.distal));
    obs[k++] = static_cast<float>(tip_x());
    obs[k++] = static_cast<float>(tip_z());
    obs[k++] = static_cast<float>(sensor(sensors_.proximal_velocity));
    obs[k++] = static_cast<float>(sensor(sensors_.distal_velocity));
    obs[k++] = static_cast<float>(sensor(sensors_.hinge_velocity));
    obs[k++] = static_cast<float>(std::log1p(sensor(sensors_.touchtop)));
    obs[k++] = static_cast<float>(std::log1p(sensor(sensors_.touchbottom)));
    return k;
  }

  const FingerSensors sensors_;
};

class FingerSpin : public FingerTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const FingerSensors sensors, FingerSensors::Find(*model));
    return std::unique_ptr<Task>(new FingerSpin(spec, std::move(model), sensors));
  }

  // dm_control sets the hinge damping to 0.03 in every initialize_episode;
  // the value never changes, so setting it once on Spin's own model copy is
  // the same MDP. (The target/tip sites are also hidden there: cosmetic.)
  static absl::Status PatchModel(MujocoModel& model) {
    GORL_ASSIGN_OR_RETURN(const int dof, model.JointDofAdr("hinge"));
    model.mutable_model()->dof_damping[dof] = kSpinHingeDamping;
    return absl::OkStatus();
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override { return RandomizeUntilNoContact(rng); }

  double ComputeReward() override {
    return sensor(sensors_.hinge_velocity) <= -kSpinVelocity ? 1.0 : 0.0;
  }

  void WriteObservation(float* obs) override { WriteCommonObservation(obs); }

 private:
  FingerSpin(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
             const FingerSensors& sensors)
      : FingerTask(spec, std::move(model), sensors) {}
};

class FingerTurn : public FingerTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model,
                                                      double target_radius) {
    GORL_ASSIGN_OR_RETURN(const FingerSensors sensors, FingerSensors::Find(*model));
    GORL_ASSIGN_OR_RETURN(const int hinge, model->JointId("hinge"));
    GORL_ASSIGN_OR_RETURN(const int cap1, model->GeomId("cap1"));
    // The target circle's radius is the spinner's half length: the sum of
    // cap1's size entries (0.04 + 0.09 + 0 = 0.13).
    const mjtNum* size = model->get()->geom_size + 3 * cap1;
    const double orbit_radius = size[0] + size[1] + size[2];
    return std::unique_ptr<Task>(
        new FingerTurn(spec, std::move(model), sensors, hinge, orbit_radius, target_radius));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // The target angle is drawn before the joints, as in dm_control. The
    // hinge anchor is read from the reset forward's kinematics (it does not
    // depend on qpos: the spinner body only rotates about it).
    const double angle = rng.Uniform(-M_PI, M_PI);
    const mjtNum* anchor = data_->xanchor + 3 * hinge_;
    target_x_ = anchor[0] + orbit_radius_ * std::sin(angle);
    target_z_ = anchor[2] + orbit_radius_ * std::cos(angle);
    return RandomizeUntilNoContact(rng);
  }

  double ComputeReward() override { return DistToTarget() <= 0.0 ? 1.0 : 0.0; }

  void WriteObservation(float* obs) override {
    int k = WriteCommonObservation(obs);
    obs[k++] = static_cast<float>(target_rel_x());
    obs[k++] = static_cast<float>(target_rel_z());
    obs[k++] = static_cast<float>(DistToTarget());
  }

 private:
  FingerTurn(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
             const FingerSensors& sensors, int hinge, double orbit_radius, double target_radius)
      : FingerTask(spec, std::move(model), sensors),
        hinge_(hinge),
        orbit_radius_(orbit_radius),
        target_radius_(target_radius) {}

  // What the `target` framepos sensor minus `spinner` would read: the target
  // site hangs off the world body, so its world position is its site_pos.
  double target_rel_x() const { return target_x_ - sensor(sensors_.spinner); }
  double target_rel_z() const { return target_z_ - sensor(sensors_.spinner + 2); }

  // Distance from the tip to the target disc's edge; negative inside.
  double DistToTarget() const {
    return std::hypot(target_rel_x() - tip_x(), target_rel_z() - tip_z()) - target_radius_;
  }

  const int hinge_;
  const double orbit_radius_;
  const double target_radius_;
  // This episode's target centre (world x, z). The model's site keeps its
  // XML position; see the file comment.
  double target_x_ = 0.0;
  double target_z_ = 0.0;
};

TaskSpec FingerSpec(const char* name, int obs_size) {
  TaskSpec spec;
  spec.name = name;
  spec.family = "dm_control";
  spec.model_file = "dm_control/finger.xml";
  spec.obs_size = obs_size;
  spec.action_size = 2;
  spec.control_timestep = 0.02;
  spec.physics_substeps = 2;
  return spec;
}

MujocoTaskCreator TurnCreator(double target_radius) {
  return [target_radius](const TaskSpec& spec, std::shared_ptr<const MujocoModel> model) {
    return FingerTurn::Create(spec, std::move(model), target_radius);
  };
}

}  // namespace

void AddFingerTasks(std::vector<TaskRegistration>& tasks) {
  tasks.push_back(MujocoTaskRegistration(FingerSpec("finger-spin", 9), &FingerSpin::Create,
                                         &FingerSpin::PatchModel));
  tasks.push_back(
      MujocoTaskRegistration(FingerSpec("finger-turn-easy", 12), TurnCreator(kEasyTargetRadius)));
  tasks.push_back(
      MujocoTaskRegistration(FingerSpec("finger-turn-hard", 12), TurnCreator(kHardTargetRadius)));
}

}  // namespace gorl::envs
