// A fixed set of threads that run one parallel-for at a time.
//
// Built for the actor's hot loop: a vector-env step is a few to a few hundred
// microseconds, so waking workers through a condition variable alone would
// cost as much as the work. Workers spin briefly on an atomic generation
// counter before they block. The calling thread takes the first shard itself.
#ifndef GORL_COMMON_WORKER_POOL_H_
#define GORL_COMMON_WORKER_POOL_H_

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace gorl {

class WorkerPool {
 public:
  // `num_threads` >= 1 counts the caller; num_threads - 1 threads are started.
  explicit WorkerPool(int num_threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(shard) for shard in [0, num_threads()) in parallel and returns
  // when all calls have returned. Not reentrant.
  void Run(const std::function<void(int shard)>& fn);

 private:
  void WorkerLoop(int shard);

  const int num_threads_;
  std::vector<std::thread> threads_;
  // The data workers read travels through atomics, not a lock: job_ is
  // published by the release-increment of generation_ and read after its
  // acquire-load, so spinning workers never touch a mutex.
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // Guards no data: it orders a thread going to sleep on wake_ / done_
  // against the change of generation_ / pending_ it waits for, so that no
  // wake-up is lost between the check and the wait.
  absl::Mutex mu_;
  absl::CondVar wake_;
  absl::CondVar done_;
};

}  // namespace gorl

#endif  // GORL_COMMON_WORKER_POOL_H_
