#include "learner/refinement_fidelity.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/nn/policy_inference.h"
#include "common/nn/tensor_codec.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace gorl::learner {
namespace {

// Random streams of one measurement's seed.
enum FidelityStream : uint64_t {
  kCollectingA = 1,
  kCollectingB = 2,
  kPrior = 3,
  kFreshEncoder = 4,
  kDirections = 5,
};

// Actions [rows, action] of `policy` at raw observations [rows, obs].
torch::Tensor Sample(nn::PolicyInference& policy, const std::vector<float>& obs_raw, int rows,
                     nn::LatentSource source, uint64_t seed) {
  Rng rng(seed);
  nn::ActOutput out;
  policy.Act(obs_raw.data(), rows, source, /*record=*/false, rng, out);
  return torch::tensor(out.actions).reshape({rows, policy.action_size()});
}

absl::StatusOr<std::unique_ptr<nn::PolicyInference>> Build(const v1::PolicySnapshot& snapshot,
                                                           const char* which) {
  auto policy = nn::PolicyInference::FromSnapshot(snapshot);
  if (policy.ok() && (*policy)->kind() != v1::POLICY_KIND_LATENT) {
    policy = absl::InvalidArgumentError(
        "policy is an FPO/DPPO flow policy: only GoRL's refinements are measured");
  }
  if (policy.ok()) return std::move(policy).value();
  return absl::InvalidArgumentError(
      absl::StrCat("refinement fidelity: the ", which, " ", policy.status().message()));
}

// Unit directions [dim, projections]: the one axis when dim is 1.
torch::Tensor Directions(int dim, int projections, uint64_t seed) {
  if (dim == 1) return torch::ones({1, 1});
  torch::Generator gen = nn::MakeGenerator(seed);
  const torch::Tensor d = torch::randn({dim, projections}, gen);
  return d / d.norm(2, 0, /*keepdim=*/true);
}

// Per state, SW2 between samples a and b, each [states, samples, dim]: [states].
torch::Tensor SlicedWassersteinPerState(const torch::Tensor& a, const torch::Tensor& b,
                                        const torch::Tensor& directions) {
  const torch::Tensor pa = std::get<0>(torch::matmul(a, directions).sort(1));
  const torch::Tensor pb = std::get<0>(torch::matmul(b, directions).sort(1));
  // Sorted projections pair up the quantiles: W2^2 per direction is the
  // mean squared difference; SW2 is the root of its mean over directions.
  return (pa - pb).pow(2).mean({1, 2}).sqrt();
}

ActionDistance Distance(const torch::Tensor& a, const torch::Tensor& b,
                        const torch::Tensor& directions) {
  ActionDistance d;
  d.mean_error = (a.mean(1) - b.mean(1)).abs().mean().item<double>();
  d.std_error =
      (a.std(1, /*unbiased=*/false) - b.std(1, /*unbiased=*/false)).abs().mean().item<double>();
  d.sliced_wasserstein = SlicedWassersteinPerState(a, b, directions).mean().item<double>();
  return d;
}

}  // namespace

absl::StatusOr<RefinementFidelity> MeasureRefinementFidelity(const v1::PolicySnapshot& collecting,
                                                             const v1::PolicySnapshot& next,
                                                             const std::vector<float>& observations,
                                                             const FidelityOptions& options) {
  const int obs_size = collecting.obs_size();
  if (next.obs_size() != obs_size || next.latent_size() != collecting.latent_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinement fidelity: the collecting policy is for obs ", obs_size,
                     " / latent ", collecting.latent_size(), ", the next one for obs ",
                     next.obs_size(), " / latent ", next.latent_size()));
  }
  if (obs_size <= 0 || observations.empty() || observations.size() % obs_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("refinement fidelity: ", observations.size(),
                                                   " observation values for obs size ", obs_size));
  }
  if (options.samples < 2 || options.projections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinement fidelity: needs >= 2 samples and >= 1 projection, got ",
                     options.samples, " and ", options.projections));
  }
  GORL_ASSIGN_OR_RETURN(const auto old_policy, Build(collecting, "collecting"));
  GORL_ASSIGN_OR_RETURN(const auto new_policy, Build(next, "next stage's"));

  torch::InferenceMode guard;
  const int states = static_cast<int>(observations.size() / obs_size);
  const int samples = options.samples;
  const int action = new_policy->action_size();
  // Every state repeated `samples` times: [states * samples, obs].
  std::vector<float> obs;
  obs.reserve(observations.size() * samples);
  for (int s = 0; s < states; ++s) {
    for (int i = 0; i < samples; ++i) {
      obs.insert(obs.end(), observations.begin() + int64_t{s} * obs_size,
                 observations.begin() + int64_t{s + 1} * obs_size);
    }
  }
  auto sample = [&](nn::PolicyInference& policy, nn::LatentSource source, uint64_t stream) {
    return Sample(policy, obs, states * samples, source, DeriveSeed(options.seed, stream))
        .reshape({states, samples, action});
  };
  const torch::Tensor collecting_a = sample(*old_policy, nn::LatentSource::kEncoder, kCollectingA);
  const torch::Tensor collecting_b = sample(*old_policy, nn::LatentSource::kEncoder, kCollectingB);
  const torch::Tensor prior = sample(*new_policy, nn::LatentSource::kPrior, kPrior);
  const torch::Tensor fresh = sample(*new_policy, nn::LatentSource::kEncoder, kFreshEncoder);
  const torch::Tensor directions =
      Directions(action, options.projections, DeriveSeed(options.seed, kDirections));

  RefinementFidelity fidelity;
  fidelity.states = states;
  fidelity.samples = samples;
  fidelity.prior = Distance(collecting_a, prior, directions);
  fidelity.fresh_encoder = Distance(collecting_a, fresh, directions);
  fidelity.floor = Distance(collecting_a, collecting_b, directions);
  return fidelity;
}

absl::StatusOr<std::vector<float>> TakeHeldOutStates(v1::RefinementData& data, int states,
                                                     uint64_t seed) {
  const int obs = data.obs_size(), action = data.action_size();
  const int64_t pairs = obs > 0 ? data.observations_size() / obs : 0;
  if (states <= 0 || pairs <= states) {
    return absl::InvalidArgumentError(absl::StrCat("refinement fidelity: cannot hold out ", states,
                                                   " states of ", pairs, " pairs"));
  }
  // A seeded partial Fisher-Yates shuffle picks the held-out rows.
  std::vector<int64_t> order(pairs);
  for (int64_t i = 0; i < pairs; ++i) order[i] = i;
  Rng rng(seed);
  for (int i = 0; i < states; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.NextU64() % static_cast<uint64_t>(pairs - i));
    std::swap(order[i], order[j]);
  }
  std::vector<bool> held_out(pairs, false);
  std::vector<float> observations;
  observations.reserve(static_cast<size_t>(states) * obs);
  for (int i = 0; i < states; ++i) {
    held_out[order[i]] = true;
    const float* row = data.observations().data() + order[i] * obs;
    observations.insert(observations.end(), row, row + obs);
  }
  // Compact the kept rows in place, in their original order.
  const bool has_latents = data.latents_size() == data.actions_size();
  int64_t kept = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    if (held_out[i]) continue;
    if (kept != i) {
      std::copy_n(data.observations().data() + i * obs, obs,
                  data.mutable_observations()->mutable_data() + kept * obs);
      std::copy_n(data.actions().data() + i * action, action,
                  data.mutable_actions()->mutable_data() + kept * action);
      if (has_latents) {
        std::copy_n(data.latents().data() + i * action, action,
                    data.mutable_latents()->mutable_data() + kept * action);
      }
    }
    ++kept;
  }
  data.mutable_observations()->Truncate(static_cast<int>(kept * obs));
  data.mutable_actions()->Truncate(static_cast<int>(kept * action));
  if (has_latents) data.mutable_latents()->Truncate(static_cast<int>(kept * action));
  return observations;
}

TargetStats MeasureTargets(const v1::RefinementData& data) {
  TargetStats stats;
  const int n = data.actions_size();
  if (n == 0) return stats;
  std::vector<float> magnitudes(data.actions().begin(), data.actions().end());
  double sum = 0.0;
  int64_t saturated = 0;
  const float saturation = std::atanh(0.99f);
  for (float& m : magnitudes) {
    m = std::fabs(m);
    sum += m;
    if (m > saturation) ++saturated;
  }
  stats.abs_mean = sum / n;
  stats.saturated_fraction = static_cast<double>(saturated) / n;
  auto p99 = magnitudes.begin() + std::min<int64_t>(n - 1, static_cast<int64_t>(0.99 * n));
  std::nth_element(magnitudes.begin(), p99, magnitudes.end());
  stats.abs_p99 = *p99;
  stats.abs_max = *std::max_element(p99, magnitudes.end());
  return stats;
}

double SlicedWasserstein(const std::vector<float>& a, const std::vector<float>& b, int dim,
                         int projections, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(a.size()) / dim;
  const torch::Tensor ta =
      torch::from_blob(const_cast<float*>(a.data()), {1, n, dim}, torch::kFloat32);
  const torch::Tensor tb =
      torch::from_blob(const_cast<float*>(b.data()), {1, n, dim}, torch::kFloat32);
  return SlicedWassersteinPerState(ta, tb, Directions(dim, projections, seed)).item<double>();
}

}  // namespace gorl::learner
