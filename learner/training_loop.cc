#include "learner/training_loop.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/metrics_log.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "learner/stage_schedule.h"

namespace gorl::learner {
namespace {

using Clock = std::chrono::steady_clock;

// Seed streams derived from the run seed (actor envs use their own).
constexpr uint64_t kEvalStream = 101;
constexpr uint64_t kCollectStream = 202;
constexpr uint64_t kReinitStream = 303;

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
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !decoder.SerializeToOstream(&out)) {
      return absl::UnavailableError(absl::StrCat("cannot write decoder to ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

v1::DecoderKind DecoderKindFor(const std::string& algo) {
  if (algo == "gorl-fm") return v1::DECODER_KIND_FLOW;
  if (algo == "gorl-diff") return v1::DECODER_KIND_DIFFUSION;
  return v1::DECODER_KIND_IDENTITY;
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
                                                 int64_t env_steps, int stage) {
  const v1::TrainConfig& config = options_.config;
  v1::PolicySnapshot eval_snapshot = snapshot;
  eval_snapshot.set_mode(v1::ACTOR_MODE_EVAL);
  GORL_RETURN_IF_ERROR(actors_.Broadcast(eval_snapshot));
  // The same evaluation seeds every time, so curves compare policies, not luck.
  const uint64_t seed = DeriveSeed(config.seed(), kEvalStream);
  ++eval_round_;
  GORL_ASSIGN_OR_RETURN(v1::EvalReport deterministic,
                        actors_.Evaluate(config.eval().episodes(), true, seed));
  EvalPoint point;
  point.env_steps = env_steps;
  point.stage = stage;
  point.deterministic_mean = Mean(deterministic.episode_returns());
  point.deterministic_std = StdDev(deterministic.episode_returns());
  point.stochastic_mean = std::numeric_limits<double>::quiet_NaN();
  if (config.eval().stochastic()) {
    GORL_ASSIGN_OR_RETURN(v1::EvalReport stochastic,
                          actors_.Evaluate(config.eval().episodes(), false, seed));
    point.stochastic_mean = Mean(stochastic.episode_returns());
  }
  return point;
}

absl::StatusOr<TrainingSummary> TrainingLoop::Run() {
  const v1::TrainConfig& config = options_.config;
  const bool gorl = config.algo() != "ppo";
  const bool frozen_decoder = !config.stages().frozen_decoder().empty();
  std::vector<double> fractions(config.stages().fractions().begin(),
                                config.stages().fractions().end());
  if (!gorl) fractions = {1.0};  // Gaussian PPO has no stages
  const int64_t steps_per_iteration = EnvStepsPerIteration(config);
  GORL_ASSIGN_OR_RETURN(StageSchedule schedule,
                        StageSchedule::Create(config.total_env_steps(), fractions,
                                              steps_per_iteration));
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<MetricsLog> log,
                        MetricsLog::Open(options_.run_dir + "/metrics.jsonl"));
  GORL_RETURN_IF_ERROR(WriteDecoder(decoder_, options_.run_dir + "/decoder_stage0.pb"));

  TrainingSummary summary;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  double last_eval = std::numeric_limits<double>::quiet_NaN();
  int64_t next_eval = config.eval().every_env_steps();
  const int64_t sequences = int64_t{config.ppo().batch_size()} * config.ppo().num_minibatches();

  auto log_eval = [&](const EvalPoint& point, const char* kind) {
    summary.evaluations.push_back(point);
    last_eval = point.deterministic_mean;
    log->Write(JsonRow()
                   .Add("event", kind)
                   .Add("env_steps", point.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("stage", point.stage)
                   .Add("eval_return_mean", point.deterministic_mean)
                   .Add("eval_return_std", point.deterministic_std)
                   .Add("eval_stochastic_return_mean", point.stochastic_mean));
  };

  for (int stage = 0; stage < schedule.num_stages(); ++stage) {
    learner_.SetStage(stage);
    if (stage > 0) {
      const uint64_t seed = DeriveSeed(config.seed(), kReinitStream + stage);
      if (config.stages().reinit_encoder()) learner_.ReinitializeEncoder(seed);
      if (config.stages().reinit_critic()) learner_.ReinitializeCritic(seed + 1);
    }
    double best_return = -std::numeric_limits<double>::infinity();
    v1::PolicySnapshot best_snapshot;
    for (int64_t it = 0; it < schedule.Iterations(stage); ++it) {
      GORL_RETURN_IF_ERROR(actors_.Broadcast(MakeSnapshot(v1::ACTOR_MODE_TRAIN)));
      GORL_ASSIGN_OR_RETURN(std::vector<v1::Rollout> rollouts,
                            actors_.GatherRollouts(sequences, config.rollout().unroll_length()));
      std::vector<float> returns;
      for (const v1::Rollout& r : rollouts) {
        returns.insert(returns.end(), r.episode_returns().begin(), r.episode_returns().end());
        summary.diverged_episodes += r.diverged_episodes();
      }
      GORL_ASSIGN_OR_RETURN(PpoMetrics metrics, learner_.Update(rollouts));
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
                     .Add("train_return_mean", train_return)
                     .Add("policy_loss", metrics.policy_loss)
                     .Add("value_loss", metrics.value_loss)
                     .Add("entropy", metrics.entropy)
                     .Add("approx_kl", metrics.approx_kl)
                     .Add("clip_fraction", metrics.clip_fraction)
                     .Add("explained_variance", metrics.explained_variance)
                     .Add("grad_norm", metrics.grad_norm)
                     .Add("latent_std", metrics.mean_std));
      const bool stage_end = it + 1 == schedule.Iterations(stage);
      if (summary.env_steps >= next_eval || stage_end) {
        while (next_eval <= summary.env_steps) next_eval += config.eval().every_env_steps();
        const v1::PolicySnapshot snapshot = MakeSnapshot(v1::ACTOR_MODE_EVAL);
        GORL_ASSIGN_OR_RETURN(EvalPoint point, Evaluate(snapshot, summary.env_steps, stage));
        log_eval(point, "eval");
        if (point.deterministic_mean > best_return) {
          best_return = point.deterministic_mean;
          best_snapshot = snapshot;
        }
      }
      if (options_.on_progress) {
        Progress progress;
        progress.env_steps = summary.env_steps;
        progress.total_env_steps = schedule.total_env_steps();
        progress.stage = stage;
        progress.num_stages = schedule.num_stages();
        progress.elapsed_seconds = elapsed();
        progress.steps_per_second = summary.env_steps / std::max(1e-9, progress.elapsed_seconds);
        progress.last_eval_return = last_eval;
        options_.on_progress(progress);
      }
    }
    const bool refine = gorl && !frozen_decoder && stage + 1 < schedule.num_stages();
    if (!refine) continue;
    // Freeze the chosen encoder and collect with it and the current decoder.
    v1::PolicySnapshot collect_snapshot = config.stages().collect_with() == "best"
                                              ? best_snapshot
                                              : MakeSnapshot(v1::ACTOR_MODE_COLLECT);
    collect_snapshot.set_mode(v1::ACTOR_MODE_COLLECT);
    GORL_RETURN_IF_ERROR(actors_.Broadcast(collect_snapshot));
    const double collect_start = elapsed();
    GORL_ASSIGN_OR_RETURN(
        v1::RefinementData data,
        actors_.Collect(config.refine().num_pairs(), config.refine().collect_envs(),
                        DeriveSeed(config.seed(), kCollectStream + stage)));
    summary.collect_env_steps += config.refine().num_pairs();
    const double refine_start = elapsed();
    GORL_ASSIGN_OR_RETURN(RefineOutcome outcome, refiner_.Refine(data, stage + 1));
    decoder_ = outcome.decoder;
    GORL_RETURN_IF_ERROR(
        WriteDecoder(decoder_, absl::StrCat(options_.run_dir, "/decoder_stage", stage + 1, ".pb")));
    log->Write(JsonRow()
                   .Add("event", "refine")
                   .Add("env_steps", summary.env_steps)
                   .Add("wall_seconds", elapsed())
                   .Add("stage", stage)
                   .Add("collect_encoder_version", collect_snapshot.encoder_version())
                   .Add("collect_seconds", refine_start - collect_start)
                   .Add("refine_seconds", elapsed() - refine_start)
                   .Add("pairs", config.refine().num_pairs())
                   .Add("decoder_version", decoder_.version())
                   .Add("decoder_val_loss", outcome.best_validation_loss)
                   .Add("decoder_train_loss", outcome.final_train_loss)
                   .Add("decoder_epochs", outcome.epochs));
    LOG(INFO) << "stage " << stage << " -> " << stage + 1 << ": decoder v" << decoder_.version()
              << " trained on " << config.refine().num_pairs() << " pairs (validation loss "
              << outcome.best_validation_loss << ")";
  }
  // The last stage ended with an evaluation of the final policy.
  summary.final_evaluation = summary.evaluations.back();
  summary.seconds = elapsed();
  return summary;
}

}  // namespace gorl::learner
