// One writer per run directory. The process that trains a run (a learner
// role, `gorl train --in_process`) holds an exclusive flock(2) on
// <run_dir>/.lock for as long as it runs, and whatever is about to write a
// run directory (a new run, --overwrite, --resume, a fork into it) takes the
// lock first. A second writer would interleave rows in metrics.jsonl and
// rotate checkpoints under the first; with the lock it is refused, naming
// the process that holds the directory. The kernel drops the lock when its
// holder exits, crashes and SIGKILL included, so no stale lock outlives a
// run (unlike a pid file).
#ifndef GORL_RUNTIME_RUN_LOCK_H_
#define GORL_RUNTIME_RUN_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace gorl::runtime {

class RunLock {
 public:
  // Locks `run_dir`, creating it first when `create` (a new run): NotFound
  // when it does not exist, FailedPrecondition naming the holder's pid when
  // another process (or another RunLock) holds it.
  static absl::StatusOr<RunLock> Acquire(const std::string& run_dir, bool create = false);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_RUN_LOCK_H_
