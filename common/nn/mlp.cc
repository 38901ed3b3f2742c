#include "common/nn/mlp.h"

#include <cmath>
#include <string>
#include <utility>

#include <glog/logging.h>

namespace gorl::nn {

MlpImpl::MlpImpl(const MlpOptions& options, torch::Generator generator) : options_(options) {
  CHECK_GT(options_.input_size, 0) << "Mlp: input_size must be positive";
  CHECK_GT(options_.output_size, 0) << "Mlp: output_size must be positive";
  int in = options_.input_size;
  std::vector<int> widths = options_.hidden;
  widths.push_back(options_.output_size);
  for (size_t i = 0; i < widths.size(); ++i) {
    CHECK_GT(widths[i], 0) << "Mlp: layer " << i << " has width " << widths[i];
    // Stable names ("layer0", "layer1", ...) make named_parameters() and so
    // the wire format of the weights independent of construction details.
    layers_.push_back(register_module("layer" + std::to_string(i),
                                      torch::nn::Linear(torch::nn::LinearOptions(in, widths[i]))));
    in = widths[i];
  }
  Reinitialize(std::move(generator));
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    x = layers_[i]->forward(x);
    if (i + 1 < layers_.size()) x = torch::silu(x);
  }
  return x;
}

std::vector<DenseLayer> MlpImpl::ToDense() const {
  std::vector<DenseLayer> dense;
  for (const torch::nn::Linear& linear : layers_) {
    // torch's [out, in] weight becomes DenseLayer's [in, out].
    const torch::Tensor weight =
        linear->weight.detach().to(torch::kCPU, torch::kFloat).t().contiguous();
    const torch::Tensor bias = linear->bias.detach().to(torch::kCPU, torch::kFloat).contiguous();
    DenseLayer layer;
    layer.in = static_cast<int>(weight.size(0));
    layer.out = static_cast<int>(weight.size(1));
    layer.weight.assign(weight.data_ptr<float>(), weight.data_ptr<float>() + weight.numel());
    layer.bias.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + bias.numel());
    dense.push_back(std::move(layer));
  }
  return dense;
}

void MlpImpl::Reinitialize(torch::Generator generator) {
  // Parameters are leaves that require grad: in-place writes must not be recorded.
  torch::NoGradGuard no_grad;
  for (auto& layer : layers_) {
    layer->bias.zero_();
    if (options_.init == MlpInit::kZero) {
      layer->weight.zero_();
      continue;
    }
    // LeCun uniform (Flax's lecun_uniform): variance 1 / fan_in.
    const double fan_in = static_cast<double>(layer->weight.size(1));
    const double bound = std::sqrt(3.0 / fan_in);
    layer->weight.uniform_(-bound, bound, generator);
  }
}

}  // namespace gorl::nn
