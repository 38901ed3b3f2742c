// The learner's bounded input queue of train-mode unrolls.
//
//   Send handlers --Push (blocks while full)--> [ capacity ] --Pop--> GatherRollouts
//
// Capacity, in env-unroll sequences, is small on purpose (SEED, cleanba:
// about one batch): a full queue blocks the producing Send handler, which
// stops reading its stream, and gRPC flow control then blocks the actor. So memory stays bounded
// however fast actors are. The queue is bounded in bytes too (the rollouts'
// wire size): sequences alone would let a peer fill it with few, large
// rollouts (padded with unknown fields, say, before the fleet discarded
// them), and the byte bound is what the learner's RSS answers to. Rollouts older than the minimum
// version are stale: they are refused on Push and dropped from the queue when the minimum rises.
// Producers only wait while the learner is training; otherwise a full queue drops (nobody would
// drain it, and the actor's later messages, e.g. eval reports, must not wait behind a rollout).
// Thread-safe.
#ifndef GORL_RUNTIME_ROLLOUT_QUEUE_H_
#define GORL_RUNTIME_ROLLOUT_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::runtime {

class RolloutQueue {
 public:
  enum class PushResult { kQueued, kStale, kFull, kClosed, kCancelled };

  // `capacity` in sequences (envs x rollouts, >= 1), `capacity_bytes` in
  // serialized bytes (>= 1). A rollout always fits into an empty queue,
  // whatever its size (the transport's message limit bounds that).
  explicit RolloutQueue(int64_t capacity,
                        int64_t capacity_bytes = std::numeric_limits<int64_t>::max());
  RolloutQueue(const RolloutQueue&) = delete;
  RolloutQueue& operator=(const RolloutQueue&) = delete;

  // Queues `rollout`, waiting while the queue is full and producers wait.
  // `cancelled` is polled while waiting (the sender went away).
  PushResult Push(v1::Rollout rollout, const std::function<bool()>& cancelled);

  // Returns the rest of a rollout the consumer split to the head of the
  // queue (may exceed the capacity by this one rollout).
  void PushFront(v1::Rollout rollout);

  // The oldest rollout, waiting up to `timeout`; nullopt on timeout or close.
  std::optional<v1::Rollout> Pop(std::chrono::milliseconds timeout);

  // Rollouts of an older encoder version are stale from now on; returns how
  // many queued ones were dropped. The minimum never decreases.
  int64_t SetMinVersion(int64_t version);

  // Whether producers wait for space (learner training) or drop when full.
  void SetProducersWait(bool wait);

  // Wakes everyone; later pushes return kClosed and pops nullopt.
  void Close();

  int64_t min_version() const;
  // Producers waiting for space right now (senders held back by backpressure).
  int blocked_producers() const;
  int64_t queued_sequences() const;  // envs x rollouts waiting
  int64_t queued_bytes() const;      // their serialized size
  int size() const;

 private:
  const int64_t capacity_;
  const int64_t capacity_bytes_;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // signalled whenever anything below changes
  std::deque<v1::Rollout> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t min_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool producers_wait_ ABSL_GUARDED_BY(mu_) = true;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_producers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ROLLOUT_QUEUE_H_
