// The refiner role over gRPC: RefinerService (gorl.v1.Refiner, trains a
// decoder with refiner::TrainDecoder exactly as InProcessRefiner does) and
// GrpcRefinerClient, the learner::Refiner the learner's stage coordinator
// calls. The request carries every setting the refinement needs, so a
// refiner process has no run configuration of its own.
#ifndef GORL_RUNTIME_GRPC_REFINER_SERVICE_H_
#define GORL_RUNTIME_GRPC_REFINER_SERVICE_H_

#include <chrono>
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

// Trains one decoder at a time; concurrent calls wait their turn.
class RefinerService final : public v1::Refiner::Service {
 public:
  // `metrics` must outlive the service.
  explicit RefinerService(RoleMetrics& metrics) : metrics_(metrics) {}

  grpc::Status Refine(grpc::ServerContext* context, grpc::ServerReader<v1::RefineChunk>* reader,
                      v1::RefineReply* reply) override;

 private:
  RoleMetrics& metrics_;
  // Held for a whole refinement: one at a time (each uses every core).
  absl::Mutex busy_;
};

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
};

class GrpcRefinerClient : public learner::Refiner {
 public:
  // `metrics` must outlive the client.
  GrpcRefinerClient(RefinerClientOptions options, RoleMetrics& metrics);
  GrpcRefinerClient(const GrpcRefinerClient&) = delete;
  GrpcRefinerClient& operator=(const GrpcRefinerClient&) = delete;

  // Streams `data` in chunks of at most 4 MiB and waits for the decoder;
  // retries with backoff while the refiner is unavailable.
  absl::StatusOr<learner::RefineOutcome> Refine(const v1::RefinementData& data,
                                                int64_t version) override;

  // Aborts a call in flight and any later one (shutdown); thread-safe.
  void Cancel();

 private:
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
