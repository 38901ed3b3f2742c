// `gorl learner`: the learner role as its own process (runtime/learner_role.h).
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/learner_role.h"

namespace gorl::cli {
namespace {

constexpr char kDescription[] =
    "The learner role: serves actors (--listen), calls the refiner (--refiner)";

constexpr char kFooter[] =
    "Runs the training stages over the actors that join it. Takes the same configuration "
    "flags and overrides as `gorl train` and writes the same run directory. SIGINT / "
    "SIGTERM stop it after a checkpoint; --resume RUN_DIR continues from there (its actors "
    "rejoin it).\n"
    "\n"
    "TCP needs TLS (--tls_cert, --tls_key; `gorl certs` makes them) or an explicit --insecure; "
    "see docs/security.md.\n"
    "\n"
    "Examples:\n"
    "  gorl learner --listen 0.0.0.0:50051 --refiner refiner:50052 --task cheetah-run \\\n"
    "    --tls_ca tls/ca.pem --tls_cert tls/server.pem --tls_key tls/server.key --mtls "
    "--token_file tls/token\n"
    "  gorl learner --preset paper --algo gorl-fm --metrics_port 9100 ppo.clip_epsilon=0.2\n"
    "  gorl learner --resume runs/cheetah-run-gorl-fm-s0-20261126-120000 --refiner "
    "refiner:50052";

int RunLearner(const runtime::LearnerRoleOptions& options) {
  const absl::Status status = runtime::RunLearnerRole(options);
  if (!status.ok()) std::fprintf(stderr, "gorl learner: %s\n", status.ToString().c_str());
  return runtime::ExitCodeFor(status);
}

}  // namespace

Command AddLearnerCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand("learner", kDescription);
  auto options = std::make_shared<runtime::LearnerRoleOptions>();
  AddConfigFlags(*app, options->config);
  app->add_option("--run_dir", options->run_dir,
                  "Run directory (default: runs/<task>-<algo>-s<seed>-<time>)");
  app->add_option("--resume", options->resume_dir,
                  "Continue the run in this directory from its checkpoint.pb and "
                  "config.textproto");
  app->add_flag("--resume_if_present", options->resume_if_present,
                "Continue the run in --run_dir when it has a checkpoint, else start it (one "
                "command for a first start and every restart under compose or Kubernetes; the "
                "configuration must equal the saved one)");
  app->add_flag("--overwrite", options->overwrite,
                "Replace the run in --run_dir (its checkpoints, metrics, decoders and logs are "
                "removed first); without it a directory that holds a run is refused");
  AddListenFlag(*app, options->listen);
  app->add_option("--refiner", options->refiner, "The refiner's address");
  app->add_option("--refine_timeout_s", options->refine_timeout_s,
                  "Deadline of one Refine call, streaming and training (a call past it is "
                  "retried, up to 6 attempts in all)")
      ->check(CLI::PositiveNumber);
  app->add_option("--queue_capacity", options->queue_capacity,
                  "Env-unroll sequences buffered before actors' sends block (0: one PPO batch)");
  app->add_option("--max_policy_lag", options->max_policy_lag,
                  "Encoder versions a rollout may lag and still be used (0 = on-policy)");
  app->add_option("--work_shares", options->work_shares,
                  "Shares per collect / evaluation (0 = one per connected actor; set it for "
                  "results that do not depend on the number of actors)");
  app->add_option("--share_timeout_s", options->share_timeout_s,
                  "Seconds before an unfinished collect / eval share goes to another actor");
  app->add_option("--refused_data_timeout_s", options->refused_data_timeout_s,
                  "Seconds every connected actor may have only its rollouts / results refused "
                  "(a diverged policy, another configuration) before the run fails")
      ->check(CLI::PositiveNumber);
  app->add_option("--min_actors", options->min_actors,
                  "Actors that must have joined before training starts (gorl train passes the "
                  "number it starts)")
      ->check(CLI::PositiveNumber);
  app->add_option("--max_actors", options->max_actors,
                  "Actor sessions the learner admits at once (more are refused)")
      ->check(CLI::PositiveNumber);
  app->add_option("--join_timeout_s", options->join_timeout_s,
                  "Seconds a joined actor has to open its policy stream before its session is "
                  "removed")
      ->check(CLI::PositiveNumber);
  app->add_flag("--progress_json", options->progress_json,
                "Progress as JSON lines on stdout (for the launcher) instead of a status line");
  AddMetricsFlags(*app, options->metrics);
  AddHealthFlags(*app, options->health);
  AddTransportSecurityFlags(*app, options->security);
  AddAssetsFlag(*app, options->assets);
  app->footer(kFooter);
  return {app, [options] { return RunLearner(*options); }};
}

}  // namespace gorl::cli
