#include "envs/assets.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace gorl::envs {
namespace {

constexpr char kHowToGet[] =
    " (get the model files with scripts/fetch_assets.sh, or point --assets / GORL_ASSETS "
    "at a directory holding dm_control/ and gym/; see README, section 'Model assets')";

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

absl::StatusOr<std::string> ResolveAssetsDir(const std::string& flag_value) {
  std::string dir = flag_value;
  std::string source = "--assets";
  if (dir.empty()) {
    const char* env = std::getenv(kAssetsEnvVar);
    if (env != nullptr) dir = env;
    source = kAssetsEnvVar;
  }
  if (dir.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no model assets directory given", kHowToGet));
  }
  if (!IsDirectory(dir)) {
    return absl::NotFoundError(
        absl::StrCat("assets directory from ", source, " does not exist: ", dir, kHowToGet));
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

absl::StatusOr<std::string> AssetPath(const std::string& assets_dir, const std::string& relative) {
  const std::string path = absl::StrCat(assets_dir, "/", relative);
  if (!IsFile(path)) {
    return absl::NotFoundError(absl::StrCat("model file not found: ", path, " (expected ", relative,
                                            " under the assets directory ", assets_dir, ")",
                                            kHowToGet));
  }
  return path;
}

}  // namespace gorl::envs
