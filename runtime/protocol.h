// Constants of the gorl.v1 wire protocol shared by every role.
#ifndef GORL_RUNTIME_PROTOCOL_H_
#define GORL_RUNTIME_PROTOCOL_H_

#include <cstddef>

namespace gorl::runtime {

// Checked by Learner.Join; bump on any incompatible change of the protos.
// 2: algo, collect_with, refine inputs and device became enums.
// 3: Policy and Send streams carry their session as call metadata (below);
//    session numbers are random and bound to the peer that joined.
inline constexpr int kProtocolVersion = 3;

// Call metadata of the Policy and Send streams: the actor id and the
// session number (decimal) from JoinReply.
inline constexpr char kActorIdMetadata[] = "gorl-actor-id";
inline constexpr char kSessionMetadata[] = "gorl-session";

// Largest message any role accepts. Snapshots and decoders of the paper's
// networks are a few MiB; bulk data (collect results, refinement data) is
// chunked to kChunkBytes, so this is only a safety bound.
inline constexpr int kMaxMessageBytes = 64 << 20;

// Bulk data travels in messages of at most this size (gRPC's default limit,
// so that any peer accepts them).
inline constexpr size_t kChunkBytes = size_t{4} << 20;

// Largest message the refiner accepts: a RefineChunk carries at most
// kChunkBytes of pairs (or the small header), so anything much larger is
// not from a gorl learner. The learner keeps kMaxMessageBytes: an actor's
// rollout (all its envs, one unroll) travels as one message.
inline constexpr int kMaxRefinerMessageBytes = static_cast<int>(kChunkBytes) + (1 << 20);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_PROTOCOL_H_
