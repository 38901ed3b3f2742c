#include "common/nn/device.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "absl/strings/str_cat.h"

namespace gorl::nn {

absl::StatusOr<torch::Device> ResolveDevice(v1::Device device) {
  switch (device) {
    case v1::DEVICE_CPU:
      return torch::Device(torch::kCPU);
    case v1::DEVICE_AUTO:
      return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                         : torch::Device(torch::kCPU);
    case v1::DEVICE_CUDA:
      if (!torch::cuda::is_available()) {
        return absl::FailedPreconditionError(
            "device = cuda, but LibTorch reports no usable CUDA device (a CPU-only LibTorch "
            "build, or no GPU visible); use device auto or cpu");
      }
      return torch::Device(torch::kCUDA, 0);
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device ", static_cast<int>(device), " is invalid: must be auto, cpu or cuda"));
}

}  // namespace gorl::nn
