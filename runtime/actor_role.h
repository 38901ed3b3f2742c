// One actor as its own process (`gorl actor`): steps its envs with the
// policy the learner streams to it, until the run is over or SIGINT /
// SIGTERM. The task and the env settings come from the same preset, config
// and overrides as the learner's.
#ifndef GORL_RUNTIME_ACTOR_ROLE_H_
#define GORL_RUNTIME_ACTOR_ROLE_H_

#include <string>

#include "absl/status/status.h"
#include "runtime/metrics_endpoint.h"
#include "runtime/run_config.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

struct ActorRoleOptions {
  ConfigSource config;
  std::string assets;  // model files; "" = $GORL_ASSETS
  std::string learner = "localhost:50051";
  std::string actor_id;  // "" = the learner picks one
  int num_envs = 0;      // 0 = rollout.num_envs
  // Training unrolls' env steps per second, on average (0: no cap).
  double max_env_steps_per_second = 0;
  MetricsEndpoint metrics;
  // TLS (verifying the learner), client certificate and token.
  TransportSecurityFlags security;
};

// OK once the learner says the run is over or after a shutdown signal; an
// error for a configuration the learner refuses. Installs the shutdown
// signals: call it on the main thread before any other thread exists.
absl::Status RunActorRole(const ActorRoleOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ACTOR_ROLE_H_
