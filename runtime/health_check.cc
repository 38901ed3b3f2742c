#include "runtime/health_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "runtime/grpc_util.h"

namespace gorl::runtime {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr char kHeartbeatMetric[] = "gorl_heartbeat_timestamp_seconds";
// A /metrics page is tens of kilobytes; anything far bigger is not one.
constexpr size_t kMaxMetricsBytes = 16 << 20;

absl::Status CheckGrpc(const HealthCheckOptions& options) {
  ClientCredentials credentials = ClientCredentials::Plaintext();
  if (!options.security.tls_ca.empty()) {
    GORL_ASSIGN_OR_RETURN(const TransportSecurity security,
                          LoadTransportSecurity(options.security));
    GORL_ASSIGN_OR_RETURN(credentials, ChannelCredentialsFor(options.target, security));
  }
  std::unique_ptr<grpc::health::v1::Health::Stub> stub =
      grpc::health::v1::Health::NewStub(MakeChannel(options.target, credentials));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(std::chrono::seconds(options.timeout_s)));
  // A server that is starting gets the whole timeout to answer.
  context.set_wait_for_ready(true);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(options.service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  const std::string what = absl::StrCat(options.target, " service \"", options.service, "\"");
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      break;
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(absl::StrCat(what, ": SERVICE_UNKNOWN"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(absl::StrCat(what, ": unreachable within ", options.timeout_s,
                                                 " s (", status.error_message(), ")"));
    default:
      return absl::UnavailableError(
          absl::StrCat(what, ": Check failed: ", FromGrpcStatus(status).ToString()));
  }
  if (response.status() != HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat(what, ": ", HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  return absl::OkStatus();
}

// GET http://<host:port>/metrics (HTTP/1.0: the server closes the
// connection and never answers chunked). Each step waits up to timeout_s.
absl::StatusOr<std::string> FetchMetrics(const std::string& address, int timeout_s) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics wants HOST:PORT (e.g. localhost:9100), got \"", address, "\""));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string where = absl::StrCat("http://", address, "/metrics");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found);
      error != 0) {
    return absl::UnavailableError(
        absl::StrCat(where, " unreachable: cannot resolve ", host, ": ", gai_strerror(error)));
  }
  int fd = -1;
  std::string connect_error = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{};
    tv.tv_sec = timeout_s;
    // On Linux SO_SNDTIMEO bounds connect() too.
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      connect_error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(where, " unreachable: ", connect_error));
  auto fail = [&](const char* step) {
    const std::string error =
        absl::StrCat(where, " unreachable: ", step, ": ", std::strerror(errno));
    close(fd);
    return absl::UnavailableError(error);
  };
  const std::string request =
      absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", address, "\r\nConnection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail("send");
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[16384];
  while (raw.size() <= kMaxMetricsBytes) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) return fail("recv");
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) {
    return absl::UnavailableError(absl::StrCat(where, ": not an HTTP response"));
  }
  const absl::string_view status_line = absl::string_view(raw).substr(0, raw.find("\r\n"));
  if (status_line.find(" 200") == absl::string_view::npos) {
    return absl::UnavailableError(absl::StrCat(where, ": ", status_line));
  }
  return raw.substr(header_end + 4);
}

// The newest value of `family` on a Prometheus text page (one series per
// process; the largest when there are several).
std::optional<double> LatestSample(const std::string& page, const std::string& family) {
  std::optional<double> latest;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == std::string::npos ||
        !absl::SimpleAtod(absl::string_view(line).substr(space + 1), &value)) {
      continue;
    }
    if (!latest.has_value() || value > *latest) latest = value;
  }
  return latest;
}

absl::Status CheckHeartbeat(const HealthCheckOptions& options) {
  GORL_ASSIGN_OR_RETURN(const std::string page, FetchMetrics(options.metrics, options.timeout_s));
  const std::optional<double> beat = LatestSample(page, kHeartbeatMetric);
  const std::string where = absl::StrCat("http://", options.metrics, "/metrics");
  if (!beat.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": metric ", kHeartbeatMetric, " missing"));
  }
  if (*beat <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(where, ": no heartbeat yet"));
  }
  const double age = absl::ToDoubleSeconds(absl::Now() - absl::FromUnixSeconds(0)) - *beat;
  if (!(age <= options.max_age_s)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: stale heartbeat, %.0f s old (max %d s)", where, age, options.max_age_s));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHealthCheck(const HealthCheckOptions& options) {
  if (options.target.empty() && options.metrics.empty()) {
    return absl::InvalidArgumentError(
        "nothing to check: pass --target HOST:PORT (a learner's or refiner's --health_port) or "
        "--metrics HOST:PORT (an actor's --metrics_port), or set GORL_HEALTH_TARGET or "
        "GORL_HEALTH_METRICS");
  }
  if (options.timeout_s <= 0 || options.max_age_s <= 0) {
    return absl::InvalidArgumentError("--timeout_s and --max_age_s must be positive");
  }
  if (!options.target.empty()) GORL_RETURN_IF_ERROR(CheckGrpc(options));
  if (!options.metrics.empty()) GORL_RETURN_IF_ERROR(CheckHeartbeat(options));
  return absl::OkStatus();
}

}  // namespace gorl::runtime
