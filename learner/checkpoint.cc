#include "learner/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace gorl::learner {
namespace {

uint64_t Fnv1a64(const std::string& bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// The checksum of `checkpoint` as if its checksum field were unset. Fields
// are serialised in field-number order and the message has no maps, so the
// bytes (and the hash) are the same for the writer and the reader.
uint64_t Checksum(const v1::LearnerCheckpoint& checkpoint) {
  v1::LearnerCheckpoint copy = checkpoint;
  copy.clear_checksum();
  return Fnv1a64(copy.SerializeAsString());
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string CheckpointPath(const std::string& run_dir) { return run_dir + "/checkpoint.pb"; }

std::string PreviousCheckpointPath(const std::string& run_dir) {
  return run_dir + "/checkpoint.prev.pb";
}

std::string BoundaryCheckpointPath(const std::string& run_dir, int stage) {
  return absl::StrCat(run_dir, "/checkpoint_boundary", stage, ".pb");
}

namespace {

// Writes `bytes` to `tmp` and makes them durable (fsync). On any failure
// (a full disk: ENOSPC, or EFBIG past RLIMIT_FSIZE) the half-written temp
// file is removed, so a failed write leaves nothing behind.
absl::Status WriteDurableTemp(const std::string& tmp, const std::string& bytes) {
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  absl::Status status;
  size_t written = 0;
  while (status.ok() && written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoError("cannot write", tmp);
    } else {
      written += static_cast<size_t>(n);
    }
  }
  // The data must be on disk before the rename makes it the file: otherwise
  // a crash could leave a renamed but empty file.
  if (status.ok() && fsync(fd) != 0) status = ErrnoError("cannot fsync", tmp);
  if (close(fd) != 0 && status.ok()) status = ErrnoError("cannot close", tmp);
  if (!status.ok()) unlink(tmp.c_str());
  return status;
}

// Makes the renames into `path`'s directory survive a crash.
absl::Status SyncDirectoryOf(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("cannot open directory", dir);
  const int synced = fsync(dir_fd);
  close(dir_fd);
  if (synced != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointBytes(v1::LearnerCheckpoint checkpoint,
                                            const std::string& path) {
  checkpoint.set_format_version(kCheckpointFormatVersion);
  checkpoint.set_checksum(Checksum(checkpoint));
  std::string bytes;
  if (!checkpoint.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("cannot serialise the checkpoint for ", path));
  }
  return bytes;
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  GORL_RETURN_IF_ERROR(WriteDurableTemp(tmp, bytes));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoError("cannot rename to", path);
    unlink(tmp.c_str());
    return status;
  }
  return SyncDirectoryOf(path);
}

absl::Status SaveRunCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& run_dir) {
  const std::string path = CheckpointPath(run_dir);
  const std::string previous = PreviousCheckpointPath(run_dir);
  const std::string tmp = path + ".tmp";
  GORL_ASSIGN_OR_RETURN(const std::string bytes, CheckpointBytes(std::move(checkpoint), path));
  // The new checkpoint is complete on disk before the old one moves aside:
  // a failed write (full disk) changes neither file.
  GORL_RETURN_IF_ERROR(WriteDurableTemp(tmp, bytes));
  // A crash between the two renames leaves only checkpoint.prev.pb, which
  // LoadRunCheckpoint falls back to.
  if (std::rename(path.c_str(), previous.c_str()) != 0 && errno != ENOENT) {
    absl::Status status = ErrnoError("cannot rename to", previous);
    unlink(tmp.c_str());
    return status;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoError("cannot rename to", path);
    unlink(tmp.c_str());
    return status;
  }
  return SyncDirectoryOf(path);
}

absl::StatusOr<v1::LearnerCheckpoint> LoadRunCheckpoint(const std::string& run_dir,
                                                        UnreadableLatest unreadable) {
  absl::StatusOr<v1::LearnerCheckpoint> latest = ReadCheckpoint(CheckpointPath(run_dir));
  if (latest.ok()) return latest;
  absl::StatusOr<v1::LearnerCheckpoint> previous = ReadCheckpoint(PreviousCheckpointPath(run_dir));
  if (!previous.ok()) {
    if (previous.status().code() == absl::StatusCode::kNotFound) return latest.status();
    return absl::Status(latest.status().code(),
                        absl::StrCat(latest.status().message(), "; and the previous checkpoint: ",
                                     previous.status().message()));
  }
  // An unreadable latest is set aside (kept for inspection): left in place,
  // the next save would rotate it over the good previous checkpoint.
  const std::string latest_path = CheckpointPath(run_dir);
  if (unreadable == UnreadableLatest::kSetAside &&
      latest.status().code() != absl::StatusCode::kNotFound) {
    const std::string aside = latest_path + ".unreadable";
    if (std::rename(latest_path.c_str(), aside.c_str()) != 0) {
      return ErrnoError("cannot set the unreadable checkpoint aside as", aside);
    }
  }
  LOG(WARNING) << "the latest checkpoint is unreadable (" << latest.status()
               << "); continuing from the previous one, " << PreviousCheckpointPath(run_dir)
               << " (stage " << previous->stage() << ", iteration " << previous->iteration()
               << "): the iterations after it are redone";
  return previous;
}

absl::Status WriteCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& path) {
  GORL_ASSIGN_OR_RETURN(const std::string bytes, CheckpointBytes(std::move(checkpoint), path));
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<v1::LearnerCheckpoint> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  v1::LearnerCheckpoint checkpoint;
  if (!checkpoint.ParseFromString(bytes.str())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is corrupted: not a gorl.v1.LearnerCheckpoint"));
  }
  if (checkpoint.format_version() != kCheckpointFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": checkpoint format_version ", checkpoint.format_version(),
                     ", this build reads version ", kCheckpointFormatVersion));
  }
  if (Checksum(checkpoint) != checkpoint.checksum()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is corrupted: its checksum does not match its contents"));
  }
  return checkpoint;
}

}  // namespace gorl::learner
