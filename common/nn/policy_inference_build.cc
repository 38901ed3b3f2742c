// PolicyInference::FromSnapshot: the snapshot is validated by rebuilding its
// LibTorch networks (one set of checks for every consumer), whose weights
// are then copied out.
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/message_checks.h"
#include "common/nn/decoder.h"
#include "common/nn/latent_policy.h"
#include "common/nn/policy_inference.h"
#include "common/status_macros.h"

namespace gorl::nn {
namespace {

absl::Status Named(const absl::Status& status, const char* part) {
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat("policy ", part, ": ", status.message()));
}

std::vector<double> ToVector(const torch::Tensor& tensor) {
  const torch::Tensor c = tensor.to(torch::kCPU).to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<float> ToFloats(const torch::Tensor& tensor) {
  const torch::Tensor c = tensor.to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

absl::StatusOr<DecoderInference> BuildDecoder(const v1::Decoder& proto) {
  GORL_ASSIGN_OR_RETURN(std::unique_ptr<DecoderModel> model, DecoderModel::FromProto(proto));
  DecoderInference dec;
  dec.kind = model->kind();
  dec.obs_size = model->obs_size();
  dec.action_size = model->action_size();
  dec.steps = model->steps();
  dec.velocity_scale = static_cast<float>(model->velocity_scale());
  dec.obs_mean = ToFloats(model->obs_mean());
  dec.obs_inv_std = ToFloats(model->obs_inv_std());
  if (dec.kind == v1::DECODER_KIND_IDENTITY) return dec;
  const std::vector<double> flow_times = model->StepTimes();
  if (dec.kind == v1::DECODER_KIND_FLOW) {
    dec.step_times.assign(flow_times.begin(), flow_times.end());
  }
  dec.net = DenseMlp((*model->net())->ToDense());
  if (dec.kind == v1::DECODER_KIND_DIFFUSION) {
    dec.alpha_bar = ToVector(model->alpha_bar());
    dec.prediction = model->prediction();
  }
  // Layer 0's bias plus its time-feature rows at each step's time, with the
  // features computed as DecoderModel computes them (TimeFeatures, float).
  const DenseLayer& first = dec.net.layer(0);
  const int width = first.out;
  const float* time_weights =
      first.weight.data() + static_cast<size_t>(dec.obs_size + dec.action_size) * width;
  dec.time_rows.resize(static_cast<size_t>(dec.steps) * width);
  for (int k = 0; k < dec.steps; ++k) {
    // Flow: the sampler's grid; diffusion: index k's time input, k / steps (DecoderModel::Decode).
    const double t =
        dec.kind == v1::DECODER_KIND_FLOW ? flow_times[k] : static_cast<double>(k) / dec.steps;
    const torch::Tensor features = TimeFeatures(torch::full({1, 1}, t, torch::kFloat)).contiguous();
    const float* f = features.data_ptr<float>();
    const int64_t num_features = features.numel();
    float* row = dec.time_rows.data() + static_cast<size_t>(k) * width;
    for (int j = 0; j < width; ++j) {
      float value = first.bias[j];
      for (int64_t i = 0; i < num_features; ++i) value += f[i] * time_weights[i * width + j];
      row[j] = value;
    }
  }
  return dec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyInference>> PolicyInference::FromSnapshot(
    const v1::PolicySnapshot& snapshot) {
  std::unique_ptr<PolicyInference> policy(new PolicyInference());
  policy->kind_ = snapshot.policy_kind();
  if (!v1::PolicyKind_IsValid(policy->kind_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy snapshot: unknown policy_kind ", static_cast<int>(policy->kind_)));
  }
  policy->obs_size_ = snapshot.obs_size();
  policy->action_size_ = snapshot.latent_size();
  policy->encoder_version_ = snapshot.encoder_version();
  if (policy->kind_ == v1::POLICY_KIND_LATENT) {
    auto encoder = LatentPolicy::FromSnapshot(snapshot);
    if (!encoder.ok()) return Named(encoder.status(), "encoder");
    auto normalizer = RunningNormalizer::FromProto(snapshot.normalizer());
    if (!normalizer.ok()) return Named(normalizer.status(), "normaliser");
    auto decoder = BuildDecoder(snapshot.decoder());
    if (!decoder.ok()) return Named(decoder.status(), "decoder");
    if (normalizer->size() != policy->obs_size_ || decoder->obs_size != policy->obs_size_ ||
        decoder->action_size != policy->action_size_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy: encoder for obs ", policy->obs_size_, " / latent ", policy->action_size_,
          ", normaliser for obs ", normalizer->size(), ", decoder for obs ", decoder->obs_size,
          " / action ", decoder->action_size));
    }
    policy->encoder_ = DenseMlp((*encoder)->net()->ToDense());
    policy->normalizer_ = *std::move(normalizer);
    policy->min_std_ = static_cast<float>((*encoder)->options().min_std);
    policy->max_std_ = static_cast<float>((*encoder)->options().max_std);
    policy->decoder_ = *std::move(decoder);
    return policy;
  }
  auto flow = BuildDecoder(snapshot.flow_policy());
  if (!flow.ok()) return Named(flow.status(), "flow_policy");
  if (flow->kind != v1::DECODER_KIND_FLOW || flow->obs_size != policy->obs_size_ ||
      flow->action_size != policy->action_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy snapshot: the FPO/DPPO flow_policy must be a flow network for obs ",
                     policy->obs_size_, " / action ", policy->action_size_));
  }
  policy->decoder_ = *std::move(flow);
  if (policy->kind_ == v1::POLICY_KIND_FPO) {
    policy->fpo_draws_ = snapshot.fpo_draws();
    if (policy->fpo_draws_ < 1 || policy->fpo_draws_ > kMaxFpoDraws) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy snapshot: fpo_draws ", policy->fpo_draws_, " must be in 1..", kMaxFpoDraws));
    }
  } else {
    const double sigma = snapshot.dppo_sigma();
    if (!(sigma > 0) || !std::isfinite(sigma)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy snapshot: dppo_sigma ", sigma, " must be > 0"));
    }
    policy->dppo_sigma_ = static_cast<float>(sigma);
  }
  return policy;
}

}  // namespace gorl::nn
