#include "common/nn/distributions.h"

#include <cmath>

namespace gorl::nn {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 log(2 pi)
constexpr double kLog2 = 0.69314718055994530942;

}  // namespace

torch::Tensor StdFromRaw(const torch::Tensor& raw, double min_std, double max_std) {
  return torch::clamp(torch::softplus(raw) + min_std, min_std, max_std);
}

torch::Tensor DiagGaussian::Sample(torch::Generator& generator) const {
  // Broadcast first so that a shared std ([D]) still gives one draw per row.
  const torch::Tensor like = torch::broadcast_tensors({mean, std})[0];
  // Drawn on the CPU (the project's generators are CPU generators) and moved,
  // so that a seed gives the same noise on every device.
  const torch::Tensor noise =
      torch::randn(like.sizes(), generator, mean.options().device(torch::kCPU)).to(mean.device());
  return mean + std * noise;
}

torch::Tensor DiagGaussian::LogProb(const torch::Tensor& x) const {
  const torch::Tensor scaled = (x - mean) / std;
  return (-0.5 * scaled.square() - torch::log(std) - kHalfLog2Pi).sum(-1);
}

torch::Tensor DiagGaussian::Entropy() const {
  const torch::Tensor log_std = torch::broadcast_tensors({mean, torch::log(std)})[1];
  return (log_std + (0.5 + kHalfLog2Pi)).sum(-1);
}

torch::Tensor TanhLogDetJacobian(const torch::Tensor& u) {
  // Numerically stable form of log(1 - tanh(u)^2): no cancellation for large |u|.
  return (2.0 * (kLog2 - u - torch::softplus(-2.0 * u))).sum(-1);
}

torch::Tensor TanhGaussian::LogProb(const torch::Tensor& u) const {
  return base.LogProb(u) - TanhLogDetJacobian(u);
}

torch::Tensor TanhGaussian::Entropy(torch::Generator& generator) const {
  return base.Entropy() + TanhLogDetJacobian(base.Sample(generator));
}

}  // namespace gorl::nn
