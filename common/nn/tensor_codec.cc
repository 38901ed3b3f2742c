#include "common/nn/tensor_codec.h"

#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/message_checks.h"
#include "common/status_macros.h"

namespace gorl::nn {
namespace {

// Parameters first, then buffers: the order of EncodeModule's output.
std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    named.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    named.emplace_back(item.key(), item.value());
  }
  return named;
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string ShapeString(torch::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape.begin(), shape.end(), ", "), "]");
}

}  // namespace

v1::TensorBundle EncodeModule(const torch::nn::Module& module) {
  v1::TensorBundle bundle;
  for (const auto& [name, value] : NamedTensors(module)) {
    const torch::Tensor cpu = value.detach().to(torch::kCPU, torch::kFloat).contiguous();
    v1::Tensor* tensor = bundle.add_tensors();
    tensor->set_name(name);
    for (int64_t dim : cpu.sizes()) tensor->add_shape(dim);
    const float* data = cpu.data_ptr<float>();
    tensor->mutable_values()->Add(data, data + cpu.numel());
  }
  return bundle;
}

absl::Status DecodeModule(const v1::TensorBundle& bundle, torch::nn::Module& module) {
  auto named = NamedTensors(module);
  std::unordered_map<std::string, const torch::Tensor*> targets;
  for (const auto& [name, value] : named) targets.emplace(name, &value);

  // Validate the whole bundle before touching the module, so that a bad
  // bundle leaves the module exactly as it was.
  std::unordered_map<std::string, const v1::Tensor*> sources;
  for (const v1::Tensor& tensor : bundle.tensors()) {
    const std::string& name = tensor.name();
    auto target = targets.find(name);
    if (target == targets.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' is not a parameter or buffer of the module"));
    }
    if (!sources.emplace(name, &tensor).second) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' appears twice"));
    }
    const torch::IntArrayRef expected = target->second->sizes();
    bool same_shape = tensor.shape_size() == static_cast<int>(expected.size());
    for (int d = 0; same_shape && d < tensor.shape_size(); ++d) {
      same_shape = tensor.shape(d) == expected[d];
    }
    if (!same_shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ",
                                                     ShapeString(tensor.shape()), ", expected ",
                                                     ShapeString(expected)));
    }
    if (tensor.values_size() != target->second->numel()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has ",
                                                     tensor.values_size(), " values, expected ",
                                                     target->second->numel()));
    }
    GORL_RETURN_IF_ERROR(CheckFinite(tensor.values(), absl::StrCat("tensor '", name, "'")));
  }
  for (const auto& [name, value] : named) {
    if (sources.find(name) == sources.end()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' is missing"));
    }
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, value] : named) {
    const v1::Tensor& source = *sources.at(name);
    // from_blob does not copy; copy_ reads it once and converts dtype/device.
    const torch::Tensor view =
        torch::from_blob(const_cast<float*>(source.values().data()), value.sizes(),
                         torch::TensorOptions().dtype(torch::kFloat));
    value.copy_(view);
  }
  return absl::OkStatus();
}

torch::Generator MakeGenerator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace gorl::nn
