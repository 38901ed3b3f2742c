#include "runtime/grpc_refiner_service.h"

#include <utility>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/message_checks.h"
#include "common/seed_streams.h"
#include "learner/training_loop.h"
#include "refiner/decoder_trainer.h"
#include "runtime/grpc_util.h"
#include "runtime/message_ops.h"
#include "runtime/protocol.h"

namespace gorl::runtime {
namespace {

using Clock = std::chrono::steady_clock;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

grpc::Status RefinerService::Refine(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::RefineChunk>* reader,
                                    v1::RefineReply* reply) {
  v1::RefineChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    metrics_.AddRpcError("Refine");
    return Invalid("a Refine stream starts with a header");
  }
  const v1::RefineHeader header = chunk.header();
  if (header.kind() == v1::DECODER_KIND_UNSPECIFIED || header.version() < 0) {
    metrics_.AddRpcError("Refine");
    return Invalid(absl::StrCat("refine header: kind ", v1::DecoderKind_Name(header.kind()),
                                ", version ", header.version()));
  }
  v1::RefinementData data;
  TaskShape shape;
  while (reader->Read(&chunk)) {
    if (!chunk.has_data()) {
      metrics_.AddRpcError("Refine");
      return Invalid("a Refine stream has exactly one header, first");
    }
    if (shape.obs_size == 0) shape = {chunk.data().obs_size(), chunk.data().action_size()};
    const absl::Status valid = CheckRefinementData(chunk.data(), shape);
    if (!valid.ok()) {
      metrics_.AddRpcError("Refine");
      return Invalid(absl::StrCat("refine chunk: ", valid.message()));
    }
    AppendPairs(chunk.data(), data);
  }
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  if (NumPairs(data) == 0 ||
      (data.latents_size() != 0 && data.latents_size() != data.actions_size())) {
    metrics_.AddRpcError("Refine");
    return Invalid(absl::StrCat("refine data: ", NumPairs(data), " pairs, ", data.latents_size(),
                                " latent values for ", data.actions_size(), " action values"));
  }
  absl::MutexLock turn(&busy_);
  LOG(INFO) << "refining decoder v" << header.version() << " ("
            << v1::DecoderKind_Name(header.kind()) << ") on " << NumPairs(data) << " pairs";
  const auto start = Clock::now();
  absl::StatusOr<refiner::RefineResult> result =
      refiner::TrainDecoder(data, header.kind(), header.decoder(), header.refine(), header.seed(),
                            header.version(), header.device());
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

absl::StatusOr<learner::RefineOutcome> GrpcRefinerClient::Refine(const v1::RefinementData& data,
                                                                 int64_t version) {
  v1::RefineHeader header;
  header.set_version(version);
  header.set_kind(learner::DecoderKindFor(options_.config.algo()));
  *header.mutable_decoder() = options_.config.decoder();
  *header.mutable_refine() = options_.config.refine();
  header.set_seed(SeedFor(options_.config.seed(), SeedStream::kRefine, version));
  header.set_device(options_.config.device());
  Backoff backoff(options_.initial_backoff, options_.max_backoff,
                  SeedFor(options_.config.seed(), SeedStream::kRefineBackoff, version));
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    absl::StatusOr<learner::RefineOutcome> outcome = Attempt(header, data);
    if (outcome.ok()) return outcome;
    last = outcome.status();
    metrics_.AddRpcError("Refine");
    // Only an unreachable or vanished refiner is worth another try.
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
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("refinement cancelled");
    active_ = &context;
  }
  v1::RefineReply reply;
  // No deadline: training a decoder takes as long as it takes; a vanished
  // refiner breaks the connection (keepalive) and fails the call.
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
  return outcome;
}

}  // namespace gorl::runtime
