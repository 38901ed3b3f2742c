#include "common/nn/mlp.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/nn/tensor_codec.h"

namespace gorl::nn {
namespace {

MlpOptions Options(MlpInit init = MlpInit::kLecunUniform) {
  MlpOptions options;
  options.input_size = 5;
  options.hidden = {7, 3};
  options.output_size = 2;
  options.init = init;
  return options;
}

TEST(MlpTest, LayersHaveStableNamesAndShapes) {
  Mlp mlp(Options(), MakeGenerator(1));
  const auto params = mlp->named_parameters();
  const std::vector<std::string> expected = {"layer0.weight", "layer0.bias",   "layer1.weight",
                                             "layer1.bias",   "layer2.weight", "layer2.bias"};
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(params[i].key(), expected[i]);
  EXPECT_EQ(params["layer0.weight"].sizes(), (std::vector<int64_t>{7, 5}));
  EXPECT_EQ(params["layer1.weight"].sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(params["layer2.weight"].sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(mlp->forward(torch::zeros({4, 5})).sizes(), (std::vector<int64_t>{4, 2}));
}

TEST(MlpTest, LecunUniformBoundsAndZeroBiases) {
  Mlp mlp(Options(), MakeGenerator(1));
  for (const auto& item : mlp->named_parameters()) {
    const torch::Tensor& value = item.value();
    if (item.key().find("bias") != std::string::npos) {
      EXPECT_EQ(value.abs().max().item<float>(), 0.0f) << item.key();
      continue;
    }
    const double bound = std::sqrt(3.0 / value.size(1));
    const double max_abs = value.abs().max().item<double>();
    EXPECT_LE(max_abs, bound) << item.key();
    // Not degenerate: the draws spread over most of the interval.
    EXPECT_GT(max_abs, 0.3 * bound) << item.key();
  }
}

TEST(MlpTest, LecunUniformVarianceIsOneOverFanIn) {
  MlpOptions options;
  options.input_size = 256;
  options.output_size = 512;
  Mlp mlp(options, MakeGenerator(3));
  const torch::Tensor weight = mlp->named_parameters()["layer0.weight"];
  const double variance = weight.to(torch::kDouble).pow(2).mean().item<double>();
  EXPECT_NEAR(variance * 256.0, 1.0, 0.03);
  EXPECT_NEAR(weight.mean().item<double>(), 0.0, 0.01);
}

TEST(MlpTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  Mlp a(Options(), MakeGenerator(7));
  Mlp b(Options(), MakeGenerator(7));
  Mlp c(Options(), MakeGenerator(8));
  const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;
  }
  EXPECT_FALSE(torch::equal(pa[0], pc[0]));
}

TEST(MlpTest, ReinitializeRedrawsAsAtConstruction) {
  Mlp fresh(Options(), MakeGenerator(7));
  Mlp mlp(Options(), MakeGenerator(8));
  mlp->Reinitialize(MakeGenerator(7));
  const auto expected = fresh->parameters(), actual = mlp->parameters();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::equal(expected[i], actual[i])) << i;
  }
  // Reinitialising does not turn parameters into non-leaves.
  for (const auto& p : actual) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
}

TEST(MlpTest, ZeroInitIsExactlyZero) {
  Mlp mlp(Options(MlpInit::kZero), MakeGenerator(1));
  for (const auto& p : mlp->parameters()) EXPECT_EQ(p.abs().max().item<float>(), 0.0f);
  const torch::Tensor x = torch::randn({16, 5}, MakeGenerator(2)) * 100.0;
  const torch::Tensor y = mlp->forward(x);
  EXPECT_TRUE(torch::equal(y, torch::zeros({16, 2})));
  mlp->Reinitialize(MakeGenerator(5));
  for (const auto& p : mlp->parameters()) EXPECT_EQ(p.abs().max().item<float>(), 0.0f);
}

TEST(MlpTest, SiluBetweenLayersNoneAfterLast) {
  MlpOptions options;
  options.input_size = 1;
  options.hidden = {1};
  options.output_size = 1;
  Mlp mlp(options, MakeGenerator(1));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : mlp->parameters()) p.zero_();
    mlp->named_parameters()["layer0.weight"].fill_(1.0);
    mlp->named_parameters()["layer1.weight"].fill_(1.0);
  }
  const float x = -2.0f;
  const double silu = x / (1.0 + std::exp(-x));  // -0.2384
  const float y = mlp->forward(torch::full({1, 1}, x)).item<float>();
  EXPECT_NEAR(y, silu, 1e-6);
}

TEST(MlpTest, GradientsFlowToEveryParameter) {
  Mlp mlp(Options(), MakeGenerator(4));
  mlp->forward(torch::randn({8, 5}, MakeGenerator(9))).pow(2).sum().backward();
  for (const auto& item : mlp->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<float>(), 0.0f) << item.key();
  }
}

}  // namespace
}  // namespace gorl::nn
