#include "tests/runtime/role_processes.h"

#include <stdlib.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/json_line.h"
#include "tests/common/http_get.h"

#ifndef GORL_BINARY
#error "GORL_BINARY must name the gorl executable (tests/CMakeLists.txt sets it)"
#endif

namespace gorl::runtime::testing {

const std::vector<std::string>& TinyRun() {
  static const auto* const kTiny = new std::vector<std::string>{
      "--task=twin-peaks",        "--algo=gorl-fm",        "rollout.num_envs=8",
      "rollout.unroll_length=10", "ppo.batch_size=8",      "ppo.num_minibatches=2",
      "ppo.updates_per_batch=1",  "encoder.hidden=16,16",  "encoder.critic_hidden=16,16",
      "decoder.hidden=16,16",     "decoder.steps=2",       "stages.fractions=0.5,0.5",
      "eval.episodes=4",          "refine.num_pairs=2000", "refine.collect_envs=8",
      "refine.epochs=2",          "refine.batch_size=256", "refine.patience=0",
      "learner_threads=1",
  };
  return *kTiny;
}

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

std::unique_ptr<Child> StartGorl(const std::vector<std::string>& args, const std::string& log) {
  ChildOptions options;
  options.argv = Join({GORL_BINARY}, args);
  options.env = {"OMP_NUM_THREADS=1"};
  options.capture_stdout = true;
  options.stderr_path = log;
  absl::StatusOr<std::unique_ptr<Child>> child = Child::Spawn(options);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : nullptr;
}

std::string AwaitListening(Child& child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<std::string> line = child.ReadLine(std::chrono::milliseconds(200));
    if (line.has_value() && JsonField(*line, "event") == "listening") {
      return JsonField(*line, "address").value_or("");
    }
    if (!line.has_value() && child.Poll()) break;
  }
  ADD_FAILURE() << "no listening line from pid " << child.pid();
  return "";
}

std::vector<std::string> EventRows(const std::string& run_dir, const std::string& event) {
  std::ifstream file(run_dir + "/metrics.jsonl");
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (JsonField(line, "event") == event) rows.push_back(line);
  }
  return rows;
}

namespace {

std::vector<int> IntPerUpdate(const std::string& run_dir, const std::string& field) {
  std::vector<int> values;
  for (const std::string& row : EventRows(run_dir, "update")) {
    const double value = JsonNumber(row, field);
    values.push_back(std::isnan(value) ? -1 : static_cast<int>(value));  // -1: absent
  }
  return values;
}

}  // namespace

std::vector<int> ActorsPerUpdate(const std::string& run_dir) {
  return IntPerUpdate(run_dir, "actors");
}

std::vector<int> RolloutActorsPerUpdate(const std::string& run_dir) {
  return IntPerUpdate(run_dir, "rollout_actors");
}

std::optional<double> ScrapeSample(int port, const std::string& family,
                                   const std::vector<std::string>& labels) {
  const absl::StatusOr<testutil::HttpResponse> response =
      testutil::HttpGet("127.0.0.1", port, "/metrics");
  if (!response.ok()) return std::nullopt;
  std::istringstream body(response->body);
  std::string line;
  while (std::getline(body, line)) {
    if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
    bool all = true;
    for (const std::string& label : labels) all = all && line.find(label) != std::string::npos;
    const size_t space = line.rfind(' ');
    if (all && space != std::string::npos) return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

bool WaitReadingProgress(Child& learner, std::chrono::seconds timeout,
                         const std::function<void(int64_t)>& on_progress) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<std::string> line = learner.ReadLine(std::chrono::milliseconds(100));
    if (line.has_value()) {
      if (on_progress && JsonField(*line, "event") == "progress") {
        on_progress(static_cast<int64_t>(JsonNumber(*line, "env_steps")));
      }
      continue;
    }
    if (learner.Poll()) return true;
  }
  return false;
}

}  // namespace gorl::runtime::testing
