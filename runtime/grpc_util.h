// gRPC plumbing every role shares: status conversion, channel and server
// settings (message limits, keepalive), deadlines and reconnect backoff.
#ifndef GORL_RUNTIME_GRPC_UTIL_H_
#define GORL_RUNTIME_GRPC_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/random.h"

namespace gorl::runtime {

// absl and gRPC use the same canonical code numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// A client channel with the roles' message limit and keepalive pings, so
// that a peer that vanished without closing its socket is noticed.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Builds and starts a server on `address` ("host:port", port 0 picks a free
// one; or "unix:PATH", a Unix socket). `bound_address` receives host:port
// with the real port (a Unix socket address unchanged).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    std::string* bound_address);

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
