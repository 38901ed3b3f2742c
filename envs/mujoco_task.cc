#include "envs/mujoco_task.h"

#include <cmath>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"

namespace gorl::envs {
namespace {

// dm_control re-draws nothing after a PhysicsError during reset; it raises.
// We retry a bounded number of times so one unlucky draw cannot stop a run,
// and fail loudly past that.
constexpr int kMaxResetAttempts = 100;

}  // namespace

MujocoTask::MujocoTask(TaskSpec spec, std::shared_ptr<const MujocoModel> model,
                       StepSemantics semantics)
    : spec_(std::move(spec)),
      model_(model->get()),
      data_(mj_makeData(model->get())),
      shared_model_(std::move(model)),
      semantics_(semantics) {}

MujocoTask::~MujocoTask() { mj_deleteData(data_); }

int MujocoTask::TotalWarnings() const {
  int total = 0;
  for (int i = 0; i < mjNWARNING; ++i) total += data_->warning[i].number;
  return total;
}

void MujocoTask::ForwardWithoutActuation() {
  // mj_forward's pipeline with the actuation stage replaced by what MuJoCo
  // does under mjDSBL_ACTUATION. Toggling the flag on the model instead would
  // race with other threads stepping envs that share it.
  mj_fwdPosition(model_, data_);
  mj_sensorPos(model_, data_);
  if (model_->opt.enableflags & mjENBL_ENERGY) mj_energyPos(model_, data_);
  mj_fwdVelocity(model_, data_);
  mj_sensorVel(model_, data_);
  if (model_->opt.enableflags & mjENBL_ENERGY) mj_energyVel(model_, data_);
  mju_zero(data_->qfrc_actuator, model_->nv);
  mju_zero(data_->actuator_force, model_->nu);
  if (model_->na > 0) mju_zero(data_->act_dot, model_->na);
  mj_fwdAcceleration(model_, data_);
  mj_fwdConstraint(model_, data_);
  mj_sensorAcc(model_, data_);
}

void MujocoTask::LegacyPhysicsStep(int nstep) {
  if (model_->opt.integrator == mjINT_RK4) {
    for (int i = 0; i < nstep; ++i) mj_step(model_, data_);
    if (kinematics_only_refresh_) {
      mj_kinematics(model_, data_);
      return;
    }
  } else {
    mj_step2(model_, data_);
    for (int i = 1; i < nstep; ++i) mj_step(model_, data_);
  }
  mj_step1(model_, data_);
}

void MujocoTask::RefreshOnlyKinematicsAfterRk4Steps() {
  CHECK_EQ(model_->opt.integrator, mjINT_RK4)
      << spec_.name << ": the kinematics-only refresh is exact only for RK4 models";
  kinematics_only_refresh_ = true;
}

void MujocoTask::AdvancePhysics() {
  if (semantics_ == StepSemantics::kGym) {
    for (int i = 0; i < spec_.physics_substeps; ++i) mj_step(model_, data_);
  } else {
    LegacyPhysicsStep(spec_.physics_substeps);
  }
}

absl::Status MujocoTask::Reset(Rng& rng, float* obs) {
  for (int attempt = 0; attempt < kMaxResetAttempts; ++attempt) {
    mj_resetData(model_, data_);
    if (semantics_ == StepSemantics::kDmControl) ForwardWithoutActuation();
    const int warnings_before = TotalWarnings();
    absl::Status status = InitializeEpisode(rng);
    if (!status.ok()) return status;
    if (semantics_ == StepSemantics::kDmControl) {
      ForwardWithoutActuation();
    } else {
      mj_forward(model_, data_);
    }
    if (TotalWarnings() != warnings_before) continue;
    WriteObservation(obs);
    bool finite = true;
    for (int i = 0; i < spec_.obs_size; ++i) finite = finite && std::isfinite(obs[i]);
    if (finite) return absl::OkStatus();
  }
  return absl::InternalError(
      absl::StrCat(spec_.name, ": reset diverged ", kMaxResetAttempts, " times in a row"));
}

StepOutcome MujocoTask::Step(const float* action, float* obs) {
  for (int i = 0; i < model_->nu; ++i) data_->ctrl[i] = action[i];
  BeforePhysics();
  const int warnings_before = TotalWarnings();
  AdvancePhysics();
  StepOutcome outcome;
  outcome.diverged = TotalWarnings() != warnings_before;
  outcome.reward = ComputeReward();
  WriteObservation(obs);
  bool finite = std::isfinite(outcome.reward);
  for (int i = 0; i < spec_.obs_size; ++i) finite = finite && std::isfinite(obs[i]);
  if (!finite) outcome.diverged = true;
  if (outcome.diverged) {
    // The state is not trustworthy (MuJoCo may already have reset it): pay
    // nothing and zero the observation so no NaN reaches a learner.
    outcome.reward = 0.0;
    for (int i = 0; i < spec_.obs_size; ++i) obs[i] = 0.0f;
    outcome.terminated = true;
    return outcome;
  }
  outcome.terminated = IsTerminal();
  return outcome;
}

}  // namespace gorl::envs
