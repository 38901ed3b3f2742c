// Test helpers for the multi-process tests: real `gorl` role processes
// (GORL_BINARY) on loopback with tiny twin-peaks configurations, their
// "listening" and "progress" lines, and their run directories.
#ifndef GORL_TESTS_RUNTIME_ROLE_PROCESSES_H_
#define GORL_TESTS_RUNTIME_ROLE_PROCESSES_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/subprocess.h"

namespace gorl::runtime::testing {

// 160 env steps per PPO iteration, tiny networks, a refinement of 2,000
// pairs: a stage cycle takes about a second.
const std::vector<std::string>& TinyRun();

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b);

bool Exists(const std::string& path);

// Starts `gorl <args...>` with stdout captured and stderr appended to `log`
// (OMP_NUM_THREADS=1); null (and a test failure) when it cannot.
std::unique_ptr<Child> StartGorl(const std::vector<std::string>& args, const std::string& log);

// The address from the role's {"event": "listening", ...} line ("" and a
// test failure when none comes within 60 s).
std::string AwaitListening(Child& child);

// The rows of a run directory's metrics.jsonl whose event is `event`, in order.
std::vector<std::string> EventRows(const std::string& run_dir, const std::string& event);

// The "actors" field (actors connected at that update) of every update row.
std::vector<int> ActorsPerUpdate(const std::string& run_dir);

// The "rollout_actors" field (distinct actors whose rollouts made that
// update's batch) of every update row.
std::vector<int> RolloutActorsPerUpdate(const std::string& run_dir);

// The value of the first sample of `family` on a role's metrics endpoint
// (127.0.0.1:`port`) whose labels contain every `label="value"` string in
// `labels`; nullopt when the scrape fails or no sample matches.
std::optional<double> ScrapeSample(int port, const std::string& family,
                                   const std::vector<std::string>& labels);

// Reads a learner's progress lines until it exits or `timeout` passes (true
// once it exited); `on_progress` sees each env_steps value. Timeouts are
// generous (CI shares 2 cores): they bound a broken test, not a slow one.
bool WaitReadingProgress(Child& learner, std::chrono::seconds timeout,
                         const std::function<void(int64_t)>& on_progress = nullptr);

}  // namespace gorl::runtime::testing

#endif  // GORL_TESTS_RUNTIME_ROLE_PROCESSES_H_
