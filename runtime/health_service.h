// grpc.health.v1.Health for the learner and the refiner: Kubernetes' gRPC
// probes, Docker's HEALTHCHECK (`gorl health`) and load balancers ask it
// whether a role is ready for its peers.
//
// HealthStatuses holds the status of each service name ("" is the process
// as a whole) and is what the role updates; HealthService is the gRPC face
// over it. A role serves one HealthStatuses through two HealthService
// objects (a grpc::Service can be registered on one server only): one on
// its main, TLS-protected port and one on the optional plaintext
// health-only port (docs/security.md says why that port may be plaintext).
#ifndef GORL_RUNTIME_HEALTH_SERVICE_H_
#define GORL_RUNTIME_HEALTH_SERVICE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace gorl::runtime {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// Where a role serves its plaintext health-only port.
struct HealthEndpoint {
  std::string host = "0.0.0.0";  // the interface it binds
  int port = 0;                  // 0: not served
};

// The service names a role reports besides "" (the whole process).
inline constexpr char kLearnerServiceName[] = "gorl.v1.Learner";
inline constexpr char kRefinerServiceName[] = "gorl.v1.Refiner";

// Thread-safe.
class HealthStatuses {
 public:
  // "" and each of `services` start NOT_SERVING.
  explicit HealthStatuses(const std::vector<std::string>& services);

  // Sets every known service (the role is ready, or draining).
  void SetAll(ServingStatus status) ABSL_LOCKS_EXCLUDED(mu_);
  // nullopt for a service that was never named.
  std::optional<ServingStatus> Get(const std::string& service) const ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for the status of `service` (SERVICE_UNKNOWN when
  // unknown) to differ from `last`, or for Shutdown; returns the status then.
  ServingStatus AwaitChange(const std::string& service, ServingStatus last,
                            absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

  // Sets every service NOT_SERVING for good, ends every Watch stream (after
  // it sent that) and makes new ones end at once: call before
  // grpc::Server::Shutdown, which would otherwise wait its whole deadline
  // for them.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  bool shut_down() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ServingStatus Lookup(const std::string& service) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // `statuses` must outlive the service.
  explicit HealthService(const HealthStatuses& statuses) : statuses_(statuses) {}

  // The current status; NOT_FOUND for an unknown service.
  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // The current status, then each change, until the client cancels or
  // HealthStatuses::Shutdown.
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  const HealthStatuses& statuses_;
};

// The plaintext health-only server: `health` and nothing else, on
// host:port (port 0 picks a free one; `bound_address` receives the real
// one). Plaintext on purpose: Kubernetes' gRPC probes cannot do TLS, and
// a status is no secret (docs/security.md).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServer(const HealthEndpoint& endpoint,
                                                                HealthService& health,
                                                                std::string* bound_address);

// What a role does with its --health_port: nullptr when `endpoint.port` is 0
// (off), else StartHealthServer, logging the address it serves on.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServerIfAsked(
    const HealthEndpoint& endpoint, HealthService& health);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_HEALTH_SERVICE_H_
