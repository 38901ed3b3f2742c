// SIGINT / SIGTERM for the long-running subcommands. The signals are
// blocked in every thread and one thread waits for them (sigwait), so the
// reaction runs as ordinary code: it may lock, log and cancel RPCs, which a
// signal handler may not. A second signal ends the process at once.
#ifndef GORL_RUNTIME_SHUTDOWN_SIGNALS_H_
#define GORL_RUNTIME_SHUTDOWN_SIGNALS_H_

#include <functional>

namespace gorl::runtime {

// Blocks SIGINT and SIGTERM and starts the waiting thread. Call before any
// other thread exists (threads inherit the mask); later calls do nothing.
void InstallShutdownSignals();

// `callback` runs on the signal thread at the first signal, or at once if
// one already arrived (it may then run twice: keep it idempotent). Replaces
// the previous callback, waiting for a running one; nullptr clears it.
void OnShutdownSignal(std::function<void(int signal)> callback);

// `cleanup` runs on the signal thread when a second signal is about to end
// the process (no destructor runs then): for files that would be left
// behind, such as the launcher's socket directory. Replaces the previous
// one; nullptr clears it.
void BeforeImmediateExit(std::function<void()> cleanup);

// The first signal received, or 0.
int ShutdownSignalReceived();

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_SHUTDOWN_SIGNALS_H_
