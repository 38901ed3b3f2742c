#include "runtime/actor_role.h"

#include <cmath>
#include <memory>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "runtime/actor_process.h"
#include "runtime/shutdown_signals.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

absl::Status RunActorRole(const ActorRoleOptions& options) {
  InstallShutdownSignals();
  if (!std::isfinite(options.max_env_steps_per_second) || options.max_env_steps_per_second < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_env_steps_per_second must be a finite number >= 0 (0: no cap), not ",
                     options.max_env_steps_per_second));
  }
  GORL_ASSIGN_OR_RETURN(const v1::TrainConfig config, BuildTrainConfig(options.config));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), options.assets));
  GORL_ASSIGN_OR_RETURN(const TransportSecurity security, LoadTransportSecurity(options.security));
  ActorProcessOptions process;
  process.learner_address = options.learner;
  GORL_ASSIGN_OR_RETURN(process.credentials, ChannelCredentialsFor(options.learner, security));
  if (security.insecure && !IsUnixSocketAddress(options.learner)) {
    // A TLS learner drops a plaintext client in the handshake, which it
    // cannot report: say here what the resulting UNAVAILABLE may mean.
    LOG(WARNING) << "dialling " << options.learner
                 << " in plaintext (--insecure): a learner that uses TLS refuses this connection "
                    "and the join fails with UNAVAILABLE; pass --tls_ca instead";
  }
  process.actor_id = options.actor_id;
  process.num_envs = options.num_envs > 0 ? options.num_envs : config.rollout().num_envs();
  process.num_threads = config.rollout().num_threads();
  process.max_env_steps_per_second = options.max_env_steps_per_second;
  if (process.max_env_steps_per_second > 0) {
    LOG(INFO) << "training unrolls capped at " << process.max_env_steps_per_second
              << " env steps/s (--max_env_steps_per_second)";
  }
  std::unique_ptr<RoleMetrics> metrics =
      MakeRoleMetrics("actor", process.actor_id, options.metrics);
  ActorProcess actor(process, *factory, *metrics);
  OnShutdownSignal([&](int) { actor.Stop(); });
  absl::Status status = actor.Run();
  OnShutdownSignal(nullptr);
  return status;
}

}  // namespace gorl::runtime
