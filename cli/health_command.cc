// `gorl health`: one health probe of a role (runtime/health_check.h), for
// Docker's HEALTHCHECK and Kubernetes exec probes. Exit 0 healthy, 1 not
// (one line on stderr says why), 2 bad usage. It runs every few seconds:
// it does nothing but the probe.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/numbers.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/health_check.h"

namespace gorl::cli {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

int RunHealth(runtime::HealthCheckOptions options) {
  // The image's exec-form HEALTHCHECK passes no flags: the deployment says
  // what to probe in the environment.
  if (options.target.empty() && options.metrics.empty()) {
    options.target = Env("GORL_HEALTH_TARGET");
    options.metrics = Env("GORL_HEALTH_METRICS");
    if (options.service.empty()) options.service = Env("GORL_HEALTH_SERVICE");
    const std::string max_age = Env("GORL_HEALTH_MAX_AGE_S");
    if (!max_age.empty() && !absl::SimpleAtoi(max_age, &options.max_age_s)) {
      std::fprintf(stderr, "gorl health: GORL_HEALTH_MAX_AGE_S=\"%s\" is not a number of seconds\n",
                   max_age.c_str());
      return runtime::kExitUsage;
    }
  }
  const absl::Status status = runtime::RunHealthCheck(options);
  if (status.ok()) return runtime::kExitOk;
  std::fprintf(stderr, "gorl health: %s\n", std::string(status.message()).c_str());
  // Only bad options are usage errors; anything the probe found is "unhealthy".
  return status.code() == absl::StatusCode::kInvalidArgument ? runtime::kExitUsage
                                                             : runtime::kExitFailure;
}

}  // namespace

Command AddHealthCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "health",
      "Probe a role's health: a learner's or refiner's grpc.health.v1, or an actor's "
      "heartbeat gauge (exit 0 healthy, 1 not)");
  auto options = std::make_shared<runtime::HealthCheckOptions>();
  app->add_option("--target", options->target,
                  "host:port of a grpc.health.v1 server: a learner's or refiner's --health_port "
                  "(plaintext), or its main port with --tls_ca ...");
  app->add_option("--service", options->service,
                  "Service to ask about: \"\" (the whole server), gorl.v1.Learner or "
                  "gorl.v1.Refiner");
  app->add_option("--metrics", options->metrics,
                  "host:port of a role's Prometheus exporter (--metrics_port): check that "
                  "gorl_heartbeat_timestamp_seconds is recent");
  app->add_option("--max_age_s", options->max_age_s,
                  "Oldest heartbeat (seconds) that counts as alive, with --metrics")
      ->check(CLI::PositiveNumber);
  app->add_option("--timeout_s", options->timeout_s,
                  "Seconds to wait for an answer before reporting the target unreachable")
      ->check(CLI::PositiveNumber);
  AddTransportSecurityFlags(*app, options->security);
  app->footer(
      "Without --target and --metrics, reads GORL_HEALTH_TARGET, GORL_HEALTH_SERVICE, "
      "GORL_HEALTH_METRICS and GORL_HEALTH_MAX_AGE_S from the environment (what the image's "
      "HEALTHCHECK runs). Plaintext unless --tls_ca is given. Exit 0: SERVING (and a fresh "
      "heartbeat); 1: NOT_SERVING, unknown service, unreachable, stale or missing heartbeat "
      "(one line on stderr says which); 2: bad usage.\n"
      "\n"
      "Examples:\n"
      "  gorl health --target localhost:8080 --service gorl.v1.Learner\n"
      "  gorl health --metrics localhost:9100 --max_age_s 120\n"
      "  gorl health --target learner:50051 --tls_ca tls/ca.pem --tls_cert tls/actor-0.pem "
      "--tls_key tls/actor-0.key --token_file tls/token --tls_server_name learner");
  return {app, [options] { return RunHealth(*options); }};
}

}  // namespace gorl::cli
