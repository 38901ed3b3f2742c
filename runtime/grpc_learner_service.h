// The gorl.v1.Learner service: a thin gRPC adapter over ActorFleet
// (runtime/actor_fleet.h), which holds every rule about sessions, work and
// versions. This file only moves messages between gRPC streams and the
// fleet, turns absl::Status into grpc::Status, notices peers that went away
// and counts refused calls.
//
// Policy and Send streams carry their session as call metadata
// (kActorIdMetadata, kSessionMetadata): the session is checked, against the
// caller's peer key, before anything is read from the stream, so a stream
// without a valid session is refused at once and holds no server thread.
// PeerKey is the one place that decides who a caller is.
#ifndef GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_
#define GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "common/metrics.h"
#include "gorl/v1/services.grpc.pb.h"
#include "runtime/actor_fleet.h"
#include "runtime/protocol.h"

namespace gorl::runtime {

// The caller's identity that sessions are bound to: the authenticated
// identity (certificate CN or token id) at the address without the port.
std::string PeerKey(const grpc::ServerContext& context);

class LearnerService final : public v1::Learner::Service {
 public:
  // `fleet` and `metrics` must outlive the service.
  LearnerService(ActorFleet& fleet, RoleMetrics& metrics) : fleet_(fleet), metrics_(metrics) {}
  LearnerService(const LearnerService&) = delete;
  LearnerService& operator=(const LearnerService&) = delete;

  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                    v1::JoinReply* reply) override;
  grpc::Status Policy(grpc::ServerContext* context, const v1::PolicyRequest* request,
                      grpc::ServerWriter<v1::PolicySnapshot>* writer) override;
  grpc::Status Send(grpc::ServerContext* context, grpc::ServerReader<v1::ActorMessage>* reader,
                    v1::SendSummary* summary) override;
  grpc::Status Leave(grpc::ServerContext* context, const v1::LeaveRequest* request,
                     v1::LeaveReply* reply) override;

 private:
  ActorFleet& fleet_;
  RoleMetrics& metrics_;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_GRPC_LEARNER_SERVICE_H_
