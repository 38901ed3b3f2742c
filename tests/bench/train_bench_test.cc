#include "bench/train_bench.h"

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "tests/status_matchers.h"

namespace gorl::bench {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string MakeDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/train_bench_" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

std::string Row(const char* event, int64_t env_steps, double wall) {
  return absl::StrCat("{\"event\": \"", event, "\", \"env_steps\": ", env_steps,
                      ", \"wall_seconds\": ", wall, ", \"stage\": 0}\n");
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ReadIterationTimingTest, CountsOnlyIterationsThatFollowAnIteration) {
  const std::string path = MakeDir("steady") + "/metrics.jsonl";
  // The first iteration (start-up), the one after an evaluation and the one
  // after a refinement are left out of the rate.
  WriteFile(path, Row("update", 100, 1.0) + Row("update", 200, 2.0) + Row("update", 300, 3.0) +
                      Row("eval", 300, 3.5) + Row("refine", 300, 10.0) + Row("update", 400, 11.0) +
                      Row("update", 500, 12.0));
  GORL_ASSERT_OK_AND_ASSIGN(const IterationTiming timing, ReadIterationTiming(path));
  EXPECT_EQ(timing.iterations, 5);
  EXPECT_EQ(timing.env_steps, 500);
  EXPECT_DOUBLE_EQ(timing.first_iteration_seconds, 1.0);
  EXPECT_DOUBLE_EQ(timing.steps_per_second, 100.0);  // 300 steps in 3 s
}

TEST(ReadIterationTimingTest, OneIterationHasNoSteadyRate) {
  const std::string path = MakeDir("one") + "/metrics.jsonl";
  WriteFile(path, Row("update", 100, 1.5) + Row("eval", 100, 2.0));
  GORL_ASSERT_OK_AND_ASSIGN(const IterationTiming timing, ReadIterationTiming(path));
  EXPECT_EQ(timing.iterations, 1);
  EXPECT_EQ(timing.steps_per_second, 0.0);
}

TEST(ReadIterationTimingTest, RefusesMissingOrEmptyLogs) {
  EXPECT_THAT(ReadIterationTiming(MakeDir("missing") + "/metrics.jsonl"), Not(IsOk()));
  const std::string path = MakeDir("empty") + "/metrics.jsonl";
  WriteFile(path, Row("eval", 0, 1.0));
  EXPECT_THAT(ReadIterationTiming(path), Not(IsOk()));
}

TEST(BenchTrainConfigTest, CutsTheBudgetAndEvaluatesOnceAtTheEnd) {
  GORL_ASSERT_OK_AND_ASSIGN(const v1::TrainConfig preset, LoadPreset("local"));
  const v1::TrainConfig config = BenchTrainConfig(preset, 3, 4);
  EXPECT_EQ(config.total_env_steps(), 3 * EnvStepsPerIteration(preset));
  EXPECT_EQ(config.eval().every_env_steps(), config.total_env_steps());
  EXPECT_EQ(config.eval().episodes(), 4);
  EXPECT_FALSE(config.eval().stochastic());
  GORL_EXPECT_OK(ValidateConfig(config));
}

TEST(BenchmarkTrainingTest, AlternatesDriversAndReportsTheRatio) {
  TrainBenchOptions options;
  options.rounds = 3;
  options.work_dir = MakeDir("alternate");
  std::vector<TrainDriver> order;
  // A fake run: 3 iterations of 1000 steps; gRPC's take twice as long.
  const TrainRunner run = [&](TrainDriver driver, const v1::TrainConfig&, const std::string& dir) {
    order.push_back(driver);
    mkdir(dir.c_str(), 0755);
    const double step = driver == TrainDriver::kGrpc ? 2.0 : 1.0;
    WriteFile(dir + "/metrics.jsonl", Row("update", 1000, step) + Row("update", 2000, 2 * step) +
                                          Row("update", 3000, 3 * step));
    return absl::OkStatus();
  };
  GORL_ASSERT_OK_AND_ASSIGN(const TrainBenchResult result, BenchmarkTraining(options, run));
  EXPECT_EQ(order, (std::vector<TrainDriver>{TrainDriver::kInProcess, TrainDriver::kGrpc,
                                             TrainDriver::kGrpc, TrainDriver::kInProcess,
                                             TrainDriver::kInProcess, TrainDriver::kGrpc}));
  EXPECT_EQ(result.runs.size(), 6u);
  EXPECT_DOUBLE_EQ(result.in_process.iteration_steps_per_second, 1000.0);
  EXPECT_DOUBLE_EQ(result.grpc.iteration_steps_per_second, 500.0);
  EXPECT_DOUBLE_EQ(result.iteration_ratio(), 0.5);
  EXPECT_GT(result.end_to_end_ratio(), 0.0);
  const std::string table = FormatTrainBenchTable(result);
  EXPECT_THAT(table, HasSubstr("ratio grpc/in-process"));
  EXPECT_THAT(table, HasSubstr("0.500"));
  const std::string json = FormatTrainBenchJson(result, v1::TrainConfig(), 1);
  EXPECT_THAT(json, HasSubstr("\"iteration_ratio\": 0.5"));
}

TEST(BenchmarkTrainingTest, StopsAtAFailedRun) {
  TrainBenchOptions options;
  options.work_dir = MakeDir("fail");
  const absl::StatusOr<TrainBenchResult> result =
      BenchmarkTraining(options, [](TrainDriver, const v1::TrainConfig&, const std::string&) {
        return absl::InternalError("the run failed");
      });
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace gorl::bench
