#include "common/nn/policy_sampler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/nn/tensor_codec.h"

namespace gorl::nn {
namespace {

absl::Status Named(const absl::Status& status, const char* part) {
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat("policy ", part, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicySampler>> PolicySampler::FromSnapshot(
    const v1::PolicySnapshot& snapshot) {
  if (snapshot.policy_kind() != v1::POLICY_KIND_LATENT) {
    return absl::UnimplementedError(
        absl::StrCat("policy: sampling a ", v1::PolicyKind_Name(snapshot.policy_kind()),
                     " baseline's flow policy outside the actor is not supported yet; "
                     "only GoRL's and PPO's latent policies"));
  }
  auto encoder = LatentPolicy::FromSnapshot(snapshot);
  if (!encoder.ok()) return Named(encoder.status(), "encoder");
  auto normalizer = RunningNormalizer::FromProto(snapshot.normalizer());
  if (!normalizer.ok()) return Named(normalizer.status(), "normaliser");
  auto decoder = DecoderModel::FromProto(snapshot.decoder());
  if (!decoder.ok()) return Named(decoder.status(), "decoder");
  if (normalizer->size() != snapshot.obs_size() || (*decoder)->obs_size() != snapshot.obs_size() ||
      (*decoder)->action_size() != snapshot.latent_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy: encoder for obs ", snapshot.obs_size(), " / latent ", snapshot.latent_size(),
        ", normaliser for obs ", normalizer->size(), ", decoder for obs ", (*decoder)->obs_size(),
        " / action ", (*decoder)->action_size()));
  }
  std::unique_ptr<PolicySampler> sampler(new PolicySampler());
  sampler->encoder_ = std::move(*encoder);
  sampler->normalizer_ = std::move(*normalizer);
  sampler->decoder_ = std::move(*decoder);
  return sampler;
}

torch::Tensor PolicySampler::Actions(const torch::Tensor& obs_raw, LatentSource source,
                                     torch::Generator& generator) const {
  torch::InferenceMode guard;
  const torch::Tensor raw = obs_raw.to(torch::kFloat32).contiguous();
  const int64_t rows = raw.size(0);
  torch::Tensor z;
  if (source == LatentSource::kPrior) {
    z = torch::randn({rows, decoder_->action_size()}, generator);
  } else {
    torch::Tensor obs_norm = raw.clone();
    normalizer_.Normalize(obs_norm.data_ptr<float>(), rows);
    const auto [mean, std_dev] = encoder_->Distribution(obs_norm);
    z = source == LatentSource::kEncoderMean
            ? mean
            : mean + std_dev * torch::randn(mean.sizes(), generator);
  }
  return torch::tanh(decoder_->Decode(raw, z));
}

absl::StatusOr<std::vector<float>> SampleActions(const v1::PolicySnapshot& policy,
                                                 const std::vector<float>& obs, int samples,
                                                 LatentSource source, uint64_t seed) {
  auto sampler = PolicySampler::FromSnapshot(policy);
  if (!sampler.ok()) return sampler.status();
  if (static_cast<int>(obs.size()) != (*sampler)->obs_size() || samples < 1) {
    return absl::InvalidArgumentError(absl::StrCat(samples, " samples of an observation of ",
                                                   obs.size(), " values; the policy's has ",
                                                   (*sampler)->obs_size()));
  }
  torch::Generator gen = MakeGenerator(seed);
  const torch::Tensor rows =
      torch::tensor(obs).reshape({1, -1}).expand({samples, static_cast<int64_t>(obs.size())});
  const torch::Tensor actions = (*sampler)->Actions(rows, source, gen).contiguous();
  return std::vector<float>(actions.data_ptr<float>(), actions.data_ptr<float>() + actions.numel());
}

}  // namespace gorl::nn
