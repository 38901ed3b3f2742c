#include "learner/ppo_learner.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/nn/latent_policy.h"
#include "common/nn/tensor_codec.h"
#include "common/running_normalizer.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/status_matchers.h"

namespace gorl::learner {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::Not;
using testing::SampleRollout;
using testing::Synthetic;
using testing::SyntheticOptions;

constexpr int kObs = 3;
constexpr int kLatent = 2;

v1::TrainConfig SmallConfig() {
  v1::TrainConfig config = testing::TinyTrainConfig({16, 16}, {32, 32});
  config.set_seed(3);
  config.mutable_ppo()->set_learning_rate(1e-2);
  config.mutable_ppo()->set_updates_per_batch(4);
  return config;
}

std::unique_ptr<PpoLearner> MakeLearner(const v1::TrainConfig& config, int obs = kObs,
                                        int latent = kLatent) {
  auto learner = PpoLearner::Create(config, obs, latent);
  GORL_EXPECT_OK(learner);
  return std::move(learner).value();
}

std::string EncoderBytes(const v1::PolicySnapshot& snapshot) {
  return snapshot.encoder().SerializeAsString();
}

TEST(PpoLearnerTest, CreateRefusesBadSizesAndConfigs) {
  EXPECT_THAT(PpoLearner::Create(SmallConfig(), 0, kLatent), Not(IsOk()));
  EXPECT_THAT(PpoLearner::Create(SmallConfig(), kObs, 0), Not(IsOk()));
  v1::TrainConfig config = SmallConfig();
  config.mutable_encoder()->set_min_std(0);
  EXPECT_THAT(PpoLearner::Create(config, kObs, kLatent),
              StatusIs(absl::StatusCode::kInvalidArgument));
  config = SmallConfig();
  config.mutable_ppo()->set_num_minibatches(0);
  EXPECT_THAT(PpoLearner::Create(config, kObs, kLatent), Not(IsOk()));
}

TEST(PpoLearnerTest, SnapshotDescribesTheEncoder) {
  auto learner = MakeLearner(SmallConfig());
  const v1::PolicySnapshot snapshot = learner->Snapshot();
  EXPECT_EQ(snapshot.obs_size(), kObs);
  EXPECT_EQ(snapshot.latent_size(), kLatent);
  EXPECT_EQ(snapshot.encoder_version(), learner->encoder_version());
  EXPECT_EQ(snapshot.normalizer().mean_size(), kObs);
  EXPECT_GT(snapshot.encoder().tensors_size(), 0);
  EXPECT_EQ(snapshot.decoder().weights().tensors_size(), 0);
  // The snapshot rebuilds into an encoder (what an actor does with it).
  GORL_EXPECT_OK(nn::LatentPolicy::FromSnapshot(snapshot));
}

TEST(PpoLearnerTest, RefusesMalformedRolloutsAndChangesNothing) {
  auto learner = MakeLearner(SmallConfig());
  const v1::PolicySnapshot before = learner->Snapshot();
  const v1::Rollout good = SampleRollout(before, Synthetic(1));

  struct Case {
    const char* name;
    std::function<void(v1::Rollout&)> corrupt;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"missing observation", [](v1::Rollout& r) { r.mutable_observations()->RemoveLast(); },
       absl::StatusCode::kInvalidArgument},
      {"missing reward", [](v1::Rollout& r) { r.mutable_rewards()->RemoveLast(); },
       absl::StatusCode::kInvalidArgument},
      {"wrong latent size", [](v1::Rollout& r) { r.set_latent_size(kLatent + 1); },
       absl::StatusCode::kInvalidArgument},
      {"NaN reward",
       [](v1::Rollout& r) { r.set_rewards(3, std::numeric_limits<float>::quiet_NaN()); },
       absl::StatusCode::kInvalidArgument},
      {"infinite observation",
       [](v1::Rollout& r) { r.set_observations(7, std::numeric_limits<float>::infinity()); },
       absl::StatusCode::kInvalidArgument},
      // The learner is at version 0: any other version is not its policy's.
      {"other encoder version",
       [](v1::Rollout& r) { r.set_encoder_version(r.encoder_version() + 1); },
       absl::StatusCode::kFailedPrecondition},
      {"negative encoder version", [](v1::Rollout& r) { r.set_encoder_version(-1); },
       absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    v1::Rollout bad = good;
    c.corrupt(bad);
    // A good rollout first: a bad one anywhere refuses the whole batch.
    EXPECT_THAT(learner->Update({good, bad}), StatusIs(c.code)) << c.name;
  }
  EXPECT_THAT(learner->Update({}), Not(IsOk()));
  const v1::PolicySnapshot after = learner->Snapshot();
  EXPECT_EQ(learner->encoder_version(), before.encoder_version());
  EXPECT_EQ(EncoderBytes(after), EncoderBytes(before));
  EXPECT_EQ(after.normalizer().count(), 0.0);
}

TEST(PpoLearnerTest, UpdateChangesWeightsAndIncrementsVersion) {
  auto learner = MakeLearner(SmallConfig());
  const v1::PolicySnapshot before = learner->Snapshot();
  const v1::Rollout rollout = SampleRollout(before, Synthetic(2));
  GORL_ASSERT_OK_AND_ASSIGN(const auto metrics, learner->Update({rollout}));
  EXPECT_EQ(learner->encoder_version(), before.encoder_version() + 1);
  EXPECT_NE(EncoderBytes(learner->Snapshot()), EncoderBytes(before));
  EXPECT_EQ(metrics.samples, 8 * 5);
  for (double v :
       {metrics.policy_loss, metrics.value_loss, metrics.entropy, metrics.approx_kl,
        metrics.clip_fraction, metrics.grad_norm, metrics.mean_std, metrics.explained_variance}) {
    EXPECT_TRUE(std::isfinite(v));
  }
  EXPECT_GT(metrics.value_loss, 0.0);
  EXPECT_GT(metrics.grad_norm, 0.0);
  EXPECT_GE(metrics.approx_kl, 0.0);
  // The untrained encoder's std is softplus(~0) + min_std ~ 0.69.
  EXPECT_GT(metrics.mean_std, 0.3);
  EXPECT_LT(metrics.mean_std, 1.5);

  // The old version's rollouts are stale now.
  EXPECT_THAT(learner->Update({rollout}), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(PpoLearnerTest, SeveralRolloutsConcatenateAlongEnvs) {
  auto learner = MakeLearner(SmallConfig());
  const v1::PolicySnapshot snapshot = learner->Snapshot();
  SyntheticOptions small = Synthetic(4);
  small.num_envs = 3;
  GORL_ASSERT_OK_AND_ASSIGN(
      const auto metrics,
      learner->Update({SampleRollout(snapshot, small), SampleRollout(snapshot, Synthetic(5))}));
  EXPECT_EQ(metrics.samples, (3 + 8) * 5);
  EXPECT_EQ(learner->Snapshot().normalizer().count(), (3 + 8) * 5);

  // Too few sequences for the minibatches is an error, not a silent no-op.
  SyntheticOptions one = Synthetic(6);
  one.num_envs = 1;
  EXPECT_THAT(learner->Update({SampleRollout(learner->Snapshot(), one)}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PpoLearnerTest, NormalizerSeesTheUnrollRowsButNotTheBootstrapRow) {
  auto learner = MakeLearner(SmallConfig());
  SyntheticOptions options = Synthetic(7);
  const v1::Rollout rollout = SampleRollout(learner->Snapshot(), options);
  GORL_ASSERT_OK(learner->Update({rollout}));
  const v1::NormalizerState state = learner->Snapshot().normalizer();
  const int rows = options.unroll_length * options.num_envs;
  EXPECT_EQ(state.count(), rows);
  ASSERT_EQ(state.mean_size(), kObs);
  for (int d = 0; d < kObs; ++d) {
    double mean = 0;
    for (int r = 0; r < rows; ++r) mean += rollout.observations(r * kObs + d);
    EXPECT_NEAR(state.mean(d), mean / rows, 1e-9) << "dimension " << d;
  }

  // Without observation normalisation the statistics stay empty (identity).
  v1::TrainConfig config = SmallConfig();
  config.mutable_ppo()->set_normalize_observations(false);
  auto plain = MakeLearner(config);
  GORL_ASSERT_OK(plain->Update({SampleRollout(plain->Snapshot(), options)}));
  EXPECT_EQ(plain->Snapshot().normalizer().count(), 0.0);
}

TEST(PpoLearnerTest, ReinitializeEncoderRedrawsTheSeededWeights) {
  auto learner = MakeLearner(SmallConfig());
  GORL_ASSERT_OK(learner->Update({SampleRollout(learner->Snapshot(), Synthetic(8))}));
  const v1::PolicySnapshot trained = learner->Snapshot();
  learner->ReinitializeEncoder(99);
  EXPECT_EQ(learner->encoder_version(), trained.encoder_version() + 1);
  const v1::PolicySnapshot reinit = learner->Snapshot();
  EXPECT_NE(EncoderBytes(reinit), EncoderBytes(trained));

  // The same weights as an encoder freshly drawn from seed 99 ...
  nn::LatentPolicyOptions options;
  options.obs_size = kObs;
  options.latent_size = kLatent;
  options.hidden = {16, 16};
  options.min_std = 1e-3;
  options.max_std = 10;
  nn::LatentPolicy fresh(options, nn::MakeGenerator(99));
  v1::PolicySnapshot fresh_snapshot;
  fresh.WriteTo(fresh_snapshot);
  EXPECT_EQ(EncoderBytes(reinit), EncoderBytes(fresh_snapshot));
  // ... and as another learner (other run seed) re-initialised with 99.
  v1::TrainConfig other_config = SmallConfig();
  other_config.set_seed(12345);
  auto other = MakeLearner(other_config);
  EXPECT_NE(EncoderBytes(other->Snapshot()), EncoderBytes(reinit));
  other->ReinitializeEncoder(99);
  EXPECT_EQ(EncoderBytes(other->Snapshot()), EncoderBytes(reinit));

  // The critic's re-initialisation leaves the policy (and its version) alone,
  // and training continues with new-version rollouts.
  learner->ReinitializeCritic(7);
  EXPECT_EQ(learner->encoder_version(), reinit.encoder_version());
  EXPECT_EQ(EncoderBytes(learner->Snapshot()), EncoderBytes(reinit));
  GORL_EXPECT_OK(learner->Update({SampleRollout(learner->Snapshot(), Synthetic(9))}));
}

// With stages.reinit_to_prior the boundary's encoder is the prior itself,
// FreshEncoderSnapshot predicts it exactly, and training moves it on.
TEST(PpoLearnerTest, ReinitializesToThePriorWhenAsked) {
  v1::TrainConfig config = SmallConfig();
  config.mutable_stages()->set_reinit_encoder(true);
  config.mutable_stages()->set_reinit_to_prior(true);
  auto learner = MakeLearner(config);
  GORL_ASSERT_OK(learner->Update({SampleRollout(learner->Snapshot(), Synthetic(8))}));
  const v1::PolicySnapshot predicted = learner->FreshEncoderSnapshot(31);
  const v1::PolicySnapshot before = learner->Snapshot();
  EXPECT_EQ(EncoderBytes(learner->Snapshot()), EncoderBytes(before));  // nothing changed
  learner->ReinitializeEncoder(31);
  const v1::PolicySnapshot reinit = learner->Snapshot();
  EXPECT_EQ(EncoderBytes(reinit), EncoderBytes(predicted));
  GORL_ASSERT_OK_AND_ASSIGN(auto encoder, nn::LatentPolicy::FromSnapshot(reinit));
  const torch::Tensor obs = torch::randn({32, kObs}, nn::MakeGenerator(2));
  const auto [mean, std_dev] = encoder->Distribution(obs);
  EXPECT_EQ(mean.abs().max().item<float>(), 0.0f);
  EXPECT_NEAR((std_dev - 1).abs().max().item<float>(), 0.0f, 1e-6);
  GORL_ASSERT_OK(learner->Update({SampleRollout(learner->Snapshot(), Synthetic(9))}));
  GORL_ASSERT_OK_AND_ASSIGN(auto trained, nn::LatentPolicy::FromSnapshot(learner->Snapshot()));
  EXPECT_GT(trained->Distribution(obs).first.abs().max().item<float>(), 0.0f);
}

TEST(PpoLearnerTest, StageZeroUsesTheFirstStageClip) {
  // A huge base clip never binds; stage 0's tiny one binds once the encoder moves.
  v1::TrainConfig config = SmallConfig();
  config.mutable_ppo()->set_clip_epsilon(100.0);
  config.mutable_first_stage()->set_clip_epsilon(1e-3);
  auto stage0 = MakeLearner(config);
  auto stage1 = MakeLearner(config);
  stage0->SetStage(0);
  stage1->SetStage(1);
  // Same seeds, so both start identical and see the same rollout.
  ASSERT_EQ(EncoderBytes(stage0->Snapshot()), EncoderBytes(stage1->Snapshot()));
  const v1::Rollout rollout = SampleRollout(stage0->Snapshot(), Synthetic(10));
  const auto m0 = stage0->Update({rollout});
  const auto m1 = stage1->Update({rollout});
  GORL_ASSERT_OK(m0);
  GORL_ASSERT_OK(m1);
  EXPECT_GT(m0->clip_fraction, 0.05);
  EXPECT_EQ(m1->clip_fraction, 0.0);
  EXPECT_EQ(stage0->Snapshot().stage(), 0);
  EXPECT_EQ(stage1->Snapshot().stage(), 1);
}

TEST(PpoLearnerTest, GaussianPpoEntropyIncludesTheTanhCorrection) {
  // Brax's tanh-Gaussian entropy adds log|d tanh/du| <= 0 at a sample, so
  // it is below the plain Gaussian entropy GoRL uses for z.
  v1::TrainConfig config = SmallConfig();
  auto gorl = MakeLearner(config);
  config.set_algo(v1::ALGO_PPO);
  auto ppo = MakeLearner(config);
  const v1::Rollout rollout = SampleRollout(gorl->Snapshot(), Synthetic(11));
  const auto mg = gorl->Update({rollout});
  const auto mp = ppo->Update({rollout});
  GORL_ASSERT_OK(mg);
  GORL_ASSERT_OK(mp);
  EXPECT_LT(mp->entropy, mg->entropy - 0.05);
}

// A one-step bandit: every step ends its episode, reward -(z - 0.5)^2. PPO
// must move the encoder mean from ~0 toward 0.5 whatever the observation.
TEST(PpoLearnerTest, LearnsABandit) {
  v1::TrainConfig config = SmallConfig();
  config.mutable_ppo()->set_learning_rate(3e-3);
  config.mutable_ppo()->set_batch_size(16);
  config.mutable_ppo()->set_num_minibatches(4);
  auto learner = MakeLearner(config, /*obs=*/2, /*latent=*/1);
  SyntheticOptions options;
  options.num_envs = 64;
  options.unroll_length = 1;
  options.terminate_every_step = true;
  options.reward = [](const float* z) { return -(z[0] - 0.5f) * (z[0] - 0.5f); };

  // Mean encoder output over fixed probe observations (normalised like the actor).
  const torch::Tensor probe = torch::randn({256, 2}, nn::MakeGenerator(77));
  auto mean_latent = [&] {
    const v1::PolicySnapshot snapshot = learner->Snapshot();
    auto encoder = nn::LatentPolicy::FromSnapshot(snapshot);
    auto normalizer = RunningNormalizer::FromProto(snapshot.normalizer());
    GORL_EXPECT_OK(encoder);
    GORL_EXPECT_OK(normalizer);
    torch::Tensor obs = probe.clone();
    (*normalizer).Normalize(obs.data_ptr<float>(), obs.size(0));
    torch::NoGradGuard no_grad;
    return (*encoder)->Distribution(obs).first.mean().item<double>();
  };
  const double initial = mean_latent();
  ASSERT_GT(std::abs(initial - 0.5), 0.3) << "the untrained encoder should start near 0";
  for (int it = 0; it < 300; ++it) {
    options.seed = 1000 + it;
    GORL_ASSERT_OK(learner->Update({SampleRollout(learner->Snapshot(), options)}));
  }
  const double trained = mean_latent();
  EXPECT_LT(std::abs(trained - 0.5), 0.1) << "initial " << initial << ", trained " << trained;
}

// FPO and DPPO: the snapshot carries the flow policy (with the learner's
// normaliser and the baseline's settings), rollouts must carry exactly the
// algorithm's records, and an update trains the flow network.
class FlowBaselineLearnerTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Baselines, FlowBaselineLearnerTest, ::testing::Values("fpo", "dppo"));

TEST_P(FlowBaselineLearnerTest, SnapshotRecordsAndUpdate) {
  v1::TrainConfig config = SmallConfig();
  config.set_algo(ParseEnum<v1::Algo>(GetParam()).value());
  const bool fpo = GetParam() == "fpo";
  auto learner = MakeLearner(config);
  const v1::PolicySnapshot snapshot = learner->Snapshot();
  EXPECT_EQ(snapshot.policy_kind(), fpo ? v1::POLICY_KIND_FPO : v1::POLICY_KIND_DPPO);
  EXPECT_EQ(snapshot.encoder().tensors_size(), 0);
  EXPECT_EQ(snapshot.flow_policy().kind(), v1::DECODER_KIND_FLOW);
  EXPECT_FLOAT_EQ(snapshot.flow_policy().velocity_scale(), 0.25f);
  EXPECT_EQ(snapshot.flow_policy().steps(), 4);
  EXPECT_EQ(snapshot.flow_policy().normalizer().SerializeAsString(),
            snapshot.normalizer().SerializeAsString());
  EXPECT_EQ(snapshot.fpo_draws(), fpo ? 3 : 0);
  EXPECT_FLOAT_EQ(snapshot.dppo_sigma(), fpo ? 0.0f : 0.05f);

  // The other baseline's records, or none, are refused before anything changes.
  const v1::Rollout good = SampleRollout(snapshot, Synthetic(1));
  v1::Rollout missing = good;
  if (fpo) {
    missing.mutable_fpo_old_losses()->RemoveLast();
  } else {
    missing.mutable_dppo_chain()->RemoveLast();
  }
  EXPECT_THAT(learner->Update({missing}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr(fpo ? "rollout.fpo_old_losses has"
                                                : "rollout.dppo_chain has")));
  v1::Rollout undeclared = good;
  undeclared.set_fpo_draws(fpo ? 0 : 3);
  undeclared.set_dppo_steps(fpo ? 4 : 0);
  EXPECT_THAT(learner->Update({undeclared}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("the run's algorithm records")));
  EXPECT_EQ(learner->encoder_version(), snapshot.encoder_version());

  const std::string before = learner->SaveState().encoder().SerializeAsString();
  GORL_ASSERT_OK_AND_ASSIGN(const PpoMetrics metrics, learner->Update({good}));
  EXPECT_EQ(learner->encoder_version(), snapshot.encoder_version() + 1);
  EXPECT_NE(learner->SaveState().encoder().SerializeAsString(), before);
  EXPECT_EQ(metrics.entropy, 0.0);  // no entropy term
  EXPECT_TRUE(std::isfinite(metrics.policy_loss));
  EXPECT_GT(metrics.approx_kl, 0.0);
}

}  // namespace
}  // namespace gorl::learner
