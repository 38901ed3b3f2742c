#include "runtime/metrics_endpoint.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "runtime/auth_processor.h"

namespace gorl::runtime {
namespace {

// The labelled families' series that `role` can ever count, at zero, so that
// dashboards and alerts find every family in the first scrape
// (deploy/grafana; tools/deploy-check checks their names against a scrape).
void DeclareSeries(const std::string& role, RoleMetrics& metrics) {
  if (role == "learner") {
    // Served methods, and the refiner client's Refine.
    metrics.DeclareRpcMethods({"Join", "Policy", "Send", "Leave", "Refine"});
    // docs/runtime.md "Limits on peers": common/message_checks.h's reasons
    // and the fleet's own.
    metrics.DeclareRefusalReasons({"shape", "non_finite", "out_of_range", "malformed", "session",
                                   "bad_result", "join", "id_in_use", "max_actors",
                                   "stream_limit"});
  } else if (role == "refiner") {
    metrics.DeclareRpcMethods({"Refine"});
  } else if (role == "actor") {
    metrics.DeclareRpcMethods({"Join", "Policy", "Send"});
  }
  if (role == "learner" || role == "refiner") {
    metrics.DeclareAuthFailureReasons(
        {kReasonNoClientCert, kReasonBadClientCert, kReasonMissingToken, kReasonWrongToken});
  }
}

}  // namespace

std::unique_ptr<RoleMetrics> MakeRoleMetrics(const std::string& role, const std::string& instance,
                                             const MetricsEndpoint& endpoint) {
  std::unique_ptr<RoleMetrics> metrics;
  if (endpoint.port > 0) {
    const std::string address = absl::StrCat(endpoint.host, ":", endpoint.port);
    absl::StatusOr<std::unique_ptr<RoleMetrics>> served =
        RoleMetrics::Serve(address, role, instance);
    if (served.ok()) {
      metrics = *std::move(served);
    } else {
      LOG(WARNING) << "metrics not served: " << served.status();
    }
  }
  if (metrics == nullptr) metrics = RoleMetrics::Unserved(role, instance);
  DeclareSeries(role, *metrics);
  return metrics;
}

}  // namespace gorl::runtime
