// gRPC plumbing every role shares: status conversion, channel and server
// settings (transport security, message and resource limits, keepalive),
// deadlines and reconnect backoff.
#ifndef GORL_RUNTIME_GRPC_UTIL_H_
#define GORL_RUNTIME_GRPC_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/random.h"
#include "runtime/transport_security.h"

namespace gorl::runtime {

// absl and gRPC use the same canonical code numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// A client channel with the roles' message limits and keepalive pings, so
// that a peer that vanished without closing its socket is noticed, over
// `credentials` (runtime/transport_security.h: ChannelCredentialsFor, which
// refuses plaintext TCP without --insecure; null credentials: plaintext).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const ClientCredentials& credentials);

// Per-server settings: who may connect and how much one message may carry.
struct ServerOptions {
  TransportSecurity security;
  // Counts refused calls (gorl_auth_failures_total); may be null; must
  // outlive the server.
  RoleMetrics* metrics = nullptr;
  // The largest message a client may send this server (protocol.h).
  int max_receive_message_bytes = 0;  // 0 = kMaxMessageBytes
};

// Builds and starts a server on `address` ("host:port", port 0 picks a free
// one; or "unix:PATH", a Unix socket). `bound_address` receives host:port
// with the real port (a Unix socket address unchanged). A TCP address
// without TLS and without `options.security.insecure` is InvalidArgument.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    const ServerOptions& options, std::string* bound_address);

inline std::chrono::system_clock::time_point DeadlineIn(std::chrono::milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

// Capped exponential backoff with full jitter: the k-th delay is uniform in
// [initial * 2^k / 2, initial * 2^k], never above `max`.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed)
      : initial_(initial), max_(max), rng_(seed) {}
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_, max_;
  Rng rng_;
  int attempt_ = 0;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_GRPC_UTIL_H_
