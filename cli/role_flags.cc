#include "cli/role_flags.h"

#include <cstdio>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/metrics_log.h"

ABSL_FLAG(std::string, listen, "",
          "host:port this role serves gRPC on (learner 0.0.0.0:50051, refiner 0.0.0.0:50052; "
          "port 0 picks a free one), or unix:PATH for a Unix socket");
ABSL_FLAG(std::string, learner, "localhost:50051", "The learner's address (actors)");
ABSL_FLAG(std::string, refiner, "localhost:50052", "The refiner's address (learner)");
ABSL_FLAG(int, metrics_port, 0,
          "Serve Prometheus metrics on this port (0: not served). `gorl train` gives the "
          "learner this port, the refiner the next and actor i port + 2 + i");
ABSL_FLAG(std::string, metrics_host, "0.0.0.0", "Interface the metrics exporter binds");
ABSL_FLAG(std::string, actor_id, "", "This actor's id (default: the learner picks one)");
ABSL_FLAG(int, actor_envs, 0, "Environments this actor steps (default: rollout.num_envs)");
ABSL_FLAG(int, actors, 0,
          "`gorl train`: actor processes to start (default: one per spare core, at least 1)");
ABSL_FLAG(bool, in_process, false,
          "`gorl train`: run every role in this one process instead of starting processes");
ABSL_FLAG(int, queue_capacity, 0,
          "Learner: env-unroll sequences buffered before actors' sends block (0: one PPO batch)");
ABSL_FLAG(int, max_policy_lag, 0,
          "Learner: encoder versions a rollout may lag and still be used (0 = on-policy)");
ABSL_FLAG(int, work_shares, 0,
          "Learner: shares per collect / evaluation (0 = one per connected actor; set it for "
          "results that do not depend on the number of actors)");
ABSL_FLAG(int, share_timeout_s, 1800,
          "Learner: seconds before an unfinished collect / eval share goes to another actor");
ABSL_FLAG(bool, progress_json, false,
          "Learner: progress as JSON lines on stdout (for the launcher) instead of a status line");

namespace gorl::cli {

std::unique_ptr<RoleMetrics> MakeRoleMetrics(const std::string& role,
                                             const std::string& instance) {
  const int port = absl::GetFlag(FLAGS_metrics_port);
  if (port > 0) {
    const std::string address = absl::StrCat(absl::GetFlag(FLAGS_metrics_host), ":", port);
    absl::StatusOr<std::unique_ptr<RoleMetrics>> served =
        RoleMetrics::Serve(address, role, instance);
    if (served.ok()) return *std::move(served);
    LOG(WARNING) << "metrics not served: " << served.status();
  }
  return RoleMetrics::Unserved(role, instance);
}

std::string ListenAddress(const std::string& fallback) {
  const std::string flag = absl::GetFlag(FLAGS_listen);
  return flag.empty() ? fallback : flag;
}

void AnnounceListening(const std::string& role, const std::string& address) {
  std::printf("%s\n",
              JsonRow().Add("event", "listening").Add("role", role).Add("address", address)
                  .ToString().c_str());
  std::fflush(stdout);
}

}  // namespace gorl::cli
