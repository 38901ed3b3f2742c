#include "tests/integration/prometheus_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <glog/logging.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/common/http_get.h"
#include "tests/test_files.h"

namespace gorl::testutil {
namespace {

constexpr char kLoopback[] = "127.0.0.1";

// Starts `argv` with stdout and stderr going to `output_path` and stdin from
// `stdin_path` (/dev/null when empty). Only async-signal-safe calls between
// fork and exec: the test process has threads (exposers, gRPC).
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& output_path,
                            const std::string& stdin_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string input = stdin_path.empty() ? "/dev/null" : stdin_path;
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Dies with the test, so a crashed test leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int in = open(input.c_str(), O_RDONLY);
    const int out = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A [<unix time>, "<value>"] pair of the query API.
absl::StatusOr<double> ParseValue(const google::protobuf::Value& pair) {
  if (!pair.has_list_value() || pair.list_value().values_size() != 2) {
    return absl::DataLossError("sample value is not a [time, value] pair");
  }
  double value = 0;
  if (!absl::SimpleAtod(pair.list_value().values(1).string_value(), &value)) {
    return absl::DataLossError(
        absl::StrCat("sample value '", pair.list_value().values(1).string_value(), "'"));
  }
  return value;
}

// The documented response shape:
// {"status":"success","data":{"resultType":"vector","result":[
//    {"metric":{"__name__":"up",...},"value":[1700000000.1,"1"]}, ...]}}
// or {"status":"error","errorType":"bad_data","error":"..."}.
absl::StatusOr<std::vector<PromSample>> ParseQueryResponse(const std::string& body) {
  google::protobuf::Struct json;
  if (!google::protobuf::util::JsonStringToMessage(body, &json).ok()) {
    return absl::DataLossError(absl::StrCat("query response is not JSON: ", body.substr(0, 200)));
  }
  const auto& fields = json.fields();
  if (!fields.count("status") || fields.at("status").string_value() != "success") {
    const std::string error = fields.count("error") ? fields.at("error").string_value() : body;
    return absl::InvalidArgumentError(absl::StrCat("Prometheus query failed: ", error));
  }
  if (!fields.count("data")) return absl::DataLossError("query response has no data");
  const auto& data = fields.at("data").struct_value().fields();
  const std::string type = data.count("resultType") ? data.at("resultType").string_value() : "";
  if (!data.count("result")) return absl::DataLossError("query response has no data.result");
  const google::protobuf::Value& result = data.at("result");
  std::vector<PromSample> samples;
  if (type == "scalar") {
    absl::StatusOr<double> value = ParseValue(result);
    if (!value.ok()) return value.status();
    samples.push_back({{}, *value});
    return samples;
  }
  if (type != "vector") {
    return absl::UnimplementedError(absl::StrCat("query result type '", type, "'"));
  }
  for (const google::protobuf::Value& element : result.list_value().values()) {
    const auto& entry = element.struct_value().fields();
    PromSample sample;
    if (entry.count("metric")) {
      for (const auto& [name, value] : entry.at("metric").struct_value().fields()) {
        sample.labels[name] = value.string_value();
      }
    }
    if (!entry.count("value")) return absl::DataLossError("vector sample without value");
    absl::StatusOr<double> value = ParseValue(entry.at("value"));
    if (!value.ok()) return value.status();
    sample.value = *value;
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace

std::string ScrapeConfigYaml(const std::vector<std::string>& targets) {
  std::vector<std::string> quoted;
  for (const std::string& target : targets) quoted.push_back(absl::StrCat("'", target, "'"));
  // scrape_timeout must not exceed the interval; honor_labels keeps the
  // actors' own instance label (see common/metrics.h).
  return absl::StrCat(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  scrape_timeout: 1s\n"
      "  evaluation_interval: 1s\n"
      "scrape_configs:\n"
      "  - job_name: gorl\n"
      "    honor_labels: true\n"
      "    static_configs:\n"
      "      - targets: [",
      absl::StrJoin(quoted, ", "), "]\n");
}

absl::StatusOr<std::string> RunPromtool(const std::vector<std::string>& args,
                                        const std::string& stdin_path,
                                        const PrometheusOptions& options) {
  char output_template[] = "/tmp/gorl_promtool_XXXXXX";
  const int fd = mkstemp(output_template);
  if (fd < 0) return absl::InternalError(absl::StrCat("mkstemp: ", std::strerror(errno)));
  close(fd);
  const std::string output_path = output_template;
  std::vector<std::string> argv = {options.promtool_binary};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<pid_t> pid = Spawn(argv, output_path, stdin_path);
  if (!pid.ok()) return pid.status();
  int wait_status = 0;
  waitpid(*pid, &wait_status, 0);
  const std::string output = test_files::ReadFile(output_path);
  std::remove(output_path.c_str());
  const std::string command = absl::StrJoin(argv, " ");
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 127) {
    return absl::NotFoundError(
        absl::StrCat("cannot run ", options.promtool_binary, " (Debian package prometheus)"));
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(command, " failed:\n", output));
  }
  return output;
}

absl::StatusOr<std::unique_ptr<PrometheusHarness>> PrometheusHarness::Start(
    const std::vector<std::string>& targets, const PrometheusOptions& options) {
  if (access(options.prometheus_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("no executable ", options.prometheus_binary, " (Debian package prometheus)"));
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir_template = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/gorl_prometheus_XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  std::unique_ptr<PrometheusHarness> harness(new PrometheusHarness(dir_template, options));
  harness->config_path_ = harness->dir_ + "/prometheus.yml";
  harness->log_path_ = harness->dir_ + "/prometheus.log";
  std::ofstream(harness->config_path_) << ScrapeConfigYaml(targets);

  // A free port can be taken between picking it and Prometheus binding it.
  constexpr int kAttempts = 3;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    absl::StatusOr<bool> started = harness->TryLaunch();
    if (!started.ok()) return started.status();
    if (*started) return harness;
  }
  return absl::UnavailableError(
      absl::StrCat("Prometheus lost its port ", kAttempts, " times:\n", harness->LogTail()));
}

absl::StatusOr<bool> PrometheusHarness::TryLaunch() {
  port_ = PickFreeLoopbackPort();
  if (port_ == 0) return absl::InternalError("no free loopback port");
  // Loopback only: the test machine must not expose a server.
  const std::vector<std::string> argv = {
      options_.prometheus_binary,
      "--config.file=" + config_path_,
      "--storage.tsdb.path=" + dir_ + "/data",
      absl::StrCat("--web.listen-address=", kLoopback, ":", port_),
  };
  absl::StatusOr<pid_t> pid = Spawn(argv, log_path_, "");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;

  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  while (absl::Now() < deadline) {
    int wait_status = 0;
    if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string log = test_files::ReadFile(log_path_);
      if (log.find("address already in use") != std::string::npos) return false;
      return absl::InternalError(absl::StrCat("Prometheus exited at start:\n", LogTail()));
    }
    absl::StatusOr<HttpResponse> ready = HttpGet(kLoopback, port_, "/-/ready", 1);
    if (ready.ok() && ready->status == 200) {
      LOG(INFO) << "Prometheus ready on " << kLoopback << ":" << port_ << " (" << dir_ << ")";
      return true;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("Prometheus not ready after ",
                                                  absl::FormatDuration(options_.ready_timeout),
                                                  ":\n", LogTail()));
}

PrometheusHarness::~PrometheusHarness() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    int wait_status = 0;
    while (waitpid(pid_, &wait_status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &wait_status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<std::vector<PromSample>> PrometheusHarness::Query(const std::string& expr) const {
  absl::StatusOr<HttpResponse> response =
      HttpGet(kLoopback, port_, "/api/v1/query?query=" + UrlEncode(expr));
  if (!response.ok()) return response.status();
  return ParseQueryResponse(response->body);
}

absl::StatusOr<std::vector<PromSample>> PrometheusHarness::QueryUntil(
    const std::string& expr, const std::function<bool(const std::vector<PromSample>&)>& done,
    absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::vector<PromSample>> result;
  for (;;) {
    result = Query(expr);
    if (result.ok() && done(*result)) return result;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  std::string last;
  if (!result.ok()) last = std::string(result.status().message());
  for (const PromSample& sample : result.ok() ? *result : std::vector<PromSample>()) {
    absl::StrAppend(&last, "{", absl::StrJoin(sample.labels, ",", absl::PairFormatter("=")), "} ",
                    sample.value, "; ");
  }
  return absl::DeadlineExceededError(absl::StrCat("'", expr, "' not as expected after ",
                                                  absl::FormatDuration(timeout), "; last: ", last));
}

absl::Status PrometheusHarness::CheckConfig() const {
  return RunPromtool({"check", "config", config_path_}, "", options_).status();
}

std::string PrometheusHarness::LogTail() const {
  const std::string log = test_files::ReadFile(log_path_);
  constexpr size_t kTail = 3000;
  return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

}  // namespace gorl::testutil
