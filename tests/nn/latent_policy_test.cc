#include "common/nn/latent_policy.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/nn/tensor_codec.h"
#include "tests/status_matchers.h"

namespace gorl::nn {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;

LatentPolicyOptions Options() {
  LatentPolicyOptions options;
  options.obs_size = 5;
  options.latent_size = 3;
  options.hidden = {16, 16};
  options.min_std = 1e-3;
  options.max_std = 10.0;
  return options;
}

TEST(LatentPolicyTest, MeanIsFirstHalfStdIsTransformedSecondHalf) {
  LatentPolicy policy(Options(), MakeGenerator(1));
  const torch::Tensor obs = torch::randn({7, 5}, MakeGenerator(2));
  const auto [mean, stddev] = policy.Distribution(obs);
  ASSERT_EQ(mean.sizes(), (std::vector<int64_t>{7, 3}));
  ASSERT_EQ(stddev.sizes(), (std::vector<int64_t>{7, 3}));
  const torch::Tensor out = policy.net()->forward(obs);
  EXPECT_TRUE(torch::equal(mean, out.slice(1, 0, 3)));
  const torch::Tensor raw = out.slice(1, 3, 6);
  EXPECT_TRUE(torch::allclose(stddev, torch::clamp(torch::softplus(raw) + 1e-3, 1e-3, 10.0)));
}

TEST(LatentPolicyTest, StdStaysWithinRangeForExtremeInputs) {
  LatentPolicyOptions options = Options();
  options.min_std = 0.05;
  options.max_std = 2.0;
  LatentPolicy policy(options, MakeGenerator(1));
  const torch::Tensor obs = torch::randn({256, 5}, MakeGenerator(2)) * 1000.0;
  const auto [mean, stddev] = policy.Distribution(obs);
  EXPECT_GE(stddev.min().item<float>(), 0.05f);
  EXPECT_LE(stddev.max().item<float>(), 2.0f);
  // The inputs are large enough that both clips are hit.
  EXPECT_EQ(stddev.min().item<float>(), 0.05f);
  EXPECT_EQ(stddev.max().item<float>(), 2.0f);
}

TEST(LatentPolicyTest, SnapshotRoundTripGivesIdenticalOutputs) {
  LatentPolicy policy(Options(), MakeGenerator(1));
  v1::PolicySnapshot snapshot;
  policy.WriteTo(snapshot);
  EXPECT_EQ(snapshot.obs_size(), 5);
  EXPECT_EQ(snapshot.latent_size(), 3);
  ASSERT_EQ(snapshot.encoder_hidden_size(), 2);
  EXPECT_EQ(snapshot.encoder_hidden(1), 16);
  EXPECT_FLOAT_EQ(snapshot.min_std(), 1e-3f);
  EXPECT_FLOAT_EQ(snapshot.max_std(), 10.0f);
  EXPECT_EQ(snapshot.encoder().tensors_size(), 6);

  GORL_ASSERT_OK_AND_ASSIGN(auto restored, LatentPolicy::FromSnapshot(snapshot));
  const torch::Tensor obs = torch::randn({9, 5}, MakeGenerator(4)) * 3.0;
  const auto [mean_a, std_a] = policy.Distribution(obs);
  const auto [mean_b, std_b] = restored->Distribution(obs);
  EXPECT_TRUE(torch::equal(mean_a, mean_b));
  EXPECT_TRUE(torch::equal(std_a, std_b));
}

TEST(LatentPolicyTest, WriteToReplacesHiddenWidths) {
  LatentPolicy policy(Options(), MakeGenerator(1));
  v1::PolicySnapshot snapshot;
  snapshot.add_encoder_hidden(99);
  policy.WriteTo(snapshot);
  EXPECT_EQ(snapshot.encoder_hidden_size(), 2);
}

TEST(LatentPolicyTest, DeterministicPerSeedAndReinitialize) {
  LatentPolicy a(Options(), MakeGenerator(3));
  LatentPolicy b(Options(), MakeGenerator(3));
  LatentPolicy c(Options(), MakeGenerator(4));
  const torch::Tensor obs = torch::randn({2, 5}, MakeGenerator(9));
  EXPECT_TRUE(torch::equal(a.Distribution(obs).first, b.Distribution(obs).first));
  EXPECT_FALSE(torch::equal(a.Distribution(obs).first, c.Distribution(obs).first));
  c.Reinitialize(MakeGenerator(3));
  EXPECT_TRUE(torch::equal(a.Distribution(obs).first, c.Distribution(obs).first));
}

// The paper's "re-initialise the encoder to the prior": N(0, I) at every
// observation, while the hidden layers keep a seeded draw.
TEST(LatentPolicyTest, ReinitializeToPriorIsThePriorEverywhere) {
  LatentPolicy policy(Options(), MakeGenerator(3));
  policy.ReinitializeToPrior(MakeGenerator(5));
  const torch::Tensor obs = 10 * torch::randn({64, 5}, MakeGenerator(9));
  const auto [mean, std_dev] = policy.Distribution(obs);
  EXPECT_EQ(mean.abs().max().item<float>(), 0.0f);
  EXPECT_NEAR((std_dev - 1).abs().max().item<float>(), 0.0f, 1e-6);
  LatentPolicy again(Options(), MakeGenerator(4));
  again.ReinitializeToPrior(MakeGenerator(5));
  for (size_t i = 0; i < policy.net()->parameters().size(); ++i) {
    EXPECT_TRUE(torch::equal(policy.net()->parameters()[i], again.net()->parameters()[i])) << i;
  }
  // The hidden layers are drawn (only the output layer is fixed), so an
  // update of the output layer moves the mean off 0 state by state.
  EXPECT_GT(policy.net()->parameters()[0].abs().sum().item<float>(), 0.0f);
}

TEST(LatentPolicyTest, WorksUnderInferenceMode) {
  LatentPolicy policy(Options(), MakeGenerator(1));
  const torch::Tensor obs = torch::randn({2, 5}, MakeGenerator(2));
  const torch::Tensor expected = policy.Distribution(obs).first.detach();
  c10::InferenceMode guard;
  EXPECT_TRUE(torch::equal(policy.Distribution(obs).first, expected));
}

class FromSnapshotRejects : public ::testing::Test {
 protected:
  void SetUp() override { LatentPolicy(Options(), MakeGenerator(1)).WriteTo(snapshot_); }

  void ExpectRejected(const std::string& fragment) {
    EXPECT_THAT(LatentPolicy::FromSnapshot(snapshot_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(fragment)));
  }

  v1::PolicySnapshot snapshot_;
};

TEST_F(FromSnapshotRejects, ZeroObsSize) {
  snapshot_.set_obs_size(0);
  ExpectRejected("obs_size");
}

TEST_F(FromSnapshotRejects, ZeroLatentSize) {
  snapshot_.set_latent_size(0);
  ExpectRejected("latent_size");
}

TEST_F(FromSnapshotRejects, ZeroHiddenWidth) {
  snapshot_.set_encoder_hidden(1, 0);
  ExpectRejected("hidden layer 1");
}

TEST_F(FromSnapshotRejects, NonPositiveMinStd) {
  snapshot_.set_min_std(0.0f);
  ExpectRejected("min_std");
}

TEST_F(FromSnapshotRejects, MinStdAboveMaxStd) {
  snapshot_.set_min_std(5.0f);
  snapshot_.set_max_std(1.0f);
  ExpectRejected("max_std");
}

TEST_F(FromSnapshotRejects, WeightsOfAnotherShape) {
  snapshot_.set_latent_size(2);  // the last layer would have 4 outputs, not 6
  ExpectRejected("layer2.weight");
}

TEST_F(FromSnapshotRejects, MissingWeights) {
  snapshot_.clear_encoder();
  ExpectRejected("missing");
}

}  // namespace
}  // namespace gorl::nn
