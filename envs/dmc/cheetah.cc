// CheetahRun (dm_control/suite/cheetah.py at 1.0.7; docs/tasks.md §2.1).
#include <algorithm>

#include "common/status_macros.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

constexpr double kRunSpeed = 10.0;
constexpr int kSettleSteps = 200;

class CheetahRun : public MujocoTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const int speed_adr, model->SensorAdr("torso_subtreelinvel"));
    return std::unique_ptr<Task>(new CheetahRun(spec, std::move(model), speed_adr));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // Limited joints uniform in range (all joints have one dof here), then
    // 200 zero-control physics steps to let the body fall and settle. The
    // first of them runs mj_step2 on the kinematics of the reset forward,
    // exactly as dm_control does.
    for (int j = 0; j < model_->njnt; ++j) {
      if (model_->jnt_limited[j]) {
        data_->qpos[model_->jnt_qposadr[j]] =
            rng.Uniform(model_->jnt_range[2 * j], model_->jnt_range[2 * j + 1]);
      }
    }
    LegacyPhysicsStep(kSettleSteps);
    data_->time = 0.0;
    return absl::OkStatus();
  }

  double ComputeReward() override {
    const double speed = data_->sensordata[speed_adr_];
    return Tolerance(speed, {.lower = kRunSpeed,
                             .upper = kInf,
                             .margin = kRunSpeed,
                             .sigmoid = Sigmoid::kLinear,
                             .value_at_margin = 0.0});
  }

  void WriteObservation(float* obs) override {
    // position = qpos[1:] (drops rootx), velocity = qvel.
    int k = 0;
    for (int i = 1; i < model_->nq; ++i) obs[k++] = static_cast<float>(data_->qpos[i]);
    for (int i = 0; i < model_->nv; ++i) obs[k++] = static_cast<float>(data_->qvel[i]);
  }

 private:
  CheetahRun(const TaskSpec& spec, std::shared_ptr<const MujocoModel> model, int speed_adr)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl), speed_adr_(speed_adr) {}

  const int speed_adr_;
};

}  // namespace

void AddCheetahTasks(std::vector<TaskRegistration>& tasks) {
  TaskSpec spec;
  spec.name = "cheetah-run";
  spec.family = "dm_control";
  spec.model_file = "dm_control/cheetah.xml";
  spec.obs_size = 17;
  spec.action_size = 6;
  spec.control_timestep = 0.01;
  spec.physics_substeps = 1;
  spec.reset_physics_steps = kSettleSteps;
  tasks.push_back(MujocoTaskRegistration(spec, &CheetahRun::Create));
}

}  // namespace gorl::envs
