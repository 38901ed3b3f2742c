// Flags of the distributed runtime's subcommands (`gorl learner`, `gorl
// refiner`, `gorl actor`, and the `gorl train` launcher that starts them).
#ifndef GORL_CLI_ROLE_FLAGS_H_
#define GORL_CLI_ROLE_FLAGS_H_

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "common/metrics.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, learner);
ABSL_DECLARE_FLAG(std::string, refiner);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(std::string, metrics_host);
ABSL_DECLARE_FLAG(std::string, actor_id);
ABSL_DECLARE_FLAG(int, actor_envs);
ABSL_DECLARE_FLAG(int, actors);
ABSL_DECLARE_FLAG(bool, in_process);
ABSL_DECLARE_FLAG(int, queue_capacity);
ABSL_DECLARE_FLAG(int, max_policy_lag);
ABSL_DECLARE_FLAG(int, work_shares);
ABSL_DECLARE_FLAG(int, share_timeout_s);
ABSL_DECLARE_FLAG(bool, progress_json);

namespace gorl::cli {

// Served on --metrics_host:--metrics_port when the port is set, else kept
// in the process only (a port that cannot be bound is logged, not fatal:
// metrics must never stop training).
std::unique_ptr<RoleMetrics> MakeRoleMetrics(const std::string& role, const std::string& instance);

// --listen, or `fallback` when it is empty.
std::string ListenAddress(const std::string& fallback);

// Prints {"event": "listening", "role": ..., "address": ...} on stdout: the
// launcher and tests learn a role's port (chosen with port 0) from it.
void AnnounceListening(const std::string& role, const std::string& address);

}  // namespace gorl::cli

#endif  // GORL_CLI_ROLE_FLAGS_H_
