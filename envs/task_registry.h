// The catalogue of tasks and the factories that instantiate them.
#ifndef GORL_ENVS_TASK_REGISTRY_H_
#define GORL_ENVS_TASK_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "envs/mujoco_model.h"
#include "envs/task.h"

namespace gorl::envs {

// Creates environment instances of one task. Everything read-only (the
// MuJoCo model) is loaded once here and shared by the instances.
class TaskFactory {
 public:
  virtual ~TaskFactory() = default;
  virtual const TaskSpec& spec() const = 0;
  virtual absl::StatusOr<std::unique_ptr<Task>> NewTask() const = 0;
  // The shared model of a MuJoCo task (nullptr for plain C++ tasks); used by
  // benchmarks that time raw mj_step against the full task.
  virtual std::shared_ptr<const MujocoModel> model() const { return nullptr; }
};

struct TaskRegistration {
  TaskSpec spec;
  std::function<absl::StatusOr<std::unique_ptr<TaskFactory>>(const std::string& assets_dir)>
      make_factory;
};

// Every task, in listing order.
const std::vector<TaskRegistration>& AllTasks();

// The registration for `name`; an unknown name gives an error listing the known ones.
absl::StatusOr<const TaskRegistration*> FindTask(absl::string_view name);

// Resolves the assets directory (only for tasks that need model files; see
// envs/assets.h) and builds the task's factory.
absl::StatusOr<std::unique_ptr<TaskFactory>> MakeTaskFactory(absl::string_view name,
                                                             const std::string& assets_flag);

// --- For the task files that fill the catalogue. ---

using MujocoTaskCreator = std::function<absl::StatusOr<std::unique_ptr<Task>>(
    const TaskSpec& spec, std::shared_ptr<const MujocoModel> model)>;
// A one-off edit of a freshly loaded model (FingerSpin's hinge damping).
using ModelPatch = std::function<absl::Status(MujocoModel& model)>;

// A registration that loads spec.model_file, applies `patch`, checks the
// model against the spec (action size, physics substeps) and then calls
// `create` for every instance.
TaskRegistration MujocoTaskRegistration(TaskSpec spec, MujocoTaskCreator create,
                                        ModelPatch patch = nullptr);

// A registration for a task with no model file.
TaskRegistration PlainTaskRegistration(
    TaskSpec spec, std::function<std::unique_ptr<Task>(const TaskSpec&)> create);

}  // namespace gorl::envs

#endif  // GORL_ENVS_TASK_REGISTRY_H_
