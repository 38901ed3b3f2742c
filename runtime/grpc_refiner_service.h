// The refiner role over gRPC: RefinerService (gorl.v1.Refiner, trains a
// decoder with refiner::TrainDecoder exactly as InProcessRefiner does) and
// GrpcRefinerClient, the learner::Refiner the learner's stage coordinator
// calls. The request carries every setting the refinement needs, so a
// refiner process has no run configuration of its own.
#ifndef GORL_RUNTIME_GRPC_REFINER_SERVICE_H_
#define GORL_RUNTIME_GRPC_REFINER_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "gorl/v1/config.pb.h"
#include "gorl/v1/services.grpc.pb.h"
#include "learner/roles.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

// Bounds on a Refine request beyond ValidateRefineConfig (common/config.h):
// far above any preset (the paper's decoder is 4 x 32, 10 steps, 50 epochs
// of batch 8192, 8 samples per pair), low enough that a request cannot make
// the refiner allocate or compute without end.
inline constexpr int kMaxDecoderLayers = 16;
inline constexpr int kMaxDecoderWidth = 4096;
inline constexpr int kMaxDecoderSteps = 1000;
inline constexpr int kMaxRefineEpochs = 10000;
inline constexpr int kMaxRefineBatch = 1 << 20;
inline constexpr int kMaxSamplesPerPair = 1024;

// The refinement data one Refine stream may carry by default: the paper
// preset's 512,000 pairs on the largest task (humanoid: 67 observation and
// 21 action values, plus 21 latents for refine.inputs=encoder) are
// 512,000 x 109 x 4 B = 223 MB; 256 MiB leaves room for the chunks' framing.
// Larger runs (the reference preset's 10M pairs) raise --max_refine_bytes;
// `gorl train` passes its refiner what its run needs (RefineStreamBytes).
inline constexpr int64_t kDefaultMaxRefineBytes = int64_t{256} << 20;

// The bytes a run's refinement streams to the refiner (an upper estimate:
// pairs with latents, plus framing).
int64_t RefineStreamBytes(const v1::TrainConfig& config, int obs_size, int action_size);

// Checks a Refine header before anything is allocated: decoder kind and
// version, ValidateRefineConfig, the bounds above and the device.
// InvalidArgument naming the field.
absl::Status ValidateRefineHeader(const v1::RefineHeader& header);

struct RefinerServiceOptions {
  // Largest refinement data one stream may carry (RESOURCE_EXHAUSTED beyond).
  int64_t max_refine_bytes = kDefaultMaxRefineBytes;
};

// Trains one decoder at a time; concurrent calls wait their turn. A request
// is checked before it allocates (the header first, then the running byte
// total of every chunk); a stream takes its turn only once all of its data
// is in, so a client that streams slowly blocks nobody; a client that
// cancels (or whose deadline passes) stops its training within a minibatch.
class RefinerService final : public v1::Refiner::Service {
 public:
  // `metrics` must outlive the service.
  explicit RefinerService(RoleMetrics& metrics, RefinerServiceOptions options = {})
      : metrics_(metrics), options_(options) {}

  grpc::Status Refine(grpc::ServerContext* context, grpc::ServerReader<v1::RefineChunk>* reader,
                      v1::RefineReply* reply) override;

 private:
  // Waits for the refiner to be idle and takes it; false when the client
  // left first.
  bool TakeTurn(grpc::ServerContext* context);
  void EndTurn();

  RoleMetrics& metrics_;
  const RefinerServiceOptions options_;
  absl::Mutex mu_;
  // False while a refinement runs: one at a time (each uses every core).
  bool idle_ ABSL_GUARDED_BY(mu_) = true;
};

// The learner's default deadline for one Refine call (--refine_timeout_s): 6 h.
inline constexpr int kDefaultRefineTimeoutSeconds = 6 * 3600;

struct RefinerClientOptions {
  std::string address;
  // How to reach it (runtime/transport_security.h; null: plaintext).
  ClientCredentials credentials;
  // The run's algo, decoder and refine settings and seed.
  v1::TrainConfig config;
  // Per attempt: how long to wait for the refiner to accept a connection.
  std::chrono::seconds connect_timeout{30};
  // Attempts in all (the refiner not up yet, or gone mid-refinement).
  int max_attempts = 6;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{15000};
  // Per attempt: the whole call, streaming and training. DEADLINE_EXCEEDED
  // (a stalled stream, a refiner that never answers) is retried like an
  // unreachable refiner. Generous: the paper preset's refinement takes
  // minutes to an hour on a few cores.
  std::chrono::seconds refine_timeout{kDefaultRefineTimeoutSeconds};
};

class GrpcRefinerClient : public learner::Refiner {
 public:
  // `metrics` must outlive the client.
  GrpcRefinerClient(RefinerClientOptions options, RoleMetrics& metrics);
  GrpcRefinerClient(const GrpcRefinerClient&) = delete;
  GrpcRefinerClient& operator=(const GrpcRefinerClient&) = delete;

  // Streams `data` in chunks of at most 4 MiB and waits for the decoder;
  // retries with backoff while the refiner is unavailable or an attempt
  // passed its deadline. Other errors (INVALID_ARGUMENT: a request the
  // refiner refuses; RESOURCE_EXHAUSTED: more data than it takes) are not
  // retried: they fail the run with the refiner's reason.
  absl::StatusOr<learner::RefineOutcome> Refine(const v1::RefinementData& data,
                                                int64_t version) override;

  // Aborts a call in flight and any later one (shutdown); thread-safe.
  void Cancel();

  // The run's refinement settings against what a refiner accepts
  // (ValidateRefineHeader), so that a run the refiner would refuse fails at
  // its start, not at its first stage boundary.
  absl::Status CheckSettings() const;

 private:
  v1::RefineHeader MakeHeader(int64_t version) const;
  absl::StatusOr<learner::RefineOutcome> Attempt(const v1::RefineHeader& header,
                                                 const v1::RefinementData& data);

  const RefinerClientOptions options_;
  RoleMetrics& metrics_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Refiner::Stub> stub_;
  absl::Mutex mu_;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;  // the call in flight
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cancelled_changed_;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_GRPC_REFINER_SERVICE_H_
