#include "runtime/grpc_refiner_service.h"

#include <cmath>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/message_checks.h"
#include "common/seed_streams.h"
#include "common/status_macros.h"
#include "learner/training_loop.h"
#include "refiner/decoder_trainer.h"
#include "runtime/grpc_util.h"
#include "runtime/message_ops.h"
#include "runtime/protocol.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int64_t RefineStreamBytes(const v1::TrainConfig& config, int obs_size, int action_size) {
  const int64_t per_pair = int64_t{4} * (obs_size + 2 * int64_t{action_size});
  const int64_t data = config.refine().num_pairs() * per_pair;
  return data + data / 64 + (int64_t{1} << 20);  // chunk framing and the header
}

absl::Status ValidateRefineHeader(const v1::RefineHeader& header) {
  if (header.kind() != v1::DECODER_KIND_FLOW && header.kind() != v1::DECODER_KIND_DIFFUSION) {
    return absl::InvalidArgumentError(
        absl::StrCat("refine header: kind ", v1::DecoderKind_Name(header.kind()),
                     " (only flow and diffusion decoders are trained)"));
  }
  if (header.version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("refine header: version ", header.version(), " must be >= 0"));
  }
  GORL_RETURN_IF_ERROR(ValidateRefineConfig(header.decoder(), header.refine()));
  const v1::DecoderConfig& d = header.decoder();
  const v1::RefineConfig& f = header.refine();
  auto bound = [](const char* field, int64_t value, int64_t max) {
    return value <= max ? absl::OkStatus()
                        : absl::InvalidArgumentError(absl::StrCat("refine header: ", field, " = ",
                                                                  value, " is above ", max));
  };
  GORL_RETURN_IF_ERROR(bound("decoder.hidden layers", d.hidden_size(), kMaxDecoderLayers));
  for (const int width : d.hidden()) {
    GORL_RETURN_IF_ERROR(bound("decoder.hidden width", width, kMaxDecoderWidth));
  }
  GORL_RETURN_IF_ERROR(bound("decoder.steps", d.steps(), kMaxDecoderSteps));
  GORL_RETURN_IF_ERROR(bound("refine.epochs", f.epochs(), kMaxRefineEpochs));
  GORL_RETURN_IF_ERROR(bound("refine.batch_size", f.batch_size(), kMaxRefineBatch));
  GORL_RETURN_IF_ERROR(bound("refine.samples_per_pair", f.samples_per_pair(), kMaxSamplesPerPair));
  if (!std::isfinite(f.learning_rate())) {
    return absl::InvalidArgumentError("refine header: refine.learning_rate must be finite");
  }
  if (!v1::Device_IsValid(header.device())) {
    return absl::InvalidArgumentError(
        absl::StrCat("refine header: device ", static_cast<int>(header.device())));
  }
  return absl::OkStatus();
}

bool RefinerService::TakeTurn(grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  // Polled: gRPC has no wakeup for a client's cancel on a synchronous server.
  while (!mu_.AwaitWithTimeout(absl::Condition(&idle_), absl::Milliseconds(200))) {
    if (context->IsCancelled()) return false;
  }
  if (context->IsCancelled()) return false;
  idle_ = false;
  return true;
}

void RefinerService::EndTurn() {
  absl::MutexLock lock(&mu_);
  idle_ = true;
}

grpc::Status RefinerService::Refine(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::RefineChunk>* reader,
                                    v1::RefineReply* reply) {
  auto refuse = [this](grpc::StatusCode code, const std::string& message) {
    metrics_.AddRpcError("Refine");
    LOG(WARNING) << "Refine refused: " << message;
    return grpc::Status(code, message);
  };
  v1::RefineChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, "a Refine stream starts with a header");
  }
  const v1::RefineHeader header = chunk.header();
  // The settings first: a request that cannot be trained is refused before
  // its data is read.
  if (const absl::Status valid = ValidateRefineHeader(header); !valid.ok()) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, std::string(valid.message()));
  }
  v1::RefinementData data;
  TaskShape shape;
  int64_t bytes = 0;
  while (reader->Read(&chunk)) {
    if (!chunk.has_data()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    "a Refine stream has exactly one header, first");
    }
    // Counted before the chunk is kept: the total never exceeds the limit.
    bytes += static_cast<int64_t>(chunk.ByteSizeLong());
    if (bytes > options_.max_refine_bytes) {
      return refuse(grpc::StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("refine data: more than ", options_.max_refine_bytes,
                                 " bytes; start the refiner with a larger --max_refine_bytes "
                                 "(the run needs about num_pairs x 4 x (obs + 2 x action) bytes)"));
    }
    if (shape.obs_size == 0) shape = {chunk.data().obs_size(), chunk.data().action_size()};
    const absl::Status valid = CheckRefinementData(chunk.data(), shape);
    if (!valid.ok()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("refine chunk: ", valid.message()));
    }
    AppendPairs(chunk.data(), data);
  }
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  if (NumPairs(data) == 0 ||
      (data.latents_size() != 0 && data.latents_size() != data.actions_size())) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("refine data: ", NumPairs(data), " pairs, ", data.latents_size(),
                               " latent values for ", data.actions_size(), " action values"));
  }
  // Only now, with all of the data in, does this call wait for its turn.
  if (!TakeTurn(context)) return grpc::Status::CANCELLED;
  LOG(INFO) << "refining decoder v" << header.version() << " ("
            << v1::DecoderKind_Name(header.kind()) << ") on " << NumPairs(data) << " pairs";
  const auto start = Clock::now();
  absl::StatusOr<refiner::RefineResult> result = refiner::TrainDecoder(
      data, header.kind(), header.decoder(), header.refine(), header.seed(), header.version(),
      header.device(), [context] { return context->IsCancelled(); },
      [this](int epoch, double /*train_loss*/, double validation_loss) {
        metrics_.SetRefineEpoch(epoch);
        metrics_.SetRefineEpochValidationLoss(validation_loss);
      });
  EndTurn();
  if (!result.ok()) {
    metrics_.AddRpcError("Refine");
    LOG(WARNING) << "refinement of decoder v" << header.version() << " failed: " << result.status();
    return ToGrpcStatus(result.status());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  LOG(INFO) << "decoder v" << header.version() << ": " << result->epochs_run << " epochs in "
            << seconds << " s, best validation loss " << result->best_validation_loss;
  if (context->IsCancelled()) LOG(WARNING) << "the learner left before the decoder was ready";
  *reply->mutable_decoder() = std::move(result->decoder);
  reply->set_best_validation_loss(result->best_validation_loss);
  reply->set_final_train_loss(result->train_losses.empty() ? 0.0 : result->train_losses.back());
  reply->set_epochs(result->epochs_run);
  *reply->mutable_train_losses() = {result->train_losses.begin(), result->train_losses.end()};
  *reply->mutable_validation_losses() = {result->validation_losses.begin(),
                                         result->validation_losses.end()};
  metrics_.AddRefinements(1);
  metrics_.SetDecoderLoss(result->best_validation_loss);
  return grpc::Status::OK;
}

GrpcRefinerClient::GrpcRefinerClient(RefinerClientOptions options, RoleMetrics& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      channel_(MakeChannel(options_.address, options_.credentials)),
      stub_(v1::Refiner::NewStub(channel_)) {}

void GrpcRefinerClient::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (active_ != nullptr) active_->TryCancel();
  cancelled_changed_.SignalAll();
}

v1::RefineHeader GrpcRefinerClient::MakeHeader(int64_t version) const {
  v1::RefineHeader header;
  header.set_version(version);
  header.set_kind(learner::DecoderKindFor(options_.config.algo()));
  *header.mutable_decoder() = options_.config.decoder();
  *header.mutable_refine() = options_.config.refine();
  header.set_seed(SeedFor(options_.config.seed(), SeedStream::kRefine, version));
  header.set_device(options_.config.device());
  return header;
}

absl::Status GrpcRefinerClient::CheckSettings() const {
  const absl::Status valid = ValidateRefineHeader(MakeHeader(1));
  if (valid.ok()) return valid;
  return absl::InvalidArgumentError(
      absl::StrCat("the refiner would refuse this run's refinements: ", valid.message()));
}

absl::StatusOr<learner::RefineOutcome> GrpcRefinerClient::Refine(const v1::RefinementData& data,
                                                                 int64_t version) {
  const v1::RefineHeader header = MakeHeader(version);
  Backoff backoff(options_.initial_backoff, options_.max_backoff,
                  SeedFor(options_.config.seed(), SeedStream::kRefineBackoff, version));
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    absl::StatusOr<learner::RefineOutcome> outcome = Attempt(header, data);
    if (outcome.ok()) return outcome;
    last = outcome.status();
    metrics_.AddRpcError("Refine");
    // Only an unreachable or vanished refiner, or an attempt that ran out
    // of time, is worth another try; a refused request would be refused again.
    const bool retry = last.code() == absl::StatusCode::kUnavailable ||
                       last.code() == absl::StatusCode::kDeadlineExceeded;
    if (!retry || attempt == options_.max_attempts) break;
    const auto delay = backoff.Next();
    LOG(WARNING) << "refiner at " << options_.address << ": " << last << "; attempt " << attempt + 1
                 << "/" << options_.max_attempts << " in " << delay.count() << " ms";
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + absl::FromChrono(delay);
    while (!cancelled_ && !cancelled_changed_.WaitWithDeadline(&mu_, deadline)) {
    }
    if (cancelled_) return absl::CancelledError("refinement cancelled");
  }
  return absl::Status(last.code(), absl::StrCat("refinement of decoder v", version, " at ",
                                                options_.address, " failed: ", last.message()));
}

absl::StatusOr<learner::RefineOutcome> GrpcRefinerClient::Attempt(const v1::RefineHeader& header,
                                                                  const v1::RefinementData& data) {
  if (!channel_->WaitForConnected(DeadlineIn(options_.connect_timeout))) {
    return absl::UnavailableError(
        absl::StrCat("not reachable within ", options_.connect_timeout.count(), " s"));
  }
  grpc::ClientContext context;
  // A stalled stream or a refiner that never answers ends here
  // (DEADLINE_EXCEEDED, retried); the refiner sees the call cancelled and
  // stops training.
  context.set_deadline(DeadlineIn(options_.refine_timeout));
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("refinement cancelled");
    active_ = &context;
  }
  v1::RefineReply reply;
  std::unique_ptr<grpc::ClientWriter<v1::RefineChunk>> writer = stub_->Refine(&context, &reply);
  v1::RefineChunk chunk;
  *chunk.mutable_header() = header;
  bool open = writer->Write(chunk);
  for (v1::RefinementData& part : SplitPairs(data, kChunkBytes)) {
    if (!open) break;
    *chunk.mutable_data() = std::move(part);
    open = writer->Write(chunk);
  }
  if (open) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_ = nullptr;
  }
  if (!status.ok()) return FromGrpcStatus(status);
  learner::RefineOutcome outcome;
  outcome.decoder = std::move(*reply.mutable_decoder());
  outcome.best_validation_loss = reply.best_validation_loss();
  outcome.final_train_loss = reply.final_train_loss();
  outcome.epochs = reply.epochs();
  outcome.train_losses.assign(reply.train_losses().begin(), reply.train_losses().end());
  outcome.validation_losses.assign(reply.validation_losses().begin(),
                                   reply.validation_losses().end());
  return outcome;
}

}  // namespace gorl::runtime
