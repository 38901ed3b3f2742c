#include "runtime/refiner_role.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <glog/logging.h>

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
  RefinerService service(*metrics);
  std::string address;
  GORL_ASSIGN_OR_RETURN(
      std::unique_ptr<grpc::Server> server,
      StartServer(options.listen.empty() ? kDefaultListen : options.listen, {&service}, &address));
  AnnounceListening("refiner", address);
  LOG(INFO) << "refiner serving on " << address;
  std::mutex mu;
  std::condition_variable stop;
  bool stopping = false;
  OnShutdownSignal([&](int) {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    stop.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    stop.wait(lock, [&] { return stopping; });
  }
  OnShutdownSignal(nullptr);
  // A refinement in progress is abandoned: the learner retries elsewhere.
  server->Shutdown(DeadlineIn(std::chrono::seconds(2)));
  return absl::OkStatus();
}

}  // namespace gorl::runtime
