// Test helper: a blocking HTTP/1.0 GET over a POSIX socket, enough to read a
// /metrics page or the Prometheus HTTP API without a client library, and a
// free loopback port to serve on.
#ifndef GORL_TESTS_COMMON_HTTP_GET_H_
#define GORL_TESTS_COMMON_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gorl::testutil {

struct HttpResponse {
  int status = 0;    // e.g. 200
  std::string body;  // without the headers
};

// GET http://<ipv4>:<port><target>. HTTP/1.0 so the server closes the
// connection and never answers chunked: the body is everything after the
// headers. `timeout_s` bounds each send/receive.
inline absl::StatusOr<HttpResponse> HttpGet(const std::string& ipv4, int port,
                                            const std::string& target, int timeout_s = 5) {
  const std::string where = absl::StrCat("http://", ipv4, ":", port, target);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", ipv4));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  timeval tv{};
  tv.tv_sec = timeout_s;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  auto fail = [&](const char* what) {
    const std::string error = absl::StrCat(what, " ", where, ": ", std::strerror(errno));
    close(fd);
    return absl::UnavailableError(error);
  };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail("connect");
  }
  const std::string request = absl::StrCat("GET ", target, " HTTP/1.0\r\nHost: ", ipv4, ":", port,
                                           "\r\nConnection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail("send to");
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[16384];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) return fail("recv from");
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);

  // "HTTP/1.1 200 OK\r\n...headers...\r\n\r\nbody"
  const size_t header_end = raw.find("\r\n\r\n");
  const size_t space = raw.find(' ');
  HttpResponse response;
  if (header_end == std::string::npos || space == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(raw).substr(space + 1, 3), &response.status)) {
    return absl::DataLossError(
        absl::StrCat("malformed HTTP response from ", where, ": ", raw.substr(0, 200)));
  }
  response.body = raw.substr(header_end + 4);
  return response;
}

// A loopback port nobody listens on right now (the kernel's pick for port 0).
// Another process could take it before the caller binds; fine for tests.
// Returns 0 on failure.
inline int PickFreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace gorl::testutil

#endif  // GORL_TESTS_COMMON_HTTP_GET_H_
