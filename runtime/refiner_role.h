// The refiner role as its own process (`gorl refiner`): serves
// gorl.v1.Refiner until SIGINT / SIGTERM. Every refinement request carries
// its own settings, so this role takes no run configuration.
#ifndef GORL_RUNTIME_REFINER_ROLE_H_
#define GORL_RUNTIME_REFINER_ROLE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "runtime/health_service.h"
#include "runtime/metrics_endpoint.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

struct RefinerRoleOptions {
  // host:port (port 0 picks a free one) or unix:PATH; "" = the default.
  std::string listen = "0.0.0.0:50052";
  MetricsEndpoint metrics;
  // The plaintext health-only port (grpc.health.v1; port 0: none). Health
  // is also served on `listen`. SERVING once listening, NOT_SERVING from a
  // shutdown signal on.
  HealthEndpoint health;
  // Largest refinement data one request may carry (kDefaultMaxRefineBytes:
  // 256 MiB, the paper preset's on any task).
  int64_t max_refine_bytes = int64_t{256} << 20;
  // TLS, mTLS (only the run's learner may call) and token.
  TransportSecurityFlags security;
};

// Prints the "listening" line once it serves; returns after a shutdown
// signal (a refinement in progress is abandoned: the learner retries).
// Installs the shutdown signals: call it on the main thread before any
// other thread exists.
absl::Status RunRefinerRole(const RefinerRoleOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_REFINER_ROLE_H_
