#include "envs/assets.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envs/task_registry.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

using ::gorl::testing::IsOkAndHolds;
using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string MakeTempDir() {
  char pattern[] = "/tmp/gorl_assets_test_XXXXXX";
  const char* dir = mkdtemp(pattern);
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "";
}

// Restores GORL_ASSETS after a test changes it.
class ScopedAssetsEnv {
 public:
  explicit ScopedAssetsEnv(const char* value) {
    const char* old = std::getenv(kAssetsEnvVar);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value)
      setenv(kAssetsEnvVar, value, 1);
    else
      unsetenv(kAssetsEnvVar);
  }
  ~ScopedAssetsEnv() {
    if (had_)
      setenv(kAssetsEnvVar, old_.c_str(), 1);
    else
      unsetenv(kAssetsEnvVar);
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST(AssetsTest, NoDirectoryGivenNamesTheFlagAndTheVariable) {
  ScopedAssetsEnv env(nullptr);
  EXPECT_THAT(ResolveAssetsDir(""),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("--assets"), HasSubstr("GORL_ASSETS"))));
  // A task with no model file needs no assets at all.
  GORL_EXPECT_OK(MakeTaskFactory("twin-peaks", ""));
}

TEST(AssetsTest, MissingDirectoryIsNamed) {
  ScopedAssetsEnv env("/nonexistent/gorl/assets");
  EXPECT_THAT(ResolveAssetsDir(""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/gorl/assets")));
  // The flag wins over the variable.
  const std::string dir = MakeTempDir();
  EXPECT_THAT(ResolveAssetsDir(dir + "/"), IsOkAndHolds(dir));
}

TEST(AssetsTest, MissingModelFileNamesPathAndExpectedFile) {
  const std::string dir = MakeTempDir();
  EXPECT_THAT(
      MakeTaskFactory("walker-walk", dir),
      StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr(dir + "/dm_control/walker.xml"),
                                                  HasSubstr("expected dm_control/walker.xml"))));
}

TEST(AssetsTest, BrokenModelFileGivesTheLoaderError) {
  const std::string dir = MakeTempDir();
  ASSERT_EQ(system(("mkdir -p " + dir + "/gym").c_str()), 0);
  std::ofstream(dir + "/gym/half_cheetah.xml") << "<mujoco><worldbody><body pos='0.13/2 0 0'>";
  EXPECT_THAT(
      MakeTaskFactory("halfcheetah-v2", dir),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir + "/gym/half_cheetah.xml")));
}

TEST(AssetsTest, UnknownTaskListsTheKnownOnes) {
  EXPECT_THAT(MakeTaskFactory("cheetah-fly", ""),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("cheetah-fly"), HasSubstr("cheetah-run"),
                             HasSubstr("humanoid-run"))));
}

}  // namespace
}  // namespace gorl::envs
