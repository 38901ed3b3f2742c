// Reading and writing <run_dir>/checkpoint.pb (a binary
// gorl.v1.LearnerCheckpoint) and other run files.
//
// A run keeps two: checkpoint.pb, the latest, and checkpoint.prev.pb, the
// one before it; a run whose latest is unreadable continues from the
// previous one (LoadRunCheckpoint, with a warning).
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

// The previous checkpoint of a run directory (checkpoint.prev.pb).
std::string PreviousCheckpointPath(const std::string& run_dir);

// The position just before boundary `stage`'s refinement (the end of stage
// `stage`), kept for the whole run: checkpoint_boundary<stage>.pb, what
// `gorl train --fork SRC --boundary K` starts from to redo that refinement.
std::string BoundaryCheckpointPath(const std::string& run_dir, int stage);

// Replaces `path` with `bytes` atomically (see above). A failed write (a
// full disk) leaves `path` as it was and no temp file behind.
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes);

// Writes the run's new checkpoint: the current checkpoint.pb becomes
// checkpoint.prev.pb once the new one is safely on disk. On failure both
// files stay as they were and no temp file is left.
absl::Status SaveRunCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& run_dir);

// What loading does with an unreadable latest checkpoint.
enum class UnreadableLatest {
  // Renames it checkpoint.pb.unreadable, so that the next save of the run
  // that continues keeps the good previous checkpoint (--resume).
  kSetAside,
  // Leaves the run directory as it is: for readers that do not continue
  // the run (a fork of it, a sweep inspecting it), which may be running.
  kLeave,
};

// The run's latest checkpoint, or (with a warning) the previous one when
// the latest is missing or unreadable. The latest's error when neither loads.
absl::StatusOr<v1::LearnerCheckpoint> LoadRunCheckpoint(
    const std::string& run_dir, UnreadableLatest unreadable = UnreadableLatest::kSetAside);

// Stamps the format version and checksum and writes `checkpoint` to `path`.
absl::Status WriteCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& path);

// Reads a checkpoint: NotFound when the file is missing, InvalidArgument
// (naming the file) when it does not parse, has another format version or a
// wrong checksum. The contents are checked against a run by
// TrainingLoop::Resume and PpoLearner::RestoreState.
absl::StatusOr<v1::LearnerCheckpoint> ReadCheckpoint(const std::string& path);

}  // namespace gorl::learner

#endif  // GORL_LEARNER_CHECKPOINT_H_
