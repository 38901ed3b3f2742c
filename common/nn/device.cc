#include "common/nn/device.h"

#include <string>

#include <torch/cuda.h>

#include "absl/strings/str_cat.h"

namespace gorl::nn {

absl::StatusOr<torch::Device> ResolveDevice(std::string_view name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.empty() || name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          "device = cuda, but LibTorch reports no usable CUDA device (a CPU-only LibTorch "
          "build, or no GPU visible); use device auto or cpu");
    }
    return torch::Device(torch::kCUDA, 0);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("config: device = '", std::string(name), "' is invalid: must be auto, cpu or cuda"));
}

}  // namespace gorl::nn
