#include "runtime/rollout_queue.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"

namespace gorl::runtime {
namespace {

// How often a blocked producer checks whether its sender went away.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

int64_t Bytes(const v1::Rollout& rollout) { return static_cast<int64_t>(rollout.ByteSizeLong()); }

}  // namespace

RolloutQueue::RolloutQueue(int64_t capacity, int64_t capacity_bytes)
    : capacity_(std::max<int64_t>(1, capacity)),
      capacity_bytes_(std::max<int64_t>(1, capacity_bytes)) {}

RolloutQueue::PushResult RolloutQueue::Push(v1::Rollout rollout,
                                            const std::function<bool()>& cancelled) {
  const int64_t bytes = Bytes(rollout);
  absl::MutexLock lock(&mu_);
  while (true) {
    if (closed_) return PushResult::kClosed;
    if (rollout.encoder_version() < min_version_) return PushResult::kStale;
    if (queue_.empty() || (queued_sequences_ + rollout.num_envs() <= capacity_ &&
                           queued_bytes_ + bytes <= capacity_bytes_)) {
      break;
    }
    if (!producers_wait_) return PushResult::kFull;
    ++blocked_producers_;
    changed_.WaitWithTimeout(&mu_, kCancelPoll);
    --blocked_producers_;
    if (cancelled && cancelled()) return PushResult::kCancelled;
  }
  queued_sequences_ += rollout.num_envs();
  queued_bytes_ += bytes;
  queue_.push_back(std::move(rollout));
  changed_.SignalAll();
  return PushResult::kQueued;
}

void RolloutQueue::PushFront(v1::Rollout rollout) {
  absl::MutexLock lock(&mu_);
  if (closed_ || rollout.encoder_version() < min_version_) return;
  queued_sequences_ += rollout.num_envs();
  queued_bytes_ += Bytes(rollout);
  queue_.push_front(std::move(rollout));
  changed_.SignalAll();
}

std::optional<v1::Rollout> RolloutQueue::Pop(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  while (!closed_ && queue_.empty() && !changed_.WaitWithDeadline(&mu_, deadline)) {
  }
  if (closed_ || queue_.empty()) return std::nullopt;
  v1::Rollout rollout = std::move(queue_.front());
  queue_.pop_front();
  queued_sequences_ -= rollout.num_envs();
  queued_bytes_ -= Bytes(rollout);
  changed_.SignalAll();  // a producer may be waiting for space
  return rollout;
}

int64_t RolloutQueue::SetMinVersion(int64_t version) {
  absl::MutexLock lock(&mu_);
  if (version <= min_version_) return 0;
  min_version_ = version;
  const size_t before = queue_.size();
  std::deque<v1::Rollout> kept;
  for (v1::Rollout& r : queue_) {
    if (r.encoder_version() >= min_version_) {
      kept.push_back(std::move(r));
    } else {
      queued_sequences_ -= r.num_envs();
      queued_bytes_ -= Bytes(r);
    }
  }
  queue_ = std::move(kept);
  changed_.SignalAll();  // blocked producers re-check staleness and space
  return static_cast<int64_t>(before - queue_.size());
}

void RolloutQueue::SetProducersWait(bool wait) {
  absl::MutexLock lock(&mu_);
  producers_wait_ = wait;
  changed_.SignalAll();
}

void RolloutQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  changed_.SignalAll();
}

int64_t RolloutQueue::min_version() const {
  absl::MutexLock lock(&mu_);
  return min_version_;
}

int RolloutQueue::blocked_producers() const {
  absl::MutexLock lock(&mu_);
  return blocked_producers_;
}

int64_t RolloutQueue::queued_sequences() const {
  absl::MutexLock lock(&mu_);
  return queued_sequences_;
}

int64_t RolloutQueue::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

int RolloutQueue::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

}  // namespace gorl::runtime
