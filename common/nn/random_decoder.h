// Torch-free access to a freshly initialised decoder (common/nn/decoder.h
// holds the networks): for callers that must not include LibTorch, such as
// `gorl bench actor`, which times inference through a decoder of the size a
// refinement trains, whatever its weights.
#ifndef GORL_COMMON_NN_RANDOM_DECODER_H_
#define GORL_COMMON_NN_RANDOM_DECODER_H_

#include <cstdint>

#include "gorl/v1/config.pb.h"
#include "gorl/v1/policy.pb.h"

namespace gorl::nn {

// A LeCun-initialised trainable decoder of `kind` (FLOW or DIFFUSION) with
// an identity normaliser, or the identity decoder for IDENTITY, as version 1.
v1::Decoder RandomDecoder(v1::DecoderKind kind, int obs_size, int action_size,
                          const v1::DecoderConfig& config, uint64_t seed);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_RANDOM_DECODER_H_
