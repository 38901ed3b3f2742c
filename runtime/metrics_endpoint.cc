#include "runtime/metrics_endpoint.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"

namespace gorl::runtime {

std::unique_ptr<RoleMetrics> MakeRoleMetrics(const std::string& role, const std::string& instance,
                                             const MetricsEndpoint& endpoint) {
  if (endpoint.port > 0) {
    const std::string address = absl::StrCat(endpoint.host, ":", endpoint.port);
    absl::StatusOr<std::unique_ptr<RoleMetrics>> served =
        RoleMetrics::Serve(address, role, instance);
    if (served.ok()) return *std::move(served);
    LOG(WARNING) << "metrics not served: " << served.status();
  }
  return RoleMetrics::Unserved(role, instance);
}

}  // namespace gorl::runtime
