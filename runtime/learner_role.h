// The learner role as its own process (`gorl learner`): serves
// gorl.v1.Learner to the actors, calls the refiner, and runs the stage
// coordinator (learner/training_loop.h) over them, writing the run
// directory like the in-process driver does.
#ifndef GORL_RUNTIME_LEARNER_ROLE_H_
#define GORL_RUNTIME_LEARNER_ROLE_H_

#include <string>

#include "absl/status/status.h"
#include "runtime/health_service.h"
#include "runtime/metrics_endpoint.h"
#include "runtime/run_config.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

struct LearnerRoleOptions {
  // A new run: its configuration, written to run_dir ("" = DefaultRunDir).
  ConfigSource config;
  std::string run_dir;
  // Or continue the run in this directory from its checkpoint.pb and
  // config.textproto (then `config` must hold no overrides and run_dir is
  // ignored).
  std::string resume_dir;
  // A run_dir that holds a run is refused unless this is set: then the
  // earlier run's files are removed first (PrepareRunDir).
  bool overwrite = false;
  // Continue the run in run_dir when it has a checkpoint, else start it: the
  // same command serves a first start and every restart under a supervisor
  // (compose, Kubernetes). The configuration must equal the saved one.
  bool resume_if_present = false;
  std::string assets;  // model files; "" = $GORL_ASSETS
  // host:port (port 0 picks a free one) or unix:PATH; "" = the default.
  std::string listen = "0.0.0.0:50051";
  std::string refiner = "localhost:50052";
  // Deadline of one Refine call (streaming and training); a call past it is
  // retried (kDefaultRefineTimeoutSeconds: 6 h).
  int refine_timeout_s = 6 * 3600;
  MetricsEndpoint metrics;
  // The plaintext health-only port (grpc.health.v1; port 0: none). Health
  // is also served on `listen`, behind its TLS and token. NOT_SERVING until
  // the run's position is loaded and actors are accepted, SERVING then,
  // NOT_SERVING again from a shutdown signal or the end of the run on.
  HealthEndpoint health;
  // TLS, mTLS and token for the actors' port and the refiner client.
  TransportSecurityFlags security;
  // Env-unroll sequences buffered before actors' sends block (0: one PPO batch).
  int queue_capacity = 0;
  // Encoder versions a rollout may lag and still be used (0: on-policy).
  int max_policy_lag = 0;
  // Shares per collect / evaluation (0: one per connected actor).
  int work_shares = 0;
  // Seconds before an unfinished share goes to another actor.
  int share_timeout_s = 1800;
  // Seconds every actor may have only its data refused before the run fails.
  int refused_data_timeout_s = 30;
  // Actors that must have joined before training starts (the launcher
  // passes the number it starts).
  int min_actors = 1;
  // Actor sessions at once (RESOURCE_EXHAUSTED beyond).
  int max_actors = 256;
  // Seconds a joined actor has to open its policy stream before its
  // session is removed.
  int join_timeout_s = 30;
  // Progress as JSON lines on stdout (for the launcher) instead of the
  // status line on stderr.
  bool progress_json = false;
};

// Prints the "listening" line once it serves, trains to the end and prints
// the final result (and writes final_eval.json). SIGINT / SIGTERM stop it
// after a checkpoint; the actors are then left to retry, so that a
// restarted learner resumes the run. Installs the shutdown signals: call
// it on the main thread before any other thread exists.
absl::Status RunLearnerRole(const LearnerRoleOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_LEARNER_ROLE_H_
