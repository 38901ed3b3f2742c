// PLACEHOLDER: replaced by the real task file.
#include "envs/task_catalog.h"

namespace gorl::envs {

void AddWalkerTasks(std::vector<TaskRegistration>& tasks) {}

}  // namespace gorl::envs
