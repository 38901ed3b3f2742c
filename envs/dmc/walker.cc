// WalkerStand, WalkerWalk, WalkerRun (dm_control/suite/walker.py at 1.0.7;
// docs/tasks.md §2.3). Note walker's qpos order: [rootz, rootx, rooty, ...].
#include "common/status_macros.h"
#include "envs/joint_randomizer.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

constexpr double kStandHeight = 1.2;  // torso frame height, metres

class Walker : public MujocoTask {
 public:
  // move_speed 0 is WalkerStand.
  static absl::StatusOr<std::unique_ptr<Task>> Create(double move_speed, const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const int torso, model->BodyId("torso"));
    GORL_ASSIGN_OR_RETURN(const int speed, model->SensorAdr("torso_subtreelinvel"));
    return std::unique_ptr<Task>(new Walker(move_speed, spec, std::move(model), torso, speed));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    // rooty uniform in [-pi, pi], the six leg joints uniform in range,
    // rootz = rootx = 0 (torso frame at 1.3 m), zero velocity; no settling.
    RandomizeLimitedAndRotationalJoints(model_, data_, rng);
    return absl::OkStatus();
  }

  double ComputeReward() override {
    const double height = data_->xpos[3 * torso_ + 2];
    const double standing =
        Tolerance(height, {.lower = kStandHeight, .upper = kInf, .margin = kStandHeight / 2});
    const double upright = (1.0 + data_->xmat[9 * torso_ + 8]) / 2.0;
    const double stand = (3.0 * standing + upright) / 4.0;
    if (move_speed_ == 0.0) return stand;
    const double move = Tolerance(data_->sensordata[speed_adr_], {.lower = move_speed_,
                                                                  .upper = kInf,
                                                                  .margin = move_speed_ / 2,
                                                                  .sigmoid = Sigmoid::kLinear,
                                                                  .value_at_margin = 0.5});
    return stand * (5.0 * move + 1.0) / 6.0;
  }

  void WriteObservation(float* obs) override {
    // orientations: (xx, xz) of every non-world body's xmat; height = torso
    // frame z; velocity = qvel.
    int k = 0;
    for (int b = 1; b < model_->nbody; ++b) {
      obs[k++] = static_cast<float>(data_->xmat[9 * b + 0]);
      obs[k++] = static_cast<float>(data_->xmat[9 * b + 2]);
    }
    obs[k++] = static_cast<float>(data_->xpos[3 * torso_ + 2]);
    for (int i = 0; i < model_->nv; ++i) obs[k++] = static_cast<float>(data_->qvel[i]);
  }

 private:
  Walker(double move_speed, const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
         int torso, int speed_adr)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl),
        move_speed_(move_speed),
        torso_(torso),
        speed_adr_(speed_adr) {}

  const double move_speed_;
  const int torso_;
  const int speed_adr_;
};

}  // namespace

void AddWalkerTasks(std::vector<TaskRegistration>& tasks) {
  TaskSpec spec;
  spec.family = "dm_control";
  spec.model_file = "dm_control/walker.xml";
  spec.obs_size = 24;
  spec.action_size = 6;
  spec.control_timestep = 0.025;
  spec.physics_substeps = 10;
  for (const auto& [name, speed] : {std::pair{"walker-stand", 0.0}, std::pair{"walker-walk", 1.0},
                                    std::pair{"walker-run", 8.0}}) {
    spec.name = name;
    tasks.push_back(MujocoTaskRegistration(
        spec, [speed = speed](const TaskSpec& s, std::shared_ptr<const MujocoModel> m) {
          return Walker::Create(speed, s, std::move(m));
        }));
  }
}

}  // namespace gorl::envs
