// Reshaping gorl.v1 messages for transport: cutting a rollout into env
// slices, cutting pairs into bounded chunks and joining them again.
#ifndef GORL_RUNTIME_MESSAGE_OPS_H_
#define GORL_RUNTIME_MESSAGE_OPS_H_

#include <cstddef>
#include <vector>

#include "gorl/v1/policy.pb.h"

namespace gorl::runtime {

// Envs [first, first + count) of a (valid) rollout. Finished-episode
// statistics cannot be attributed to envs; they stay with the slice that
// starts at env 0.
v1::Rollout SliceEnvs(const v1::Rollout& rollout, int first, int count);

// Splits (valid) pairs into chunks whose serialised size stays under
// `max_bytes` (always at least one chunk, possibly empty).
std::vector<v1::RefinementData> SplitPairs(const v1::RefinementData& data, size_t max_bytes);

// Appends the pairs of `chunk` (same sizes) to `into`.
void AppendPairs(const v1::RefinementData& chunk, v1::RefinementData& into);

inline int64_t NumPairs(const v1::RefinementData& data) {
  return data.obs_size() > 0 ? data.observations_size() / data.obs_size() : 0;
}

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_MESSAGE_OPS_H_
