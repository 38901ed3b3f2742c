// The device the learner and the refiner train on (TrainConfig.device).
#ifndef GORL_COMMON_NN_DEVICE_H_
#define GORL_COMMON_NN_DEVICE_H_

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"

namespace gorl::nn {

// DEVICE_AUTO: CUDA when torch::cuda::is_available(), else the CPU;
// DEVICE_CPU; DEVICE_CUDA: FailedPrecondition when LibTorch has no CUDA or
// sees no GPU. An out-of-range value is an InvalidArgument.
absl::StatusOr<torch::Device> ResolveDevice(v1::Device device);

}  // namespace gorl::nn

#endif  // GORL_COMMON_NN_DEVICE_H_
