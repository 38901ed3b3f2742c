#include "runtime/run_lock.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "runtime/subprocess.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"
#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

TEST(RunLockTest, ASecondWriterIsRefusedNamingTheHolderUntilTheFirstLetsGo) {
  const std::string dir = test_files::MakeTempDir("run_lock");
  {
    GORL_ASSERT_OK_AND_ASSIGN(RunLock first, RunLock::Acquire(dir));
    EXPECT_THAT(
        RunLock::Acquire(dir),
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 AllOf(HasSubstr(dir), HasSubstr("in use by another gorl process"),
                       HasSubstr(absl::StrCat("pid ", getpid())), HasSubstr("gorl train --fork"))));
    // Moving the lock keeps it held.
    RunLock moved = std::move(first);
    EXPECT_THAT(RunLock::Acquire(dir), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  GORL_EXPECT_OK(RunLock::Acquire(dir).status());
}

TEST(RunLockTest, AMissingDirectoryIsNotFoundUnlessCreated) {
  const std::string dir = test_files::MakeTempDir("run_lock_missing") + "/run";
  EXPECT_THAT(RunLock::Acquire(dir), StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir)));
  EXPECT_FALSE(Exists(dir));
  GORL_EXPECT_OK(RunLock::Acquire(dir, /*create=*/true).status());
  EXPECT_TRUE(Exists(dir + "/.lock"));
}

// The kernel drops a lock when its holder dies, SIGKILL included: a crashed
// learner never leaves its run locked.
TEST(RunLockTest, AHolderKilledOutrightReleasesTheLock) {
  const std::string dir = test_files::MakeTempDir("run_lock_kill");
  GORL_EXPECT_OK(RunLock::Acquire(dir).status());  // makes .lock
  ChildOptions options;
  options.argv = {"/usr/bin/flock", "--exclusive", dir + "/.lock", "/bin/sleep", "600"};
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Child> holder, Child::Spawn(options));
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return !RunLock::Acquire(dir).ok(); }));
  EXPECT_THAT(RunLock::Acquire(dir), StatusIs(absl::StatusCode::kFailedPrecondition));
  // flock(1) holds the lock in itself and its child sleep: kill the group.
  kill(-holder->pid(), SIGKILL);
  ASSERT_TRUE(holder->Wait(std::chrono::seconds(60)));
  ASSERT_TRUE(gorl::testing::WaitUntil([&] { return RunLock::Acquire(dir).ok(); }));
}

}  // namespace
}  // namespace gorl::runtime
