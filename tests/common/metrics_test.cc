#include "common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/build_info.h"
#include "tests/common/http_get.h"
#include "tests/status_matchers.h"

namespace gorl {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using testutil::HttpGet;
using testutil::PickFreeLoopbackPort;

// Serves `role`/`instance` on a fresh loopback port; `*port` gets the port.
std::unique_ptr<RoleMetrics> ServeOnFreePort(const std::string& role, const std::string& instance,
                                             int* port) {
  *port = PickFreeLoopbackPort();
  EXPECT_GT(*port, 0);
  auto metrics = RoleMetrics::Serve(absl::StrCat("127.0.0.1:", *port), role, instance);
  GORL_EXPECT_OK(metrics);
  return metrics.ok() ? std::move(metrics).value() : nullptr;
}

// The exposition of /metrics, one entry per line.
std::vector<std::string> ScrapeLines(int port) {
  auto response = HttpGet("127.0.0.1", port, "/metrics");
  GORL_EXPECT_OK(response);
  if (!response.ok()) return {};
  EXPECT_EQ(response->status, 200);
  return absl::StrSplit(response->body, '\n', absl::SkipEmpty());
}

TEST(RoleMetricsTest, ServesSeriesLabelledWithRoleAndInstance) {
  int port = 0;
  auto metrics = ServeOnFreePort("actor", "a1", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->AddEnvSteps(100);
  metrics->AddEnvSteps(23);
  metrics->AddEpisodes(2);
  metrics->SetPolicyLag(3);
  metrics->SetEpisodeReturn(-12.5);
  metrics->AddRpcError("PushRollout");
  metrics->AddRpcError("PushRollout");
  metrics->AddRpcError("GetPolicy");

  const std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines, Contains(R"(gorl_env_steps_total{role="actor",instance="a1"} 123)"));
  EXPECT_THAT(lines, Contains(R"(gorl_episodes_total{role="actor",instance="a1"} 2)"));
  EXPECT_THAT(lines, Contains(R"(gorl_policy_lag{role="actor",instance="a1"} 3)"));
  EXPECT_THAT(lines, Contains(R"(gorl_episode_return{role="actor",instance="a1"} -12.5)"));
  EXPECT_THAT(lines, Contains(R"(gorl_diverged_episodes_total{role="actor",instance="a1"} 0)"));
  EXPECT_THAT(
      lines,
      Contains(R"(gorl_rpc_errors_total{role="actor",instance="a1",method="PushRollout"} 2)"));
  EXPECT_THAT(
      lines, Contains(R"(gorl_rpc_errors_total{role="actor",instance="a1",method="GetPolicy"} 1)"));
}

TEST(RoleMetricsTest, EmptyInstanceAddsNoLabel) {
  int port = 0;
  auto metrics = ServeOnFreePort("learner", "", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->SetConnectedActors(4);
  metrics->SetQueueDepth(7);
  metrics->SetQueueCapacity(64);
  metrics->AddPpoUpdates(1);

  const std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines, Contains(R"(gorl_connected_actors{role="learner"} 4)"));
  EXPECT_THAT(lines, Contains(R"(gorl_rollout_queue_depth{role="learner"} 7)"));
  EXPECT_THAT(lines, Contains(R"(gorl_rollout_queue_capacity{role="learner"} 64)"));
  EXPECT_THAT(lines, Contains(R"(gorl_ppo_updates_total{role="learner"} 1)"));
  for (const std::string& line : lines) EXPECT_THAT(line, Not(HasSubstr("instance=")));
}

TEST(RoleMetricsTest, HistogramsExposeCumulativeBucketsCountAndSum) {
  int port = 0;
  auto metrics = ServeOnFreePort("actor", "a7", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveInferenceSeconds(3e-5);   // first bucket above: 5e-05
  metrics->ObserveInferenceSeconds(0.002);  // 0.0025
  metrics->ObserveInferenceSeconds(2.0);    // beyond the last bound (1 s): +Inf only
  metrics->ObserveUpdateSeconds(30);        // 50

  const std::vector<std::string> lines = ScrapeLines(port);
  const std::string inference =
      R"(gorl_inference_latency_seconds_bucket{role="actor",instance="a7",)";
  EXPECT_THAT(lines, Contains(inference + R"(le="1e-05"} 0)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="2.5e-05"} 0)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="5e-05"} 1)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="0.001"} 1)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="0.0025"} 2)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="1"} 2)"));
  EXPECT_THAT(lines, Contains(inference + R"(le="+Inf"} 3)"));
  EXPECT_THAT(lines,
              Contains(R"(gorl_inference_latency_seconds_count{role="actor",instance="a7"} 3)"));
  EXPECT_THAT(
      lines, Contains(R"(gorl_inference_latency_seconds_sum{role="actor",instance="a7"} 2.00203)"));

  const std::string update =
      R"(gorl_ppo_update_duration_seconds_bucket{role="actor",instance="a7",)";
  EXPECT_THAT(lines, Contains(update + R"(le="0.01"} 0)"));
  EXPECT_THAT(lines, Contains(update + R"(le="25"} 0)"));
  EXPECT_THAT(lines, Contains(update + R"(le="50"} 1)"));
  EXPECT_THAT(lines, Contains(update + R"(le="100"} 1)"));
  EXPECT_THAT(lines, Contains(update + R"(le="+Inf"} 1)"));
  EXPECT_THAT(lines,
              Contains(R"(gorl_ppo_update_duration_seconds_count{role="actor",instance="a7"} 1)"));
}

// Prometheus naming guidance: one `gorl_` namespace, `_total` on counters
// only, base units (seconds) in histogram names, HELP on every family.
TEST(RoleMetricsTest, NamesFollowPrometheusConventions) {
  int port = 0;
  auto metrics = ServeOnFreePort("refiner", "", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->AddRpcError("Any");  // the only family that is empty until used

  std::map<std::string, std::string> types;  // family name -> type
  std::vector<std::string> helped;
  for (const std::string& line : ScrapeLines(port)) {
    const std::vector<std::string> words = absl::StrSplit(line, ' ');
    // The exposer adds its own exposer_* families; only ours are checked.
    if (words.size() < 4 || words[0] != "#" || !absl::StartsWith(words[2], "gorl_")) continue;
    if (words[1] == "TYPE") types[words[2]] = words[3];
    if (words[1] == "HELP") helped.push_back(words[2]);
  }
  EXPECT_EQ(types.size(), 41u);
  EXPECT_EQ(helped.size(), types.size());
  int counters = 0, gauges = 0, histograms = 0;
  for (const auto& [name, type] : types) {
    SCOPED_TRACE(name);
    EXPECT_THAT(helped, Contains(name));
    if (type == "counter") {
      ++counters;
      EXPECT_TRUE(absl::EndsWith(name, "_total"));
    } else if (type == "gauge") {
      ++gauges;
      EXPECT_FALSE(absl::EndsWith(name, "_total"));
    } else if (type == "histogram") {
      ++histograms;
      EXPECT_TRUE(absl::EndsWith(name, "_seconds"));
    } else {
      ADD_FAILURE() << "unexpected type " << type;
    }
  }
  EXPECT_EQ(counters, 9);
  EXPECT_EQ(gauges, 30);
  EXPECT_EQ(histograms, 2);
  // The build's info series: 1, labelled with this build's version.
  EXPECT_THAT(ScrapeLines(port),
              Contains(absl::StrCat("gorl_build_info{role=\"refiner\",version=\"", BuildVersion(),
                                    "\"} 1")));
}

TEST(RoleMetricsTest, PortInUseIsAnErrorNotACrash) {
  int port = 0;
  auto first = ServeOnFreePort("learner", "", &port);
  ASSERT_NE(first, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  EXPECT_THAT(RoleMetrics::Serve(address, "refiner", ""),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(address)));
  // The first server is unharmed.
  first->AddEnvSteps(5);
  EXPECT_THAT(ScrapeLines(port), Contains(R"(gorl_env_steps_total{role="learner"} 5)"));
}

TEST(RoleMetricsTest, PortHeldByAnotherSocketIsAnError) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  EXPECT_THAT(RoleMetrics::Serve(absl::StrCat("127.0.0.1:", port), "actor", "a1"),
              StatusIs(absl::StatusCode::kUnavailable));
  close(fd);
}

TEST(RoleMetricsTest, MalformedAddressesAreInvalidArguments) {
  for (const char* address : {"", "9100", ":9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                              "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-5", "999.1.1.1:9100",
                              "localhost:9100", "::1:9100", "[::1]:9100", "[::]:9100"}) {
    SCOPED_TRACE(address);
    EXPECT_THAT(RoleMetrics::Serve(address, "actor", ""),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(RoleMetricsTest, AddressOfNoLocalInterfaceIsUnavailable) {
  // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface of a test machine.
  EXPECT_THAT(RoleMetrics::Serve(absl::StrCat("192.0.2.1:", PickFreeLoopbackPort()), "actor", ""),
              StatusIs(absl::StatusCode::kUnavailable));
}

// Shutdown is quick (civetweb alone takes up to 2 s), and a restarted
// process gets its port back at once.
TEST(RoleMetricsTest, DestructionIsQuickAndReleasesThePort) {
  int port = 0;
  auto metrics = ServeOnFreePort("actor", "a1", &port);
  ASSERT_NE(metrics, nullptr);
  GORL_ASSERT_OK(HttpGet("127.0.0.1", port, "/metrics"));
  const absl::Time start = absl::Now();
  metrics.reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_THAT(HttpGet("127.0.0.1", port, "/metrics"), Not(IsOk()));
  GORL_EXPECT_OK(RoleMetrics::Serve(absl::StrCat("127.0.0.1:", port), "actor", "a1"));
}

TEST(RoleMetricsTest, UnservedMetricsAcceptEveryUpdate) {
  auto metrics = RoleMetrics::Unserved("learner", "");
  metrics->AddEnvSteps(1);
  metrics->AddEpisodes(1);
  metrics->AddDivergedEpisodes(1);
  metrics->AddRpcError("M");
  metrics->AddRolloutsReceived(1);
  metrics->AddStaleRolloutsDropped(1);
  metrics->AddPpoUpdates(1);
  metrics->AddRefinements(1);
  metrics->SetStepsPerSecond(1);
  metrics->SetEpisodeReturn(1);
  metrics->SetEvalReturn(1);
  metrics->SetPolicyLoss(1);
  metrics->SetValueLoss(1);
  metrics->SetApproxKl(1);
  metrics->SetClipFraction(1);
  metrics->SetEntropy(1);
  metrics->SetExplainedVariance(1);
  metrics->SetDecoderLoss(1);
  metrics->SetStage(1);
  metrics->SetPolicyVersion(1);
  metrics->SetPolicyLag(1);
  metrics->SetQueueDepth(1);
  metrics->SetQueueCapacity(1);
  metrics->SetConnectedActors(1);
  metrics->SetPolicyLagLimit(1);
  metrics->SetLastCheckpointTimestamp(1);
  metrics->SetIterationStartTimestamp(1);
  metrics->SetUpdatesSinceCheckpoint(1);
  metrics->SetCheckpointIntervalUpdates(1);
  metrics->SetLearnerPhase("train");
  metrics->ObserveInferenceSeconds(1);
  metrics->ObserveUpdateSeconds(1);
}

// The learner's alert gauges (deploy/prometheus/rules.yml) hold what was set.
TEST(RoleMetricsTest, LearnerAlertGaugesAreExported) {
  int port = 0;
  auto metrics = ServeOnFreePort("learner", "", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->SetPolicyLagLimit(4);
  metrics->SetLastCheckpointTimestamp(1700000000.5);
  metrics->SetIterationStartTimestamp(1700000001.25);
  metrics->SetUpdatesSinceCheckpoint(3);
  metrics->SetCheckpointIntervalUpdates(20);

  const std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines, Contains(R"(gorl_policy_lag_limit{role="learner"} 4)"));
  EXPECT_THAT(lines,
              Contains(R"(gorl_last_checkpoint_timestamp_seconds{role="learner"} 1700000000.5)"));
  EXPECT_THAT(lines,
              Contains(R"(gorl_iteration_start_timestamp_seconds{role="learner"} 1700000001.25)"));
  EXPECT_THAT(lines, Contains(R"(gorl_ppo_updates_since_checkpoint{role="learner"} 3)"));
  EXPECT_THAT(lines, Contains(R"(gorl_checkpoint_interval_updates{role="learner"} 20)"));
}

// Every phase has its series from the start (0), so a panel or alert on
// one is never empty; setting a phase makes it the only 1.
TEST(RoleMetricsTest, LearnerPhaseIsAStateSet) {
  int port = 0;
  auto metrics = ServeOnFreePort("learner", "", &port);
  ASSERT_NE(metrics, nullptr);
  for (const std::string& phase : RoleMetrics::LearnerPhases()) {
    EXPECT_THAT(
        ScrapeLines(port),
        Contains(absl::StrCat(R"(gorl_learner_phase{role="learner",phase=")", phase, R"("} 0)")));
  }
  metrics->SetLearnerPhase("train");
  metrics->SetLearnerPhase("refine");
  const std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines, Contains(R"(gorl_learner_phase{role="learner",phase="refine"} 1)"));
  EXPECT_THAT(lines, Contains(R"(gorl_learner_phase{role="learner",phase="train"} 0)"));
  int ones = 0;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "gorl_learner_phase{") && absl::EndsWith(line, "} 1")) ++ones;
  }
  EXPECT_EQ(ones, 1);
}

// The learning diagnostics: time per phase (every phase's series from the
// start), each stage's best return, and the last refinement's fidelity and
// returns, one series per label set.
TEST(RoleMetricsTest, ExportsTheLearningDiagnostics) {
  int port = 0;
  auto metrics = ServeOnFreePort("learner", "", &port);
  ASSERT_NE(metrics, nullptr);
  const std::vector<std::string> before = ScrapeLines(port);
  EXPECT_THAT(before,
              Contains(R"(gorl_learner_phase_seconds_total{role="learner",phase="collect"} 0)"));
  // Not measured yet: NaN, never a 0 that reads as a perfect hand-over.
  EXPECT_THAT(
      before,
      Contains(
          R"(gorl_refinement_fidelity{role="learner",against="prior",measure="sliced_wasserstein"} Nan)"));
  metrics->AddLearnerPhaseSeconds("refine", 1.5);
  metrics->AddLearnerPhaseSeconds("refine", 2.25);
  metrics->SetStageBestReturn(0, 310.5);
  metrics->SetStageBestReturn(1, 402);
  metrics->SetRefinementFidelity("prior", "sliced_wasserstein", 0.125);
  metrics->SetRefinementFidelity("floor", "sliced_wasserstein", 0.0625);
  metrics->SetRefinementReturn("collecting", "stochastic", 601);
  metrics->SetRefinementReturn("refined", "stochastic", 588);
  const std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines,
              Contains(R"(gorl_learner_phase_seconds_total{role="learner",phase="refine"} 3.75)"));
  EXPECT_THAT(lines, Contains(R"(gorl_stage_best_return{role="learner",stage="0"} 310.5)"));
  EXPECT_THAT(lines, Contains(R"(gorl_stage_best_return{role="learner",stage="1"} 402)"));
  EXPECT_THAT(
      lines,
      Contains(
          R"(gorl_refinement_fidelity{role="learner",against="prior",measure="sliced_wasserstein"} 0.125)"));
  EXPECT_THAT(
      lines,
      Contains(
          R"(gorl_refinement_fidelity{role="learner",against="floor",measure="sliced_wasserstein"} 0.0625)"));
  EXPECT_THAT(
      lines,
      Contains(R"(gorl_refinement_return{role="learner",mode="stochastic",policy="refined"} 588)"));
}

// Declared label values are series at zero before anything is counted, and
// counting afterwards continues from them.
TEST(RoleMetricsTest, DeclaredSeriesStartAtZero) {
  int port = 0;
  auto metrics = ServeOnFreePort("actor", "a1", &port);
  ASSERT_NE(metrics, nullptr);
  metrics->DeclareRpcMethods({"Join", "Send"});
  metrics->DeclareRefusalReasons({"shape"});
  metrics->DeclareAuthFailureReasons({"wrong_token"});
  std::vector<std::string> lines = ScrapeLines(port);
  EXPECT_THAT(lines,
              Contains(R"(gorl_rpc_errors_total{role="actor",instance="a1",method="Join"} 0)"));
  EXPECT_THAT(lines,
              Contains(R"(gorl_rpc_errors_total{role="actor",instance="a1",method="Send"} 0)"));
  EXPECT_THAT(
      lines,
      Contains(R"(gorl_messages_refused_total{role="actor",instance="a1",reason="shape"} 0)"));
  EXPECT_THAT(
      lines,
      Contains(R"(gorl_auth_failures_total{role="actor",instance="a1",reason="wrong_token"} 0)"));

  metrics->AddRpcError("Send");
  metrics->DeclareRpcMethods({"Send"});  // declaring again keeps the count
  lines = ScrapeLines(port);
  EXPECT_THAT(lines,
              Contains(R"(gorl_rpc_errors_total{role="actor",instance="a1",method="Send"} 1)"));
}

}  // namespace
}  // namespace gorl
