// A run directory: where a training run keeps config.textproto,
// metrics.jsonl, checkpoint.pb, decoders, final_eval.json and, under the
// launcher, logs/. A run is resumed from its directory alone.
#ifndef GORL_RUNTIME_RUN_DIRECTORY_H_
#define GORL_RUNTIME_RUN_DIRECTORY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"

namespace gorl::runtime {

// `mkdir -p`.
absl::Status MakeDirs(const std::string& path);

// runs/<task>-<algo>-s<seed>-<local time>, relative to the working directory.
std::string DefaultRunDir(const v1::TrainConfig& config);

// Creates `run_dir` and writes `config` there as config.textproto.
absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir);

// What an interrupted run left to continue from.
struct SavedRun {
  v1::TrainConfig config;            // <run_dir>/config.textproto, validated
  v1::LearnerCheckpoint checkpoint;  // <run_dir>/checkpoint.pb
};

absl::StatusOr<SavedRun> LoadSavedRun(const std::string& run_dir);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_RUN_DIRECTORY_H_
