#include "runtime/run_directory.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/config_diff.h"
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

namespace {

// What a run writes into its directory (besides config.textproto and logs/).
bool IsRunFile(const std::string& name) {
  return name == "checkpoint.pb" || name == "checkpoint.prev.pb" ||
         name == "checkpoint.pb.unreadable" || name == "metrics.jsonl" ||
         name == "final_eval.json" ||
         ((absl::StartsWith(name, "decoder_stage") || absl::StartsWith(name, "policy_stage") ||
           absl::StartsWith(name, "checkpoint_boundary")) &&
          absl::EndsWith(name, ".pb"));
}

// Removes the earlier run's files, its temp files, config and logs.
absl::Status RemoveRun(const std::string& run_dir) {
  std::error_code error;
  std::vector<std::filesystem::path> doomed;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, error)) {
    const std::string name = entry.path().filename().string();
    const std::string base = absl::EndsWith(name, ".tmp") ? name.substr(0, name.size() - 4) : name;
    if (IsRunFile(base) || base == "config.textproto" || name == "logs") {
      doomed.push_back(entry.path());
    }
  }
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot list ", run_dir, ": ", error.message()));
  }
  for (const std::filesystem::path& path : doomed) {
    std::filesystem::remove_all(path, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("--overwrite: cannot remove ", path.string(), ": ", error.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> RunFilesIn(const std::string& run_dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (IsRunFile(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir,
                           bool overwrite) {
  if (const std::vector<std::string> files = RunFilesIn(run_dir); !files.empty()) {
    if (!overwrite) {
      return absl::FailedPreconditionError(
          absl::StrCat("run directory ", run_dir, " holds a run (", absl::StrJoin(files, ", "),
                       "): continue it with --resume ", run_dir,
                       ", replace it with --overwrite, or choose another --run_dir"));
    }
    GORL_RETURN_IF_ERROR(RemoveRun(run_dir));
    LOG(WARNING) << "--overwrite: removed the earlier run in " << run_dir;
  }
  GORL_RETURN_IF_ERROR(MakeDirs(run_dir));
  std::ofstream out(run_dir + "/config.textproto");
  out << ConfigToText(config);
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", run_dir, "/config.textproto"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SavedRun> LoadSavedRun(const std::string& run_dir,
                                      learner::UnreadableLatest unreadable) {
  SavedRun run;
  GORL_ASSIGN_OR_RETURN(run.config, LoadPreset(run_dir + "/config.textproto"));
  GORL_RETURN_IF_ERROR(ValidateConfig(run.config));
  GORL_ASSIGN_OR_RETURN(run.checkpoint, learner::LoadRunCheckpoint(run_dir, unreadable));
  return run;
}

bool HasCheckpoint(const std::string& run_dir) {
  std::error_code error;
  return std::filesystem::exists(learner::CheckpointPath(run_dir), error) ||
         std::filesystem::exists(learner::PreviousCheckpointPath(run_dir), error);
}

absl::StatusOr<std::optional<SavedRun>> LoadSavedRunIfPresent(const std::string& run_dir,
                                                              const v1::TrainConfig& config) {
  if (!HasCheckpoint(run_dir)) return std::nullopt;
  GORL_ASSIGN_OR_RETURN(SavedRun saved, LoadSavedRun(run_dir));
  if (const std::vector<ConfigChange> changes = ConfigChanges(saved.config, config);
      !changes.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("run directory ", run_dir,
                     " holds a run started with another configuration (saved -> now: ",
                     FormatConfigChanges(changes), "): restore the configuration, or start a ",
                     "new run with another --run_dir or --overwrite"));
  }
  return std::optional<SavedRun>(std::move(saved));
}

}  // namespace gorl::runtime
