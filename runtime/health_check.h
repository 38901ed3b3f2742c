// `gorl health`: one probe of a role's health, for Docker's HEALTHCHECK,
// Kubernetes exec probes and people. Either a grpc.health.v1 Check of a
// learner or refiner (its plaintext --health_port, or its main port with
// the TLS flags), or, for actors (which serve no gRPC), the age of the
// gorl_heartbeat_timestamp_seconds gauge on its /metrics page.
#ifndef GORL_RUNTIME_HEALTH_CHECK_H_
#define GORL_RUNTIME_HEALTH_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

struct HealthCheckOptions {
  // host:port (or unix:PATH) of a grpc.health.v1 server; "" = no gRPC check.
  std::string target;
  std::string service;  // "" asks about the server as a whole
  // Plaintext unless tls_ca is set (the health-only port is plaintext);
  // with it, TLS like a role's client (and the token, when given).
  TransportSecurityFlags security;
  // host:port of a role's Prometheus exporter; "" = no heartbeat check.
  std::string metrics;
  int max_age_s = 120;  // oldest heartbeat that still counts as alive
  int timeout_s = 5;    // for the whole gRPC call, and each HTTP step
};

// OK when the target is SERVING and the heartbeat is fresh (each one that
// is asked for). Otherwise an error whose message is one line naming why:
// NOT_SERVING (Unavailable), unknown service (NotFound), unreachable within
// the timeout (Unavailable), a stale or missing heartbeat
// (FailedPrecondition). InvalidArgument only for bad options (nothing to
// check, a malformed address, unreadable TLS files).
absl::Status RunHealthCheck(const HealthCheckOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_HEALTH_CHECK_H_
