// The actors' LibTorch-free inference against the LibTorch networks it
// copies: same snapshot, same inputs, same outputs (to float rounding).
#include "common/nn/policy_inference.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/nn/decoder.h"
#include "common/nn/dense_mlp.h"
#include "common/nn/latent_policy.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"
#include "tests/nn/test_inputs.h"
#include "tests/status_matchers.h"

namespace gorl::nn {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kObs = 5;
constexpr int kAct = 3;
constexpr int kRows = 37;  // not a multiple of any SIMD width
constexpr float kTolerance = 2e-5f;

RunningNormalizer FittedNormalizer(uint64_t seed) { return testing::FittedNormalizer(kObs, seed); }
torch::Tensor Obs(int rows, uint64_t seed) { return testing::RandomObs(rows, kObs, seed); }

std::vector<float> Values(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor Tensor(const std::vector<float>& values, std::vector<int64_t> shape) {
  return torch::tensor(values).reshape(shape);
}

void ExpectNear(const std::vector<float>& actual, const torch::Tensor& expected, const char* what) {
  const std::vector<float> want = Values(expected);
  ASSERT_EQ(actual.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(actual[i], want[i], kTolerance * (1.0f + std::fabs(want[i]))) << what << " " << i;
  }
}

v1::DecoderConfig DecoderConfig(int steps) {
  v1::DecoderConfig config;
  for (int width : {24, 24}) config.add_hidden(width);
  config.set_steps(steps);
  return config;
}

// A GoRL snapshot: trained-looking encoder (its weights perturbed so that
// the std is not the prior's) and a random decoder of `kind` (diffusion:
// predicting `prediction`).
v1::PolicySnapshot LatentSnapshot(
    v1::DecoderKind kind, LatentPolicy& encoder, std::unique_ptr<DecoderModel>& decoder,
    v1::DiffusionPrediction prediction = v1::DIFFUSION_PREDICTION_EPSILON) {
  v1::DecoderConfig config = DecoderConfig(6);
  config.set_diffusion_prediction(prediction);
  v1::PolicySnapshot snapshot;
  snapshot.set_policy_kind(v1::POLICY_KIND_LATENT);
  snapshot.set_encoder_version(7);
  encoder.WriteTo(snapshot);
  *snapshot.mutable_normalizer() = FittedNormalizer(1).ToProto();
  decoder = kind == v1::DECODER_KIND_IDENTITY
                ? DecoderModel::Identity(kind, kObs, kAct, DecoderConfig(4))
                : DecoderModel::NewTrainable(kind, kObs, kAct, config, FittedNormalizer(2),
                                             MakeGenerator(3));
  *snapshot.mutable_decoder() = decoder->ToProto(1);
  return snapshot;
}

LatentPolicy Encoder() {
  LatentPolicyOptions options;
  options.obs_size = kObs;
  options.latent_size = kAct;
  options.hidden = {16, 16};
  return LatentPolicy(options, MakeGenerator(4));
}

struct DecoderCase {
  v1::DecoderKind kind;
  v1::DiffusionPrediction prediction = v1::DIFFUSION_PREDICTION_EPSILON;
};

class LatentInferenceTest : public ::testing::TestWithParam<DecoderCase> {};

TEST_P(LatentInferenceTest, MatchesTheLibTorchNetworksForEverySource) {
  LatentPolicy encoder = Encoder();
  std::unique_ptr<DecoderModel> decoder;
  const v1::PolicySnapshot snapshot =
      LatentSnapshot(GetParam().kind, encoder, decoder, GetParam().prediction);
  auto inference = PolicyInference::FromSnapshot(snapshot);
  ASSERT_TRUE(inference.ok()) << inference.status();
  EXPECT_EQ((*inference)->encoder_version(), 7);

  const torch::Tensor obs = Obs(kRows, 5);
  torch::Tensor obs_norm = obs.clone();
  FittedNormalizer(1).Normalize(obs_norm.data_ptr<float>(), kRows);
  torch::NoGradGuard no_grad;
  const auto [mean, std_dev] = encoder.Distribution(obs_norm);
  Rng rng(11);
  ActOutput out;
  for (const LatentSource source :
       {LatentSource::kEncoderMean, LatentSource::kEncoder, LatentSource::kPrior}) {
    SCOPED_TRACE(static_cast<int>(source));
    (*inference)->Act(obs.data_ptr<float>(), kRows, source, /*record=*/false, rng, out);
    const torch::Tensor z = Tensor(out.latents, {kRows, kAct});
    if (source == LatentSource::kEncoderMean) ExpectNear(out.latents, mean, "z = mean");
    if (source != LatentSource::kPrior) {
      // The log-density of the z it drew, under the encoder's Gaussian.
      const torch::Tensor log_prob =
          (-0.5 * ((z - mean) / std_dev).pow(2) - std_dev.log() - 0.5 * std::log(2 * M_PI)).sum(-1);
      ExpectNear(out.log_probs, log_prob, "log_prob");
    }
    if (source == LatentSource::kEncoder) {
      // Drawn, so not the mean: the white noise has unit scale.
      const double white_std = ((z - mean) / std_dev).std().item<double>();
      EXPECT_NEAR(white_std, 1.0, 0.25);
    }
    if (source == LatentSource::kPrior) {
      EXPECT_NEAR(z.std().item<double>(), 1.0, 0.25);
      EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.3);
    }
    const torch::Tensor u = decoder->Decode(obs, z);
    ExpectNear(out.pre_tanh, u, "pre-tanh action");
    ExpectNear(out.actions, torch::tanh(u), "action");
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllDecoders, LatentInferenceTest,
    ::testing::Values(DecoderCase{v1::DECODER_KIND_IDENTITY}, DecoderCase{v1::DECODER_KIND_FLOW},
                      DecoderCase{v1::DECODER_KIND_DIFFUSION},
                      DecoderCase{v1::DECODER_KIND_DIFFUSION, v1::DIFFUSION_PREDICTION_V}),
    [](const ::testing::TestParamInfo<DecoderCase>& info) {
      return std::string(v1::DecoderKind_Name(info.param.kind)) +
             (info.param.prediction == v1::DIFFUSION_PREDICTION_V ? "_V" : "");
    });

TEST(LatentInferenceTest, StageZeroDiffusionDecoderUsesItsLinearSchedule) {
  LatentPolicy encoder = Encoder();
  v1::PolicySnapshot snapshot;
  encoder.WriteTo(snapshot);
  *snapshot.mutable_normalizer() = FittedNormalizer(1).ToProto();
  const auto decoder =
      DecoderModel::Identity(v1::DECODER_KIND_DIFFUSION, kObs, kAct, DecoderConfig(10));
  *snapshot.mutable_decoder() = decoder->ToProto(0);
  auto inference = PolicyInference::FromSnapshot(snapshot);
  ASSERT_TRUE(inference.ok()) << inference.status();
  const torch::Tensor obs = Obs(kRows, 6);
  Rng rng(1);
  ActOutput out;
  (*inference)->Act(obs.data_ptr<float>(), kRows, LatentSource::kPrior, false, rng, out);
  // An all-zero network: u = z / sqrt(alpha_bar_0) of the linear schedule.
  const double scale = 1.0 / std::sqrt(LinearAlphaBar(10)[9].item<double>());
  for (int i = 0; i < kRows * kAct; ++i) {
    ASSERT_NEAR(out.pre_tanh[i], out.latents[i] * scale, 1e-5) << i;
  }
}

v1::PolicySnapshot FlowSnapshot(v1::PolicyKind kind, std::unique_ptr<DecoderModel>& flow) {
  flow = DecoderModel::NewFlowPolicy(kObs, kAct, {24, 24}, /*steps=*/5, /*velocity_scale=*/0.25,
                                     MakeGenerator(9));
  v1::Decoder proto = flow->ToProto(3);
  *proto.mutable_normalizer() = FittedNormalizer(8).ToProto();
  // The actor normalises with the proto's normaliser: rebuild from it.
  flow = *DecoderModel::FromProto(proto);
  v1::PolicySnapshot snapshot;
  snapshot.set_policy_kind(kind);
  snapshot.set_obs_size(kObs);
  snapshot.set_latent_size(kAct);
  *snapshot.mutable_flow_policy() = proto;
  snapshot.set_fpo_draws(4);
  snapshot.set_dppo_sigma(0.05f);
  return snapshot;
}

// A flow policy of `kind`, its LibTorch twin, and observations to act on.
class FlowInferenceTest : public ::testing::Test {
 protected:
  void Build(v1::PolicyKind kind) {
    auto built = PolicyInference::FromSnapshot(FlowSnapshot(kind, flow));
    ASSERT_TRUE(built.ok()) << built.status();
    inference = *std::move(built);
    obs = Obs(kRows, 12);
    obs_norm = flow->NormalizeObs(obs);
  }

  std::unique_ptr<DecoderModel> flow;
  std::unique_ptr<PolicyInference> inference;
  torch::Tensor obs, obs_norm;
  torch::NoGradGuard no_grad;
  Rng rng{2};
  ActOutput out;
};

TEST_F(FlowInferenceTest, FpoRecordsTheLossesTheLearnerRecomputes) {
  ASSERT_NO_FATAL_FAILURE(Build(v1::POLICY_KIND_FPO));
  inference->Act(obs.data_ptr<float>(), kRows, LatentSource::kEncoderMean, false, rng, out);
  ExpectNear(out.pre_tanh,
             flow->SampleNormalized(obs_norm, torch::zeros({kRows, kAct}), 0.0, nullptr),
             "deterministic flow policy");
  inference->Act(obs.data_ptr<float>(), kRows, LatentSource::kEncoder, true, rng, out);
  const torch::Tensor u = Tensor(out.pre_tanh, {kRows, kAct});
  const torch::Tensor taus = Tensor(out.fpo_times, {kRows, 4});
  const torch::Tensor eps = Tensor(out.fpo_noise, {kRows, 4, kAct});
  const torch::Tensor losses = flow->CfmLosses(obs_norm, u, taus, eps);
  ExpectNear(out.fpo_old_losses, losses, "FPO old losses");
  ExpectNear(out.log_probs, -losses.mean(-1), "FPO log-prob proxy");
  // The times are the sampling grid's.
  for (const float tau : out.fpo_times) {
    const double k = (1.0 - tau) * 5;
    EXPECT_NEAR(k, std::round(k), 1e-5);
    EXPECT_GT(tau, 0.0f);
    EXPECT_LE(tau, 1.0f);
  }
}

TEST_F(FlowInferenceTest, DppoRecordsTheChainAndTheLearnersStepLikelihoods) {
  ASSERT_NO_FATAL_FAILURE(Build(v1::POLICY_KIND_DPPO));
  inference->Act(obs.data_ptr<float>(), kRows, LatentSource::kEncoder, true, rng, out);
  const torch::Tensor chain = Tensor(out.dppo_chain, {kRows, 6, kAct});
  ExpectNear(out.pre_tanh, chain.select(1, 5), "last chain state");
  const torch::Tensor step_log_probs = flow->StepLogLikelihoods(obs_norm, chain, 0.05);
  ExpectNear(out.dppo_log_probs, step_log_probs, "DPPO step log-likelihoods");
  ExpectNear(out.log_probs, step_log_probs.sum(-1), "DPPO log-prob");
}

TEST(PolicyInferenceTest, RefusesInconsistentSnapshots) {
  LatentPolicy encoder = Encoder();
  std::unique_ptr<DecoderModel> decoder;
  const v1::PolicySnapshot good = LatentSnapshot(v1::DECODER_KIND_FLOW, encoder, decoder);
  v1::PolicySnapshot wrong_decoder = good;
  wrong_decoder.mutable_decoder()->set_action_size(kAct + 1);
  EXPECT_THAT(PolicyInference::FromSnapshot(wrong_decoder).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decoder")));
  v1::PolicySnapshot bad_kind = good;
  bad_kind.set_policy_kind(static_cast<v1::PolicyKind>(99));
  EXPECT_THAT(PolicyInference::FromSnapshot(bad_kind).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("policy_kind")));
  v1::PolicySnapshot nan_weight = good;
  nan_weight.mutable_encoder()->mutable_tensors(0)->set_values(
      0, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(PolicyInference::FromSnapshot(nan_weight).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("encoder")));

  std::unique_ptr<DecoderModel> flow;
  v1::PolicySnapshot no_draws = FlowSnapshot(v1::POLICY_KIND_FPO, flow);
  no_draws.set_fpo_draws(0);
  EXPECT_THAT(PolicyInference::FromSnapshot(no_draws).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fpo_draws")));
  v1::PolicySnapshot nan_sigma = FlowSnapshot(v1::POLICY_KIND_DPPO, flow);
  nan_sigma.set_dppo_sigma(std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(PolicyInference::FromSnapshot(nan_sigma).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dppo_sigma")));
  v1::PolicySnapshot diffusion_flow = FlowSnapshot(v1::POLICY_KIND_DPPO, flow);
  diffusion_flow.mutable_flow_policy()->set_kind(v1::DECODER_KIND_IDENTITY);
  diffusion_flow.mutable_flow_policy()->clear_weights();
  EXPECT_THAT(PolicyInference::FromSnapshot(diffusion_flow).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("flow network")));
}

TEST(DenseMlpTest, MatchesLibTorchAcrossTheSiluRangeAndTheRowBlocking) {
  // 300 x 300 layers make MatMul split the batch into row blocks (dense_mlp.cc).
  for (const int width : {7, 300}) {
    SCOPED_TRACE(width);
    MlpOptions options;
    options.input_size = 11;
    options.hidden = {width, width};
    options.output_size = 4;
    Mlp torch_mlp(options, MakeGenerator(5));
    const DenseMlp dense(torch_mlp->ToDense());
    // Inputs wide enough to drive the hidden units far into both tails.
    const torch::Tensor x = (torch::randn({kRows, 11}, MakeGenerator(6)) * 40.0).contiguous();
    torch::NoGradGuard no_grad;
    const torch::Tensor want = torch_mlp->forward(x);
    std::vector<float> y(static_cast<size_t>(kRows) * 4);
    DenseMlp::Workspace ws;
    dense.Forward(x.data_ptr<float>(), kRows, y.data(), ws);
    const std::vector<float> w = Values(want);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], w[i], 1e-4f * (1.0f + std::fabs(w[i]))) << i;
    }
  }
}

TEST(DenseMlpTest, BothSiluPathsAgreeWithTheFormulaIncludingExtremes) {
  std::vector<float> x;
  for (float v = -120.0f; v <= 120.0f; v += 0.37f) x.push_back(v);
  for (const float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 86.9f, 87.1f, -87.1f, -88.5f, 200.0f, -200.0f,
                        std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()}) {
    x.push_back(v);
  }
  auto check = [&](void (*silu)(float*, int), const char* name) {
    std::vector<float> y = x;
    silu(y.data(), static_cast<int>(y.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = x[i] / (1.0 + std::exp(-static_cast<double>(x[i])));
      ASSERT_NEAR(y[i], want, 1e-6 * (1.0 + std::fabs(want))) << name << " at " << x[i];
    }
  };
  check(internal::SiluPortable, "portable");
  check(SiluInPlace, "dispatched");
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    check(internal::SiluAvx2, "avx2");
  }
#endif
}

}  // namespace
}  // namespace gorl::nn
