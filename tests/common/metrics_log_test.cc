#include "common/metrics_log.h"

#include <cmath>
#include <fstream>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/status_matchers.h"

namespace gorl {
namespace {

using ::gorl::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsLogTest, RowsAreOneJsonObjectPerLineInInsertionOrder) {
  JsonRow row;
  row.Add("event", "update").Add("env_steps", int64_t{123}).Add("loss", 0.5).Add("ok", 1);
  EXPECT_EQ(row.ToString(), R"({"event": "update", "env_steps": 123, "loss": 0.5, "ok": 1})");
}

TEST(MetricsLogTest, NonFiniteNumbersBecomeNullAndStringsAreEscaped) {
  JsonRow row;
  row.Add("nan", std::nan("")).Add("inf", INFINITY).Add("text", "a\"b\\c\nd");
  row.Add("list", std::vector<float>{1.5f, NAN});
  EXPECT_EQ(row.ToString(),
            R"({"nan": null, "inf": null, "text": "a\"b\\c\nd", "list": [1.5, null]})");
}

TEST(MetricsLogTest, AppendsAndFlushesEveryRow) {
  const std::string path = ::testing::TempDir() + "/metrics_log_test.jsonl";
  std::remove(path.c_str());
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<MetricsLog> log, MetricsLog::Open(path));
  log->Write(JsonRow().Add("a", 1));
  // Visible before the log is closed: a killed run keeps its rows.
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, R"({"a": 1})");
  log->Write(JsonRow().Add("b", 2));
  log.reset();
  // Append, not truncate.
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<MetricsLog> again, MetricsLog::Open(path));
  again->Write(JsonRow().Add("c", 3));
  again.reset();
  std::ifstream all(path);
  int lines = 0;
  while (std::getline(all, line)) ++lines;
  EXPECT_EQ(lines, 3);
}

TEST(MetricsLogTest, UnwritablePathIsAClearError) {
  const absl::StatusOr<std::unique_ptr<MetricsLog>> log =
      MetricsLog::Open("/nonexistent-dir/x.jsonl");
  EXPECT_THAT(log, Not(IsOk()));
  EXPECT_THAT(log.status().message(), HasSubstr("/nonexistent-dir/x.jsonl"));
}

}  // namespace
}  // namespace gorl
