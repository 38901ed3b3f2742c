#include "runtime/learner_role.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <glog/logging.h>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "envs/task_registry.h"
#include "learner/ppo_learner.h"
#include "learner/training_loop.h"
#include "runtime/grpc_learner_service.h"
#include "runtime/grpc_refiner_service.h"
#include "runtime/grpc_util.h"
#include "runtime/health_service.h"
#include "runtime/in_process.h"
#include "runtime/learner_metrics.h"
#include "runtime/progress_report.h"
#include "runtime/role_lines.h"
#include "runtime/run_directory.h"
#include "runtime/run_lock.h"
#include "runtime/shutdown_signals.h"
#include "runtime/status_line.h"

namespace gorl::runtime {
namespace {

constexpr char kDefaultListen[] = "0.0.0.0:50051";

// The run to train: a new one (its directory prepared) or a saved one.
struct LearnerRun {
  v1::TrainConfig config;
  std::string run_dir;
  std::optional<v1::LearnerCheckpoint> checkpoint;
  std::optional<RunLock> lock;  // run_dir's, for the role's whole life
};

absl::StatusOr<LearnerRun> OpenRun(const LearnerRoleOptions& options) {
  LearnerRun run;
  if (!options.resume_dir.empty()) {
    if (!options.config.overrides.empty()) {
      return absl::InvalidArgumentError("--resume takes no overrides");
    }
    if (options.overwrite) {
      return absl::InvalidArgumentError("--resume continues a run; --overwrite would remove it");
    }
    GORL_ASSIGN_OR_RETURN(run.lock, RunLock::Acquire(options.resume_dir));
    GORL_ASSIGN_OR_RETURN(SavedRun saved, LoadSavedRun(options.resume_dir));
    run.config = std::move(saved.config);
    run.run_dir = options.resume_dir;
    run.checkpoint = std::move(saved.checkpoint);
    return run;
  }
  GORL_ASSIGN_OR_RETURN(run.config, BuildTrainConfig(options.config));
  run.run_dir = options.run_dir.empty() ? DefaultRunDir(run.config) : options.run_dir;
  GORL_ASSIGN_OR_RETURN(run.lock, RunLock::Acquire(run.run_dir, /*create=*/true));
  if (options.resume_if_present) {
    if (options.run_dir.empty() || options.overwrite) {
      return absl::InvalidArgumentError(
          "--resume_if_present needs --run_dir and excludes --overwrite");
    }
    GORL_ASSIGN_OR_RETURN(std::optional<SavedRun> saved,
                          LoadSavedRunIfPresent(run.run_dir, run.config));
    if (saved.has_value()) {
      LOG(INFO) << "resuming the run in " << run.run_dir << " from its checkpoint";
      run.checkpoint = std::move(saved->checkpoint);
      return run;
    }
  }
  GORL_RETURN_IF_ERROR(PrepareRunDir(run.config, run.run_dir, options.overwrite));
  return run;
}

ActorFleetOptions FleetOptions(const LearnerRoleOptions& options, const v1::TrainConfig& config,
                               const envs::TaskSpec& spec) {
  ActorFleetOptions group;
  group.task = spec.name;
  group.obs_size = spec.obs_size;
  group.action_size = spec.action_size;
  group.fpo_draws = RecordedFpoDraws(config);
  group.dppo_steps = RecordedDppoSteps(config);
  group.run_seed = config.seed();
  group.unroll_length = config.rollout().unroll_length();
  const int64_t batch = int64_t{config.ppo().batch_size()} * config.ppo().num_minibatches();
  group.queue_capacity = options.queue_capacity > 0 ? options.queue_capacity : batch;
  group.max_policy_lag = options.max_policy_lag;
  group.work_shares = options.work_shares;
  group.share_timeout = std::chrono::seconds(options.share_timeout_s);
  group.refused_data_timeout = std::chrono::seconds(options.refused_data_timeout_s);
  group.min_actors = options.min_actors;
  group.max_actors = options.max_actors;
  group.join_timeout = std::chrono::seconds(options.join_timeout_s);
  // An actor with more envs than the run steps, or than one batch holds,
  // only slows the run down (its unroll overfills every batch).
  group.max_actor_envs = static_cast<int>(
      std::clamp<int64_t>(std::max<int64_t>(config.rollout().num_envs(), batch), 1, 1 << 20));
  return group;
}

}  // namespace

absl::Status RunLearnerRole(const LearnerRoleOptions& options) {
  InstallShutdownSignals();
  GORL_ASSIGN_OR_RETURN(const LearnerRun run, OpenRun(options));
  const v1::TrainConfig& config = run.config;
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<envs::TaskFactory> factory,
                        envs::MakeTaskFactory(config.task(), options.assets));
  const envs::TaskSpec& spec = factory->spec();
  GORL_ASSIGN_OR_RETURN(const TransportSecurity security, LoadTransportSecurity(options.security));
  RefinerClientOptions refiner_options;
  refiner_options.address = options.refiner;
  GORL_ASSIGN_OR_RETURN(refiner_options.credentials,
                        ChannelCredentialsFor(options.refiner, security));
  std::unique_ptr<RoleMetrics> metrics = MakeRoleMetrics("learner", "", options.metrics);
  metrics->SetLearnerPhase("start");
  metrics->SetPolicyLagLimit(static_cast<double>(options.max_policy_lag));
  metrics->SetCheckpointIntervalUpdates(static_cast<double>(config.checkpoint_every_iterations()));

  // NOT_SERVING until the run's position is in place (on_start below).
  HealthStatuses health({kLearnerServiceName});
  HealthService main_health(health);
  HealthService port_health(health);

  ActorFleet actors(FleetOptions(options, config, spec), *metrics);
  LearnerService service(actors, *metrics);
  std::string address;
  ServerOptions server_options;
  server_options.security = security;
  server_options.metrics = metrics.get();
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<grpc::Server> server,
                        StartServer(options.listen.empty() ? kDefaultListen : options.listen,
                                    {&service, &main_health}, server_options, &address));
  GORL_ASSIGN_OR_RETURN(const std::unique_ptr<grpc::Server> health_server,
                        StartHealthServerIfAsked(options.health, port_health));
  // Destroyed before the servers, whose destructors wait for every call:
  // Watch streams end at once instead.
  absl::Cleanup end_health_watches = [&health] { health.Shutdown(); };
  AnnounceListening("learner", address);

  refiner_options.config = config;
  refiner_options.refine_timeout = std::chrono::seconds(options.refine_timeout_s);
  GrpcRefinerClient refiner(refiner_options, *metrics);
  if (HasDecoder(config.algo()) && config.stages().frozen_decoder().empty()) {
    GORL_RETURN_IF_ERROR(refiner.CheckSettings());
  }
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<learner::PpoLearner> ppo,
                        learner::PpoLearner::Create(config, spec.obs_size, spec.action_size));
  LOG(INFO) << "learner for " << spec.name << " (" << EnumUserName(config.algo()) << ") on "
            << address << ", refiner at " << refiner_options.address << ", run directory "
            << run.run_dir;
  OnShutdownSignal([&](int) {
    health.Shutdown();  // NOT_SERVING first: probes and balancers stop sending work
    actors.Shutdown();
    refiner.Cancel();
  });

  learner::TrainingLoopOptions loop_options;
  loop_options.config = config;
  loop_options.run_dir = run.run_dir;
  if (!run.checkpoint.has_value()) {
    GORL_ASSIGN_OR_RETURN(loop_options.initial_decoder,
                          InitialDecoder(config, spec.obs_size, spec.action_size));
  }
  const bool json = options.progress_json;
  // Only the loop's thread calls these.
  int64_t updates_since_checkpoint = 0;
  std::string current_phase = "start";
  absl::Time phase_start = absl::Now();
  loop_options.on_phase = [&](const char* phase) {
    const absl::Time now = absl::Now();
    metrics->AddLearnerPhaseSeconds(current_phase, absl::ToDoubleSeconds(now - phase_start));
    current_phase = phase;
    phase_start = now;
    // Each iteration enters "train" anew: the stall alert measures from here.
    if (std::string_view(phase) == "train") {
      metrics->SetIterationStartTimestamp(absl::ToUnixMicros(now) * 1e-6);
    }
    metrics->SetLearnerPhase(phase);
  };
  loop_options.on_refinement = [&](const learner::RefinementReport& r) {
    PublishRefinement(r, *metrics);
  };
  loop_options.on_checkpoint = [&] {
    updates_since_checkpoint = 0;
    metrics->SetUpdatesSinceCheckpoint(0);
    metrics->SetLastCheckpointTimestamp(absl::ToUnixMicros(absl::Now()) * 1e-6);
  };
  StatusLine progress_line;
  loop_options.on_progress = [&](const learner::Progress& p) {
    PublishProgress(p, *metrics);
    metrics->SetRunEnvSteps(static_cast<double>(p.env_steps));
    metrics->Heartbeat();
    metrics->SetUpdatesSinceCheckpoint(static_cast<double>(++updates_since_checkpoint));
    if (json) {
      PrintProgressLine(p);
    } else {
      progress_line.Show(FormatProgress(p));
    }
  };
  loop_options.on_start = [&](int64_t env_steps) {
    metrics->SetRunEnvSteps(static_cast<double>(env_steps));
    metrics->Heartbeat();
    // The checkpoint is loaded and the server takes actors. A signal that
    // came first made the statuses NOT_SERVING for good.
    health.SetAll(grpc::health::v1::HealthCheckResponse::SERVING);
  };
  learner::TrainingLoop loop(loop_options, *ppo, actors, refiner);
  absl::StatusOr<learner::TrainingSummary> summary =
      run.checkpoint.has_value() ? loop.Resume(*run.checkpoint) : loop.Run();
  progress_line.Break();
  OnShutdownSignal(nullptr);
  health.Shutdown();  // the run is over (or failed): NOT_SERVING until exit

  if (summary.ok()) {
    // Tell the actors the run is over (they exit) and give them a moment.
    actors.Finish();
    actors.WaitForActorsToLeave(std::chrono::seconds(5));
  } else {
    // The actors keep retrying: a restarted learner resumes the run.
    actors.Shutdown();
  }
  server->Shutdown(DeadlineIn(std::chrono::seconds(2)));
  if (health_server != nullptr) health_server->Shutdown(DeadlineIn(std::chrono::seconds(1)));
  if (!summary.ok()) return summary.status();
  ReportResult(config, run.run_dir, *summary);
  return absl::OkStatus();
}

}  // namespace gorl::runtime
