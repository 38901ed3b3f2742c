#include "envs/task_registry.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "envs/assets.h"
#include "envs/task_catalog.h"

namespace gorl::envs {
namespace {

class MujocoTaskFactory : public TaskFactory {
 public:
  MujocoTaskFactory(TaskSpec spec, std::shared_ptr<const MujocoModel> model,
                    MujocoTaskCreator create)
      : spec_(std::move(spec)), model_(std::move(model)), create_(std::move(create)) {}

  const TaskSpec& spec() const override { return spec_; }
  absl::StatusOr<std::unique_ptr<Task>> NewTask() const override { return create_(spec_, model_); }
  std::shared_ptr<const MujocoModel> model() const override { return model_; }

 private:
  TaskSpec spec_;
  std::shared_ptr<const MujocoModel> model_;
  MujocoTaskCreator create_;
};

class PlainTaskFactory : public TaskFactory {
 public:
  PlainTaskFactory(TaskSpec spec, std::function<std::unique_ptr<Task>(const TaskSpec&)> create)
      : spec_(std::move(spec)), create_(std::move(create)) {}

  const TaskSpec& spec() const override { return spec_; }
  absl::StatusOr<std::unique_ptr<Task>> NewTask() const override { return create_(spec_); }

 private:
  TaskSpec spec_;
  std::function<std::unique_ptr<Task>(const TaskSpec&)> create_;
};

// The model must agree with the catalogue; a mismatch means the wrong file
// (or a different version of it) sits in the assets directory.
absl::Status CheckModelAgainstSpec(const TaskSpec& spec, const MujocoModel& model) {
  const mjModel* m = model.get();
  if (m->nu != spec.action_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        spec.name, ": model ", model.path(), " has ", m->nu, " actuators, expected ",
        spec.action_size, " (is it the file from the pinned dm_control / Gym version?)"));
  }
  const double ratio = spec.control_timestep / m->opt.timestep;
  if (std::abs(ratio - std::round(ratio)) > 1e-8 ||
      static_cast<int>(std::round(ratio)) != spec.physics_substeps) {
    return absl::FailedPreconditionError(absl::StrCat(
        spec.name, ": control timestep ", spec.control_timestep, " s is not ",
        spec.physics_substeps, " physics steps of ", m->opt.timestep, " s in ", model.path()));
  }
  return absl::OkStatus();
}

std::vector<TaskRegistration> BuildCatalog() {
  std::vector<TaskRegistration> tasks;
  AddCheetahTasks(tasks);
  AddHopperTasks(tasks);
  AddWalkerTasks(tasks);
  AddFingerTasks(tasks);
  AddFishTasks(tasks);
  AddHumanoidTasks(tasks);
  AddCartpoleTasks(tasks);
  AddGymLocomotionTasks(tasks);
  AddToyTasks(tasks);
  return tasks;
}

}  // namespace

const std::vector<TaskRegistration>& AllTasks() {
  static const std::vector<TaskRegistration>* const tasks =
      new std::vector<TaskRegistration>(BuildCatalog());
  return *tasks;
}

absl::StatusOr<const TaskRegistration*> FindTask(absl::string_view name) {
  std::vector<std::string> names;
  for (const TaskRegistration& task : AllTasks()) {
    if (task.spec.name == name) return &task;
    names.push_back(task.spec.name);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown task '", name, "'; known tasks: ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<std::unique_ptr<TaskFactory>> MakeTaskFactory(absl::string_view name,
                                                             const std::string& assets_flag) {
  GORL_ASSIGN_OR_RETURN(const TaskRegistration* task, FindTask(name));
  std::string assets_dir;
  if (!task->spec.model_file.empty()) {
    GORL_ASSIGN_OR_RETURN(assets_dir, ResolveAssetsDir(assets_flag));
  }
  return task->make_factory(assets_dir);
}

TaskRegistration MujocoTaskRegistration(TaskSpec spec, MujocoTaskCreator create, ModelPatch patch) {
  TaskRegistration registration;
  registration.spec = spec;
  registration.make_factory =
      [spec, create,
       patch](const std::string& assets_dir) -> absl::StatusOr<std::unique_ptr<TaskFactory>> {
    GORL_ASSIGN_OR_RETURN(const std::string path, AssetPath(assets_dir, spec.model_file));
    GORL_ASSIGN_OR_RETURN(std::shared_ptr<MujocoModel> model, MujocoModel::Load(path));
    if (patch) GORL_RETURN_IF_ERROR(patch(*model));
    GORL_RETURN_IF_ERROR(CheckModelAgainstSpec(spec, *model));
    // Build one instance now so that name look-ups fail here, once, with a
    // clear error, rather than in a worker thread later.
    GORL_ASSIGN_OR_RETURN(std::unique_ptr<Task> probe, create(spec, model));
    (void)probe;
    return std::unique_ptr<TaskFactory>(new MujocoTaskFactory(spec, std::move(model), create));
  };
  return registration;
}

TaskRegistration PlainTaskRegistration(
    TaskSpec spec, std::function<std::unique_ptr<Task>(const TaskSpec&)> create) {
  TaskRegistration registration;
  registration.spec = spec;
  registration.make_factory =
      [spec, create](const std::string&) -> absl::StatusOr<std::unique_ptr<TaskFactory>> {
    return std::unique_ptr<TaskFactory>(new PlainTaskFactory(spec, create));
  };
  return registration;
}

}  // namespace gorl::envs
