// Flags that several commands share, so that each has one name, one help
// text and one default wherever it appears. Each command adds only those it
// reads (see cli/README.md).
#ifndef GORL_CLI_FLAGS_H_
#define GORL_CLI_FLAGS_H_

#include <string>

#include <CLI/CLI.hpp>

#include "runtime/health_service.h"
#include "runtime/metrics_endpoint.h"
#include "runtime/run_config.h"
#include "runtime/transport_security.h"

namespace gorl::cli {

// --assets (model files; "" means $GORL_ASSETS).
void AddAssetsFlag(CLI::App& command, std::string& assets);

// --start_timeout: seconds a launched role has to start listening.
void AddStartTimeoutFlag(CLI::App& command, int& seconds);

// --json.
void AddJsonFlag(CLI::App& command, bool& json);

// --threads: threads that step environments.
void AddThreadsFlag(CLI::App& command, int& threads);

// The configuration's base and edits: --preset, --config and the positional
// path.to.field=value overrides (what a sweep gives every run).
struct PresetFlags {
  CLI::Option* preset;
  CLI::Option* config;
  CLI::Option* overrides;
};
PresetFlags AddPresetFlags(CLI::App& command, runtime::ConfigSource& source);

// The run configuration: the preset flags above, --task, --algo and --seed.
struct ConfigFlags {
  CLI::Option* preset;
  CLI::Option* config;
  CLI::Option* task;
  CLI::Option* algo;
  CLI::Option* seed;
  CLI::Option* overrides;
};
ConfigFlags AddConfigFlags(CLI::App& command, runtime::ConfigSource& source);

// --listen with the role's default address.
void AddListenFlag(CLI::App& command, std::string& listen);

// --metrics_port and --metrics_host of one role.
void AddMetricsFlags(CLI::App& command, runtime::MetricsEndpoint& metrics);

// --health_port and --health_host of the learner and the refiner.
void AddHealthFlags(CLI::App& command, runtime::HealthEndpoint& health);

// --tls_ca, --tls_cert, --tls_key, --mtls, --tls_server_name, --token_file
// and --insecure of one role (one set per process: the certificate serves
// as its server certificate and as its client certificate).
void AddTransportSecurityFlags(CLI::App& command, runtime::TransportSecurityFlags& security);

}  // namespace gorl::cli

#endif  // GORL_CLI_FLAGS_H_
