// `gorl config`: the resolved run configuration as a text-format
// gorl.v1.TrainConfig, for a deployment to mount (`--config FILE` on the
// learner and every actor, docs/deploy.md).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/config.h"
#include "envs/task_registry.h"
#include "runtime/exit_codes.h"
#include "runtime/run_config.h"

namespace gorl::cli {
namespace {

struct ConfigOptions {
  runtime::ConfigSource config;
  std::string out;  // "" = stdout
};

int PrintConfig(const ConfigOptions& options) {
  const absl::StatusOr<v1::TrainConfig> config = runtime::BuildTrainConfig(options.config);
  // The task is checked here too (by name; its model files are the roles'
  // business): a typo must not wait for a deployment to start.
  absl::Status status = config.status();
  if (status.ok()) status = envs::FindTask(config->task()).status();
  if (!status.ok()) {
    std::fprintf(stderr, "gorl config: %s\n", status.ToString().c_str());
    return runtime::ExitCodeFor(status);
  }
  const std::string text = ConfigToText(*config);
  if (options.out.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(options.out);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "gorl config: cannot write %s\n", options.out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

Command AddConfigCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "config", "Print the run configuration that the flags and overrides give (validated)");
  auto options = std::make_shared<ConfigOptions>();
  AddConfigFlags(*app, options->config);
  app->add_option("--out", options->out, "Write it to this file instead of stdout");
  app->footer(
      "The same configuration flags and overrides as `gorl train`. A deployment mounts the "
      "file and passes `--config FILE` to the learner and to every actor, so that they agree "
      "on the task and its settings.\n"
      "\n"
      "Examples:\n"
      "  gorl config --preset local --task hopper-stand --algo gorl-fm --out run.textproto\n"
      "  gorl config --config run.textproto total_env_steps=2000000");
  return {app, [options] { return PrintConfig(*options); }};
}

}  // namespace gorl::cli
