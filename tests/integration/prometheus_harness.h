// Test harness: a real Prometheus server (Debian's /usr/bin/prometheus) run
// as a child process on a free 127.0.0.1 port, scraping given targets every
// second, plus a PromQL instant query and promtool. Integration tests use it
// to check that what the roles export is what Prometheus actually stores.
#ifndef GORL_TESTS_INTEGRATION_PROMETHEUS_HARNESS_H_
#define GORL_TESTS_INTEGRATION_PROMETHEUS_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gorl::testutil {

struct PrometheusOptions {
  std::string prometheus_binary = "/usr/bin/prometheus";
  std::string promtool_binary = "/usr/bin/promtool";
  absl::Duration ready_timeout = absl::Seconds(20);
};

// One element of an instant vector.
struct PromSample {
  std::map<std::string, std::string> labels;  // with __name__ where there is one
  double value = 0;
};

// prometheus.yml scraping `targets` ("127.0.0.1:9100", ...) every second as
// job "gorl", with honor_labels (as deploy/prometheus/prometheus.yml does).
std::string ScrapeConfigYaml(const std::vector<std::string>& targets);

// Runs `promtool <args...>`, stdin from `stdin_path` (or /dev/null when
// empty); its combined output, or an error carrying it when it exits non-zero.
absl::StatusOr<std::string> RunPromtool(const std::vector<std::string>& args,
                                        const std::string& stdin_path = "",
                                        const PrometheusOptions& options = PrometheusOptions());

class PrometheusHarness {
 public:
  // Writes the config into a fresh temp dir, starts Prometheus with its TSDB
  // there and returns once GET /-/ready answers 200.
  static absl::StatusOr<std::unique_ptr<PrometheusHarness>> Start(
      const std::vector<std::string>& targets,
      const PrometheusOptions& options = PrometheusOptions());
  // Stops Prometheus (SIGTERM, then SIGKILL) and deletes the temp dir.
  ~PrometheusHarness();
  PrometheusHarness(const PrometheusHarness&) = delete;
  PrometheusHarness& operator=(const PrometheusHarness&) = delete;

  // GET /api/v1/query?query=<expr>: the instant vector (a scalar result is
  // one sample without labels). A PromQL error is InvalidArgument.
  absl::StatusOr<std::vector<PromSample>> Query(const std::string& expr) const;
  // Repeats Query every 250 ms until `done` accepts its result; the last
  // result (or error) once `timeout` has passed, with DeadlineExceeded.
  absl::StatusOr<std::vector<PromSample>> QueryUntil(
      const std::string& expr, const std::function<bool(const std::vector<PromSample>&)>& done,
      absl::Duration timeout) const;

  // `promtool check config` on the config this server runs with.
  absl::Status CheckConfig() const;

  int port() const { return port_; }
  const std::string& config_path() const { return config_path_; }
  // The last lines of Prometheus' own log, for failure messages.
  std::string LogTail() const;

 private:
  PrometheusHarness(std::string dir, PrometheusOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}
  // One attempt at starting on a fresh port; false when the port was lost
  // to a race (worth another try), an error for anything else.
  absl::StatusOr<bool> TryLaunch();

  std::string dir_;  // temp dir: config, log, TSDB
  PrometheusOptions options_;
  std::string config_path_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gorl::testutil

#endif  // GORL_TESTS_INTEGRATION_PROMETHEUS_HARNESS_H_
