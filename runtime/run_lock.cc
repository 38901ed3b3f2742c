#include "runtime/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "runtime/run_directory.h"

namespace gorl::runtime {
namespace {

// The pid the holder wrote, or "unknown" (it may not have written it yet).
std::string HolderPid(int fd) {
  char text[32] = {};
  const ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  const std::string pid = n > 0 ? std::string(absl::StripAsciiWhitespace(text)) : "";
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

absl::StatusOr<RunLock> RunLock::Acquire(const std::string& run_dir, bool create) {
  if (create) GORL_RETURN_IF_ERROR(MakeDirs(run_dir));
  const std::string path = run_dir + "/.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    return absl::NotFoundError(absl::StrCat("no run directory ", run_dir));
  }
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == ENOLCK || error == EOPNOTSUPP) {
      // A file system without locks (some network mounts): the run goes on,
      // as it did before locks existed, without the guard.
      LOG(WARNING) << "cannot lock " << path << " (" << std::strerror(error)
                   << "): this file system does not enforce one writer per run directory";
      return RunLock(fd);
    }
    const std::string holder = HolderPid(fd);
    close(fd);
    if (error != EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat("cannot lock ", path, ": ", std::strerror(error)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "run directory ", run_dir, " is in use by another gorl process (pid ", holder,
        "): a run has one writer; stop that process first (it leaves a checkpoint), or branch "
        "from the run with `gorl train --fork ",
        run_dir, " --run_dir NEW`"));
  }
  // For the message above; a failure to write it only makes that vaguer.
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // Nothing to do: the lock itself holds.
  }
  return RunLock(fd);
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  // Closing the descriptor releases the lock. The file stays: removing it
  // would let two processes lock two different files of one name.
  if (fd_ >= 0) close(fd_);
}

}  // namespace gorl::runtime
