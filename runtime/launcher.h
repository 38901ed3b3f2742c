// `gorl train` on one machine: the refiner, the learner and N actors as
// child processes of this binary, talking gRPC over Unix sockets in a
// private temporary directory (or loopback TCP when none can be made).
//
//   refiner (unix:DIR/refiner.sock)  --"listening" line--> launcher
//   learner (unix:DIR/learner.sock, --refiner) --"listening", progress lines-->
//   actor x N (--learner)
//
// The socket names are known in advance, so all of them start at once (the
// actors' Join waits for the learner); with TCP port 0 each role's port is
// known only from its "listening" line and they start one after the other.
// Over TCP the launcher first makes a CA, certificates and a token for the
// run in <run_dir>/tls and starts every role with TLS, mTLS and the token
// (passed as a file), so that no listener is plaintext.
//
// The launcher shows the learner's progress line, restarts a refiner or
// actor that dies (a few times each), forwards SIGINT / SIGTERM by shutting
// every child down, and prints the final result like `--in_process` does.
// Children's logs go to <run_dir>/logs/<role>.log.
//
// The children are this executable (/proc/self/exe) run as `gorl refiner`,
// `gorl learner` and `gorl actor` with --flag=value arguments: those
// commands' flag names are part of this contract (cli/*_command.cc).
#ifndef GORL_RUNTIME_LAUNCHER_H_
#define GORL_RUNTIME_LAUNCHER_H_

#include <string>

#include "gorl/v1/config.pb.h"

namespace gorl::runtime {

inline constexpr int kDefaultStartTimeoutSeconds = 120;

struct LaunchOptions {
  v1::TrainConfig config;
  // Exists and holds config.textproto.
  std::string run_dir;
  // Continue the run from <run_dir>/checkpoint.pb (the learner's --resume).
  bool resume = false;
  int actors = 1;
  // Learner on this port, refiner on +1, actor i on +2+i; 0: not served.
  int metrics_port = 0;
  std::string assets;
  // How long a role has to start listening before the run fails. Loading
  // LibTorch and a checkpoint takes seconds on an idle machine and minutes
  // on one starved by other jobs; the bound catches a role that hangs.
  int start_timeout_s = kDefaultStartTimeoutSeconds;
  // No start-up line, progress line or result on stdout (`gorl bench
  // train`, which times runs; the result is in <run_dir>/final_eval.json).
  // Failures are still reported on stderr.
  bool quiet = false;
};

// Runs the roles to the end of the run. Returns the exit code for the
// whole run: 0, the learner's code when it fails, 1 when the launcher
// cannot go on (a role that never listens, every actor failing), 128 + N
// after signal N. Reports failures on stderr. Needs InstallShutdownSignals()
// first (the launcher polls ShutdownSignalReceived()).
int RunLauncher(const LaunchOptions& options);

// One actor per core the learner leaves spare, at least 1.
int DefaultActorCount();

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_LAUNCHER_H_
