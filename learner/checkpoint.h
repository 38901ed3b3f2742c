// Reading and writing <run_dir>/checkpoint.pb (a binary
// gorl.v1.LearnerCheckpoint) and other run files.
//
// A checkpoint is written atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves either the old or the new one, never half of
// one. It carries a checksum of its own bytes, so a file damaged later (a
// flipped bit in a weight parses as a valid message) is refused too.
#ifndef GORL_LEARNER_CHECKPOINT_H_
#define GORL_LEARNER_CHECKPOINT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/checkpoint.pb.h"

namespace gorl::learner {

// LearnerCheckpoint.format_version written by this build; a reader refuses others.
inline constexpr int kCheckpointFormatVersion = 1;

// The checkpoint file of a run directory.
std::string CheckpointPath(const std::string& run_dir);

// Replaces `path` with `bytes` atomically (see above).
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes);

// Stamps the format version and checksum and writes `checkpoint` to `path`.
absl::Status WriteCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& path);

// Reads a checkpoint: NotFound when the file is missing, InvalidArgument
// (naming the file) when it does not parse, has another format version or a
// wrong checksum. The contents are checked against a run by
// TrainingLoop::Resume and PpoLearner::RestoreState.
absl::StatusOr<v1::LearnerCheckpoint> ReadCheckpoint(const std::string& path);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_CHECKPOINT_H_
