// Module weights <-> gorl.v1.TensorBundle (the only way weights cross a
// role boundary), and seeded generators.
#ifndef GORL_COMMON_NN_TENSOR_CODEC_H_
#define GORL_COMMON_NN_TENSOR_CODEC_H_

#include <cstdint>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "gorl/v1/tensor.pb.h"

namespace gorl::nn {

// Every named parameter and buffer of `module`, as float32, in
// named_parameters() order.
v1::TensorBundle EncodeModule(const torch::nn::Module& module);

// Copies `bundle` into `module`. Every parameter must be present with the
// same shape, no extra tensors, every value finite; otherwise an
// InvalidArgument naming the tensor and nothing is modified.
absl::Status DecodeModule(const v1::TensorBundle& bundle, torch::nn::Module& module);

// A CPU generator seeded deterministically.
torch::Generator MakeGenerator(uint64_t seed);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_TENSOR_CODEC_H_
