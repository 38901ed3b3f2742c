// `gorl certs`: a run's CA, server and client certificates and token
// (runtime/certificates.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "runtime/certificates.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

struct CertsFlags {
  runtime::RunCredentialsOptions options;
  std::vector<std::string> clients;
  int client_count = 0;
};

int RunCerts(CertsFlags& flags) {
  runtime::RunCredentialsOptions options = flags.options;
  if (!flags.clients.empty() && flags.client_count > 0) {
    std::fprintf(stderr, "gorl certs: pass --clients or --client_count, not both\n");
    return runtime::kExitUsage;
  }
  if (!flags.clients.empty()) options.clients = flags.clients;
  if (flags.client_count > 0) {
    options.clients.clear();
    for (int i = 0; i < flags.client_count; ++i) {
      options.clients.push_back(absl::StrCat("actor-", i));
    }
  }
  const absl::Status status = runtime::WriteRunCredentials(options);
  if (!status.ok()) {
    std::fprintf(stderr, "gorl certs: %s\n", std::string(status.message()).c_str());
    return runtime::ExitCodeFor(status);
  }
  const char* d = options.out_dir.c_str();
  const char* client = options.clients.front().c_str();
  std::printf(
      "wrote %s: ca.pem ca.key server.pem server.key token, and <client>.pem/.key for %zu "
      "client(s); all 0600, valid %d days\n",
      d, options.clients.size(), options.days);
  std::printf(
      "  learner, refiner: --tls_ca %s/ca.pem --tls_cert %s/server.pem --tls_key "
      "%s/server.key --mtls --token_file %s/token\n",
      d, d, d, d);
  std::printf(
      "  %s: --tls_ca %s/ca.pem --tls_cert %s/%s.pem --tls_key %s/%s.key --token_file "
      "%s/token\n",
      client, d, d, client, d, client, d);
  std::printf("keep ca.key off the machines that run roles (it signs new certificates)\n");
  return runtime::kExitOk;
}

}  // namespace

Command AddCertsCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "certs", "Make a run's CA, server and client certificates and token (--out DIR)");
  auto flags = std::make_shared<CertsFlags>();
  app->add_option("--out", flags->options.out_dir, "Directory to write (made 0700)")->required();
  app->add_option("--hosts", flags->options.hosts,
                  "Names and IP addresses the server certificate is valid for")
      ->delimiter(',');
  app->add_option("--clients", flags->clients,
                  "Client certificate names, e.g. actor-0,actor-1 (default: actor-0)")
      ->delimiter(',');
  app->add_option("--client_count", flags->client_count,
                  "Instead of --clients: actor-0 ... actor-<N-1>");
  app->add_option("--days", flags->options.days, "Validity in days");
  app->add_flag("--force", flags->options.force, "Replace the credentials already in --out");
  app->footer(
      "Every file is 0600 in a 0700 directory: the CA (ca.pem, ca.key), one server certificate "
      "for the learner and the refiner (server.pem, server.key; also their client certificate), "
      "one certificate per client (<name>.pem, <name>.key) and the run token (token). See "
      "docs/security.md.\n"
      "\n"
      "Examples:\n"
      "  gorl certs --out run-tls\n"
      "  gorl certs --out run-tls --hosts learner.lan,refiner.lan,10.0.0.5 --client_count 8 "
      "--days 30");
  return {app, [flags] { return RunCerts(*flags); }};
}

}  // namespace gorl::cli
