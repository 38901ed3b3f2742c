// `gorl learner`: the learner role as its own process. Serves
// gorl.v1.Learner to the actors, calls the refiner at --refiner, and runs
// the stage coordinator (learner/training_loop.h) over them. Writes the run
// directory like `gorl train --in_process` does.
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/role_flags.h"
#include "cli/train_support.h"
#include "common/config.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "learner/checkpoint.h"
#include "learner/ppo_learner.h"
#include "learner/training_loop.h"
#include "runtime/grpc_learner_service.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
#include "runtime/in_process.h"
#include "runtime/shutdown_signals.h"

namespace gorl::cli {
namespace {

constexpr char kDefaultListen[] = "0.0.0.0:50051";

// The last iteration's statistics, for the exporter.
void PublishProgress(const learner::Progress& p, RoleMetrics& metrics) {
  metrics.AddPpoUpdates(1);
  metrics.SetStepsPerSecond(p.steps_per_second);
  if (std::isfinite(p.last_eval_return)) metrics.SetEvalReturn(p.last_eval_return);
  metrics.SetPolicyLoss(p.ppo.policy_loss);
  metrics.SetValueLoss(p.ppo.value_loss);
  metrics.SetApproxKl(p.ppo.approx_kl);
  metrics.SetClipFraction(p.ppo.clip_fraction);
  metrics.SetEntropy(p.ppo.entropy);
  metrics.SetExplainedVariance(p.ppo.explained_variance);
  if (std::isfinite(p.decoder_validation_loss)) metrics.SetDecoderLoss(p.decoder_validation_loss);
}

void PrintProgressJson(const learner::Progress& p) {
  std::printf("%s\n", JsonRow()
                          .Add("event", "progress")
                          .Add("env_steps", p.env_steps)
                          .Add("total_env_steps", p.total_env_steps)
                          .Add("stage", p.stage)
                          .Add("num_stages", p.num_stages)
                          .Add("steps_per_second", p.steps_per_second)
                          .Add("elapsed_seconds", p.elapsed_seconds)
                          .Add("last_eval_return", p.last_eval_return)
                          .ToString()
                          .c_str());
  std::fflush(stdout);
}

absl::Status RunLearner(const std::vector<std::string>& args) {
  runtime::InstallShutdownSignals();
  const std::string resume = absl::GetFlag(FLAGS_resume);
  v1::TrainConfig config;
  std::optional<v1::LearnerCheckpoint> checkpoint;
  std::string run_dir;
  if (!resume.empty()) {
    if (!args.empty()) return absl::InvalidArgumentError("--resume takes no overrides");
    run_dir = resume;
    GORL_ASSIGN_OR_RETURN(config, LoadPreset(run_dir + "/config.textproto"));
    GORL_RETURN_IF_ERROR(ValidateConfig(config));
    GORL_ASSIGN_OR_RETURN(checkpoint, learner::ReadCheckpoint(learner::CheckpointPath(run_dir)));
  } else {
    GORL_ASSIGN_OR_RETURN(const std::vector<std::string> overrides, ParseOverrides(args));
    GORL_ASSIGN_OR_RETURN(config, BuildConfig(overrides));
    run_dir = RunDirFor(config);
    GORL_RETURN_IF_ERROR(PrepareRunDir(config, run_dir));
  }
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), absl::GetFlag(FLAGS_assets)));
  const envs::TaskSpec& spec = factory->spec();
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("learner", "");

  runtime::ActorFleetOptions group_options;
  group_options.task = spec.name;
  group_options.obs_size = spec.obs_size;
  group_options.action_size = spec.action_size;
  group_options.run_seed = config.seed();
  group_options.unroll_length = config.rollout().unroll_length();
  const int64_t batch = int64_t{config.ppo().batch_size()} * config.ppo().num_minibatches();
  group_options.queue_capacity =
      absl::GetFlag(FLAGS_queue_capacity) > 0 ? absl::GetFlag(FLAGS_queue_capacity) : batch;
  group_options.max_policy_lag = absl::GetFlag(FLAGS_max_policy_lag);
  group_options.work_shares = absl::GetFlag(FLAGS_work_shares);
  group_options.share_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_share_timeout_s));
  runtime::ActorFleet actors(group_options, *metrics);
  runtime::LearnerService service(actors, *metrics);
  std::string address;
  GORL_ASSIGN_OR_RETURN(
      std::unique_ptr<grpc::Server> server,
      runtime::StartServer(ListenAddress(kDefaultListen), {&service}, &address));
  AnnounceListening("learner", address);

  runtime::RefinerClientOptions refiner_options;
  refiner_options.address = absl::GetFlag(FLAGS_refiner);
  refiner_options.config = config;
  runtime::GrpcRefinerClient refiner(refiner_options, *metrics);
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<learner::PpoLearner> ppo,
                        learner::PpoLearner::Create(config, spec.obs_size, spec.action_size));
  LOG(INFO) << "learner for " << spec.name << " (" << EnumUserName(config.algo()) << ") on " << address
            << ", refiner at " << refiner_options.address << ", run directory " << run_dir;
  runtime::OnShutdownSignal([&](int) {
    actors.Shutdown();
    refiner.Cancel();
  });

  learner::TrainingLoopOptions options;
  options.config = config;
  options.run_dir = run_dir;
  if (!checkpoint.has_value()) {
    GORL_ASSIGN_OR_RETURN(options.initial_decoder,
                          runtime::InitialDecoder(config, spec.obs_size, spec.action_size));
  }
  const bool json = absl::GetFlag(FLAGS_progress_json);
  options.on_progress = [&](const learner::Progress& p) {
    PublishProgress(p, *metrics);
    if (json) {
      PrintProgressJson(p);
    } else {
      PrintProgress(p);
    }
  };
  learner::TrainingLoop loop(options, *ppo, actors, refiner);
  absl::StatusOr<learner::TrainingSummary> summary =
      checkpoint.has_value() ? loop.Resume(*checkpoint) : loop.Run();
  if (!json) std::fprintf(stderr, "\n");
  runtime::OnShutdownSignal(nullptr);

  if (summary.ok()) {
    // Tell the actors the run is over (they exit) and give them a moment.
    actors.Finish();
    actors.WaitForActorsToLeave(std::chrono::seconds(5));
  } else {
    // The actors keep retrying: a restarted learner resumes the run.
    actors.Shutdown();
  }
  server->Shutdown(runtime::DeadlineIn(std::chrono::seconds(2)));
  if (!summary.ok()) return summary.status();
  ReportResult(config, run_dir, *summary);
  return absl::OkStatus();
}

}  // namespace

int RunLearnerCommand(const std::vector<std::string>& args) {
  const absl::Status status = RunLearner(args);
  if (!status.ok()) std::fprintf(stderr, "gorl learner: %s\n", status.ToString().c_str());
  return ExitCodeFor(status);
}

}  // namespace gorl::cli
