// `gorl refiner`: the refiner role as its own process (runtime/refiner_role.h).
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/refiner_role.h"

namespace gorl::cli {
namespace {

int RunRefiner(const runtime::RefinerRoleOptions& options) {
  const absl::Status status = runtime::RunRefinerRole(options);
  if (!status.ok()) std::fprintf(stderr, "gorl refiner: %s\n", status.ToString().c_str());
  return runtime::ExitCodeFor(status);
}

}  // namespace

Command AddRefinerCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "refiner", "The refiner role: trains decoders for the learner (--listen)");
  auto options = std::make_shared<runtime::RefinerRoleOptions>();
  AddListenFlag(*app, options->listen);
  AddMetricsFlags(*app, options->metrics);
  AddHealthFlags(*app, options->health);
  app->add_option("--max_refine_bytes", options->max_refine_bytes,
                  "Largest refinement data one request may carry (default 256 MiB: the paper "
                  "preset on any task; the reference preset needs about num_pairs x 4 x (obs + "
                  "2 x action) bytes)")
      ->check(CLI::PositiveNumber);
  AddTransportSecurityFlags(*app, options->security);
  app->footer(
      "Serves until SIGINT / SIGTERM. Takes no run configuration: the learner sends the "
      "settings with each request. TCP needs TLS (--tls_cert, --tls_key; `gorl certs` makes "
      "them) or an explicit --insecure; see docs/security.md.\n"
      "\n"
      "Examples:\n"
      "  gorl refiner --listen 0.0.0.0:50052 --tls_ca tls/ca.pem --tls_cert tls/server.pem "
      "--tls_key tls/server.key --mtls --token_file tls/token\n"
      "  gorl refiner --listen unix:/tmp/gorl/refiner.sock --metrics_port 9101");
  return {app, [options] { return RunRefiner(*options); }};
}

}  // namespace gorl::cli
