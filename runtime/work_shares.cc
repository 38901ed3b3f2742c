#include "runtime/work_shares.h"

#include <algorithm>
#include <utility>

#include "common/random.h"

namespace gorl::runtime {
namespace {

uint64_t ShareSeed(uint64_t seed, int share, int shares) {
  return shares == 1 ? seed : DeriveSeed(seed, static_cast<uint64_t>(share));
}

}  // namespace

std::vector<v1::Work> SplitCollect(int64_t pairs, int num_envs, uint64_t seed, int shares) {
  const int k = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({shares, num_envs, std::max<int64_t>(1, pairs)})));
  std::vector<v1::Work> works;
  int envs_before = 0;
  for (int j = 0; j < k; ++j) {
    const int envs = num_envs / k + (j < num_envs % k ? 1 : 0);
    // Pairs in proportion to envs, cumulative so that they sum to `pairs`.
    const int64_t begin = pairs * envs_before / num_envs;
    envs_before += envs;
    const int64_t end = pairs * envs_before / num_envs;
    v1::Work& work = works.emplace_back();
    work.set_mode(v1::ACTOR_MODE_COLLECT);
    work.mutable_collect()->set_pairs(end - begin);
    work.mutable_collect()->set_num_envs(envs);
    work.mutable_collect()->set_seed(ShareSeed(seed, j, k));
  }
  return works;
}

std::vector<v1::Work> SplitEval(int episodes, bool deterministic, uint64_t seed, int shares) {
  const int k = std::max(1, std::min(shares, episodes));
  std::vector<v1::Work> works;
  for (int j = 0; j < k; ++j) {
    v1::Work& work = works.emplace_back();
    work.set_mode(v1::ACTOR_MODE_EVAL);
    work.mutable_eval()->set_episodes(episodes / k + (j < episodes % k ? 1 : 0));
    work.mutable_eval()->set_deterministic(deterministic);
    work.mutable_eval()->set_seed(ShareSeed(seed, j, k));
  }
  return works;
}

void ShareBoard::Start(std::vector<v1::Work> shares) {
  shares_.clear();
  for (v1::Work& work : shares) shares_.emplace_back().work = std::move(work);
}

std::vector<ShareBoard::Share> ShareBoard::Finish() { return std::exchange(shares_, {}); }

bool ShareBoard::AllDone() const {
  return std::all_of(shares_.begin(), shares_.end(),
                     [](const Share& s) { return s.state == State::kDone; });
}

const v1::Work* ShareBoard::Assign(uint64_t owner, Clock::time_point now) {
  for (Share& share : shares_) {
    if (share.state != State::kPending) continue;
    share.state = State::kAssigned;
    share.owner = owner;
    share.assigned_at = now;
    return &share.work;
  }
  return nullptr;
}

bool ShareBoard::Holds(uint64_t owner) const {
  return std::any_of(shares_.begin(), shares_.end(), [&](const Share& s) {
    return s.state == State::kAssigned && s.owner == owner;
  });
}

void ShareBoard::Reset(Share& share) {
  share.state = State::kPending;
  share.owner = 0;
  share.pairs.Clear();
  share.report.Clear();
}

bool ShareBoard::Release(uint64_t owner) {
  bool released = false;
  for (Share& share : shares_) {
    if (share.state == State::kAssigned && share.owner == owner) {
      Reset(share);
      released = true;
    }
  }
  return released;
}

std::vector<uint64_t> ShareBoard::Expire(Clock::time_point assigned_before) {
  std::vector<uint64_t> owners;
  for (Share& share : shares_) {
    if (share.state == State::kAssigned && share.assigned_at < assigned_before) {
      owners.push_back(share.owner);
      Reset(share);
    }
  }
  return owners;
}

ShareBoard::Share* ShareBoard::Find(uint64_t work_id, uint64_t owner) {
  for (Share& share : shares_) {
    if (share.work.id() == work_id && share.state == State::kAssigned && share.owner == owner) {
      return &share;
    }
  }
  return nullptr;
}

int ShareBoard::pending() const {
  return static_cast<int>(std::count_if(shares_.begin(), shares_.end(),
                                        [](const Share& s) { return s.state == State::kPending; }));
}

}  // namespace gorl::runtime
