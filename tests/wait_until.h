// Waiting on observable state in tests: poll a condition until it holds or
// a generous deadline passes. CI runs on a busy 2-core machine, so tests
// never sleep for a fixed time and hope; they wait for the state they need
// and fail (instead of hanging) only when it never comes.
#ifndef GORL_TESTS_WAIT_UNTIL_H_
#define GORL_TESTS_WAIT_UNTIL_H_

#include <chrono>
#include <functional>
#include <thread>

namespace gorl::testing {

// Default deadline: far beyond what any awaited event takes on a loaded
// machine, short enough that a broken test fails within CI's time.
inline constexpr std::chrono::seconds kPatience(60);

// True once `condition()` holds; false if it still does not after `timeout`.
inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace gorl::testing

#endif  // GORL_TESTS_WAIT_UNTIL_H_
