// A compiled MuJoCo model, loaded once per task and shared read-only by every
// environment instance of that task.
#ifndef GORL_ENVS_MUJOCO_MODEL_H_
#define GORL_ENVS_MUJOCO_MODEL_H_

#include <memory>
#include <string>

#include <mujoco/mujoco.h>

#include "absl/status/statusor.h"

namespace gorl::envs {

class MujocoModel {
 public:
  // Loads `path` (an MJCF file). A missing file or a compile error gives an
  // error that names the path.
  static absl::StatusOr<std::shared_ptr<MujocoModel>> Load(const std::string& path);

  explicit MujocoModel(mjModel* model) : model_(model) {}
  ~MujocoModel();
  MujocoModel(const MujocoModel&) = delete;
  MujocoModel& operator=(const MujocoModel&) = delete;

  const mjModel* get() const { return model_; }
  // Only for one-off edits right after loading (e.g. FingerSpin's damping),
  // before the model is shared.
  mjModel* mutable_model() { return model_; }
  const std::string& path() const { return path_; }

  // Name look-ups that fail with a clear error instead of returning -1.
  absl::StatusOr<int> Id(mjtObj type, const char* name) const;
  absl::StatusOr<int> BodyId(const char* name) const { return Id(mjOBJ_BODY, name); }
  absl::StatusOr<int> JointId(const char* name) const { return Id(mjOBJ_JOINT, name); }
  absl::StatusOr<int> GeomId(const char* name) const { return Id(mjOBJ_GEOM, name); }
  absl::StatusOr<int> SiteId(const char* name) const { return Id(mjOBJ_SITE, name); }
  absl::StatusOr<int> ActuatorId(const char* name) const { return Id(mjOBJ_ACTUATOR, name); }
  // Address of a sensor's first value in mjData::sensordata.
  absl::StatusOr<int> SensorAdr(const char* name) const;
  // Address of a joint's first value in qpos / qvel.
  absl::StatusOr<int> JointQposAdr(const char* name) const;
  absl::StatusOr<int> JointDofAdr(const char* name) const;

 private:
  mjModel* model_;
  std::string path_;
};

}  // namespace gorl::envs

#endif  // GORL_ENVS_MUJOCO_MODEL_H_
