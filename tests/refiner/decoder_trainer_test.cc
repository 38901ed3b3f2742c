#include "refiner/decoder_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/nn/decoder.h"
#include "common/nn/tensor_codec.h"
#include "common/random.h"
#include "tests/status_matchers.h"

namespace gorl::refiner {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kObs = 2;

// Pre-tanh actions a = +-scale with equal probability, independent of the
// observation; observations ~ N(5, 2^2) so the normaliser has work to do.
v1::RefinementData Bimodal(int pairs, uint64_t seed, bool with_latents = false,
                           float scale = 1.0f) {
  Rng rng(seed);
  v1::RefinementData data;
  data.set_obs_size(kObs);
  data.set_action_size(1);
  for (int i = 0; i < pairs; ++i) {
    for (int d = 0; d < kObs; ++d) data.add_observations(static_cast<float>(rng.Normal(5, 2)));
    const float a = rng.Uniform() < 0.5 ? -scale : scale;
    data.add_actions(a);
    if (with_latents) data.add_latents(static_cast<float>(rng.Normal()));
  }
  return data;
}

v1::DecoderConfig SmallDecoder() {
  v1::DecoderConfig config;
  for (int w : {64, 64}) config.add_hidden(w);
  config.set_steps(10);
  return config;
}

v1::RefineConfig Refine(int epochs, double lr, int patience = 0) {
  v1::RefineConfig config;
  config.set_batch_size(256);
  config.set_learning_rate(lr);
  config.set_epochs(epochs);
  config.set_samples_per_pair(4);
  config.set_validation_fraction(0.1);
  config.set_patience(patience);
  config.set_inputs(v1::REFINE_INPUTS_PRIOR);
  return config;
}

std::string Message(const absl::StatusOr<RefineResult>& result) {
  return std::string(result.status().message());
}

TEST(DecoderTrainerTest, RefusesMalformedData) {
  const v1::DecoderConfig decoder = SmallDecoder();
  const v1::RefineConfig refine = Refine(1, 1e-3);
  auto train = [&](const v1::RefinementData& data, v1::DecoderKind kind = v1::DECODER_KIND_FLOW,
                   const v1::RefineConfig& r = Refine(1, 1e-3)) {
    return TrainDecoder(data, kind, decoder, r, 1, 1);
  };
  const v1::RefinementData good = Bimodal(50, 1);
  GORL_ASSERT_OK(train(good));

  v1::RefinementData short_obs = good;
  short_obs.mutable_observations()->RemoveLast();
  EXPECT_THAT(train(short_obs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("observation values")));

  v1::RefinementData no_size = good;
  no_size.set_obs_size(0);
  EXPECT_THAT(Message(train(no_size)), HasSubstr("obs_size"));

  v1::RefinementData nan = good;
  nan.set_actions(4, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(Message(train(nan)), HasSubstr("refinement data.actions[4] is not finite"));

  EXPECT_THAT(Message(train(Bimodal(1, 2))), HasSubstr("need at least 2"));
  // 5 pairs x 0.1 leaves no validation pair.
  EXPECT_THAT(Message(train(Bimodal(5, 2))), HasSubstr("no validation pair"));

  EXPECT_THAT(Message(train(good, v1::DECODER_KIND_IDENTITY)),
              HasSubstr("only flow and diffusion"));

  v1::RefineConfig ablation = refine;
  ablation.set_inputs(v1::REFINE_INPUTS_ENCODER);
  EXPECT_THAT(train(good, v1::DECODER_KIND_FLOW, ablation),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("latents")));
  GORL_EXPECT_OK(train(Bimodal(50, 1, /*with_latents=*/true), v1::DECODER_KIND_FLOW, ablation));
}

// Decodes z ~ N(0, 1) at random observations from the trained decoder.
torch::Tensor DecodeSamples(const v1::Decoder& proto, int n) {
  auto decoder = nn::DecoderModel::FromProto(proto);
  GORL_EXPECT_OK(decoder);
  torch::Generator gen = nn::MakeGenerator(4242);
  const torch::Tensor obs = 5.0 + 2.0 * torch::randn({n, kObs}, gen);
  const torch::Tensor z = torch::randn({n, 1}, gen);
  torch::NoGradGuard no_grad;
  return (*decoder)->Decode(obs, z).reshape({n});
}

class BimodalTest : public ::testing::TestWithParam<v1::DecoderKind> {};

TEST_P(BimodalTest, LearnsBothModesFromThePrior) {
  const int pairs = 2000;
  GORL_ASSERT_OK_AND_ASSIGN(
      const auto result,
      TrainDecoder(Bimodal(pairs, 7), GetParam(), SmallDecoder(),
                   Refine(/*epochs=*/60, /*lr=*/3e-3), /*seed=*/11, /*version=*/3));
  EXPECT_EQ(result.decoder.version(), 3);
  EXPECT_EQ(result.decoder.kind(), GetParam());
  EXPECT_EQ(result.epochs_run, 60);
  ASSERT_EQ(result.validation_losses.size(), 60u);
  ASSERT_EQ(result.train_losses.size(), 60u);
  // Validation loss goes down, and the reported best is the minimum.
  EXPECT_LT(result.best_validation_loss, 0.8 * result.validation_losses.front());
  EXPECT_DOUBLE_EQ(result.best_validation_loss, *std::min_element(result.validation_losses.begin(),
                                                                  result.validation_losses.end()));

  // The decoder normalises with the training split's statistics.
  const v1::NormalizerState& norm = result.decoder.normalizer();
  EXPECT_EQ(norm.count(), pairs - 200);
  ASSERT_EQ(norm.mean_size(), kObs);
  for (int d = 0; d < kObs; ++d) EXPECT_NEAR(norm.mean(d), 5.0, 0.3);

  // Bimodal samples: few between the modes, both modes populated. (The
  // identity map of z ~ N(0, 1) would put 38% of the mass in |u| < 0.5.)
  const torch::Tensor u = DecodeSamples(result.decoder, 2000);
  const double middle = (u.abs() < 0.5).to(torch::kFloat64).mean().item<double>();
  const double near_modes = ((u.abs() - 1.0).abs() < 0.4).to(torch::kFloat64).mean().item<double>();
  const double positive = (u > 0).to(torch::kFloat64).mean().item<double>();
  EXPECT_LT(middle, 0.2);
  EXPECT_GT(near_modes, 0.7);
  EXPECT_GT(positive, 0.3);
  EXPECT_LT(positive, 0.7);
}

INSTANTIATE_TEST_SUITE_P(Kinds, BimodalTest,
                         ::testing::Values(v1::DECODER_KIND_FLOW, v1::DECODER_KIND_DIFFUSION),
                         [](const auto& info) { return v1::DecoderKind_Name(info.param); });

// The only way a refinement can make a policy multimodal at a state
// (docs/learning.md, "Where GoRL's multimodality can come from"): data that
// is unimodal at every state but switches between two actions across
// nearby states. Here u = +-0.6 + N(0, 0.05^2) with the sign of the 1-D
// observation c ~ U(-1, 1); the decoder, smooth in c, is bimodal where the
// switch is, and unimodal away from it.
v1::RefinementData SwitchAcrossStates(int pairs, uint64_t seed) {
  Rng rng(seed);
  v1::RefinementData data;
  data.set_obs_size(1);
  data.set_action_size(1);
  for (int i = 0; i < pairs; ++i) {
    const double c = rng.Uniform(-1.0, 1.0);
    data.add_observations(static_cast<float>(c));
    data.add_actions(static_cast<float>((c > 0 ? 0.6 : -0.6) + 0.05 * rng.Normal()));
  }
  return data;
}

TEST(DecoderTrainerTest, DataSwitchingAcrossNearbyStatesMakesTheDecoderBimodalThere) {
  GORL_ASSERT_OK_AND_ASSIGN(
      const auto result,
      TrainDecoder(SwitchAcrossStates(4000, 3), v1::DECODER_KIND_FLOW, SmallDecoder(),
                   Refine(/*epochs=*/60, /*lr=*/3e-3), /*seed=*/5, /*version=*/1));
  GORL_ASSERT_OK_AND_ASSIGN(auto decoder, nn::DecoderModel::FromProto(result.decoder));
  torch::Generator gen = nn::MakeGenerator(99);
  torch::NoGradGuard no_grad;
  auto decode_at = [&](float c) {
    const int n = 4000;
    return decoder->Decode(torch::full({n, 1}, c), torch::randn({n, 1}, gen)).reshape({n});
  };
  auto fraction = [](const torch::Tensor& mask) {
    return mask.to(torch::kFloat64).mean().item<double>();
  };
  const torch::Tensor at_switch = decode_at(0.0f);
  const double upper = fraction((at_switch - 0.6).abs() < 0.3);
  const double lower = fraction((at_switch + 0.6).abs() < 0.3);
  const double middle = fraction(at_switch.abs() < 0.15);
  std::printf("at c = 0: %.2f near +0.6, %.2f near -0.6, %.2f in |u| < 0.15\n", upper, lower,
              middle);
  EXPECT_GT(upper, 0.2);
  EXPECT_GT(lower, 0.2);
  EXPECT_LT(middle, std::min(upper, lower));
  // Away from the switch, one mode.
  EXPECT_GT(fraction((decode_at(0.5f) - 0.6).abs() < 0.2), 0.95);
  EXPECT_GT(fraction((decode_at(-0.5f) + 0.6).abs() < 0.2), 0.95);
}

// A saturating policy's targets (+-20 here) are learned as +-target_clip:
// the same actions after tanh to 0.5%, without spending the fit on them.
TEST(DecoderTrainerTest, ClampsTargetsToTargetClip) {
  const v1::RefinementData data = Bimodal(2000, 7, /*with_latents=*/false, /*scale=*/20.0f);
  auto fraction = [](const torch::Tensor& mask) {
    return mask.to(torch::kFloat64).mean().item<double>();
  };
  v1::RefineConfig clipped = Refine(/*epochs=*/60, /*lr=*/3e-3);
  clipped.set_target_clip(3.0f);
  GORL_ASSERT_OK_AND_ASSIGN(const auto with_clip, TrainDecoder(data, v1::DECODER_KIND_FLOW,
                                                               SmallDecoder(), clipped, 11, 1));
  const torch::Tensor u = DecodeSamples(with_clip.decoder, 2000);
  EXPECT_GT(fraction((u.abs() - 3.0).abs() < 0.5), 0.7);
  EXPECT_LT(fraction(u.abs() > 5.0), 0.02);

  // Unclamped, the same data teaches the +-20 the targets hold.
  GORL_ASSERT_OK_AND_ASSIGN(
      const auto without_clip,
      TrainDecoder(data, v1::DECODER_KIND_FLOW, SmallDecoder(), Refine(60, 3e-3), 11, 1));
  EXPECT_GT(fraction(DecodeSamples(without_clip.decoder, 2000).abs() > 10.0), 0.7);
}

// Noisy settings (tiny data, large steps) whose validation loss is not
// monotone, so the best epoch is not the last one.
v1::RefineConfig Bouncy(int epochs, int patience) {
  v1::RefineConfig config = Refine(epochs, /*lr=*/3e-2, patience);
  config.set_batch_size(32);
  config.set_validation_fraction(0.25);
  return config;
}

size_t ArgMin(const std::vector<double>& v) {
  return std::min_element(v.begin(), v.end()) - v.begin();
}

TEST(DecoderTrainerTest, KeepsTheBestWeights) {
  const v1::RefinementData data = Bimodal(40, 3);
  const int epochs = 60;
  GORL_ASSERT_OK_AND_ASSIGN(const auto full, TrainDecoder(data, v1::DECODER_KIND_FLOW,
                                                          SmallDecoder(), Bouncy(epochs, 0), 5, 1));
  const size_t best = ArgMin(full.validation_losses);
  ASSERT_LT(best + 1, static_cast<size_t>(epochs))
      << "setup: the last epoch should not be best: "
      << ::testing::PrintToString(full.validation_losses);
  EXPECT_DOUBLE_EQ(full.best_validation_loss, full.validation_losses[best]);
  // Training is deterministic per seed, so a run stopped right after the
  // best epoch ends with the weights that the full run must have restored.
  GORL_ASSERT_OK_AND_ASSIGN(const auto truncated,
                            TrainDecoder(data, v1::DECODER_KIND_FLOW, SmallDecoder(),
                                         Bouncy(static_cast<int>(best) + 1, 0), 5, 1));
  EXPECT_EQ(truncated.validation_losses.back(), full.validation_losses[best]);
  // (Compared as a bool: printing two weight bundles helps nobody.)
  EXPECT_TRUE(full.decoder.weights().SerializeAsString() ==
              truncated.decoder.weights().SerializeAsString())
      << "the full run did not restore epoch " << best << "'s weights";
}

TEST(DecoderTrainerTest, StopsEarlyAfterPatienceEpochsWithoutImprovement) {
  const v1::RefinementData data = Bimodal(40, 3);
  const int patience = 2;
  GORL_ASSERT_OK_AND_ASSIGN(const auto result,
                            TrainDecoder(data, v1::DECODER_KIND_DIFFUSION, SmallDecoder(),
                                         Bouncy(/*epochs=*/200, patience), 5, 1));
  ASSERT_LT(result.epochs_run, 200);
  ASSERT_EQ(result.validation_losses.size(), static_cast<size_t>(result.epochs_run));
  ASSERT_EQ(result.train_losses.size(), static_cast<size_t>(result.epochs_run));
  // The run ends `patience` epochs after its best one.
  EXPECT_EQ(static_cast<size_t>(result.epochs_run),
            ArgMin(result.validation_losses) + 1 + patience);
}

// The refiner exports each epoch's losses as training goes
// (gorl_refine_epoch, gorl_refine_epoch_validation_loss): the callback sees
// exactly the curves the result holds, in order.
TEST(DecoderTrainerTest, TellsEveryEpochsLosses) {
  const v1::RefinementData data = Bimodal(40, 3);
  std::vector<int> epochs;
  std::vector<double> train, validation;
  GORL_ASSERT_OK_AND_ASSIGN(
      const auto result,
      TrainDecoder(data, v1::DECODER_KIND_FLOW, SmallDecoder(), Bouncy(5, 0), 5, 1, v1::DEVICE_CPU,
                   nullptr, [&](int epoch, double train_loss, double val_loss) {
                     epochs.push_back(epoch);
                     train.push_back(train_loss);
                     validation.push_back(val_loss);
                   }));
  EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(train, result.train_losses);
  EXPECT_EQ(validation, result.validation_losses);
}

}  // namespace
}  // namespace gorl::refiner
