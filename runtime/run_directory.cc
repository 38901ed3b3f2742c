#include "runtime/run_directory.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"

namespace gorl::runtime {

absl::Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::UnavailableError(
            absl::StrCat("cannot create ", partial, ": ", std::strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

std::string DefaultRunDir(const v1::TrainConfig& config) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return absl::StrCat("runs/", config.task(), "-", EnumUserName(config.algo()), "-s", config.seed(),
                      "-", stamp);
}

absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir) {
  GORL_RETURN_IF_ERROR(MakeDirs(run_dir));
  std::ofstream out(run_dir + "/config.textproto");
  out << ConfigToText(config);
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", run_dir, "/config.textproto"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SavedRun> LoadSavedRun(const std::string& run_dir) {
  SavedRun run;
  GORL_ASSIGN_OR_RETURN(run.config, LoadPreset(run_dir + "/config.textproto"));
  GORL_RETURN_IF_ERROR(ValidateConfig(run.config));
  GORL_ASSIGN_OR_RETURN(run.checkpoint, learner::ReadCheckpoint(learner::CheckpointPath(run_dir)));
  return run;
}

}  // namespace gorl::runtime
