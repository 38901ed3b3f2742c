#include "learner/training_loop.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/build_info.h"
#include "common/config.h"
#include "common/config_diff.h"
#include "common/metrics_log.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "learner/checkpoint_position.h"
#include "learner/stage_schedule.h"

namespace gorl::learner {
namespace {

using Clock = std::chrono::steady_clock;

// The machine a run session ran on ("" when unknown), for its start and
// resume rows: a result's wall-clock means little without it.
std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

double Mean(const google::protobuf::RepeatedField<float>& values) {
  double sum = 0;
  for (float v : values) sum += v;
  return values.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / values.size();
}

double StdDev(const google::protobuf::RepeatedField<float>& values) {
  const double mean = Mean(values);
  double sum = 0;
  for (float v : values) sum += (v - mean) * (v - mean);
  return values.empty() ? 0.0 : std::sqrt(sum / values.size());
}

absl::Status WriteDecoder(const v1::Decoder& decoder, const std::string& path) {
  return WriteFileAtomically(path, decoder.SerializeAsString());
}

// 0 when the file does not exist.
int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

v1::EvalRecord ToProto(const EvalPoint& point) {
  v1::EvalRecord record;
  record.set_env_steps(point.env_steps);
  record.set_stage(point.stage);
  record.set_deterministic_mean(point.deterministic_mean);
  record.set_deterministic_std(point.deterministic_std);
  record.set_stochastic_mean(point.stochastic_mean);
  return record;
}

EvalPoint FromProto(const v1::EvalRecord& record) {
  EvalPoint point;
  point.env_steps = record.env_steps();
  point.stage = record.stage();
  point.deterministic_mean = record.deterministic_mean();
  point.deterministic_std = record.deterministic_std();
  point.stochastic_mean = record.stochastic_mean();
  return point;
}

absl::Status Invalid(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("checkpoint: ", message));
}

}  // namespace

v1::DecoderKind DecoderKindFor(v1::Algo algo) {
  switch (algo) {
    case v1::ALGO_GORL_FM:
      return v1::DECODER_KIND_FLOW;
    case v1::ALGO_GORL_DIFF:
      return v1::DECODER_KIND_DIFFUSION;
    default:
      return v1::DECODER_KIND_IDENTITY;
  }
}

TrainingLoop::TrainingLoop(TrainingLoopOptions options, PpoLearner& learner, ActorGroup& actors,
                           Refiner& refiner)
    : options_(std::move(options)),
      learner_(learner),
      actors_(actors),
      refiner_(refiner),
      decoder_(options_.initial_decoder) {}

v1::PolicySnapshot TrainingLoop::MakeSnapshot(v1::ActorMode mode) const {
  v1::PolicySnapshot snapshot = learner_.Snapshot();
  snapshot.set_mode(mode);
  *snapshot.mutable_decoder() = decoder_;
  return snapshot;
}

absl::StatusOr<EvalPoint> TrainingLoop::Evaluate(const v1::PolicySnapshot& snapshot,
                                                 int64_t env_steps, int stage, bool stochastic,
                                                 int episodes) {
  const v1::TrainConfig& config = options_.config;
  v1::PolicySnapshot eval_snapshot = snapshot;
  eval_snapshot.set_mode(v1::ACTOR_MODE_EVAL);
  GORL_RETURN_IF_ERROR(actors_.Broadcast(eval_snapshot));
  // The same evaluation seeds every time, so curves compare policies, not luck.
  const uint64_t seed = SeedFor(config.seed(), SeedStream::kEval);
  ++eval_round_;
  GORL_ASSIGN_OR_RETURN(v1::EvalReport deterministic, actors_.Evaluate(episodes, true, seed));
  EvalPoint point;
  point.env_steps = env_steps;
  point.stage = stage;
  point.episodes = deterministic.episode_returns_size();
  point.deterministic_mean = Mean(deterministic.episode_returns());
  point.deterministic_std = StdDev(deterministic.episode_returns());
  point.stochastic_mean = std::numeric_limits<double>::quiet_NaN();
  point.stochastic_std = std::numeric_limits<double>::quiet_NaN();
  if (stochastic) {
    GORL_ASSIGN_OR_RETURN(v1::EvalReport stochastic_report,
                          actors_.Evaluate(episodes, false, seed));
    point.stochastic_mean = Mean(stochastic_report.episode_returns());
    point.stochastic_std = StdDev(stochastic_report.episode_returns());
  }
  return point;
}

absl::Status TrainingLoop::RefineAfterStage(Position& pos, MetricsLog& log,
                                            const std::function<double()>& elapsed) {
  const v1::TrainConfig& config = options_.config;
  const int stage = pos.stage;
  // Freeze the chosen encoder and collect with it and the current decoder.
  // (Without any finite evaluation there is no best: the final encoder
  // collects.)
  const bool use_best =
      config.stages().collect_with() == v1::COLLECT_WITH_BEST && pos.best_snapshot.obs_size() > 0;
  v1::PolicySnapshot collect_snapshot =
      use_best ? pos.best_snapshot : MakeSnapshot(v1::ACTOR_MODE_COLLECT);
  collect_snapshot.set_mode(v1::ACTOR_MODE_COLLECT);
  EnterPhase("collect");
  GORL_RETURN_IF_ERROR(actors_.Broadcast(collect_snapshot));
  const double collect_start = elapsed();
  // The fidelity's held-out states come out of the same collection, on top
  // of the decoder's num_pairs.
  const int held_out = config.refine().fidelity_states();
  GORL_ASSIGN_OR_RETURN(
      v1::RefinementData data,
      actors_.Collect(config.refine().num_pairs() + held_out, config.refine().collect_envs(),
                      SeedFor(config.seed(), SeedStream::kCollect, stage)));
  std::vector<float> held_out_obs;
  if (held_out > 0) {
    GORL_ASSIGN_OR_RETURN(
        held_out_obs,
        TakeHeldOutStates(data, held_out, SeedFor(config.seed(), SeedStream::kFidelity, stage)));
  }
  const TargetStats targets = MeasureTargets(data);
  const double refine_start = elapsed();
  EnterPhase("refine");
  GORL_ASSIGN_OR_RETURN(RefineOutcome outcome, refiner_.Refine(data, stage + 1));
  const double refine_end = elapsed();

  // The hand-over: the next stage starts from the new decoder and a fresh
  // encoder (the one ReinitializeEncoder will make), or keeps this one.
  EnterPhase("evaluate");
  RefinementReport report;
  report.stage = stage;
  report.env_steps = pos.summary.env_steps;
  report.targets = targets;
  v1::PolicySnapshot next =
      config.stages().reinit_encoder()
          ? learner_.FreshEncoderSnapshot(SeedFor(config.seed(), SeedStream::kReinit, stage + 1))
          : learner_.Snapshot();
  *next.mutable_decoder() = outcome.decoder;
  if (held_out > 0) {
    FidelityOptions fidelity_options;
    fidelity_options.samples = config.refine().fidelity_samples();
    fidelity_options.seed = SeedFor(config.seed(), SeedStream::kFidelity, stage);
    GORL_ASSIGN_OR_RETURN(
        report.fidelity,
        MeasureRefinementFidelity(collect_snapshot, next, held_out_obs, fidelity_options));
  }
  // Both over the same start states, and over more episodes than the
  // curve's evaluations: the goal is a ratio of the two (config.proto).
  const int episodes = FidelityEpisodes(config);
  GORL_ASSIGN_OR_RETURN(EvalPoint before, Evaluate(collect_snapshot, report.env_steps, stage,
                                                   /*stochastic=*/true, episodes));
  GORL_ASSIGN_OR_RETURN(EvalPoint after, Evaluate(next, report.env_steps, stage + 1,
                                                  /*stochastic=*/true, episodes));
  report.eval_episodes = before.episodes;
  report.collecting_stochastic = before.stochastic_mean;
  report.collecting_deterministic = before.deterministic_mean;
  report.refined_stochastic = after.stochastic_mean;
  report.collecting_stochastic_std = before.stochastic_std;
  report.refined_stochastic_std = after.stochastic_std;
  report.refined_deterministic = after.deterministic_mean;
  report.validation_losses = outcome.validation_losses;
  report.collect_seconds = refine_start - collect_start;
  report.refine_seconds = refine_end - refine_start;
  report.fidelity_seconds = elapsed() - refine_end;

  // Committed only now: a refinement cancelled anywhere before (collect,
  // refiner, hand-over) is redone whole by the resumed run
  // (AtExit::kPosition), so nothing above may change the position.
  pos.summary.collect_env_steps += config.refine().num_pairs() + held_out;
  decoder_ = outcome.decoder;
  decoder_validation_loss_ = outcome.best_validation_loss;
  GORL_RETURN_IF_ERROR(
      WriteDecoder(decoder_, absl::StrCat(options_.run_dir, "/decoder_stage", stage + 1, ".pb")));
  std::vector<float> curve(outcome.validation_losses.begin(), outcome.validation_losses.end());
  const RefinementFidelity& f = report.fidelity;
  log.Write(JsonRow()
                .Add("event", "refine")
                .Add("env_steps", report.env_steps)
                .Add("wall_seconds", elapsed())
                .Add("stage", stage)
                .Add("collect_encoder_version", collect_snapshot.encoder_version())
                .Add("collect_seconds", report.collect_seconds)
                .Add("refine_seconds", report.refine_seconds)
                .Add("fidelity_seconds", report.fidelity_seconds)
                .Add("pairs", config.refine().num_pairs())
                .Add("decoder_version", decoder_.version())
                .Add("decoder_val_loss", outcome.best_validation_loss)
                .Add("decoder_train_loss", outcome.final_train_loss)
                .Add("decoder_epochs", outcome.epochs)
                .Add("decoder_val_curve", curve)
                .Add("target_abs_mean", targets.abs_mean)
                .Add("target_abs_p99", targets.abs_p99)
                .Add("target_abs_max", targets.abs_max)
                .Add("target_saturated_fraction", targets.saturated_fraction)
                .Add("collecting_stochastic_return", report.collecting_stochastic)
                .Add("collecting_deterministic_return", report.collecting_deterministic)
                .Add("refined_stochastic_return", report.refined_stochastic)
                .Add("refined_deterministic_return", report.refined_deterministic)
                .Add("collecting_stochastic_return_std", report.collecting_stochastic_std)
                .Add("refined_stochastic_return_std", report.refined_stochastic_std)
                .Add("fidelity_eval_episodes", report.eval_episodes)
                .Add("fidelity_states", f.states)
                .Add("fidelity_samples", f.samples)
                .Add("fidelity_sw_prior", f.prior.sliced_wasserstein)
                .Add("fidelity_sw_fresh_encoder", f.fresh_encoder.sliced_wasserstein)
                .Add("fidelity_sw_floor", f.floor.sliced_wasserstein)
                .Add("fidelity_mean_error_prior", f.prior.mean_error)
                .Add("fidelity_mean_error_fresh_encoder", f.fresh_encoder.mean_error)
                .Add("fidelity_mean_error_floor", f.floor.mean_error)
                .Add("fidelity_std_error_prior", f.prior.std_error)
                .Add("fidelity_std_error_fresh_encoder", f.fresh_encoder.std_error)
                .Add("fidelity_std_error_floor", f.floor.std_error));
  LOG(INFO) << "stage " << stage << " -> " << stage + 1 << ": decoder v" << decoder_.version()
            << " (validation loss " << outcome.best_validation_loss << "); stochastic return "
            << report.collecting_stochastic << " -> " << report.refined_stochastic
            << ", sliced W2 to the prior's actions " << f.prior.sliced_wasserstein << " (floor "
            << f.floor.sliced_wasserstein << ")";
  if (options_.on_refinement) options_.on_refinement(report);
  return absl::OkStatus();
}

absl::StatusOr<TrainingSummary> TrainingLoop::Run() {
  Position position;
  position.next_eval = options_.config.eval().every_env_steps();
  return Continue(std::move(position), /*resumed=*/false);
}

absl::StatusOr<TrainingSummary> TrainingLoop::Resume(const v1::LearnerCheckpoint& checkpoint) {
  const v1::TrainConfig& config = options_.config;
  // Any other setting would make the resumed run a different run.
  if (const std::vector<ConfigChange> changes = ConfigChanges(checkpoint.config(), config);
      !changes.empty()) {
    return Invalid(absl::StrCat("config differs from the run's config (checkpoint -> run): ",
                                FormatConfigChanges(changes)));
  }
  GORL_RETURN_IF_ERROR(CheckCheckpointPosition(checkpoint, config));
  const int stage = checkpoint.stage();
  const absl::Status restored = learner_.RestoreState(checkpoint.learner());
  if (!restored.ok()) return Invalid(std::string(restored.message()));

  // Rows that the interrupted run logged after the checkpoint are redone.
  const std::string metrics = options_.run_dir + "/metrics.jsonl";
  if (FileSize(metrics) > checkpoint.metrics_bytes() &&
      truncate(metrics.c_str(), checkpoint.metrics_bytes()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot truncate ", metrics, ": ", std::strerror(errno)));
  }
  decoder_ = checkpoint.decoder();
  eval_round_ = checkpoint.eval_round();
  Position position;
  position.stage = stage;
  position.iteration = checkpoint.iteration();
  position.next_eval = checkpoint.next_eval();
  position.elapsed_before = checkpoint.elapsed_seconds();
  position.best_return = checkpoint.best_return();
  position.best_snapshot = checkpoint.best_snapshot();
  position.summary.env_steps = checkpoint.env_steps();
  position.summary.collect_env_steps = checkpoint.collect_env_steps();
  position.summary.diverged_episodes = checkpoint.diverged_episodes();
  for (const v1::EvalRecord& eval : checkpoint.evaluations()) {
    position.summary.evaluations.push_back(FromProto(eval));
  }
  LOG(INFO) << "resuming at stage " << stage << ", iteration " << position.iteration << " ("
            << position.summary.env_steps << " env steps)";
  return Continue(std::move(position), /*resumed=*/true);
}

v1::LearnerCheckpoint TrainingLoop::MakeCheckpoint(const Position& position, double elapsed) const {
  v1::LearnerCheckpoint checkpoint;
  *checkpoint.mutable_config() = options_.config;
  *checkpoint.mutable_learner() = learner_.SaveState();
  checkpoint.set_stage(position.stage);
  checkpoint.set_iteration(position.iteration);
  checkpoint.set_env_steps(position.summary.env_steps);
  checkpoint.set_collect_env_steps(position.summary.collect_env_steps);
  checkpoint.set_next_eval(position.next_eval);
  checkpoint.set_eval_round(eval_round_);
  checkpoint.set_diverged_episodes(position.summary.diverged_episodes);
  checkpoint.set_elapsed_seconds(elapsed);
  checkpoint.set_best_return(position.best_return);
  *checkpoint.mutable_best_snapshot() = position.best_snapshot;
  *checkpoint.mutable_decoder() = decoder_;
  for (const EvalPoint& point : position.summary.evaluations) {
    *checkpoint.add_evaluations() = ToProto(point);
  }
  checkpoint.set_metrics_bytes(FileSize(options_.run_dir + "/metrics.jsonl"));
  return checkpoint;
}

absl::Status TrainingLoop::SaveCheckpoint(const Position& position, double elapsed) const {
  GORL_RETURN_IF_ERROR(SaveRunCheckpoint(MakeCheckpoint(position, elapsed), options_.run_dir));
  if (options_.on_checkpoint) options_.on_checkpoint();
  return absl::OkStatus();
}

absl::Status TrainingLoop::SaveBoundaryCheckpoint(const Position& position, double elapsed) const {
  const v1::LearnerCheckpoint checkpoint = MakeCheckpoint(position, elapsed);
  GORL_RETURN_IF_ERROR(
      WriteCheckpoint(checkpoint, BoundaryCheckpointPath(options_.run_dir, position.stage)));
  GORL_RETURN_IF_ERROR(SaveRunCheckpoint(checkpoint, options_.run_dir));
  if (options_.on_checkpoint) options_.on_checkpoint();
  return absl::OkStatus();
}

void TrainingLoop::EnterPhase(const char* phase) const {
  if (options_.on_phase) options_.on_phase(phase);
}

absl::StatusOr<TrainingSummary> TrainingLoop::Continue(Position pos, bool resumed) {
  const auto start = Clock::now();
  const double elapsed_before = pos.elapsed_before;
  const std::function<double()> elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(Clock::now() - start).count();
  };
  // Nothing is completed in this session yet: the disk holds the last
  // completed position (a resumed run's checkpoint), or there is none.
  at_exit_ = AtExit::kNothing;
  absl::StatusOr<TrainingSummary> summary = RunStages(pos, resumed, elapsed);
  if (summary.status().code() != absl::StatusCode::kCancelled) return summary;

  // Cancelled (the learner's SIGTERM): leave the last completed iteration on
  // disk, so that a resume redoes nothing that was finished. Other errors
  // write nothing: a failed update may have left the learner half-changed.
  v1::LearnerCheckpoint checkpoint;
  switch (at_exit_) {
    case AtExit::kNothing:
      return summary;
    case AtExit::kPosition:
      checkpoint = MakeCheckpoint(pos, elapsed());
      break;
    case AtExit::kPending:
      checkpoint = std::move(pending_checkpoint_);
      break;
  }
  const absl::Status saved = SaveRunCheckpoint(checkpoint, options_.run_dir);
  if (saved.ok()) {
    LOG(INFO) << "cancelled; checkpoint written at stage " << checkpoint.stage() << ", iteration "
              << checkpoint.iteration() << " (" << checkpoint.env_steps() << " env steps)";
  } else {
    LOG(ERROR) << "cancelled, and the checkpoint could not be written: " << saved;
  }
  return summary;
}

absl::StatusOr<TrainingSummary> TrainingLoop::RunStages(Position& pos, bool resumed,
                                                        const std::function<double()>& elapsed) {
  const v1::TrainConfig& config = options_.config;
  const bool gorl = HasDecoder(config.algo());
  const bool frozen_decoder = !config.stages().frozen_decoder().empty();
  const int64_t steps_per_iteration = EnvStepsPerIteration(config);
  const int checkpoint_every = config.checkpoint_every_iterations();
  GORL_ASSIGN_OR_RETURN(StageSchedule schedule, ScheduleFor(config));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<MetricsLog> log,
                        MetricsLog::Open(options_.run_dir + "/metrics.jsonl"));
  if (!resumed) {
    GORL_RETURN_IF_ERROR(WriteDecoder(decoder_, options_.run_dir + "/decoder_stage0.pb"));
    // Which build ran the run, on which machine (before the first
    // checkpoint, so that a resume keeps the row).
    log->Write(JsonRow()
                   .Add("event", "start")
                   .Add("env_steps", pos.summary.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("gorl_version", BuildVersion())
                   .Add("host", HostName()));
    // The start is a position too: a run that fails or is killed before its
    // first periodic checkpoint (a first update that diverges) can be
    // resumed, and its directory reads as a run.
    GORL_RETURN_IF_ERROR(SaveCheckpoint(pos, elapsed()));
  } else {
    // Where a resumed run took up again: a report marks it, and a supervisor's
    // test can tell a resume from a fresh start.
    log->Write(JsonRow()
                   .Add("event", "resume")
                   .Add("env_steps", pos.summary.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("stage", pos.stage)
                   .Add("iteration", pos.iteration)
                   .Add("gorl_version", BuildVersion())
                   .Add("host", HostName()));
  }
  if (options_.on_start) options_.on_start(pos.summary.env_steps);

  TrainingSummary& summary = pos.summary;
  double last_eval = summary.evaluations.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                 : summary.evaluations.back().deterministic_mean;
  const int64_t sequences = int64_t{config.ppo().batch_size()} * config.ppo().num_minibatches();
  const int64_t session_start_steps = summary.env_steps;

  auto log_eval = [&](const EvalPoint& point, const char* kind, double seconds) {
    summary.evaluations.push_back(point);
    last_eval = point.deterministic_mean;
    log->Write(JsonRow()
                   .Add("event", kind)
                   .Add("env_steps", point.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("stage", point.stage)
                   .Add("eval_return_mean", point.deterministic_mean)
                   .Add("eval_return_std", point.deterministic_std)
                   .Add("eval_stochastic_return_mean", point.stochastic_mean)
                   .Add("eval_seconds", seconds));
  };

  for (; pos.stage < schedule.num_stages(); ++pos.stage, pos.iteration = 0) {
    const int stage = pos.stage;
    const bool refine = gorl && !frozen_decoder && stage + 1 < schedule.num_stages();
    learner_.SetStage(stage);
    if (pos.iteration == 0) {
      if (stage > 0) {
        const uint64_t seed = SeedFor(config.seed(), SeedStream::kReinit, stage);
        if (config.stages().reinit_encoder()) learner_.ReinitializeEncoder(seed);
        if (config.stages().reinit_critic()) learner_.ReinitializeCritic(seed + 1);
      }
      pos.best_return = -std::numeric_limits<double>::infinity();
      pos.best_snapshot.Clear();
    }
    while (pos.iteration < schedule.Iterations(stage)) {
      EnterPhase("train");
      const double gather_start = elapsed();
      GORL_RETURN_IF_ERROR(actors_.Broadcast(MakeSnapshot(v1::ACTOR_MODE_TRAIN)));
      GORL_ASSIGN_OR_RETURN(std::vector<v1::Rollout> rollouts,
                            actors_.GatherRollouts(sequences, config.rollout().unroll_length()));
      const double update_start = elapsed();
      const bool stage_end = pos.iteration + 1 == schedule.Iterations(stage);
      const bool evaluate = summary.env_steps + steps_per_iteration >= pos.next_eval || stage_end;
      // From here to the iteration's end only an evaluation can be cancelled;
      // by then the update has changed the learner, so keep the position
      // before it (one SaveState per evaluation).
      if (evaluate && at_exit_ == AtExit::kPosition) {
        pending_checkpoint_ = MakeCheckpoint(pos, elapsed());
        at_exit_ = AtExit::kPending;
      }
      std::vector<float> returns;
      // Who trained this update, as opposed to who is connected at its end:
      // an actor rejoining under load is briefly absent from the latter.
      std::set<std::string> rollout_actors;
      for (const v1::Rollout& r : rollouts) {
        returns.insert(returns.end(), r.episode_returns().begin(), r.episode_returns().end());
        summary.diverged_episodes += r.diverged_episodes();
        rollout_actors.insert(r.actor_id());
      }
      GORL_ASSIGN_OR_RETURN(PpoMetrics metrics, learner_.Update(rollouts));
      const double update_end = elapsed();
      double eval_seconds = 0.0;
      summary.env_steps += steps_per_iteration;
      double train_return = std::numeric_limits<double>::quiet_NaN();
      if (!returns.empty()) {
        train_return = 0;
        for (float r : returns) train_return += r / returns.size();
      }
      log->Write(JsonRow()
                     .Add("event", "update")
                     .Add("env_steps", summary.env_steps)
                     .Add("wall_seconds", elapsed())
                     .Add("stage", stage)
                     .Add("encoder_version", learner_.encoder_version())
                     .Add("actors", actors_.connected_actors())
                     .Add("rollout_actors", static_cast<int64_t>(rollout_actors.size()))
                     .Add("train_return_mean", train_return)
                     .Add("policy_loss", metrics.policy_loss)
                     .Add("value_loss", metrics.value_loss)
                     .Add("entropy", metrics.entropy)
                     .Add("approx_kl", metrics.approx_kl)
                     .Add("clip_fraction", metrics.clip_fraction)
                     .Add("explained_variance", metrics.explained_variance)
                     .Add("grad_norm", metrics.grad_norm)
                     .Add("latent_std", metrics.mean_std)
                     .Add("gather_seconds", update_start - gather_start)
                     .Add("update_seconds", update_end - update_start));
      if (evaluate) {
        while (pos.next_eval <= summary.env_steps) {
          pos.next_eval += config.eval().every_env_steps();
        }
        const v1::PolicySnapshot snapshot = MakeSnapshot(v1::ACTOR_MODE_EVAL);
        EnterPhase("evaluate");
        const double eval_start = elapsed();
        GORL_ASSIGN_OR_RETURN(EvalPoint point,
                              Evaluate(snapshot, summary.env_steps, stage,
                                       config.eval().stochastic(), config.eval().episodes()));
        eval_seconds = elapsed() - eval_start;
        log_eval(point, "eval", eval_seconds);
        if (point.deterministic_mean > pos.best_return) {
          pos.best_return = point.deterministic_mean;
          pos.best_snapshot = snapshot;
          log->Write(JsonRow()
                         .Add("event", "stage_best")
                         .Add("env_steps", summary.env_steps)
                         .Add("wall_seconds", elapsed())
                         .Add("stage", stage)
                         .Add("best_return", pos.best_return));
        }
      }
      ++pos.iteration;
      if (options_.on_progress) {
        Progress progress;
        progress.env_steps = summary.env_steps;
        progress.total_env_steps = schedule.total_env_steps();
        progress.stage = stage;
        progress.num_stages = schedule.num_stages();
        progress.elapsed_seconds = elapsed();
        // This session's rate: a resumed run took the earlier steps before.
        progress.steps_per_second = (summary.env_steps - session_start_steps) /
                                    std::max(1e-9, progress.elapsed_seconds - pos.elapsed_before);
        progress.last_eval_return = last_eval;
        progress.ppo = metrics;
        progress.decoder_validation_loss = decoder_validation_loss_;
        progress.stage_best_return = std::isfinite(pos.best_return)
                                         ? pos.best_return
                                         : std::numeric_limits<double>::quiet_NaN();
        options_.on_progress(progress);
      }
      // A stage end without refinement is checkpointed just below. One
      // before a refinement always is, and kept: a cancelled (long)
      // refinement resumes from it, and a fork redoes the refinement
      // from it under other settings.
      const int64_t done = summary.env_steps / steps_per_iteration;
      const bool boundary = stage_end && refine;
      const bool save =
          boundary || (checkpoint_every > 0 && done % checkpoint_every == 0 && !stage_end);
      if (boundary) {
        GORL_RETURN_IF_ERROR(SaveBoundaryCheckpoint(pos, elapsed()));
      } else if (save) {
        GORL_RETURN_IF_ERROR(SaveCheckpoint(pos, elapsed()));
      }
      at_exit_ = save ? AtExit::kNothing : AtExit::kPosition;
      pending_checkpoint_.Clear();
    }
    // The policy the stage ended with (encoder, normaliser, decoder), for
    // reports and tools that sample a stage's policy. (Rewritten unchanged
    // when a run cancelled in the refinement below resumes.)
    GORL_RETURN_IF_ERROR(
        WriteFileAtomically(absl::StrCat(options_.run_dir, "/policy_stage", stage, ".pb"),
                            MakeSnapshot(v1::ACTOR_MODE_EVAL).SerializeAsString()));
    if (refine) GORL_RETURN_IF_ERROR(RefineAfterStage(pos, *log, elapsed));
    // Logged with the stage-end checkpoint below, so that a resume never
    // repeats it.
    log->Write(JsonRow()
                   .Add("event", "stage_end")
                   .Add("env_steps", summary.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("stage", stage)
                   .Add("best_return", pos.best_return)
                   .Add("final_return", last_eval));
    // Stage end (the last one is the run's end): the next position is the
    // next stage's start.
    Position next;
    next.stage = stage + 1;
    next.next_eval = pos.next_eval;
    next.summary = summary;
    GORL_RETURN_IF_ERROR(SaveCheckpoint(next, elapsed()));
    // The next stage's start (re-initialisation) must not be saved: it is
    // not idempotent (it bumps the encoder version), and the file just
    // written is the position before it.
    at_exit_ = AtExit::kNothing;
  }
  if (summary.evaluations.empty()) return absl::InternalError("the run ended without evaluations");
  EnterPhase("done");
  // The last stage ended with an evaluation of the final policy.
  summary.final_evaluation = summary.evaluations.back();
  summary.seconds = elapsed();
  return summary;
}

}  // namespace gorl::learner
