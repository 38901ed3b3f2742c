// Collect and eval requests cut into shares that actors work on in
// parallel, and the board that tracks who holds which share.
//
//   Split -> [pending] --Assign--> [assigned to actor] --Complete--> [done]
//                 ^                        |
//                 +--- Release (actor left) / Expire (timed out)
//
// Results are joined in share order, so a run is reproducible for a given
// number of shares whichever actor did what. A request cut into one share
// uses the request's seed unchanged and reproduces the in-process run.
#ifndef GORL_RUNTIME_WORK_SHARES_H_
#define GORL_RUNTIME_WORK_SHARES_H_

#include <chrono>
#include <cstdint>
#include <vector>

#include "gorl/v1/policy.pb.h"

namespace gorl::runtime {

// `pairs` from `num_envs` envs in at most `shares` shares (fewer when there
// are fewer envs or pairs); each share keeps the request's pairs per env.
// Work ids are left 0.
std::vector<v1::Work> SplitCollect(int64_t pairs, int num_envs, uint64_t seed, int shares);

// `episodes` episodes in at most `shares` shares.
std::vector<v1::Work> SplitEval(int episodes, bool deterministic, uint64_t seed, int shares);

// Not thread-safe: the actor group uses it under its own lock. Owners are
// actor session numbers.
class ShareBoard {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kPending, kAssigned, kDone };
  struct Share {
    v1::Work work;
    State state = State::kPending;
    uint64_t owner = 0;
    Clock::time_point assigned_at;
    // Results so far (collect chunks arrive one by one).
    v1::RefinementData pairs;
    v1::EvalReport report;
  };

  // Replaces the job with `shares` (their work ids must be set and unique).
  void Start(std::vector<v1::Work> shares);
  // Ends the job and returns its shares in order.
  std::vector<Share> Finish();

  bool active() const { return !shares_.empty(); }
  bool AllDone() const;
  // The first pending share, now assigned to `owner`; nullptr if none.
  const v1::Work* Assign(uint64_t owner, Clock::time_point now);
  // Whether `owner` holds an unfinished share.
  bool Holds(uint64_t owner) const;
  // Takes back `owner`'s unfinished share (its results so far are dropped).
  // Returns whether it held one.
  bool Release(uint64_t owner);
  // Takes back shares assigned before `assigned_before`; returns their owners.
  std::vector<uint64_t> Expire(Clock::time_point assigned_before);
  // The share `work_id` while `owner` holds it unfinished, else nullptr.
  Share* Find(uint64_t work_id, uint64_t owner);
  void Complete(Share& share) { share.state = State::kDone; }
  int pending() const;

 private:
  static void Reset(Share& share);
  std::vector<Share> shares_;
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_WORK_SHARES_H_
