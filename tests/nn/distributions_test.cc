#include "common/nn/distributions.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/nn/tensor_codec.h"

namespace gorl::nn {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A [2, 3] tensor from row-major doubles.
torch::Tensor Make(const std::vector<double>& values) {
  return torch::tensor(values, torch::kFloat).reshape({2, 3});
}

const std::vector<double> kMean = {0.5, -1.0, 2.0, 0.0, 0.3, -0.7};
const std::vector<double> kStd = {0.2, 1.5, 0.01, 1.0, 3.0, 0.6};
const std::vector<double> kX = {0.4, 0.2, 2.03, -1.2, 2.0, -0.1};

TEST(StdFromRawTest, SoftplusPlusMinThenClip) {
  const torch::Tensor raw = torch::tensor({-100.0f, 0.0f, 2.0f, 100.0f});
  const torch::Tensor std = StdFromRaw(raw, 1e-3, 10.0);
  EXPECT_NEAR(std[0].item<double>(), 1e-3, 1e-9);
  EXPECT_NEAR(std[1].item<double>(), std::log(2.0) + 1e-3, 1e-6);
  EXPECT_NEAR(std[2].item<double>(), std::log1p(std::exp(2.0)) + 1e-3, 1e-6);
  EXPECT_EQ(std[3].item<float>(), 10.0f);
  // A tighter range clips both ends.
  const torch::Tensor tight = StdFromRaw(raw, 0.5, 1.0);
  EXPECT_EQ(tight[0].item<float>(), 0.5f);
  EXPECT_EQ(tight[1].item<float>(), 1.0f);  // log 2 + 0.5 > 1
}

TEST(DiagGaussianTest, LogProbMatchesClosedForm) {
  const DiagGaussian gaussian{Make(kMean), Make(kStd)};
  const torch::Tensor log_prob = gaussian.LogProb(Make(kX));
  ASSERT_EQ(log_prob.sizes(), (std::vector<int64_t>{2}));
  for (int b = 0; b < 2; ++b) {
    double expected = 0.0;
    for (int d = 0; d < 3; ++d) {
      const int i = b * 3 + d;
      const double z = (kX[i] - kMean[i]) / kStd[i];
      expected += -0.5 * z * z - std::log(kStd[i]) - 0.5 * std::log(2.0 * kPi);
    }
    EXPECT_NEAR(log_prob[b].item<double>(), expected, 1e-4 * std::max(1.0, std::abs(expected)))
        << b;
  }
}

TEST(DiagGaussianTest, EntropyMatchesClosedForm) {
  const DiagGaussian gaussian{Make(kMean), Make(kStd)};
  const torch::Tensor entropy = gaussian.Entropy();
  ASSERT_EQ(entropy.sizes(), (std::vector<int64_t>{2}));
  for (int b = 0; b < 2; ++b) {
    double expected = 0.0;
    for (int d = 0; d < 3; ++d)
      expected += 0.5 * std::log(2.0 * kPi * std::exp(1.0) * kStd[b * 3 + d] * kStd[b * 3 + d]);
    EXPECT_NEAR(entropy[b].item<double>(), expected, 1e-5) << b;
  }
}

TEST(DiagGaussianTest, SharedStdBroadcastsOverTheBatch) {
  const DiagGaussian gaussian{torch::zeros({4, 3}), torch::tensor({1.0f, 2.0f, 0.5f})};
  const torch::Tensor entropy = gaussian.Entropy();
  ASSERT_EQ(entropy.sizes(), (std::vector<int64_t>{4}));
  const double expected = 3 * (0.5 + 0.5 * std::log(2 * kPi)) + std::log(2.0) + std::log(0.5);
  EXPECT_NEAR(entropy[3].item<double>(), expected, 1e-5);
  torch::Generator generator = MakeGenerator(1);
  EXPECT_EQ(gaussian.Sample(generator).sizes(), (std::vector<int64_t>{4, 3}));
}

TEST(DiagGaussianTest, SampleIsMeanPlusStdTimesSeededNoise) {
  const DiagGaussian gaussian{Make(kMean), Make(kStd)};
  torch::Generator generator = MakeGenerator(11);
  const torch::Tensor sample = gaussian.Sample(generator);
  torch::Generator replay = MakeGenerator(11);
  const torch::Tensor noise = torch::randn({2, 3}, replay);
  EXPECT_TRUE(torch::allclose(sample, Make(kMean) + Make(kStd) * noise));
  // The generator advanced: the next draw differs.
  EXPECT_FALSE(torch::equal(gaussian.Sample(generator), sample));
}

TEST(DiagGaussianTest, SampleMomentsMatch) {
  const DiagGaussian gaussian{torch::full({20000, 1}, 1.5f), torch::full({20000, 1}, 0.5f)};
  torch::Generator generator = MakeGenerator(3);
  const torch::Tensor sample = gaussian.Sample(generator).to(torch::kDouble);
  EXPECT_NEAR(sample.mean().item<double>(), 1.5, 0.02);
  EXPECT_NEAR(sample.std().item<double>(), 0.5, 0.02);
}

TEST(TanhTest, LogDetJacobianMatchesDirectFormula) {
  std::vector<double> us;
  for (double u = -3.0; u <= 3.0; u += 0.25) us.push_back(u);
  const torch::Tensor u = torch::tensor(us, torch::kFloat).reshape({-1, 1});
  const torch::Tensor log_det = TanhLogDetJacobian(u);
  ASSERT_EQ(log_det.size(0), static_cast<int64_t>(us.size()));
  for (size_t i = 0; i < us.size(); ++i) {
    const double t = std::tanh(static_cast<double>(static_cast<float>(us[i])));
    EXPECT_NEAR(log_det[i].item<double>(), std::log(1.0 - t * t), 1e-5) << us[i];
  }
  // Stable far in the tails, where 1 - tanh^2 underflows in float.
  const double far = TanhLogDetJacobian(torch::full({1, 1}, 40.0f))[0].item<double>();
  EXPECT_NEAR(far, 2.0 * (std::log(2.0) - 40.0), 1e-4);
}

TEST(TanhTest, LogDetSumsOverTheLastDimension) {
  const torch::Tensor u = torch::tensor({0.5f, -1.0f}).reshape({1, 2});
  const double expected =
      std::log(1 - std::pow(std::tanh(0.5), 2)) + std::log(1 - std::pow(std::tanh(-1.0), 2));
  EXPECT_NEAR(TanhLogDetJacobian(u)[0].item<double>(), expected, 1e-5);
}

TEST(TanhGaussianTest, LogProbIsGaussianMinusLogDet) {
  const TanhGaussian dist{DiagGaussian{Make(kMean), Make(kStd)}};
  const torch::Tensor u = Make(kX);
  const torch::Tensor expected = dist.base.LogProb(u) - TanhLogDetJacobian(u);
  EXPECT_TRUE(torch::allclose(dist.LogProb(u), expected));
  // Hand-computed for the first row.
  double by_hand = 0.0;
  for (int d = 0; d < 3; ++d) {
    const double z = (kX[d] - kMean[d]) / kStd[d];
    const double t = std::tanh(kX[d]);
    by_hand += -0.5 * z * z - std::log(kStd[d]) - 0.5 * std::log(2 * kPi) - std::log(1 - t * t);
  }
  EXPECT_NEAR(dist.LogProb(u)[0].item<double>(), by_hand, 1e-3);
}

TEST(TanhGaussianTest, EntropyIsSingleSampleEstimateAtSeededDraw) {
  const TanhGaussian dist{DiagGaussian{Make(kMean), Make(kStd)}};
  torch::Generator generator = MakeGenerator(5);
  const torch::Tensor entropy = dist.Entropy(generator);
  torch::Generator replay = MakeGenerator(5);
  const torch::Tensor u = dist.base.Sample(replay);
  EXPECT_TRUE(torch::allclose(entropy, dist.base.Entropy() + TanhLogDetJacobian(u)));
  // The tanh correction lowers the entropy below the Gaussian's.
  EXPECT_TRUE((entropy < dist.base.Entropy()).all().item<bool>());
}

TEST(TanhGaussianTest, ModeIsTanhOfMean) {
  const TanhGaussian dist{DiagGaussian{Make(kMean), Make(kStd)}};
  EXPECT_TRUE(torch::allclose(dist.Mode(), torch::tanh(Make(kMean))));
}

}  // namespace
}  // namespace gorl::nn
