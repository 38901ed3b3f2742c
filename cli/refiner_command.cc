// `gorl refiner`: the refiner role as its own process. Serves
// gorl.v1.Refiner until SIGINT / SIGTERM. Every refinement request carries
// its own settings, so this role takes no run configuration.
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "cli/commands.h"
#include "cli/role_flags.h"
#include "cli/train_support.h"
#include "common/status_macros.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
#include "runtime/shutdown_signals.h"

namespace gorl::cli {
namespace {

constexpr char kDefaultListen[] = "0.0.0.0:50052";

absl::Status RunRefiner() {
  runtime::InstallShutdownSignals();
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("refiner", "");
  runtime::RefinerService service(*metrics);
  std::string address;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<grpc::Server> server,
                        runtime::StartServer(ListenAddress(kDefaultListen), {&service}, &address));
  AnnounceListening("refiner", address);
  LOG(INFO) << "refiner serving on " << address;
  std::mutex mu;
  std::condition_variable stop;
  bool stopping = false;
  runtime::OnShutdownSignal([&](int) {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    stop.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    stop.wait(lock, [&] { return stopping; });
  }
  runtime::OnShutdownSignal(nullptr);
  // A refinement in progress is abandoned: the learner retries elsewhere.
  server->Shutdown(runtime::DeadlineIn(std::chrono::seconds(2)));
  return absl::OkStatus();
}

}  // namespace

int RunRefinerCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "gorl refiner: unexpected argument '%s' (the learner sends the "
                         "refinement settings)\n", args[0].c_str());
    return kExitUsage;
  }
  const absl::Status status = RunRefiner();
  if (!status.ok()) std::fprintf(stderr, "gorl refiner: %s\n", status.ToString().c_str());
  return ExitCodeFor(status);
}

}  // namespace gorl::cli
