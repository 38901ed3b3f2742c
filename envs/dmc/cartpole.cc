// CartpoleSwingup, CartpoleBalance (dm_control/suite/cartpole.py at 1.0.7;
// docs/tasks.md §2.7), one pole, smooth rewards. The model uses RK4: a
// control step is one mj_step, then a kinematics refresh (all that reward
// and observation read; equal to dm_control's mj_step1 for them).
#include <algorithm>
#include <cmath>

#include "common/status_macros.h"
#include "envs/mujoco_task.h"
#include "envs/task_catalog.h"
#include "envs/tolerance.h"

namespace gorl::envs {
namespace {

enum class CartpoleStart { kSwingup, kBalance };

class Cartpole : public MujocoTask {
 public:
  static absl::StatusOr<std::unique_ptr<Task>> Create(CartpoleStart start, const TaskSpec& spec,
                                                      std::shared_ptr<const MujocoModel> model) {
    GORL_ASSIGN_OR_RETURN(const int pole, model->BodyId("pole_1"));
    GORL_ASSIGN_OR_RETURN(const int slider, model->JointId("slider"));
    GORL_ASSIGN_OR_RETURN(const int hinge, model->JointId("hinge_1"));
    if (model->get()->nv != 2 || model->get()->opt.integrator != mjINT_RK4) {
      return absl::InvalidArgumentError(
          "cartpole.xml: expected one pole (nv = 2) and the RK4 integrator");
    }
    return std::unique_ptr<Task>(new Cartpole(start, spec, std::move(model), pole, slider, hinge));
  }

 protected:
  absl::Status InitializeEpisode(Rng& rng) override {
    double& slider = data_->qpos[model_->jnt_qposadr[slider_]];
    double& hinge = data_->qpos[model_->jnt_qposadr[hinge_]];
    if (start_ == CartpoleStart::kSwingup) {
      slider = 0.01 * rng.Normal();
      hinge = M_PI + 0.01 * rng.Normal();  // hanging down
    } else {
      slider = rng.Uniform(-0.1, 0.1);
      hinge = rng.Uniform(-0.034, 0.034);  // near upright
    }
    for (int i = 0; i < model_->nv; ++i) data_->qvel[i] = 0.01 * rng.Normal();
    return absl::OkStatus();
  }

  double ComputeReward() override {
    const double upright = (PoleCos() + 1.0) / 2.0;
    const double centered =
        (1.0 + Tolerance(CartPosition(), {.margin = 2.0})) / 2.0;  // gaussian, 0.1
    const double small_control =
        (4.0 + Tolerance(data_->ctrl[0],
                         {.margin = 1.0, .sigmoid = Sigmoid::kQuadratic, .value_at_margin = 0.0})) /
        5.0;
    const double angular_velocity = data_->qvel[model_->jnt_dofadr[hinge_]];
    const double small_velocity = (1.0 + Tolerance(angular_velocity, {.margin = 5.0})) / 2.0;
    return upright * small_control * small_velocity * centered;
  }

  void WriteObservation(float* obs) override {
    // position = [cart x, cos, sin of the pole], velocity = qvel.
    obs[0] = static_cast<float>(CartPosition());
    obs[1] = static_cast<float>(PoleCos());
    obs[2] = static_cast<float>(data_->xmat[9 * pole_ + 2]);
    for (int i = 0; i < model_->nv; ++i) obs[3 + i] = static_cast<float>(data_->qvel[i]);
  }

 private:
  Cartpole(CartpoleStart start, const TaskSpec& spec, std::shared_ptr<const MujocoModel> model,
           int pole, int slider, int hinge)
      : MujocoTask(spec, std::move(model), StepSemantics::kDmControl),
        start_(start),
        pole_(pole),
        slider_(slider),
        hinge_(hinge) {
    RefreshOnlyKinematicsAfterRk4Steps();
  }

  double CartPosition() const { return data_->qpos[model_->jnt_qposadr[slider_]]; }
  double PoleCos() const { return data_->xmat[9 * pole_ + 8]; }  // R_pole.zz

  const CartpoleStart start_;
  const int pole_, slider_, hinge_;
};

}  // namespace

void AddCartpoleTasks(std::vector<TaskRegistration>& tasks) {
  TaskSpec spec;
  spec.family = "dm_control";
  spec.model_file = "dm_control/cartpole.xml";
  spec.obs_size = 5;
  spec.action_size = 1;
  spec.control_timestep = 0.01;
  spec.physics_substeps = 1;
  for (const auto& [name, start] : {std::pair{"cartpole-swingup", CartpoleStart::kSwingup},
                                    std::pair{"cartpole-balance", CartpoleStart::kBalance}}) {
    spec.name = name;
    tasks.push_back(MujocoTaskRegistration(
        spec, [start = start](const TaskSpec& s, std::shared_ptr<const MujocoModel> m) {
          return Cartpole::Create(start, s, std::move(m));
        }));
  }
}

}  // namespace gorl::envs
