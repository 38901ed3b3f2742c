// Child processes (the `gorl train` launcher, multi-process tests): fork +
// exec with a clean signal mask, their own process group (a terminal's
// Ctrl-C reaches only the parent, which shuts them down in order) and
// PR_SET_PDEATHSIG, so that a child never outlives a parent that crashed.
#ifndef GORL_RUNTIME_SUBPROCESS_H_
#define GORL_RUNTIME_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gorl::runtime {

// Exec'd in a child, the very binary its parent runs, even after a rebuild
// or an upgrade replaced the file at the parent's path: a sweep's later runs
// and a run's restarted roles stay the version that started them.
inline constexpr char kThisExecutable[] = "/proc/self/exe";

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is the program path
  std::string executable;         // the file to exec ("" = argv[0]), e.g. kThisExecutable
  std::vector<std::string> env;   // extra KEY=VALUE entries
  bool capture_stdout = false;    // read it with ReadLine
  std::string stderr_path;        // append stderr there ("" = inherit)
};

class Child {
 public:
  static absl::StatusOr<std::unique_ptr<Child>> Spawn(const ChildOptions& options);
  // One owner of the process and the pipe: a copy would kill / reap the
  // child and close the fd twice. (No move either: declaring the copy
  // operations suppresses the implicit moves; hold a Child by unique_ptr.)
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Kills (SIGKILL) and reaps a child that is still running.
  ~Child();

  pid_t pid() const { return pid_; }
  // The next line of the captured stdout (without the newline), waiting up
  // to `timeout`; nullopt on timeout or end of output.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  bool stdout_closed() const { return stdout_fd_ < 0 && buffer_.empty(); }

  void Signal(int signal);
  // Reaps the child if it has exited; true once it has.
  bool Poll();
  // Waits up to `timeout` for it to exit; true once it has.
  bool Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns exit_code().
  int Terminate(std::chrono::milliseconds grace);
  bool exited() const { return exited_; }
  // The exit status, or 128 + signal for a child killed by a signal.
  int exit_code() const { return exit_code_; }

 private:
  Child(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  std::string buffer_;
  bool exited_ = false;
  int exit_code_ = -1;
};

// The path of the running executable (/proc/self/exe's target), also once
// that file was replaced (the kernel then appends " (deleted)", dropped
// here): the place to show in argv[0] and to find files installed beside
// it. To run this same binary again, exec kThisExecutable.
absl::StatusOr<std::string> SelfExecutable();

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_SUBPROCESS_H_
