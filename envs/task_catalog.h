// One function per task file, each appending that file's tasks. Called, in
// this order, by AllTasks() (explicit calls instead of static registration so
// the linker can never drop a task from the static library).
#ifndef GORL_ENVS_TASK_CATALOG_H_
#define GORL_ENVS_TASK_CATALOG_H_

#include <vector>

#include "envs/task_registry.h"

namespace gorl::envs {

void AddCheetahTasks(std::vector<TaskRegistration>& tasks);
void AddHopperTasks(std::vector<TaskRegistration>& tasks);
void AddWalkerTasks(std::vector<TaskRegistration>& tasks);
void AddFingerTasks(std::vector<TaskRegistration>& tasks);
void AddFishTasks(std::vector<TaskRegistration>& tasks);
void AddHumanoidTasks(std::vector<TaskRegistration>& tasks);
void AddCartpoleTasks(std::vector<TaskRegistration>& tasks);
void AddGymLocomotionTasks(std::vector<TaskRegistration>& tasks);
void AddToyTasks(std::vector<TaskRegistration>& tasks);

}  // namespace gorl::envs

#endif  // GORL_ENVS_TASK_CATALOG_H_
