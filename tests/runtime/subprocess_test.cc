#include "runtime/subprocess.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/status_matchers.h"

namespace gorl::runtime {
namespace {

// kThisExecutable runs the binary the parent runs, whatever argv[0] says:
// here this very test binary, asked to list this test under another name.
TEST(SubprocessTest, ThisExecutableRunsTheParentsBinaryUnderAnyName) {
  ChildOptions options;
  options.argv = {"/nonexistent/renamed", "--gtest_list_tests",
                  "--gtest_filter=SubprocessTest.ThisExecutable*"};
  options.executable = kThisExecutable;
  options.capture_stdout = true;
  absl::StatusOr<std::unique_ptr<Child>> child = Child::Spawn(options);
  GORL_ASSERT_OK(child);
  bool listed = false;
  while (std::optional<std::string> line = (*child)->ReadLine(std::chrono::seconds(60))) {
    listed = listed || absl::StrContains(*line, "ThisExecutableRunsTheParentsBinaryUnderAnyName");
  }
  ASSERT_TRUE((*child)->Wait(std::chrono::seconds(60)));
  EXPECT_EQ((*child)->exit_code(), 0);
  EXPECT_TRUE(listed);
}

TEST(SubprocessTest, WithoutAnExecutableArgvZeroIsWhatRuns) {
  ChildOptions options;
  options.argv = {"/nonexistent/renamed", "--gtest_list_tests"};
  absl::StatusOr<std::unique_ptr<Child>> child = Child::Spawn(options);
  GORL_ASSERT_OK(child);
  ASSERT_TRUE((*child)->Wait(std::chrono::seconds(60)));
  EXPECT_EQ((*child)->exit_code(), 127);  // exec failed in the child
}

TEST(SubprocessTest, SelfExecutableIsThisBinarysPath) {
  absl::StatusOr<std::string> self = SelfExecutable();
  GORL_ASSERT_OK(self);
  EXPECT_TRUE(absl::EndsWith(*self, "/gorl_runtime_test")) << *self;
}

}  // namespace
}  // namespace gorl::runtime
