#include "runtime/refiner_role.h"

#include <chrono>
#include <memory>

#include <glog/logging.h>

#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
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
  std::string address;
  ServerOptions server_options;
  server_options.security = security;
  server_options.metrics = metrics.get();
  server_options.max_receive_message_bytes = kMaxRefinerMessageBytes;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<grpc::Server> server,
                        StartServer(options.listen.empty() ? kDefaultListen : options.listen,
                                    {&service}, server_options, &address));
  AnnounceListening("refiner", address);
  LOG(INFO) << "refiner serving on " << address;
  // Callbacks run one at a time (runtime/shutdown_signals.h), so the check
  // before Notify cannot race with another signal's.
  absl::Notification stop;
  OnShutdownSignal([&](int) {
    if (!stop.HasBeenNotified()) stop.Notify();
  });
  stop.WaitForNotification();
  OnShutdownSignal(nullptr);
  // A refinement in progress is abandoned: the learner retries elsewhere.
  server->Shutdown(DeadlineIn(std::chrono::seconds(2)));
  return absl::OkStatus();
}

}  // namespace gorl::runtime
