// Base class for tasks simulated by MuJoCo.
//
// It owns one mjData over a shared model and implements, once, the two call
// sequences the suites use:
//   * dm_control ("legacy step", dm_control/mujoco/engine.py at 1.0.7):
//     a control step is mj_step2, then n-1 mj_step, then mj_step1, so that
//     positions, kinematics and position/velocity sensors describe the new
//     state while acceleration-stage sensors (touch) keep the last substep's
//     values. RK4 models use n mj_step, then mj_step1. A reset is
//     mj_resetData, mj_forward without actuation, the task's initialisation,
//     and mj_forward without actuation again.
//   * Gym v2 (gym/envs/mujoco/mujoco_env.py at v0.21.0): n mj_step and nothing
//     else; a reset is mj_resetData, the task's initialisation, mj_forward.
// Any new MuJoCo warning during a step (dm_control's PhysicsError) or a
// non-finite observation or reward marks the step as diverged.
#ifndef GORL_ENVS_MUJOCO_TASK_H_
#define GORL_ENVS_MUJOCO_TASK_H_

#include <memory>

#include <mujoco/mujoco.h>

#include "envs/mujoco_model.h"
#include "envs/task.h"

namespace gorl::envs {

enum class StepSemantics { kDmControl, kGym };

class MujocoTask : public Task {
 public:
  ~MujocoTask() override;
  MujocoTask(const MujocoTask&) = delete;
  MujocoTask& operator=(const MujocoTask&) = delete;

  const TaskSpec& spec() const final { return spec_; }
  absl::Status Reset(Rng& rng, float* obs) final;
  StepOutcome Step(const float* action, float* obs) final;

  // For tests and tools that construct states by hand.
  const mjModel* model() const { return model_; }
  mjData* data() { return data_; }
  // Recomputes reward and observation from the current mjData without
  // stepping (after a test has edited qpos/qvel and run mj_forward).
  double CurrentReward() { return ComputeReward(); }
  void CurrentObservation(float* obs) { WriteObservation(obs); }

 protected:
  MujocoTask(TaskSpec spec, std::shared_ptr<const MujocoModel> model, StepSemantics semantics);

  // Draws the episode's initial state into data() (qpos, qvel, per-env
  // targets, ...). The base class has already run mj_resetData (and, for
  // dm_control, a forward without actuation). Returning an error aborts the
  // reset (for example a rejection loop that never succeeds).
  virtual absl::Status InitializeEpisode(Rng& rng) = 0;
  // Reward of the step that just finished, from the post-step mjData.
  virtual double ComputeReward() = 0;
  virtual void WriteObservation(float* obs) = 0;
  // Gym's termination rule; dm_control tasks never terminate.
  virtual bool IsTerminal() { return false; }
  // Called after ctrl is set and before physics advances (Gym tasks record
  // the torso x position here).
  virtual void BeforePhysics() {}

  // One control step of physics under the task's semantics (n substeps).
  void AdvancePhysics();
  // mj_forward with mjDSBL_ACTUATION temporarily set (dm_control's reset).
  void ForwardWithoutActuation();
  // dm_control's engine.Physics.step(nstep) with the legacy sequence, for
  // resets that simulate settling steps (CheetahRun's 200).
  void LegacyPhysicsStep(int nstep);

  // For RK4 tasks whose reward and observation read only qpos, qvel, ctrl
  // and body poses: refresh with mj_kinematics instead of mj_step1 after a
  // step. The next RK4 mj_step recomputes everything from qpos/qvel, so
  // nothing else ever reads what mj_step1 would have added (sensors, energy,
  // velocities of bodies); on cartpole mj_step1 costs ~20% of a control step.
  void RefreshOnlyKinematicsAfterRk4Steps();

  const MujocoModel& shared_model() const { return *shared_model_; }

  const TaskSpec spec_;
  const mjModel* const model_;
  mjData* const data_;

 private:
  int TotalWarnings() const;

  std::shared_ptr<const MujocoModel> shared_model_;
  const StepSemantics semantics_;
  bool kinematics_only_refresh_ = false;
};

}  // namespace gorl::envs

#endif  // GORL_ENVS_MUJOCO_TASK_H_
