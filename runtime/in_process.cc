#include "runtime/in_process.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/nn/decoder.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "learner/training_loop.h"
#include "refiner/decoder_trainer.h"

namespace gorl::runtime {

namespace {

bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

absl::Status StoppedError() { return absl::CancelledError("stopped by a signal"); }

}  // namespace

absl::StatusOr<std::unique_ptr<InProcessActors>> InProcessActors::Create(
    const envs::TaskFactory& factory, const v1::TrainConfig& config,
    const std::atomic<bool>* stop) {
  actor::WorkerOptions options;
  options.num_envs = config.rollout().num_envs();
  options.num_threads = config.rollout().num_threads();
  options.seed = SeedFor(config.seed(), SeedStream::kActorEnvs, 0);
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<actor::RolloutWorker> worker,
                        actor::RolloutWorker::Create(factory, options));
  return std::unique_ptr<InProcessActors>(
      new InProcessActors(std::move(worker), options.num_envs, stop));
}

absl::Status InProcessActors::CheckNotStopped() const {
  return Stopped(stop_) ? StoppedError() : absl::OkStatus();
}

absl::Status InProcessActors::Broadcast(const v1::PolicySnapshot& snapshot) {
  return worker_->SetPolicy(snapshot);
}

absl::StatusOr<std::vector<v1::Rollout>> InProcessActors::GatherRollouts(int64_t sequences,
                                                                         int unroll_length) {
  if (sequences % num_envs_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot gather ", sequences, " sequences from ",
                                                   num_envs_, " envs in whole unrolls"));
  }
  std::vector<v1::Rollout> rollouts;
  for (int64_t k = 0; k < sequences / num_envs_; ++k) {
    GORL_RETURN_IF_ERROR(CheckNotStopped());
    GORL_ASSIGN_OR_RETURN(v1::Rollout rollout, worker_->Unroll(unroll_length));
    rollouts.push_back(std::move(rollout));
  }
  return rollouts;
}

absl::StatusOr<v1::RefinementData> InProcessActors::Collect(int64_t pairs, int num_envs,
                                                            uint64_t seed) {
  GORL_RETURN_IF_ERROR(CheckNotStopped());
  return worker_->Collect(pairs, num_envs, seed);
}

absl::StatusOr<v1::EvalReport> InProcessActors::Evaluate(int episodes, bool deterministic,
                                                         uint64_t seed) {
  GORL_RETURN_IF_ERROR(CheckNotStopped());
  return worker_->Evaluate(episodes, deterministic, seed);
}

absl::StatusOr<learner::RefineOutcome> InProcessRefiner::Refine(const v1::RefinementData& data,
                                                                int64_t version) {
  GORL_ASSIGN_OR_RETURN(
      refiner::RefineResult result,
      refiner::TrainDecoder(data, learner::DecoderKindFor(config_.algo()), config_.decoder(),
                            config_.refine(), SeedFor(config_.seed(), SeedStream::kRefine, version),
                            version, config_.device(), [this] { return Stopped(stop_); }));
  learner::RefineOutcome outcome;
  outcome.decoder = std::move(result.decoder);
  outcome.best_validation_loss = result.best_validation_loss;
  outcome.final_train_loss = result.train_losses.empty() ? 0.0 : result.train_losses.back();
  outcome.epochs = result.epochs_run;
  outcome.train_losses = std::move(result.train_losses);
  outcome.validation_losses = std::move(result.validation_losses);
  return outcome;
}

absl::StatusOr<v1::Decoder> InitialDecoder(const v1::TrainConfig& config, int obs_size,
                                           int action_size) {
  const std::string& path = config.stages().frozen_decoder();
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    v1::Decoder decoder;
    if (!in) return absl::NotFoundError(absl::StrCat("frozen decoder file not found: ", path));
    if (!decoder.ParseFromIstream(&in)) {
      return absl::InvalidArgumentError(absl::StrCat("not a gorl.v1.Decoder: ", path));
    }
    if (decoder.obs_size() != obs_size || decoder.action_size() != action_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("frozen decoder ", path, " is for obs ", decoder.obs_size(), " / action ",
                       decoder.action_size(), ", the task has ", obs_size, " / ", action_size));
    }
    // Validate the weights now rather than in the actors.
    GORL_RETURN_IF_ERROR(nn::DecoderModel::FromProto(decoder).status());
    return decoder;
  }
  const v1::DecoderKind kind = learner::DecoderKindFor(config.algo());
  // The zero flow network is exactly the identity (its velocity is 0 at every
  // Euler step), so GoRL-FM's stage 0 uses the IDENTITY decoder itself and
  // saves ten network evaluations per env step. Diffusion keeps its zero
  // network: on the linear schedule it scales z by ~1.05, as released.
  const v1::DecoderKind stage0 = kind == v1::DECODER_KIND_FLOW ? v1::DECODER_KIND_IDENTITY : kind;
  return nn::DecoderModel::Identity(stage0, obs_size, action_size, config.decoder())->ToProto(0);
}

}  // namespace gorl::runtime
