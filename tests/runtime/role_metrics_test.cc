// A real Prometheus (tests/integration/prometheus_harness.h) scraping the
// exporters of real learner, refiner and actor processes: what the roles
// count during training is what Prometheus stores.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/json_line.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/integration/prometheus_harness.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using test_files::ReadFile;
using testing::Join;
using testutil::PrometheusHarness;
using testutil::PromSample;

// Reads a learner's stdout on its own thread, so that a full pipe never
// stalls the learner while the test waits on Prometheus.
class ProgressDrain {
 public:
  explicit ProgressDrain(Child& learner)
      : thread_([this, &learner] {
          while (!stop_.load()) learner.ReadLine(std::chrono::milliseconds(100));
        }) {}
  ~ProgressDrain() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after stop_ exists
};

// env_steps of the last update row of a run's metrics.jsonl (0 if none).
double LastUpdateEnvSteps(const std::string& run_dir) {
  const std::vector<std::string> rows = testing::EventRows(run_dir, "update");
  return rows.empty() ? 0.0 : JsonNumber(rows.back(), "env_steps");
}

// The value of the sample with label role=`role`, if any.
std::optional<double> RoleValue(const std::vector<PromSample>& samples, const std::string& role) {
  for (const PromSample& sample : samples) {
    auto it = sample.labels.find("role");
    if (it != sample.labels.end() && it->second == role) return sample.value;
  }
  return std::nullopt;
}

TEST(PrometheusRolesTest, ScrapesTheRealLearnerRefinerAndActor) {
  const std::string dir = test_files::MakeTempDir("metrics");
  // Three distinct ports (the kernel may hand out a released one again).
  std::set<int> ports;
  while (ports.size() < 3) ports.insert(testutil::PickFreeLoopbackPort());
  auto port = ports.begin();
  std::map<std::string, std::string> target;  // role -> scrape address
  std::map<std::string, std::vector<std::string>> metrics_flags;
  for (const char* role : {"learner", "refiner", "actor"}) {
    const int p = *port++;
    target[role] = absl::StrCat("127.0.0.1:", p);
    metrics_flags[role] = {absl::StrCat("--metrics_port=", p), "--metrics_host=127.0.0.1"};
  }

  std::unique_ptr<Child> refiner = testing::StartGorl(
      Join({"refiner", "--insecure", "--listen=127.0.0.1:0"}, metrics_flags["refiner"]),
      dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = testing::AwaitListening(*refiner);
  // Far more steps than the test lasts: no refinement (its pairs would count
  // too), the learner only trains.
  std::unique_ptr<Child> learner = testing::StartGorl(
      Join(Join({"learner", "--insecure", "--listen=127.0.0.1:0", "--refiner=" + refiner_address,
                 "--run_dir=" + dir + "/run", "--progress_json", "total_env_steps=16000000"},
                metrics_flags["learner"]),
           testing::TinyRun()),
      dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string learner_address = testing::AwaitListening(*learner);
  std::unique_ptr<Child> actor =
      testing::StartGorl(Join(Join({"actor", "--insecure", "--learner=" + learner_address,
                                    "--actor_id=a0", "--actor_envs=8"},
                                   metrics_flags["actor"]),
                              testing::TinyRun()),
                         dir + "/actor.log");
  ASSERT_NE(actor, nullptr);
  ProgressDrain progress(*learner);

  auto prometheus =
      PrometheusHarness::Start({target["learner"], target["refiner"], target["actor"]});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  auto logs = [&] {
    return absl::StrCat("learner:\n", ReadFile(dir + "/learner.log"), "\nactor:\n",
                        ReadFile(dir + "/actor.log"), "\nprometheus:\n", (*prometheus)->LogTail());
  };

  auto up = (*prometheus)
                ->QueryUntil(
                    "up == 1", [](const std::vector<PromSample>& s) { return s.size() == 3; },
                    absl::Seconds(90));
  ASSERT_TRUE(up.ok()) << up.status() << "\n" << logs();
  std::set<std::string> up_instances;
  for (const PromSample& sample : *up) up_instances.insert(sample.labels.at("instance"));
  EXPECT_EQ(up_instances,
            (std::set<std::string>{target["learner"], target["refiner"], target["actor"]}));

  auto steps = (*prometheus)
                   ->QueryUntil(
                       "gorl_env_steps_total",
                       [](const std::vector<PromSample>& s) {
                         return RoleValue(s, "learner").value_or(0) > 0 &&
                                RoleValue(s, "actor").value_or(0) > 0;
                       },
                       absl::Seconds(90));
  ASSERT_TRUE(steps.ok()) << steps.status() << "\n" << logs();
  // Every role exports the family; the refiner steps no environment.
  EXPECT_EQ(RoleValue(*steps, "refiner"), 0.0);

  // Without its actor the learner stops after the batches in flight. Once
  // it has noticed (connected actors 0) its counter settles at the env
  // steps of its last update row: the predicate reads both afresh each time.
  actor->Signal(SIGKILL);
  auto gone =
      (*prometheus)
          ->QueryUntil(
              "gorl_connected_actors{role=\"learner\"}",
              [](const std::vector<PromSample>& s) { return s.size() == 1 && s[0].value == 0; },
              absl::Seconds(90));
  ASSERT_TRUE(gone.ok()) << gone.status() << "\n" << logs();
  const std::string run = dir + "/run";
  auto learner_steps =
      (*prometheus)
          ->QueryUntil(
              "sum(gorl_env_steps_total{role=\"learner\"})",
              [&](const std::vector<PromSample>& s) {
                return s.size() == 1 && s[0].value > 0 && s[0].value == LastUpdateEnvSteps(run);
              },
              absl::Seconds(90));
  EXPECT_TRUE(learner_steps.ok()) << learner_steps.status() << "\nlogged "
                                  << LastUpdateEnvSteps(run);

  // The PPO gauges hold the last update's statistics, as metrics.jsonl logs
  // them (to its 9 significant digits).
  auto entropy_gauge = (*prometheus)
                           ->QueryUntil(
                               "gorl_ppo_entropy{role=\"learner\"}",
                               [&](const std::vector<PromSample>& s) {
                                 const std::vector<std::string> rows =
                                     testing::EventRows(run, "update");
                                 if (s.size() != 1 || rows.empty()) return false;
                                 const double entropy = JsonNumber(rows.back(), "entropy");
                                 return std::abs(s[0].value - entropy) <= 1e-6 * std::abs(entropy);
                               },
                               absl::Seconds(90));
  EXPECT_TRUE(entropy_gauge.ok()) << entropy_gauge.status();
}

}  // namespace
}  // namespace gorl::runtime
