#include "learner/refinement_fidelity.h"

#include <cmath>
#include <set>
#include <vector>

#include <torch/torch.h>

#include "common/nn/decoder.h"
#include "common/nn/latent_policy.h"
#include "common/nn/tensor_codec.h"
#include "common/running_normalizer.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace gorl::learner {
namespace {

using ::gorl::testing::StatusIs;

constexpr int kObs = 3;
constexpr int kAction = 1;

// An encoder whose z ~ N(mean, std^2) at every observation (last layer's
// weights zero, its bias set), with the identity decoder: actions
// tanh(N(mean, std^2)).
v1::PolicySnapshot ConstantPolicy(double mean, double std_dev, int action = kAction) {
  nn::LatentPolicyOptions options;
  options.obs_size = kObs;
  options.latent_size = action;
  options.hidden = {8};
  nn::LatentPolicy encoder(options, nn::MakeGenerator(3));
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> params = encoder.net()->parameters();
    torch::Tensor weight = params[params.size() - 2];
    torch::Tensor bias = params.back();
    weight.zero_();
    // StdFromRaw: softplus(raw) + min_std.
    const double raw = std::log(std::expm1(std_dev - options.min_std));
    bias.slice(0, 0, action).fill_(mean);
    bias.slice(0, action, 2 * action).fill_(raw);
  }
  v1::PolicySnapshot snapshot;
  encoder.WriteTo(snapshot);
  snapshot.set_obs_size(kObs);
  snapshot.set_latent_size(action);
  *snapshot.mutable_normalizer() = RunningNormalizer(kObs).ToProto();
  v1::DecoderConfig config;
  *snapshot.mutable_decoder() =
      nn::DecoderModel::Identity(v1::DECODER_KIND_IDENTITY, kObs, action, config)->ToProto(0);
  return snapshot;
}

// E[tanh(m + s xi)] and std, xi ~ N(0, 1), by the trapezoid rule on [-8, 8].
std::pair<double, double> TanhGaussianMoments(double m, double s) {
  double e1 = 0, e2 = 0;
  const double h = 1e-3;
  for (double x = -8; x <= 8; x += h) {
    const double w = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI) * h;
    const double a = std::tanh(m + s * x);
    e1 += w * a;
    e2 += w * a * a;
  }
  return {e1, std::sqrt(e2 - e1 * e1)};
}

std::vector<float> Observations(int states) {
  std::vector<float> obs(static_cast<size_t>(states) * kObs);
  for (size_t i = 0; i < obs.size(); ++i) obs[i] = 0.1f * static_cast<float>(i);
  return obs;
}

TEST(SlicedWassersteinTest, IsTheExactW2InOneDimension) {
  EXPECT_NEAR(SlicedWasserstein({0, 1, 2, 5}, {1, 2, 3, 6}, 1, 7, 1), 1.0, 1e-6);
  // The order of the samples does not matter: quantiles are matched.
  EXPECT_NEAR(SlicedWasserstein({5, 0, 2, 1}, {1, 2, 6, 3}, 1, 7, 1), 1.0, 1e-6);
  EXPECT_NEAR(SlicedWasserstein({0, 1, 2}, {2, 0, 1}, 1, 1, 1), 0.0, 1e-9);
}

TEST(SlicedWassersteinTest, AveragesTheShiftOverDirections) {
  // A shift d in 2-D projects to d.theta; E[cos^2] = 1/2, so SW2 = |d| / sqrt(2).
  std::vector<float> a, b;
  for (int i = 0; i < 50; ++i) {
    a.insert(a.end(), {0.1f * i, -0.05f * i});
    b.insert(b.end(), {0.1f * i + 3, -0.05f * i + 4});
  }
  EXPECT_NEAR(SlicedWasserstein(a, b, 2, 512, 9), 5 / std::sqrt(2.0), 0.25);
}

TEST(RefinementFidelityTest, MeasuresTheDistanceToThePriorsActions) {
  const v1::PolicySnapshot collecting = ConstantPolicy(0.5, 0.3);
  // The next stage's policy equals the collecting one; its decoder fed the
  // prior gives tanh(N(0, 1)).
  const v1::PolicySnapshot next = ConstantPolicy(0.5, 0.3);
  FidelityOptions options;
  options.samples = 4000;
  options.seed = 11;
  GORL_ASSERT_OK_AND_ASSIGN(RefinementFidelity f,
                            MeasureRefinementFidelity(collecting, next, Observations(3), options));
  EXPECT_EQ(f.states, 3);
  EXPECT_EQ(f.samples, 4000);
  const auto [m_old, s_old] = TanhGaussianMoments(0.5, 0.3);
  const auto [m_prior, s_prior] = TanhGaussianMoments(0.0, 1.0);
  EXPECT_NEAR(f.prior.mean_error, std::abs(m_old - m_prior), 0.03);
  EXPECT_NEAR(f.prior.std_error, std::abs(s_old - s_prior), 0.03);
  // Same policy on both sides: at the floor, which is small but not 0.
  EXPECT_GT(f.floor.sliced_wasserstein, 0.0);
  EXPECT_LT(f.floor.sliced_wasserstein, 0.02);
  EXPECT_LT(f.fresh_encoder.sliced_wasserstein, 0.02);
  EXPECT_LT(f.fresh_encoder.mean_error, 0.02);
  EXPECT_GT(f.prior.sliced_wasserstein, 10 * f.floor.sliced_wasserstein);
}

TEST(RefinementFidelityTest, SeesAShiftedFreshEncoder) {
  const v1::PolicySnapshot collecting = ConstantPolicy(0.0, 1.0, 2);
  const v1::PolicySnapshot next = ConstantPolicy(0.4, 1.0, 2);
  FidelityOptions options;
  options.samples = 2000;
  GORL_ASSERT_OK_AND_ASSIGN(RefinementFidelity f,
                            MeasureRefinementFidelity(collecting, next, Observations(2), options));
  const double shifted_mean = TanhGaussianMoments(0.4, 1.0).first;
  EXPECT_NEAR(f.fresh_encoder.mean_error, shifted_mean, 0.04);
  // The identity decoder fed the prior is the collecting policy itself.
  EXPECT_LT(f.prior.sliced_wasserstein, 3 * f.floor.sliced_wasserstein);
  EXPECT_GT(f.fresh_encoder.sliced_wasserstein, 3 * f.floor.sliced_wasserstein);
}

TEST(RefinementFidelityTest, RefusesMismatchedInputs) {
  const v1::PolicySnapshot one = ConstantPolicy(0.0, 1.0, 1);
  const v1::PolicySnapshot two = ConstantPolicy(0.0, 1.0, 2);
  FidelityOptions options;
  EXPECT_THAT(MeasureRefinementFidelity(one, two, Observations(2), options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MeasureRefinementFidelity(one, one, {0.1f, 0.2f}, options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.samples = 1;
  EXPECT_THAT(MeasureRefinementFidelity(one, one, Observations(2), options),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TakeHeldOutStatesTest, MovesRandomRowsOutAndKeepsTheRestInOrder) {
  v1::RefinementData data;
  data.set_obs_size(2);
  data.set_action_size(1);
  for (int i = 0; i < 40; ++i) {
    data.add_observations(i);
    data.add_observations(-i);
    data.add_actions(100 + i);
    data.add_latents(200 + i);
  }
  GORL_ASSERT_OK_AND_ASSIGN(std::vector<float> held_out, TakeHeldOutStates(data, 10, 5));
  ASSERT_EQ(held_out.size(), 20u);
  ASSERT_EQ(data.observations_size(), 60);
  ASSERT_EQ(data.actions_size(), 30);
  ASSERT_EQ(data.latents_size(), 30);
  std::set<int> rows;
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(held_out[2 * i + 1], -held_out[2 * i]);  // whole rows
    rows.insert(static_cast<int>(held_out[2 * i]));
  }
  EXPECT_EQ(rows.size(), 10u);
  // Not simply the first or last rows.
  EXPECT_NE(*rows.rbegin() - *rows.begin(), 9);
  int previous = -1;
  for (int k = 0; k < 30; ++k) {
    const int row = static_cast<int>(data.observations(2 * k));
    EXPECT_EQ(rows.count(row), 0u) << row;
    EXPECT_GT(row, previous);
    EXPECT_EQ(data.actions(k), 100 + row);
    EXPECT_EQ(data.latents(k), 200 + row);
    previous = row;
  }
  v1::RefinementData small = data;
  EXPECT_THAT(TakeHeldOutStates(small, 30, 5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(small.observations_size(), data.observations_size());  // untouched
}

TEST(MeasureTargetsTest, DescribesTheMagnitudesOfThePreTanhActions) {
  v1::RefinementData data;
  data.set_obs_size(1);
  data.set_action_size(2);
  // 100 values: |u| = 0.1, 0.2, ..., 10.0 with alternating signs.
  for (int i = 1; i <= 100; ++i) {
    if (i % 2) data.add_observations(0);
    data.add_actions((i % 2 ? -0.1f : 0.1f) * i);
  }
  const TargetStats stats = MeasureTargets(data);
  EXPECT_NEAR(stats.abs_mean, 5.05, 1e-4);
  EXPECT_NEAR(stats.abs_p99, 10.0, 1e-4);  // the 100th of 100 values
  EXPECT_NEAR(stats.abs_max, 10.0, 1e-4);
  // |u| > atanh(0.99) = 2.647: 2.7 ... 10.0.
  EXPECT_NEAR(stats.saturated_fraction, 0.74, 1e-9);
  EXPECT_EQ(MeasureTargets(v1::RefinementData()).abs_max, 0.0);
}

}  // namespace
}  // namespace gorl::learner
