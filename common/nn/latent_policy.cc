#include "common/nn/latent_policy.h"

#include <cmath>
#include <utility>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/nn/distributions.h"
#include "common/nn/tensor_codec.h"
#include "common/status_macros.h"

namespace gorl::nn {
namespace {

MlpOptions NetOptions(const LatentPolicyOptions& options) {
  MlpOptions net;
  net.input_size = options.obs_size;
  net.hidden = options.hidden;
  net.output_size = 2 * options.latent_size;  // [mean, raw std]
  net.init = MlpInit::kLecunUniform;
  return net;
}

absl::Status Validate(const LatentPolicyOptions& options) {
  if (options.obs_size <= 0 || options.latent_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("latent policy: obs_size ", options.obs_size,
                                                   " and latent_size ", options.latent_size,
                                                   " must be positive"));
  }
  for (size_t i = 0; i < options.hidden.size(); ++i) {
    if (options.hidden[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("latent policy: hidden layer ", i, " has width ", options.hidden[i]));
    }
  }
  // The negated form also rejects NaN.
  if (!(options.min_std > 0 && options.min_std <= options.max_std) ||
      !std::isfinite(options.max_std)) {
    return absl::InvalidArgumentError(absl::StrCat("latent policy: need 0 < min_std (",
                                                   options.min_std, ") <= max_std (",
                                                   options.max_std, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

LatentPolicy::LatentPolicy(const LatentPolicyOptions& options, torch::Generator generator)
    : options_(options), net_(nullptr) {
  const absl::Status valid = Validate(options_);
  CHECK(valid.ok()) << valid.message();
  net_ = Mlp(NetOptions(options_), std::move(generator));
}

absl::StatusOr<std::unique_ptr<LatentPolicy>> LatentPolicy::FromSnapshot(
    const v1::PolicySnapshot& snapshot) {
  LatentPolicyOptions options;
  options.obs_size = snapshot.obs_size();
  options.latent_size = snapshot.latent_size();
  options.hidden.assign(snapshot.encoder_hidden().begin(), snapshot.encoder_hidden().end());
  options.min_std = snapshot.min_std();
  options.max_std = snapshot.max_std();
  GORL_RETURN_IF_ERROR(Validate(options));
  // The initial draw is overwritten by the snapshot's weights.
  auto policy = std::make_unique<LatentPolicy>(options, MakeGenerator(0));
  const absl::Status decoded = DecodeModule(snapshot.encoder(), *policy->net_);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("latent policy encoder: ", decoded.message()));
  }
  return policy;
}

std::pair<torch::Tensor, torch::Tensor> LatentPolicy::Distribution(
    const torch::Tensor& obs_norm) const {
  // A holder copy shares the module; forward() is non-const only by LibTorch convention.
  Mlp net = net_;
  const torch::Tensor out = net->forward(obs_norm);
  auto halves = out.chunk(2, /*dim=*/-1);
  return {halves[0], StdFromRaw(halves[1], options_.min_std, options_.max_std)};
}

void LatentPolicy::ReinitializeToPrior(torch::Generator generator) {
  net_->Reinitialize(std::move(generator));
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = net_->parameters();
  // Parameters are in layer order, weight before bias: the output layer's last.
  torch::Tensor weight = params[params.size() - 2];
  torch::Tensor bias = params.back();
  weight.zero_();
  const int latent = options_.latent_size;
  bias.slice(0, 0, latent).zero_();
  // softplus(raw) + min_std = 1.
  bias.slice(0, latent, 2 * latent).fill_(std::log(std::expm1(1.0 - options_.min_std)));
}

void LatentPolicy::WriteTo(v1::PolicySnapshot& snapshot) const {
  snapshot.set_obs_size(options_.obs_size);
  snapshot.set_latent_size(options_.latent_size);
  snapshot.clear_encoder_hidden();
  for (int width : options_.hidden) snapshot.add_encoder_hidden(width);
  snapshot.set_min_std(static_cast<float>(options_.min_std));
  snapshot.set_max_std(static_cast<float>(options_.max_std));
  *snapshot.mutable_encoder() = EncodeModule(*net_);
}

}  // namespace gorl::nn
