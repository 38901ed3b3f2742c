#include "envs/mujoco_model.h"

#include <sys/stat.h>

#include <atomic>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"

namespace gorl::envs {
namespace {

// MuJoCo prints warnings to stdout and appends them to MUJOCO_LOG.TXT in the
// working directory. We detect warnings through mjData::warning counters
// instead (MujocoTask), so route the text to glog and rate-limit it.
void QuietWarningHandler(const char* message) {
  static std::atomic<int> printed{0};
  if (printed.fetch_add(1) < 10) LOG(WARNING) << "MuJoCo: " << message;
}

void InstallWarningHandlerOnce() {
  static const bool installed = [] {
    mju_user_warning = QuietWarningHandler;
    return true;
  }();
  (void)installed;
}

}  // namespace

MujocoModel::~MujocoModel() {
  if (model_ != nullptr) mj_deleteModel(model_);
}

absl::StatusOr<std::shared_ptr<MujocoModel>> MujocoModel::Load(const std::string& path) {
  InstallWarningHandlerOnce();
  struct stat info;
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return absl::NotFoundError(absl::StrCat("MuJoCo model file not found: ", path));
  }
  char error[1024] = {0};
  mjModel* model = mj_loadXML(path.c_str(), nullptr, error, sizeof(error));
  if (model == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load MuJoCo model ", path, ": ", error));
  }
  auto shared = std::make_shared<MujocoModel>(model);
  shared->path_ = path;
  return shared;
}

absl::StatusOr<int> MujocoModel::Id(mjtObj type, const char* name) const {
  const int id = mj_name2id(model_, type, name);
  if (id < 0) {
    const char* kind = mju_type2Str(type);
    return absl::NotFoundError(
        absl::StrCat("model ", path_, " has no ", kind ? kind : "object", " named '", name, "'"));
  }
  return id;
}

absl::StatusOr<int> MujocoModel::SensorAdr(const char* name) const {
  absl::StatusOr<int> id = Id(mjOBJ_SENSOR, name);
  if (!id.ok()) return id.status();
  return model_->sensor_adr[*id];
}

absl::StatusOr<int> MujocoModel::JointQposAdr(const char* name) const {
  absl::StatusOr<int> id = JointId(name);
  if (!id.ok()) return id.status();
  return model_->jnt_qposadr[*id];
}

absl::StatusOr<int> MujocoModel::JointDofAdr(const char* name) const {
  absl::StatusOr<int> id = JointId(name);
  if (!id.ok()) return id.status();
  return model_->jnt_dofadr[*id];
}

}  // namespace gorl::envs
