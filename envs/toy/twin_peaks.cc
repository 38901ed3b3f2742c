// PLACEHOLDER
#include "envs/task_catalog.h"
namespace gorl::envs {
void AddToyTasks(std::vector<TaskRegistration>& tasks) {}
}  // namespace gorl::envs
