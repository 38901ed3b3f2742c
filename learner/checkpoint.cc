#include "learner/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

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

absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const absl::Status status = ErrnoError("cannot write", tmp);
      close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  // The data must be on disk before the rename makes it the file: otherwise
  // a crash could leave a renamed but empty file.
  if (fsync(fd) != 0) {
    const absl::Status status = ErrnoError("cannot fsync", tmp);
    close(fd);
    return status;
  }
  if (close(fd) != 0) return ErrnoError("cannot close", tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot rename to", path);
  // And the rename itself must survive a crash.
  const std::string dir = DirectoryOf(path);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("cannot open directory", dir);
  const int synced = fsync(dir_fd);
  close(dir_fd);
  if (synced != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::Status WriteCheckpoint(v1::LearnerCheckpoint checkpoint, const std::string& path) {
  checkpoint.set_format_version(kCheckpointFormatVersion);
  checkpoint.set_checksum(Checksum(checkpoint));
  std::string bytes;
  if (!checkpoint.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("cannot serialise the checkpoint for ", path));
  }
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
