// Seed streams of the roles, shared by the in-process and the distributed
// runtime so that both derive the same seeds from a run's seed.
#ifndef GORL_RUNTIME_SEEDS_H_
#define GORL_RUNTIME_SEEDS_H_

#include <cstdint>

#include "common/random.h"

namespace gorl::runtime {

// Train-mode envs of the `index`-th actor (the in-process driver has one,
// index 0).
inline uint64_t ActorEnvSeed(uint64_t run_seed, uint64_t index) {
  constexpr uint64_t kActorStream = 404;
  return DeriveSeed(run_seed, kActorStream + index);
}

// The refinement that produces decoder `version`.
inline uint64_t RefineSeed(uint64_t run_seed, int64_t version) {
  constexpr uint64_t kRefineStream = 505;
  return DeriveSeed(run_seed, kRefineStream + static_cast<uint64_t>(version));
}

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_SEEDS_H_
