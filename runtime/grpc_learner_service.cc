#include "runtime/grpc_learner_service.h"

#include <optional>
#include <string>
#include <utility>

#include <glog/logging.h>

#include "runtime/grpc_util.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

grpc::Status LearnerService::Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                                  v1::JoinReply* reply) {
  absl::StatusOr<v1::JoinReply> joined = fleet_.Join(*request, context->peer());
  if (!joined.ok()) {
    const std::string who = request->actor_id().empty() ? context->peer() : request->actor_id();
    LOG(WARNING) << "refused join of " << who << " (authenticated as " << PeerIdentity(*context)
                 << "): " << joined.status().message();
    metrics_.AddRpcError("Join");
    return ToGrpcStatus(joined.status());
  }
  LOG(INFO) << "actor " << joined->actor_id() << " authenticated as " << PeerIdentity(*context);
  *reply = *std::move(joined);
  return grpc::Status::OK;
}

grpc::Status LearnerService::Policy(grpc::ServerContext* context, const v1::PolicyRequest* request,
                                    grpc::ServerWriter<v1::PolicySnapshot>* writer) {
  ActorFleet::PolicyCursor cursor;
  const auto cancelled = [context] { return context->IsCancelled(); };
  while (true) {
    absl::StatusOr<std::optional<v1::PolicySnapshot>> next =
        fleet_.NextPolicy(request->session(), request->actor_id(), cursor, cancelled);
    if (!next.ok()) {
      if (next.status().code() == absl::StatusCode::kFailedPrecondition) {
        metrics_.AddRpcError("Policy");
      }
      return ToGrpcStatus(next.status());
    }
    if (!next->has_value()) return grpc::Status::OK;  // the run is over
    if (!writer->Write(**next)) {
      fleet_.StreamBroke(request->session(), request->actor_id(), "its policy stream broke");
      return grpc::Status::CANCELLED;
    }
  }
}

grpc::Status LearnerService::Send(grpc::ServerContext* context,
                                  grpc::ServerReader<v1::ActorMessage>* reader,
                                  v1::SendSummary* summary) {
  const auto cancelled = [context] { return context->IsCancelled(); };
  v1::ActorMessage message;
  while (reader->Read(&message)) {
    summary->set_messages(summary->messages() + 1);
    const absl::Status status = fleet_.HandleMessage(message, *summary, cancelled);
    if (!status.ok()) {
      metrics_.AddRpcError("Send");
      if (status.code() != absl::StatusCode::kCancelled) {
        LOG(WARNING) << "Send from actor '" << message.actor_id() << "' refused: " << status;
      }
      return ToGrpcStatus(status);
    }
  }
  if (context->IsCancelled()) {
    // The actor vanished mid-stream; whatever it held must go to others.
    fleet_.StreamBroke(message.session(), message.actor_id(), "its send stream broke");
    return grpc::Status::CANCELLED;
  }
  return grpc::Status::OK;
}

grpc::Status LearnerService::Leave(grpc::ServerContext* context, const v1::LeaveRequest* request,
                                   v1::LeaveReply* reply) {
  return ToGrpcStatus(fleet_.Leave(*request));
}

}  // namespace gorl::runtime
