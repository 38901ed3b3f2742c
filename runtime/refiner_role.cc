#include "runtime/refiner_role.h"

#include <chrono>
#include <memory>

#include <glog/logging.h>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
#include "runtime/health_service.h"
#include "runtime/protocol.h"
#include "runtime/role_lines.h"
#include "runtime/shutdown_signals.h"

namespace gorl::runtime {
namespace {

constexpr char kDefaultListen[] = "0.0.0.0:50052";

}  // namespace

absl::Status RunRefinerRole(const RefinerRoleOptions& options) {
  InstallShutdownSignals();
  GORL_ASSIGN_OR_RETURN(const TransportSecurity security, LoadTransportSecurity(options.security));
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("refiner", "", options.metrics);
  RefinerServiceOptions service_options;
  service_options.max_refine_bytes = options.max_refine_bytes;
  RefinerService service(*metrics, service_options);
  HealthStatuses health({kRefinerServiceName});
  HealthService main_health(health);
  HealthService port_health(health);
  std::string address;
  ServerOptions server_options;
  server_options.security = security;
  server_options.metrics = metrics.get();
  server_options.max_receive_message_bytes = kMaxRefinerMessageBytes;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<grpc::Server> server,
                        StartServer(options.listen.empty() ? kDefaultListen : options.listen,
                                    {&service, &main_health}, server_options, &address));
  GORL_ASSIGN_OR_RETURN(const std::unique_ptr<grpc::Server> health_server,
                        StartHealthServerIfAsked(options.health, port_health));
  // Destroyed before the servers, whose destructors wait for every call.
  absl::Cleanup end_health_watches = [&health] { health.Shutdown(); };
  health.SetAll(grpc::health::v1::HealthCheckResponse::SERVING);
  AnnounceListening("refiner", address);
  LOG(INFO) << "refiner serving on " << address;
  // Callbacks run one at a time (runtime/shutdown_signals.h), so the check
  // before Notify cannot race with another signal's.
  absl::Notification stop;
  OnShutdownSignal([&](int) {
    health.Shutdown();  // NOT_SERVING from the first signal on
    if (!stop.HasBeenNotified()) stop.Notify();
  });
  // The main loop: a heartbeat a second (gorl_heartbeat_timestamp_seconds).
  do {
    metrics->Heartbeat();
  } while (!stop.WaitForNotificationWithTimeout(absl::Seconds(1)));
  OnShutdownSignal(nullptr);
  health.Shutdown();
  // A refinement in progress is abandoned: the learner retries elsewhere.
  server->Shutdown(DeadlineIn(std::chrono::seconds(2)));
  if (health_server != nullptr) health_server->Shutdown(DeadlineIn(std::chrono::seconds(1)));
  return absl::OkStatus();
}

}  // namespace gorl::runtime
