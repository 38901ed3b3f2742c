#include "runtime/shutdown_signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include <glog/logging.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gorl::runtime {
namespace {

// Process-wide, never destroyed: the waiting thread may outlive main().
struct State {
  // Held while a callback runs, so that replacing it waits for the old one
  // to return (the objects it touches may be about to go away).
  absl::Mutex callback_mu ABSL_ACQUIRED_BEFORE(mu);
  absl::Mutex mu;
  std::function<void(int)> callback ABSL_GUARDED_BY(mu);
  std::function<void()> last_words ABSL_GUARDED_BY(mu);
  int received ABSL_GUARDED_BY(mu) = 0;
  bool installed ABSL_GUARDED_BY(mu) = false;
};

State& GetState() {
  static State* state = new State;
  return *state;
}

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void WaitForSignals() {
  const sigset_t set = ShutdownSet();
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    std::function<void(int)> callback;
    std::function<void()> last_words;
    bool second = false;
    {
      State& state = GetState();
      absl::MutexLock lock(&state.mu);
      second = state.received != 0;
      if (second) {
        last_words = state.last_words;
      } else {
        state.received = signal;
      }
    }
    if (second) {
      // Second signal: the user means it. Only what would otherwise be left
      // behind on disk is cleaned up first.
      if (last_words) last_words();
      _exit(128 + signal);
    }
    LOG(WARNING) << "received " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
                 << "; shutting down (send it again to exit at once)";
    State& state = GetState();
    absl::MutexLock running(&state.callback_mu);
    {
      // The callback may have been replaced meanwhile.
      absl::MutexLock lock(&state.mu);
      callback = state.callback;
    }
    if (callback) callback(signal);
  }
}

}  // namespace

void InstallShutdownSignals() {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  if (state.installed) return;
  state.installed = true;
  const sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(WaitForSignals).detach();
}

void BeforeImmediateExit(std::function<void()> cleanup) {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  state.last_words = std::move(cleanup);
}

void OnShutdownSignal(std::function<void(int signal)> callback) {
  State& state = GetState();
  absl::MutexLock running(&state.callback_mu);
  int received = 0;
  {
    absl::MutexLock lock(&state.mu);
    state.callback = callback;
    received = state.received;
  }
  if (received != 0 && callback) callback(received);
}

int ShutdownSignalReceived() {
  State& state = GetState();
  absl::MutexLock lock(&state.mu);
  return state.received;
}

}  // namespace gorl::runtime
