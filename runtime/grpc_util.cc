#include "runtime/grpc_util.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/protocol.h"

namespace gorl::runtime {
namespace {

// Pings every 10 s, a peer is dead after 10 s without an answer. The server
// must tolerate pings that often, even on idle connections.
constexpr int kKeepaliveTimeMs = 10000;
constexpr int kKeepaliveTimeoutMs = 10000;

// A TCP peer must finish the TLS and HTTP/2 handshake within this long, so
// that one that connects and stays silent (or sends garbage) holds a socket
// for seconds, not forever. A busy 2-core machine finishes a local TLS
// handshake in milliseconds.
constexpr int kHandshakeTimeoutMs = 10000;

// Concurrent streams one connection may open. An actor needs 3 at once
// (Policy, Send, and a Join or Leave); the learner's refiner client 1. The
// slack covers a stream still closing when the next opens.
constexpr int kMaxConcurrentStreamsPerConnection = 16;

// Threads a sync server may run at once: every open call holds one (an
// actor's Policy and Send streams hold two for the whole session). 512
// serves ~250 actors; beyond it gRPC refuses new calls with
// RESOURCE_EXHAUSTED instead of creating threads without bound.
constexpr int kMaxServerThreads = 512;

// Control RPCs (Join, Leave, the Policy request) carry a few hundred bytes:
// the client refuses to send or accept more than this for them, so that a
// bug or a hostile server cannot make it buffer megabytes there. Policy
// snapshots and rollouts keep the channel-wide kMaxMessageBytes.
constexpr int kMaxControlMessageBytes = 1 << 20;

std::string ClientServiceConfig() {
  return absl::StrCat(
      R"({"methodConfig": [{"name": [)", R"({"service": "gorl.v1.Learner", "method": "Join"},)",
      R"({"service": "gorl.v1.Learner", "method": "Leave"}],)", R"("maxRequestMessageBytes": )",
      kMaxControlMessageBytes, ",", R"("maxResponseMessageBytes": )", kMaxControlMessageBytes, "},",
      R"({"name": [{"service": "gorl.v1.Learner", "method": "Policy"}],)",
      R"("maxRequestMessageBytes": )", kMaxControlMessageBytes, "}]}");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const ClientCredentials& credentials) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetServiceConfigJSON(ClientServiceConfig());
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after a peer restarts (the default backoff reaches 2 min).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // The launcher starts every role at once: a client whose server is not
  // listening yet retries within ~0.1 s instead of the default 1 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  if (!credentials.server_name_override.empty()) {
    args.SetSslTargetNameOverride(credentials.server_name_override);
  }
  return grpc::CreateCustomChannel(address,
                                   credentials.credentials != nullptr
                                       ? credentials.credentials
                                       : grpc::InsecureChannelCredentials(),
                                   args);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    const ServerOptions& options, std::string* bound_address) {
  GORL_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                        ServerCredentialsFor(address, options.security, options.metrics));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, credentials, &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(
      options.max_receive_message_bytes > 0 ? options.max_receive_message_bytes : kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  grpc::ResourceQuota quota("gorl-server");
  quota.SetMaxThreads(kMaxServerThreads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreamsPerConnection);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveTimeMs / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (address in use or malformed?)"));
  }
  if (bound_address != nullptr) {
    if (absl::StartsWith(address, "unix:")) {
      *bound_address = address;  // a socket path has no port to fill in
    } else {
      const size_t colon = address.rfind(':');
      *bound_address = absl::StrCat(address.substr(0, colon), ":", port);
    }
  }
  return server;
}

std::chrono::milliseconds Backoff::Next() {
  const double ceiling =
      std::min<double>(max_.count(), initial_.count() * std::pow(2.0, std::min(attempt_, 30)));
  ++attempt_;
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling * (0.5 + 0.5 * rng_.Uniform())));
}

}  // namespace gorl::runtime
