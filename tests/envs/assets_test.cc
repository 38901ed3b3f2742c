#include "envs/assets.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "envs/task_registry.h"

namespace gorl::envs {
namespace {

bool Contains(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

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
    if (value) setenv(kAssetsEnvVar, value, 1); else unsetenv(kAssetsEnvVar);
  }
  ~ScopedAssetsEnv() {
    if (had_) setenv(kAssetsEnvVar, old_.c_str(), 1); else unsetenv(kAssetsEnvVar);
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST(AssetsTest, NoDirectoryGivenNamesTheFlagAndTheVariable) {
  ScopedAssetsEnv env(nullptr);
  const absl::Status status = ResolveAssetsDir("").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(status, "--assets")) << status;
  EXPECT_TRUE(Contains(status, "GORL_ASSETS")) << status;
  // A task with no model file needs no assets at all.
  EXPECT_TRUE(MakeTaskFactory("twin-peaks", "").ok());
}

TEST(AssetsTest, MissingDirectoryIsNamed) {
  ScopedAssetsEnv env("/nonexistent/gorl/assets");
  const absl::Status status = ResolveAssetsDir("").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(status, "/nonexistent/gorl/assets")) << status;
  // The flag wins over the variable.
  const std::string dir = MakeTempDir();
  absl::StatusOr<std::string> resolved = ResolveAssetsDir(dir + "/");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, dir);
}

TEST(AssetsTest, MissingModelFileNamesPathAndExpectedFile) {
  const std::string dir = MakeTempDir();
  const absl::Status status = MakeTaskFactory("walker-walk", dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(status, dir + "/dm_control/walker.xml")) << status;
  EXPECT_TRUE(Contains(status, "expected dm_control/walker.xml")) << status;
}

TEST(AssetsTest, BrokenModelFileGivesTheLoaderError) {
  const std::string dir = MakeTempDir();
  ASSERT_EQ(system(("mkdir -p " + dir + "/gym").c_str()), 0);
  std::ofstream(dir + "/gym/half_cheetah.xml") << "<mujoco><worldbody><body pos='0.13/2 0 0'>";
  const absl::Status status = MakeTaskFactory("halfcheetah-v2", dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, dir + "/gym/half_cheetah.xml")) << status;
}

TEST(AssetsTest, UnknownTaskListsTheKnownOnes) {
  const absl::Status status = MakeTaskFactory("cheetah-fly", "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(status, "cheetah-fly")) << status;
  EXPECT_TRUE(Contains(status, "cheetah-run")) << status;
  EXPECT_TRUE(Contains(status, "humanoid-run")) << status;
}

}  // namespace
}  // namespace gorl::envs
