// A run directory: where a training run keeps config.textproto,
// metrics.jsonl, checkpoint.pb, decoders, final_eval.json and, under the
// launcher, logs/. A run is resumed from its directory alone.
#ifndef GORL_RUNTIME_RUN_DIRECTORY_H_
#define GORL_RUNTIME_RUN_DIRECTORY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/checkpoint.pb.h"
#include "gorl/v1/config.pb.h"
#include "learner/checkpoint.h"

namespace gorl::runtime {

// `mkdir -p`.
absl::Status MakeDirs(const std::string& path);

// runs/<task>-<algo>-s<seed>-<local time>, relative to the working directory.
std::string DefaultRunDir(const v1::TrainConfig& config);

// The files of a training run found in `run_dir` (checkpoints, metrics.jsonl,
// final_eval.json, decoders, stage policies), by name; empty when it holds none (or does not
// exist). A config.textproto alone is a prepared directory, not a run: the
// launcher prepares the directory before its learner does.
std::vector<std::string> RunFilesIn(const std::string& run_dir);

// Creates `run_dir` and writes `config` there as config.textproto. A
// directory that holds a run (RunFilesIn) is refused (FailedPrecondition,
// exit 2) unless `overwrite`, which first removes the earlier run's files
// (and logs/; nothing else of the directory).
absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir,
                           bool overwrite = false);

// What an interrupted run left to continue from.
struct SavedRun {
  v1::TrainConfig config;  // <run_dir>/config.textproto, validated
  // <run_dir>/checkpoint.pb, or checkpoint.prev.pb (with a warning) when
  // the latest is unreadable.
  v1::LearnerCheckpoint checkpoint;
};

// `unreadable`: see learner::LoadRunCheckpoint (kLeave for a reader that does
// not continue the run).
absl::StatusOr<SavedRun> LoadSavedRun(
    const std::string& run_dir,
    learner::UnreadableLatest unreadable = learner::UnreadableLatest::kSetAside);

// Whether `run_dir` holds a checkpoint (the latest or the previous one) to
// continue from.
bool HasCheckpoint(const std::string& run_dir);

// For a learner restarted by a supervisor (compose, Kubernetes) with the
// same command: the saved run in `run_dir` when it has a checkpoint and was
// started with `config` (else FailedPrecondition naming the differences: a
// changed configuration is a new run, not this one), or nullopt when there is
// nothing to continue.
absl::StatusOr<std::optional<SavedRun>> LoadSavedRunIfPresent(const std::string& run_dir,
                                                              const v1::TrainConfig& config);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_RUN_DIRECTORY_H_
