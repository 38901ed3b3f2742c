#include "runtime/rollout_queue.h"

#include <algorithm>
#include <utility>

namespace gorl::runtime {
namespace {

// How often a blocked producer checks whether its sender went away.
constexpr std::chrono::milliseconds kCancelPoll(100);

}  // namespace

RolloutQueue::RolloutQueue(int64_t capacity) : capacity_(std::max<int64_t>(1, capacity)) {}

RolloutQueue::PushResult RolloutQueue::Push(v1::Rollout rollout,
                                            const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (closed_) return PushResult::kClosed;
    if (rollout.encoder_version() < min_version_) return PushResult::kStale;
    if (queue_.empty() || queued_sequences_ + rollout.num_envs() <= capacity_) break;
    if (!producers_wait_) return PushResult::kFull;
    changed_.wait_for(lock, kCancelPoll);
    if (cancelled && cancelled()) return PushResult::kCancelled;
  }
  queued_sequences_ += rollout.num_envs();
  queue_.push_back(std::move(rollout));
  changed_.notify_all();
  return PushResult::kQueued;
}

void RolloutQueue::PushFront(v1::Rollout rollout) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || rollout.encoder_version() < min_version_) return;
  queued_sequences_ += rollout.num_envs();
  queue_.push_front(std::move(rollout));
  changed_.notify_all();
}

std::optional<v1::Rollout> RolloutQueue::Pop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  if (closed_ || queue_.empty()) return std::nullopt;
  v1::Rollout rollout = std::move(queue_.front());
  queue_.pop_front();
  queued_sequences_ -= rollout.num_envs();
  changed_.notify_all();  // a producer may be waiting for space
  return rollout;
}

int64_t RolloutQueue::SetMinVersion(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (version <= min_version_) return 0;
  min_version_ = version;
  const size_t before = queue_.size();
  std::deque<v1::Rollout> kept;
  for (v1::Rollout& r : queue_) {
    if (r.encoder_version() >= min_version_) {
      kept.push_back(std::move(r));
    } else {
      queued_sequences_ -= r.num_envs();
    }
  }
  queue_ = std::move(kept);
  changed_.notify_all();  // blocked producers re-check staleness and space
  return static_cast<int64_t>(before - queue_.size());
}

void RolloutQueue::SetProducersWait(bool wait) {
  std::lock_guard<std::mutex> lock(mu_);
  producers_wait_ = wait;
  changed_.notify_all();
}

void RolloutQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

int64_t RolloutQueue::min_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return min_version_;
}

int64_t RolloutQueue::queued_sequences() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_sequences_;
}

int RolloutQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

}  // namespace gorl::runtime
