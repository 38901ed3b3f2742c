// A real Prometheus scrapes the metrics of the three roles over loopback.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <glog/logging.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/build_info.h"
#include "common/metrics.h"
#include "tests/common/http_get.h"
#include "tests/integration/prometheus_harness.h"

namespace gorl {
namespace {

using ::testing::HasSubstr;
using testutil::PrometheusHarness;
using testutil::PromSample;

struct Role {
  std::string name;
  std::string instance;
  double env_steps;
};

const std::vector<Role>& Roles() {
  static const auto* const kRoles =
      new std::vector<Role>{{"learner", "", 100}, {"refiner", "", 200}, {"actor", "a1", 300}};
  return *kRoles;
}

// One Prometheus and the three roles' exporters for the whole suite: starting
// Prometheus and waiting for its first scrapes is the slow part.
class PrometheusScrapeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> targets;
    for (const Role& role : Roles()) {
      const std::string address = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
      auto metrics = RoleMetrics::Serve(address, role.name, role.instance);
      ASSERT_TRUE(metrics.ok()) << metrics.status();
      (*metrics)->AddEnvSteps(role.env_steps);
      metrics_->push_back(std::move(metrics).value());
      targets.push_back(address);
      addresses_->push_back(address);
    }
    auto harness = PrometheusHarness::Start(targets);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(harness).value().release();
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
    metrics_->clear();
    addresses_->clear();
  }
  void SetUp() override { ASSERT_NE(harness_, nullptr) << "suite set-up failed"; }

  static PrometheusHarness* harness_;
  static std::vector<std::unique_ptr<RoleMetrics>>* metrics_;
  static std::vector<std::string>* addresses_;
};

PrometheusHarness* PrometheusScrapeTest::harness_ = nullptr;
std::vector<std::unique_ptr<RoleMetrics>>* PrometheusScrapeTest::metrics_ =
    new std::vector<std::unique_ptr<RoleMetrics>>;
std::vector<std::string>* PrometheusScrapeTest::addresses_ = new std::vector<std::string>;

TEST_F(PrometheusScrapeTest, GeneratedConfigPassesPromtool) {
  EXPECT_TRUE(harness_->CheckConfig().ok()) << harness_->CheckConfig();
}

TEST_F(PrometheusScrapeTest, EnvStepsOfEveryRoleArrive) {
  const absl::Time start = absl::Now();
  auto all_roles_positive = [](const std::vector<PromSample>& samples) {
    int positive = 0;
    for (const Role& role : Roles()) {
      for (const PromSample& sample : samples) {
        if (sample.labels.count("role") && sample.labels.at("role") == role.name &&
            sample.value > 0) {
          ++positive;
          break;
        }
      }
    }
    return positive == static_cast<int>(Roles().size());
  };
  auto samples =
      harness_->QueryUntil("gorl_env_steps_total", all_roles_positive, absl::Seconds(90));
  ASSERT_TRUE(samples.ok()) << samples.status() << "\n" << harness_->LogTail();
  LOG(INFO) << "all roles scraped after " << absl::Now() - start;

  ASSERT_EQ(samples->size(), Roles().size());
  for (size_t i = 0; i < Roles().size(); ++i) {
    const Role& role = Roles()[i];
    SCOPED_TRACE(role.name);
    const PromSample* found = nullptr;
    for (const PromSample& sample : *samples) {
      if (sample.labels.at("role") == role.name) found = &sample;
    }
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->value, role.env_steps);
    EXPECT_EQ(found->labels.at("__name__"), "gorl_env_steps_total");
    EXPECT_EQ(found->labels.at("job"), "gorl");
    // honor_labels: an actor keeps its id as instance; the others get the
    // target address Prometheus assigns.
    const std::string instance = role.instance.empty() ? (*addresses_)[i] : role.instance;
    EXPECT_EQ(found->labels.at("instance"), instance);
    EXPECT_EQ(found->labels.count("exported_instance"), 0u);
  }
}

// Every role exports gorl_build_info{version} = 1, naming its build (the
// roles are the gorl binary of this build, as this test is).
TEST_F(PrometheusScrapeTest, EveryRoleNamesItsBuild) {
  auto samples = harness_->QueryUntil(
      "gorl_build_info",
      [](const std::vector<PromSample>& s) { return s.size() == Roles().size(); },
      absl::Seconds(90));
  ASSERT_TRUE(samples.ok()) << samples.status();
  for (const PromSample& sample : *samples) {
    SCOPED_TRACE(sample.labels.at("role"));
    EXPECT_EQ(sample.value, 1.0);
    EXPECT_EQ(sample.labels.at("version"), BuildVersion());
  }
}

TEST_F(PrometheusScrapeTest, EveryTargetIsUp) {
  auto samples = harness_->QueryUntil(
      "up == 1", [](const std::vector<PromSample>& s) { return s.size() == Roles().size(); },
      absl::Seconds(90));
  EXPECT_TRUE(samples.ok()) << samples.status();
}

TEST_F(PrometheusScrapeTest, BadPromQlIsAnInvalidArgument) {
  auto samples = harness_->Query("sum(");
  EXPECT_EQ(samples.status().code(), absl::StatusCode::kInvalidArgument) << samples.status();
}

TEST_F(PrometheusScrapeTest, ScalarResultIsOneUnlabelledSample) {
  auto samples = harness_->Query("scalar(vector(2.5))");
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_TRUE((*samples)[0].labels.empty());
  EXPECT_EQ((*samples)[0].value, 2.5);
}

// Local addresses ("0100007F:1F90", hex) of the listening TCP sockets on
// `port`, read from /proc/net/tcp{,6}.
std::vector<std::string> ListeningAddresses(int port) {
  std::vector<std::string> addresses;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    while (std::getline(in, line)) {
      // "  0: 0100007F:1F90 00000000:0000 0A ..." (state 0A is LISTEN)
      const std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() < 4 || fields[3] != "0A") continue;
      const std::vector<std::string> local = absl::StrSplit(fields[1], ':');
      int local_port = 0;
      if (local.size() == 2 && absl::SimpleHexAtoi(local[1], &local_port) && local_port == port) {
        addresses.push_back(local[0]);
      }
    }
  }
  return addresses;
}

TEST_F(PrometheusScrapeTest, PrometheusListensOnLoopbackOnly) {
  EXPECT_THAT(ListeningAddresses(harness_->port()), ::testing::ElementsAre("0100007F"));
}

// promtool's linter (the rules Prometheus' own client libraries follow) on
// our families, as an exporter serves them.
TEST_F(PrometheusScrapeTest, ExposedMetricsPassPromtoolLint) {
  const std::string& address = (*addresses_)[2];
  auto response =
      testutil::HttpGet("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  // Only our families: the exposer's own exposer_* are not ours to fix.
  std::string ours;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(response->body, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "gorl_")) {
      absl::StrAppend(&ours, line, "\n");
      ++lines;
    }
  }
  EXPECT_GT(lines, 50);
  const std::string path = ::testing::TempDir() + "/gorl_metrics.txt";
  std::ofstream(path) << ours;
  auto lint = testutil::RunPromtool({"check", "metrics"}, path);
  EXPECT_TRUE(lint.ok()) << lint.status();
  std::remove(path.c_str());
}

TEST(PrometheusHarnessTest, MissingBinaryIsNotFound) {
  testutil::PrometheusOptions options;
  options.prometheus_binary = "/nonexistent/prometheus";
  options.promtool_binary = "/nonexistent/promtool";
  EXPECT_EQ(PrometheusHarness::Start({"127.0.0.1:9"}, options).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(testutil::RunPromtool({"--version"}, "", options).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gorl
