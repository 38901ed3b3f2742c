// The registry of every random stream gorl derives from a seed. A stream is
// DeriveSeed(parent seed, stream id) (common/random.h); two uses that share a
// parent seed and a stream id draw the same numbers, so every id below is
// listed once, here, and tests/common/seed_streams_test.cc checks that no two
// streams of one parent collide for any index a run can reach.
//
// Indexed families (one stream per stage, per actor join, per decoder) keep
// the ids earlier releases used for their first kDenseIndices indices, so
// a given config and seed still reproduce the same run; later indices move
// to a range of their own (family << 40), far above every fixed id.
#ifndef GORL_COMMON_SEED_STREAMS_H_
#define GORL_COMMON_SEED_STREAMS_H_

#include <cstdint>

#include "common/random.h"

namespace gorl {

// Streams of a run's seed (TrainConfig.seed).
enum class SeedStream : uint64_t {
  // Fixed streams.
  kEval = 101,         // evaluation episodes (learner/training_loop.cc)
  kEncoderInit = 701,  // the encoder's initial weights (learner/ppo_learner.cc)
  kCriticInit = 702,   // the critic's initial weights
  kShuffle = 703,      // minibatch shuffles
  kEntropy = 704,      // samples of the tanh-Gaussian entropy estimate
  // Indexed families: the id is the base plus the index.
  kCollect = 202,        // refinement data collection, per stage
  kReinit = 303,         // encoder / critic re-initialisation, per stage
  kActorEnvs = 404,      // an actor's env seed, per join (the in-process actor: 0)
  kRefine = 505,         // a refinement's seed, per decoder version
  kRefineBackoff = 808,  // the learner's retry jitter towards the refiner, per version
  kFidelity = 909,       // held-out states and samples of the refinement fidelity, per stage
};

// Indices below this keep the id base + index.
inline constexpr uint64_t kDenseIndices = 101;

// The stream id of `stream` at `index` (0 for fixed streams).
constexpr uint64_t SeedStreamId(SeedStream stream, uint64_t index = 0) {
  const uint64_t base = static_cast<uint64_t>(stream);
  if (index < kDenseIndices) return base + index;
  // Each family's sparse range starts at (base << 40): disjoint from every
  // dense id (< 2^10) and from each other family's range for index < 2^40.
  return (base << 40) + index;
}

// The seed of `stream` (at `index`) of a run seeded `run_seed`.
inline uint64_t SeedFor(uint64_t run_seed, SeedStream stream, uint64_t index = 0) {
  return DeriveSeed(run_seed, SeedStreamId(stream, index));
}

// Streams of an actor's or vector env's seed (envs::VectorEnv, actor::RolloutWorker).
// Env i uses stream i (i < kLatentNoiseStream).
inline constexpr uint64_t kLatentNoiseStream = uint64_t{1} << 30;  // z ~ N(0, I) draws

// Streams of one refinement's seed (refiner/decoder_trainer.cc).
enum class RefineStream : uint64_t {
  kSplit = 1,       // the train / validation split
  kInit = 2,        // the fresh decoder's weights
  kTrain = 3,       // minibatch order and (t, epsilon) draws
  kValidation = 4,  // the validation loss's (t, epsilon) draws
};
inline uint64_t SeedFor(uint64_t refine_seed, RefineStream stream) {
  return DeriveSeed(refine_seed, static_cast<uint64_t>(stream));
}

// Streams of a collect or eval job's seed cut into shares
// (runtime/work_shares.cc): share k > 0 uses stream k; one share keeps the seed.

// Streams of `gorl eval`'s seed: its random policy's actions.
inline constexpr uint64_t kEvalCommandPolicyStream = uint64_t{1} << 20;

}  // namespace gorl

#endif  // GORL_COMMON_SEED_STREAMS_H_
