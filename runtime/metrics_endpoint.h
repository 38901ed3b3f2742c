// Where a role serves its Prometheus metrics, and the RoleMetrics it
// records into either way.
#ifndef GORL_RUNTIME_METRICS_ENDPOINT_H_
#define GORL_RUNTIME_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "common/metrics.h"

namespace gorl::runtime {

struct MetricsEndpoint {
  std::string host = "0.0.0.0";  // the interface the exporter binds
  int port = 0;                  // 0: not served
};

// Served on `endpoint` when it has a port, else kept in the process only.
// A port that cannot be bound is logged, not fatal: metrics must never stop
// training.
std::unique_ptr<RoleMetrics> MakeRoleMetrics(const std::string& role, const std::string& instance,
                                             const MetricsEndpoint& endpoint);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_METRICS_ENDPOINT_H_
