#include "runtime/grpc_learner_service.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/grpc_util.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {
namespace {

// The session named by a stream's metadata, checked before anything of the
// stream is read.
struct StreamSession {
  std::string actor_id;
  uint64_t session = 0;
};

absl::StatusOr<StreamSession> SessionFromMetadata(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto id = metadata.find(kActorIdMetadata);
  auto session = metadata.find(kSessionMetadata);
  StreamSession result;
  if (id == metadata.end() || session == metadata.end() ||
      !absl::SimpleAtoi(absl::string_view(session->second.data(), session->second.size()),
                        &result.session)) {
    return absl::InvalidArgumentError(absl::StrCat("a stream must carry its session as '",
                                                   kActorIdMetadata, "' and '", kSessionMetadata,
                                                   "' metadata (protocol ", kProtocolVersion, ")"));
  }
  result.actor_id.assign(id->second.data(), id->second.size());
  return result;
}

// A stream's session (from its metadata) and its slot among the session's
// streams; each refusal is counted against `method`.
struct OpenedStream {
  StreamSession named;
  ActorFleet::StreamSlot slot;
};

absl::StatusOr<OpenedStream> OpenNamedStream(ActorFleet& fleet, RoleMetrics& metrics,
                                             const grpc::ServerContext& context,
                                             ActorFleet::StreamKind kind, const std::string& peer,
                                             const char* method,
                                             std::function<void()> cancel = nullptr) {
  absl::StatusOr<StreamSession> named = SessionFromMetadata(context);
  if (!named.ok()) {
    metrics.AddRpcError(method);
    metrics.AddMessageRefused("session");
    return named.status();
  }
  absl::StatusOr<ActorFleet::StreamSlot> slot =
      fleet.OpenStream(kind, named->session, named->actor_id, peer, std::move(cancel));
  if (!slot.ok()) {
    metrics.AddRpcError(method);
    return slot.status();
  }
  return OpenedStream{*std::move(named), *std::move(slot)};
}

}  // namespace

std::string PeerKey(const grpc::ServerContext& context) {
  // Who the caller is, for binding sessions: its authenticated identity
  // (certificate CN or token id, runtime/transport_security.h) at its
  // address without the port (a reconnecting actor gets a new port). Actors
  // that share a certificate or token are still told apart by host, and the
  // session number itself is unguessable.
  const std::string peer = context.peer();
  const bool ip = peer.rfind("ipv4:", 0) == 0 || peer.rfind("ipv6:", 0) == 0;
  const size_t colon = peer.rfind(':');
  const std::string host =
      !ip || colon == std::string::npos || colon < 5 ? peer : peer.substr(0, colon);
  const std::string identity = PeerIdentity(context);
  return identity == peer ? host : absl::StrCat(identity, "@", host);
}

grpc::Status LearnerService::Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                                  v1::JoinReply* reply) {
  const std::string peer = PeerKey(*context);
  absl::StatusOr<v1::JoinReply> joined = fleet_.Join(*request, peer);
  if (!joined.ok()) {
    const std::string who = request->actor_id().empty() ? peer : request->actor_id();
    LOG(WARNING) << "refused join of " << who << " from " << peer << ": "
                 << joined.status().message();
    metrics_.AddRpcError("Join");
    return ToGrpcStatus(joined.status());
  }
  LOG(INFO) << "actor " << joined->actor_id() << " authenticated as " << PeerIdentity(*context);
  *reply = *std::move(joined);
  return grpc::Status::OK;
}

grpc::Status LearnerService::Policy(grpc::ServerContext* context, const v1::PolicyRequest* request,
                                    grpc::ServerWriter<v1::PolicySnapshot>* writer) {
  const std::string peer = PeerKey(*context);
  absl::StatusOr<OpenedStream> stream =
      OpenNamedStream(fleet_, metrics_, *context, ActorFleet::StreamKind::kPolicy, peer, "Policy");
  if (!stream.ok()) return ToGrpcStatus(stream.status());
  const StreamSession& named = stream->named;
  ActorFleet::PolicyCursor cursor;
  const auto cancelled = [context] { return context->IsCancelled(); };
  while (true) {
    absl::StatusOr<std::optional<v1::PolicySnapshot>> next =
        fleet_.NextPolicy(named.session, named.actor_id, peer, cursor, cancelled);
    if (!next.ok()) {
      if (next.status().code() == absl::StatusCode::kFailedPrecondition) {
        metrics_.AddRpcError("Policy");
      }
      return ToGrpcStatus(next.status());
    }
    if (!next->has_value()) return grpc::Status::OK;  // the run is over
    if (!writer->Write(**next)) {
      fleet_.StreamBroke(named.session, named.actor_id, "its policy stream broke");
      return grpc::Status::CANCELLED;
    }
  }
}

grpc::Status LearnerService::Send(grpc::ServerContext* context,
                                  grpc::ServerReader<v1::ActorMessage>* reader,
                                  v1::SendSummary* summary) {
  // The session is checked before the first message is read: a stream
  // without a valid one is refused at once and holds no thread.
  const std::string peer = PeerKey(*context);
  absl::StatusOr<OpenedStream> stream =
      OpenNamedStream(fleet_, metrics_, *context, ActorFleet::StreamKind::kSend, peer, "Send",
                      [context] { context->TryCancel(); });
  if (!stream.ok()) return ToGrpcStatus(stream.status());
  const StreamSession& named = stream->named;
  const auto cancelled = [context] { return context->IsCancelled(); };
  v1::ActorMessage message;
  while (reader->Read(&message)) {
    summary->set_messages(summary->messages() + 1);
    // A message speaks for the stream's session; one naming another is
    // refused (the fleet checks the session against the peer).
    if (message.actor_id() != named.actor_id || message.session() != named.session) {
      metrics_.AddRpcError("Send");
      metrics_.AddMessageRefused("session");
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a message names another session than its stream");
    }
    const absl::Status status = fleet_.HandleMessage(message, peer, *summary, cancelled);
    if (!status.ok()) {
      metrics_.AddRpcError("Send");
      if (status.code() != absl::StatusCode::kCancelled) {
        LOG(WARNING) << "Send from actor '" << named.actor_id << "' refused: " << status;
      }
      return ToGrpcStatus(status);
    }
  }
  if (context->IsCancelled()) {
    // The actor vanished mid-stream; whatever it held must go to others.
    fleet_.StreamBroke(named.session, named.actor_id, "its send stream broke");
    return grpc::Status::CANCELLED;
  }
  return grpc::Status::OK;
}

grpc::Status LearnerService::Leave(grpc::ServerContext* context, const v1::LeaveRequest* request,
                                   v1::LeaveReply* reply) {
  const absl::Status left = fleet_.Leave(*request, PeerKey(*context));
  if (!left.ok()) metrics_.AddRpcError("Leave");
  return ToGrpcStatus(left);
}

}  // namespace gorl::runtime
