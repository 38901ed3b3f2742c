// `gorl actor`: one actor process. Steps its envs with the policy the
// learner at --learner streams to it, until the run is over or SIGINT /
// SIGTERM. The task and the env settings come from the same preset, config
// and overrides as `gorl train`.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "cli/commands.h"
#include "cli/role_flags.h"
#include "cli/train_support.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "runtime/actor_process.h"
#include "runtime/shutdown_signals.h"

namespace gorl::cli {
namespace {

absl::Status RunActor(const std::vector<std::string>& args) {
  runtime::InstallShutdownSignals();
  GORL_ASSIGN_OR_RETURN(const std::vector<std::string> overrides, ParseOverrides(args));
  GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, BuildConfig(overrides));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)));
  runtime::ActorProcessOptions options;
  options.learner_address = absl::GetFlag(FLAGS_learner);
  options.actor_id = absl::GetFlag(FLAGS_actor_id);
  options.num_envs = absl::GetFlag(FLAGS_actor_envs) > 0 ? absl::GetFlag(FLAGS_actor_envs)
                                                         : config.rollout().num_envs();
  options.num_threads = config.rollout().num_threads();
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("actor", options.actor_id);
  runtime::ActorProcess actor(options, *factory, *metrics);
  runtime::OnShutdownSignal([&](int) { actor.Stop(); });
  const absl::Status status = actor.Run();
  runtime::OnShutdownSignal(nullptr);
  return status;
}

}  // namespace

int RunActorCommand(const std::vector<std::string>& args) {
  const absl::Status status = RunActor(args);
  if (!status.ok()) std::fprintf(stderr, "gorl actor: %s\n", status.ToString().c_str());
  return ExitCodeFor(status);
}

}  // namespace gorl::cli
