// The device the learner and the refiner train on (TrainConfig.device).
#ifndef GORL_COMMON_NN_DEVICE_H_
#define GORL_COMMON_NN_DEVICE_H_

#include <string_view>

#include <torch/types.h>

#include "absl/status/statusor.h"

namespace gorl::nn {

// "" and "auto": CUDA when torch::cuda::is_available(), else the CPU;
// "cpu"; "cuda": FailedPrecondition when LibTorch has no CUDA or sees no GPU.
// Anything else is an InvalidArgument naming the field `device`.
absl::StatusOr<torch::Device> ResolveDevice(std::string_view name);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_DEVICE_H_
