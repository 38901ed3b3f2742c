#include "cli/flags.h"

namespace gorl::cli {

void AddAssetsFlag(CLI::App& command, std::string& assets) {
  command.add_option("--assets", assets,
                     "Model assets root holding dm_control/ and gym/ (default: $GORL_ASSETS)");
}

void AddStartTimeoutFlag(CLI::App& command, int& seconds) {
  command
      .add_option("--start_timeout", seconds,
                  "Seconds each role (refiner, learner, actor) has to start listening before the "
                  "run fails; raise it on a machine busy with other jobs")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
}

void AddJsonFlag(CLI::App& command, bool& json) {
  command.add_flag("--json", json, "Print machine-readable JSON instead of text");
}

void AddThreadsFlag(CLI::App& command, int& threads) {
  command.add_option("--threads", threads, "Threads that step environments");
}

PresetFlags AddPresetFlags(CLI::App& command, runtime::ConfigSource& source) {
  PresetFlags flags;
  flags.preset =
      command.add_option("--preset", source.preset, "Built-in preset: local, paper or reference");
  flags.config = command.add_option("--config", source.config_file,
                                    "A text-format gorl.v1.TrainConfig file (instead of --preset)");
  // A vector's captured default would print as "[]".
  flags.overrides = command
                        .add_option("overrides", source.overrides,
                                    "Config fields to set after the preset and the flags above, "
                                    "e.g. ppo.clip_epsilon=0.2 rollout.num_envs=32")
                        ->type_name("FIELD=VALUE")
                        ->default_str("");
  return flags;
}

ConfigFlags AddConfigFlags(CLI::App& command, runtime::ConfigSource& source) {
  const PresetFlags preset = AddPresetFlags(command, source);
  ConfigFlags flags;
  flags.preset = preset.preset;
  flags.config = preset.config;
  flags.overrides = preset.overrides;
  flags.task = command.add_option("--task", source.task,
                                  "Task name (see `gorl tasks`; default: the preset's)");
  flags.algo = command.add_option("--algo", source.algo,
                                  "ppo, gorl-fm, gorl-diff, or the baselines fpo and dppo "
                                  "(default: the preset's)");
  flags.seed = command.add_option("--seed", source.seed, "Random seed (-1: the preset's)");
  return flags;
}

void AddListenFlag(CLI::App& command, std::string& listen) {
  command.add_option("--listen", listen,
                     "host:port to serve gRPC on (port 0 picks a free one), or unix:PATH for a "
                     "Unix socket");
}

void AddMetricsFlags(CLI::App& command, runtime::MetricsEndpoint& metrics) {
  command.add_option("--metrics_port", metrics.port,
                     "Serve Prometheus metrics on this port (0: not served)");
  command.add_option("--metrics_host", metrics.host, "Interface the metrics exporter binds");
}

void AddHealthFlags(CLI::App& command, runtime::HealthEndpoint& health) {
  command.add_option("--health_port", health.port,
                     "Serve grpc.health.v1 alone, in plaintext, on this port, for Kubernetes "
                     "gRPC probes and `gorl health` (0: not served; docs/security.md)");
  command.add_option("--health_host", health.host, "Interface the health-only port binds");
}

void AddTransportSecurityFlags(CLI::App& command, runtime::TransportSecurityFlags& security) {
  const char* group = "Transport security (docs/security.md)";
  command
      .add_option("--tls_ca", security.tls_ca,
                  "PEM file: the CA that peers' certificates must chain to")
      ->group(group);
  command
      .add_option("--tls_cert", security.tls_cert,
                  "PEM file: this process's certificate (served, and sent as client "
                  "certificate under mTLS)")
      ->group(group);
  command.add_option("--tls_key", security.tls_key, "PEM file: the private key of --tls_cert")
      ->group(group);
  command
      .add_flag("--mtls", security.mtls, "Serve only clients whose certificate chains to --tls_ca")
      ->group(group);
  command
      .add_option("--tls_server_name", security.tls_server_name,
                  "Name to verify in the server's certificate (default: the host dialled)")
      ->group(group);
  command
      .add_option("--token_file", security.token_file,
                  "Run token file, one <id>.<secret> per line (default: $GORL_TOKEN_FILE, "
                  "else $GORL_TOKEN)")
      ->group(group);
  command
      .add_flag("--insecure", security.insecure,
                "Allow plaintext TCP (no TLS, no token): only on a network you trust")
      ->group(group);
}

}  // namespace gorl::cli
