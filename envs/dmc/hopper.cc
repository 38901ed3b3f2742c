// HopperStand, HopperHop (dm_control/suite/hopper.py at 1.0.7; docs/tasks.md §2.2).
#include <algorithm>
#include <cmath>

#include "common/status_macros.h"
#include "envs/joint_randomizer.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

constexpr double kStandHeight = 0.6;  // metres, torso COM above foot COM
constexpr double kHopSpeed = 2.0;     // m/s

enum class HopperGoal { kStand, kHop };

class Hopper : public MujocoTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(HopperGoal goal, const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    Hopper::Ids ids;
    GORL_ASSIGN_OR_RETURN(ids.torso, model->BodyId("torso"));
    GORL_ASSIGN_OR_RETURN(ids.foot, model->BodyId("foot"));
    GORL_ASSIGN_OR_RETURN(ids.speed, model->SensorAdr("torso_subtreelinvel"));
    GORL_ASSIGN_OR_RETURN(ids.toe, model->SensorAdr("touch_toe"));
    GORL_ASSIGN_OR_RETURN(ids.heel, model->SensorAdr("touch_heel"));
    return std::unique_ptr<Task>(new Hopper(goal, spec, std::move(model), ids));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // rooty uniform in [-pi, pi], the four limited joints uniform in range,
    // rootx = rootz = 0, zero velocity. No settling and no penetration check:
    // the hopper may start inside the floor, as in dm_control.
    RandomizeLimitedAndRotationalJoints(model_, data_, rng);
    return absl::OkStatus();
  }

  double ComputeReward() override {
    // Centre-of-mass heights (xipos), not frame origins.
    const double height = data_->xipos[3 * ids_.torso + 2] - data_->xipos[3 * ids_.foot + 2];
    const double standing = Tolerance(height, {.lower = kStandHeight, .upper = 2.0});
    if (goal_ == HopperGoal::kHop) {
      const double speed = data_->sensordata[ids_.speed];
      return standing * Tolerance(speed, {.lower = kHopSpeed,
                                          .upper = kInf,
                                          .margin = kHopSpeed / 2,
                                          .sigmoid = Sigmoid::kLinear,
                                          .value_at_margin = 0.5});
    }
    // small_control = mean_i tol(ctrl_i; 0, 0, m=1, quadratic, 0) on the raw
    // (unclipped) control, mapped to (4 + small_control) / 5.
    double small_control = 0.0;
    for (int i = 0; i < model_->nu; ++i) {
      small_control += Tolerance(
          data_->ctrl[i], {.margin = 1.0, .sigmoid = Sigmoid::kQuadratic, .value_at_margin = 0.0});
    }
    small_control /= model_->nu;
    return standing * (4.0 + small_control) / 5.0;
  }

  void WriteObservation(float* obs) override {
    // position = qpos[1:] (drops rootx), velocity = qvel,
    // touch = log(1 + [touch_toe, touch_heel]).
    int k = 0;
    for (int i = 1; i < model_->nq; ++i) obs[k++] = static_cast<float>(data_->qpos[i]);
    for (int i = 0; i < model_->nv; ++i) obs[k++] = static_cast<float>(data_->qvel[i]);
    obs[k++] = static_cast<float>(std::log1p(data_->sensordata[ids_.toe]));
    obs[k++] = static_cast<float>(std::log1p(data_->sensordata[ids_.heel]));
  }

 private:
  struct Ids {
    int torso, foot, speed, toe, heel;
  };
  Hopper(HopperGoal goal, const TaskSpec& spec, std::shared_ptr<const MujocoModel> model, Ids ids)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl), goal_(goal), ids_(ids) {}

  const HopperGoal goal_;
  const Ids ids_;
};

}  // namespace

void AddHopperTasks(std::vector<TaskRegistration>& tasks) {
  TaskSpec spec;
  spec.family = "dm_control";
  spec.model_file = "dm_control/hopper.xml";
  spec.obs_size = 15;
  spec.action_size = 4;
  spec.control_timestep = 0.02;
  spec.physics_substeps = 4;
  for (const auto& [name, goal] :
       {std::pair{"hopper-stand", HopperGoal::kStand}, std::pair{"hopper-hop", HopperGoal::kHop}}) {
    spec.name = name;
    tasks.push_back(MujocoTaskRegistration(
        spec, [goal = goal](const TaskSpec& s, std::shared_ptr<const MujocoModel> m) {
          return Hopper::Create(goal, s, std::move(m));
        }));
  }
}

}  // namespace gorl::envs
