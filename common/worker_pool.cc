#include "common/worker_pool.h"

#include <chrono>

namespace gorl {
namespace {

// About 20-50 µs of spinning: longer than a typical step, far shorter than a
// scheduler tick, so idle actors do not burn a core.
constexpr int kSpinIterations = 20000;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

WorkerPool::WorkerPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  for (int shard = 1; shard < num_threads_; ++shard) {
    threads_.emplace_back([this, shard] { WorkerLoop(shard); });
  }
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.SignalAll();
  for (std::thread& thread : threads_) thread.join();
}

void WorkerPool::Run(const std::function<void(int)>& fn) {
  if (num_threads_ == 1) {
    fn(0);
    return;
  }
  job_ = &fn;
  pending_.store(num_threads_ - 1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.SignalAll();
  fn(0);
  for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i) {
    CpuRelax();
  }
  if (pending_.load(std::memory_order_acquire) != 0) {
    absl::MutexLock lock(&mu_);
    while (pending_.load(std::memory_order_acquire) != 0) done_.Wait(&mu_);
  }
  job_ = nullptr;
}

void WorkerPool::WorkerLoop(int shard) {
  uint64_t seen = 0;
  while (true) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int i = 0; i < kSpinIterations && current == seen; ++i) {
      CpuRelax();
      current = generation_.load(std::memory_order_acquire);
    }
    if (current == seen) {
      absl::MutexLock lock(&mu_);
      while (generation_.load(std::memory_order_acquire) == seen) wake_.Wait(&mu_);
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stop_.load()) return;
    (*job_)(shard);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      absl::MutexLock lock(&mu_);
      done_.Signal();
    }
  }
}

}  // namespace gorl
