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
#include "runtime/json_line.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/integration/prometheus_harness.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using testing::Join;
using test_files::ReadFile;
using testutil::PrometheusHarness;
using testutil::PromSample;

// Reads a learner's stdout on its own thread (a full pipe would stall the
// learner while the test waits on Prometheus) and keeps the env_steps of
// its last progress line.
class ProgressDrain {
 public:
  explicit ProgressDrain(Child& learner)
      : thread_([this, &learner] {
          while (!stop_.load()) {
            std::optional<std::string> line = learner.ReadLine(std::chrono::milliseconds(100));
            if (line.has_value() && JsonField(*line, "event") == "progress") {
              last_env_steps_.store(static_cast<int64_t>(JsonNumber(*line, "env_steps")));
              last_change_ms_.store(NowMs());
            }
          }
        }) {}
  ~ProgressDrain() {
    stop_.store(true);
    thread_.join();
  }

  // The last reported env_steps once none has come for `quiet`; nullopt if
  // the learner keeps reporting until `timeout`.
  std::optional<int64_t> SettledEnvSteps(seconds quiet, seconds timeout) const {
    const int64_t deadline = NowMs() + 1000 * timeout.count();
    while (NowMs() < deadline) {
      if (NowMs() - last_change_ms_.load() >= 1000 * quiet.count()) return last_env_steps_.load();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::nullopt;
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> last_env_steps_{0};
  std::atomic<int64_t> last_change_ms_{NowMs()};
  std::thread thread_;  // last: starts after the atomics exist
};

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
      Join({"refiner", "--listen=127.0.0.1:0"}, metrics_flags["refiner"]), dir + "/refiner.log");
  ASSERT_NE(refiner, nullptr);
  const std::string refiner_address = testing::AwaitListening(*refiner);
  // Far more steps than the test lasts: no refinement (its pairs would count
  // too), the learner only trains.
  std::unique_ptr<Child> learner = testing::StartGorl(
      Join(Join({"learner", "--listen=127.0.0.1:0", "--refiner=" + refiner_address,
                 "--run_dir=" + dir + "/run", "--progress_json", "total_env_steps=16000000"},
                metrics_flags["learner"]),
           testing::TinyRun()),
      dir + "/learner.log");
  ASSERT_NE(learner, nullptr);
  const std::string learner_address = testing::AwaitListening(*learner);
  std::unique_ptr<Child> actor = testing::StartGorl(
      Join(Join({"actor", "--learner=" + learner_address, "--actor_id=a0", "--actor_envs=8"},
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

  auto up = (*prometheus)->QueryUntil(
      "up == 1", [](const std::vector<PromSample>& s) { return s.size() == 3; },
      absl::Seconds(30));
  ASSERT_TRUE(up.ok()) << up.status() << "\n" << logs();
  std::set<std::string> up_instances;
  for (const PromSample& sample : *up) up_instances.insert(sample.labels.at("instance"));
  EXPECT_EQ(up_instances,
            (std::set<std::string>{target["learner"], target["refiner"], target["actor"]}));

  auto steps = (*prometheus)->QueryUntil(
      "gorl_env_steps_total",
      [](const std::vector<PromSample>& s) {
        return RoleValue(s, "learner").value_or(0) > 0 && RoleValue(s, "actor").value_or(0) > 0;
      },
      absl::Seconds(30));
  ASSERT_TRUE(steps.ok()) << steps.status() << "\n" << logs();
  // Every role exports the family; the refiner steps no environment.
  EXPECT_EQ(RoleValue(*steps, "refiner"), 0.0);

  // Without its actor the learner stops after the batch in flight: its
  // counter then holds still at what its last progress line reported.
  actor->Signal(SIGKILL);
  const std::optional<int64_t> reported = progress.SettledEnvSteps(seconds(2), seconds(20));
  ASSERT_TRUE(reported.has_value()) << "the learner kept training without its actor";
  ASSERT_GT(*reported, 0);
  auto learner_steps = (*prometheus)->QueryUntil(
      "sum(gorl_env_steps_total{role=\"learner\"})",
      [&](const std::vector<PromSample>& s) {
        return s.size() == 1 && s[0].value == static_cast<double>(*reported);
      },
      absl::Seconds(15));
  EXPECT_TRUE(learner_steps.ok()) << learner_steps.status() << "\nreported " << *reported;

  // The PPO gauges hold the last update's statistics, as metrics.jsonl logs
  // them (to its 9 significant digits).
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(dir + "/run/metrics.jsonl"), '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  ASSERT_EQ(JsonNumber(lines.back(), "env_steps"), static_cast<double>(*reported));
  const double entropy = JsonNumber(lines.back(), "entropy");
  auto entropy_gauge = (*prometheus)->QueryUntil(
      "gorl_ppo_entropy{role=\"learner\"}",
      [&](const std::vector<PromSample>& s) {
        return s.size() == 1 && std::abs(s[0].value - entropy) <= 1e-6 * std::abs(entropy);
      },
      absl::Seconds(15));
  EXPECT_TRUE(entropy_gauge.ok()) << entropy_gauge.status() << "\nlogged " << entropy;
}

}  // namespace
}  // namespace gorl::runtime
