#include "runtime/refiner_role.h"

#include <chrono>
#include <memory>

#include <glog/logging.h>

#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
#include "runtime/role_lines.h"
#include "runtime/shutdown_signals.h"

namespace gorl::runtime {
namespace {

constexpr char kDefaultListen[] = "0.0.0.0:50052";

}  // namespace

absl::Status RunRefinerRole(const RefinerRoleOptions& options) {
  InstallShutdownSignals();
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("refiner", "", options.metrics);
  RefinerServiceOptions service_options;
  service_options.max_refine_bytes = options.max_refine_bytes;
  RefinerService service(*metrics, service_options);
  std::string address;
  GORL_ASSIGN_OR_RETURN(
      std::unique_ptr<grpc::Server> server,
      StartServer(options.listen.empty() ? kDefaultListen : options.listen, {&service}, &address));
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
