// `gorl tasks`: the task catalogue. Needs no model files.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "envs/task_registry.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

int ListTasks(bool json) {
  const auto& tasks = envs::AllTasks();
  if (json) {
    std::printf("[\n");
    for (size_t i = 0; i < tasks.size(); ++i) {
      const envs::TaskSpec& s = tasks[i].spec;
      std::printf(
          "  {\"name\": \"%s\", \"family\": \"%s\", \"obs_size\": %d, \"action_size\": %d, "
          "\"control_timestep\": %g, \"physics_substeps\": %d, \"episode_length\": %d, "
          "\"can_terminate\": %s, \"model_file\": \"%s\"}%s\n",
          s.name.c_str(), s.family.c_str(), s.obs_size, s.action_size, s.control_timestep,
          s.physics_substeps, s.episode_length, s.can_terminate ? "true" : "false",
          s.model_file.c_str(), i + 1 < tasks.size() ? "," : "");
    }
    std::printf("]\n");
    return runtime::kExitOk;
  }
  std::printf("%-18s %-11s %5s %5s %10s %9s %9s  %s\n", "task", "family", "obs", "act",
              "control_dt", "substeps", "episode", "terminates");
  for (const envs::TaskRegistration& task : tasks) {
    const envs::TaskSpec& s = task.spec;
    std::printf("%-18s %-11s %5d %5d %10s %9d %9d  %s\n", s.name.c_str(), s.family.c_str(),
                s.obs_size, s.action_size, absl::StrFormat("%gs", s.control_timestep).c_str(),
                s.physics_substeps, s.episode_length, s.can_terminate ? "yes" : "no");
  }
  return runtime::kExitOk;
}

}  // namespace

Command AddTasksCommand(CLI::App& gorl) {
  CLI::App* app =
      gorl.add_subcommand("tasks", "List every task with observation/action sizes and timing");
  auto json = std::make_shared<bool>(false);
  AddJsonFlag(*app, *json);
  app->footer("Needs no model files.\n\nExamples:\n  gorl tasks\n  gorl tasks --json");
  return {app, [json] { return ListTasks(*json); }};
}

}  // namespace gorl::cli
