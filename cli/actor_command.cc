// `gorl actor`: one actor process (runtime/actor_role.h).
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/actor_role.h"
#include "runtime/exit_codes.h"

namespace gorl::cli {
namespace {

int RunActor(const runtime::ActorRoleOptions& options) {
  const absl::Status status = runtime::RunActorRole(options);
  if (!status.ok()) std::fprintf(stderr, "gorl actor: %s\n", status.ToString().c_str());
  return runtime::ExitCodeFor(status);
}

}  // namespace

Command AddActorCommand(CLI::App& gorl) {
  CLI::App* app =
      gorl.add_subcommand("actor", "One actor: steps envs for the learner at --learner");
  auto options = std::make_shared<runtime::ActorRoleOptions>();
  AddConfigFlags(*app, options->config);
  app->add_option("--learner", options->learner, "The learner's address");
  app->add_option("--actor_id", options->actor_id,
                  "This actor's id (default: the learner picks one)");
  app->add_option("--actor_envs", options->num_envs,
                  "Environments this actor steps (0: rollout.num_envs)");
  app->add_option("--max_env_steps_per_second", options->max_env_steps_per_second,
                  "Cap on the env steps per second this actor's training unrolls take, on "
                  "average (0: none; collection and evaluation run uncapped)");
  AddMetricsFlags(*app, options->metrics);
  AddTransportSecurityFlags(*app, options->security);
  AddAssetsFlag(*app, options->assets);
  app->footer(
      "Steps its environments with the policy the learner streams to it, until the run is "
      "over or SIGINT / SIGTERM. The task and env settings come from the same configuration "
      "flags and overrides as the learner's. A TCP learner needs --tls_ca (and, under its "
      "--mtls, --tls_cert / --tls_key) or an explicit --insecure; see docs/security.md.\n"
      "\n"
      "Examples:\n"
      "  gorl actor --learner learner:50051 --task cheetah-run --actor_envs 16 --tls_ca "
      "tls/ca.pem \\\n"
      "    --tls_cert tls/actor-0.pem --tls_key tls/actor-0.key --token_file tls/token\n"
      "  gorl actor --learner learner:50051 --config run.textproto --actor_id a0 "
      "--metrics_port 9102");
  return {app, [options] { return RunActor(*options); }};
}

}  // namespace gorl::cli
