#include "runtime/health_service.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/grpc_util.h"

namespace gorl::runtime {
namespace {

using grpc::health::v1::HealthCheckResponse;

// How often a Watch stream with nothing to send looks whether its client
// has gone (the sync API has no cancellation callback).
constexpr absl::Duration kWatchPoll = absl::Seconds(1);

// A health request is a service name: nothing bigger may reach the
// plaintext port.
constexpr int kMaxHealthMessageBytes = 4096;

}  // namespace

HealthStatuses::HealthStatuses(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& service : services) statuses_[service] = HealthCheckResponse::NOT_SERVING;
}

void HealthStatuses::SetAll(ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;  // a server going away is never SERVING again
  for (auto& [name, value] : statuses_) value = status;
}

std::optional<ServingStatus> HealthStatuses::Get(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  const auto it = statuses_.find(service);
  if (it == statuses_.end()) return std::nullopt;
  return it->second;
}

ServingStatus HealthStatuses::Lookup(const std::string& service) const {
  const auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

ServingStatus HealthStatuses::AwaitChange(const std::string& service, ServingStatus last,
                                          absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shut_down_ || Lookup(service) != last;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return Lookup(service);
}

void HealthStatuses::Shutdown() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, value] : statuses_) value = HealthCheckResponse::NOT_SERVING;
  shut_down_ = true;
}

bool HealthStatuses::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  const std::optional<ServingStatus> status = statuses_.Get(request->service());
  if (!status.has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown service \"", request->service(), "\""));
  }
  response->set_status(*status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  // Upstream's Watch reports an unknown service as SERVICE_UNKNOWN and
  // keeps watching it.
  const auto status_now = [&] {
    return statuses_.Get(request->service()).value_or(HealthCheckResponse::SERVICE_UNKNOWN);
  };
  const auto write = [&](ServingStatus status) {
    HealthCheckResponse response;
    response.set_status(status);
    return writer->Write(response);
  };
  ServingStatus current = status_now();
  while (true) {
    if (!write(current)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
    ServingStatus next = current;
    while (next == current) {
      if (statuses_.shut_down()) {
        // Statuses are final once shut down. Shutdown may have come between
        // two looks at them, so the watcher is told the last one (NOT_SERVING)
        // here rather than missing it.
        const ServingStatus last = status_now();
        if (last != current) write(last);
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
      }
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      next = statuses_.AwaitChange(request->service(), current, kWatchPoll);
    }
    current = next;
  }
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServer(const HealthEndpoint& endpoint,
                                                                HealthService& health,
                                                                std::string* bound_address) {
  ServerOptions options;
  options.security = TransportSecurity::Insecure();
  options.max_receive_message_bytes = kMaxHealthMessageBytes;
  return StartServer(
      absl::StrCat(endpoint.host.empty() ? "0.0.0.0" : endpoint.host, ":", endpoint.port),
      {&health}, options, bound_address);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServerIfAsked(
    const HealthEndpoint& endpoint, HealthService& health) {
  if (endpoint.port <= 0) return nullptr;
  std::string address;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<grpc::Server> server,
                        StartHealthServer(endpoint, health, &address));
  LOG(INFO) << "health (plaintext, grpc.health.v1 only) on " << address;
  return server;
}

}  // namespace gorl::runtime
