// The actor's rollout worker on the real twin-peaks task (plain C++, no
// MuJoCo assets) with real snapshots from a PpoLearner and the run's
// initial decoder.
#include "actor/rollout_worker.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/config.h"
#include "common/message_checks.h"
#include "common/nn/decoder.h"
#include "common/nn/distributions.h"
#include "common/nn/latent_policy.h"
#include "common/running_normalizer.h"
#include "envs/task_registry.h"
#include "envs/vector_env.h"
#include "learner/ppo_learner.h"
#include "runtime/in_process.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/status_matchers.h"

namespace gorl::actor {
namespace {

using ::gorl::testing::StatusIs;

constexpr int kEpisodeLength = 100;  // twin-peaks

class RolloutWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GORL_ASSERT_OK_AND_ASSIGN(factory_, envs::MakeTaskFactory("twin-peaks", ""));
    ASSERT_EQ(factory_->spec().obs_size, 1);
    ASSERT_EQ(factory_->spec().action_size, 1);
    ASSERT_EQ(factory_->spec().episode_length, kEpisodeLength);
  }

  static v1::TrainConfig Config(const std::string& algo) {
    v1::TrainConfig config = learner::testing::TinyTrainConfig({8, 8}, {8});
    config.set_algo(ParseEnum<v1::Algo>(algo).value());
    config.set_seed(2);
    config.mutable_decoder()->add_hidden(8);
    config.mutable_decoder()->set_steps(4);
    return config;
  }

  // A learner's snapshot with the run's stage-0 decoder, as the training
  // loop broadcasts it.
  static v1::PolicySnapshot WithDecoder(const learner::PpoLearner& learner,
                                        const v1::TrainConfig& config, int obs = 1,
                                        int action = 1) {
    v1::PolicySnapshot snapshot = learner.Snapshot();
    snapshot.set_mode(v1::ACTOR_MODE_TRAIN);
    auto decoder = runtime::InitialDecoder(config, obs, action);
    GORL_EXPECT_OK(decoder);
    *snapshot.mutable_decoder() = *decoder;
    return snapshot;
  }

  std::unique_ptr<learner::PpoLearner> MakeLearner(const v1::TrainConfig& config, int obs = 1,
                                                   int latent = 1) {
    auto learner = learner::PpoLearner::Create(config, obs, latent);
    GORL_EXPECT_OK(learner);
    return std::move(learner).value();
  }

  std::unique_ptr<RolloutWorker> MakeWorker(int num_envs, uint64_t seed) {
    WorkerOptions options;
    options.num_envs = num_envs;
    options.num_threads = 1;
    options.seed = seed;
    auto worker = RolloutWorker::Create(*factory_, options);
    GORL_EXPECT_OK(worker);
    return std::move(worker).value();
  }

  std::unique_ptr<envs::TaskFactory> factory_;
};

TEST_F(RolloutWorkerTest, UnrollShapesAndRecordedLogProbs) {
  const v1::TrainConfig config = Config("gorl-fm");
  auto learner = MakeLearner(config);
  auto worker = MakeWorker(/*num_envs=*/4, /*seed=*/7);
  // One PPO update on the worker's own data, so the snapshot has trained
  // weights and a non-trivial normaliser.
  ASSERT_THAT(worker->Unroll(5), StatusIs(absl::StatusCode::kFailedPrecondition));
  GORL_ASSERT_OK(worker->SetPolicy(WithDecoder(*learner, config)));
  GORL_ASSERT_OK_AND_ASSIGN(const auto first, worker->Unroll(5));
  GORL_ASSERT_OK(learner->Update({first}));
  const v1::PolicySnapshot snapshot = WithDecoder(*learner, config);
  ASSERT_GT(snapshot.normalizer().count(), 0);
  GORL_ASSERT_OK(worker->SetPolicy(snapshot));

  constexpr int T = 20, N = 4;
  GORL_ASSERT_OK_AND_ASSIGN(const auto rollout, worker->Unroll(T));
  EXPECT_EQ(rollout.encoder_version(), 1);
  EXPECT_EQ(rollout.num_envs(), N);
  EXPECT_EQ(rollout.unroll_length(), T);
  EXPECT_EQ(rollout.obs_size(), 1);
  EXPECT_EQ(rollout.latent_size(), 1);
  ASSERT_EQ(rollout.observations_size(), (T + 1) * N * 1);
  ASSERT_EQ(rollout.latents_size(), T * N * 1);
  ASSERT_EQ(rollout.log_probs_size(), T * N);
  EXPECT_EQ(rollout.rewards_size(), T * N);
  EXPECT_EQ(rollout.terminated_size(), T * N);
  EXPECT_EQ(rollout.truncated_size(), T * N);
  EXPECT_EQ(worker->train_env_steps(), (5 + T) * N);
  // The unroll continues the episodes of the first one: its first row is
  // the first unroll's bootstrap row.
  EXPECT_EQ(rollout.observations(0), first.observations(5 * N));

  // log N(z; mu, sigma) of the snapshot's encoder on the normalised rows.
  auto encoder = nn::LatentPolicy::FromSnapshot(snapshot);
  auto normalizer = RunningNormalizer::FromProto(snapshot.normalizer());
  GORL_ASSERT_OK(encoder);
  GORL_ASSERT_OK(normalizer);
  std::vector<float> obs(rollout.observations().begin(), rollout.observations().begin() + T * N);
  normalizer->Normalize(obs.data(), T * N);
  torch::NoGradGuard no_grad;
  const auto [mean, std_dev] =
      (*encoder)->Distribution(torch::from_blob(obs.data(), {T * N, 1}, torch::kFloat32));
  const torch::Tensor z =
      torch::from_blob(const_cast<float*>(rollout.latents().data()), {T * N, 1}, torch::kFloat32);
  const torch::Tensor expected = nn::DiagGaussian{mean, std_dev}.LogProb(z).contiguous();
  double spread = 0;
  for (int i = 0; i < T * N; ++i) {
    EXPECT_NEAR(rollout.log_probs(i), expected.data_ptr<float>()[i], 1e-4) << "row " << i;
    spread += std::abs(rollout.latents(i) - mean[i][0].item<float>());
  }
  EXPECT_GT(spread, 0.1) << "latents should be sampled, not the mean";
}

TEST_F(RolloutWorkerTest, EpisodesEndByTruncationAndTheNextRowIsAFreshEpisode) {
  const v1::TrainConfig config = Config("ppo");
  auto learner = MakeLearner(config);
  constexpr int N = 3, T = 30, kUnrolls = 4;  // 120 steps: one episode end each
  constexpr uint64_t kSeed = 21;
  auto worker = MakeWorker(N, kSeed);
  GORL_ASSERT_OK(worker->SetPolicy(WithDecoder(*learner, config)));

  // A reference env with the worker's seed, stepped with the same actions.
  envs::VectorEnvOptions options;
  options.num_envs = N;
  options.seed = kSeed;
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<envs::VectorEnv> reference,
                            envs::VectorEnv::Create(*factory_, options));
  envs::VectorEnv& env = *reference;
  GORL_ASSERT_OK(env.Reset());

  std::vector<double> returns(N, 0.0);
  int step = 0;
  for (int u = 0; u < kUnrolls; ++u) {
    GORL_ASSERT_OK_AND_ASSIGN(const auto rollout, worker->Unroll(T));
    for (int i = 0; i < N; ++i) ASSERT_EQ(rollout.observations(i), env.obs()[i]) << "unroll " << u;
    std::vector<double> ended;  // returns of the episodes that ended, in order
    for (int t = 0; t < T; ++t, ++step) {
      std::vector<float> actions(N);
      for (int i = 0; i < N; ++i) actions[i] = std::tanh(rollout.latents(t * N + i));
      GORL_ASSERT_OK(env.Step(actions.data()));
      const bool episode_end = (step + 1) % kEpisodeLength == 0;
      for (int i = 0; i < N; ++i) {
        const int row = t * N + i;
        EXPECT_FALSE(rollout.terminated(row)) << "step " << step;
        ASSERT_EQ(rollout.truncated(row), episode_end) << "step " << step << " env " << i;
        EXPECT_NEAR(rollout.rewards(row), env.rewards()[i], 1e-5);
        returns[i] += rollout.rewards(row);
        // Row t + 1 is the env's observation after the step: after an
        // episode end, the next episode's first one, not the final one.
        ASSERT_EQ(rollout.observations((t + 1) * N + i), env.obs()[i]) << "step " << step;
        if (episode_end) {
          EXPECT_NE(rollout.observations((t + 1) * N + i), env.final_obs()[i]);
          ended.push_back(returns[i]);
          returns[i] = 0.0;
        }
      }
    }
    // Each episode's return is reported by the unroll it ended in.
    ASSERT_EQ(rollout.episode_returns_size(), static_cast<int>(ended.size())) << "unroll " << u;
    for (size_t e = 0; e < ended.size(); ++e) {
      EXPECT_NEAR(rollout.episode_returns(e), ended[e], 1e-3);
      EXPECT_GT(rollout.episode_returns(e), 0.0);
      EXPECT_LE(rollout.episode_returns(e), kEpisodeLength);
    }
  }
  EXPECT_EQ(step, kUnrolls * T);
}

TEST_F(RolloutWorkerTest, SetPolicyRefusesOtherSizesAndKeepsTheOldPolicy) {
  const v1::TrainConfig config = Config("gorl-fm");
  auto learner = MakeLearner(config);
  auto worker = MakeWorker(2, 3);
  const v1::PolicySnapshot good = WithDecoder(*learner, config);
  GORL_ASSERT_OK(worker->SetPolicy(good));

  auto wide_learner = MakeLearner(config, /*obs=*/3, /*latent=*/1);
  v1::PolicySnapshot wrong_latent = good;
  wrong_latent.set_latent_size(2);
  v1::PolicySnapshot broken_encoder = good;
  broken_encoder.mutable_encoder()->mutable_tensors()->RemoveLast();
  v1::PolicySnapshot wrong_normalizer = good;
  wrong_normalizer.mutable_normalizer()->add_mean(0.0);
  wrong_normalizer.mutable_normalizer()->add_m2(0.0);
  v1::PolicySnapshot wrong_decoder = good;
  *wrong_decoder.mutable_decoder() = *runtime::InitialDecoder(config, /*obs=*/3, /*action=*/1);
  const std::vector<std::pair<const char*, v1::PolicySnapshot>> bad = {
      {"other obs size", WithDecoder(*wide_learner, config, 3, 1)},
      {"other latent size", wrong_latent},
      {"broken encoder", broken_encoder},
      {"normaliser size", wrong_normalizer},
      {"decoder for other sizes", wrong_decoder},
  };
  for (const auto& [name, snapshot] : bad) {
    v1::PolicySnapshot newer = snapshot;
    newer.set_encoder_version(good.encoder_version() + 5);
    EXPECT_THAT(worker->SetPolicy(newer), StatusIs(absl::StatusCode::kInvalidArgument)) << name;
    // The old policy still acts.
    const auto rollout = worker->Unroll(2);
    GORL_ASSERT_OK(rollout) << name;
    EXPECT_EQ(rollout->encoder_version(), good.encoder_version()) << name;
  }
}

TEST_F(RolloutWorkerTest, CollectReturnsExactlyTheRequestedPairs) {
  // Gaussian PPO's identity decoder and GoRL-FM's stage-0 (all-zero) flow
  // decoder both give u = z exactly.
  for (const std::string algo : {"ppo", "gorl-fm"}) {
    SCOPED_TRACE(algo);
    const v1::TrainConfig config = Config(algo);
    auto learner = MakeLearner(config);
    auto worker = MakeWorker(4, 5);
    EXPECT_THAT(worker->Collect(10, 4, 1), StatusIs(absl::StatusCode::kFailedPrecondition));
    const v1::PolicySnapshot snapshot = WithDecoder(*learner, config);
    GORL_ASSERT_OK(worker->SetPolicy(snapshot));
    constexpr int64_t kPairs = 37;  // not a multiple of the 8 envs
    GORL_ASSERT_OK_AND_ASSIGN(const auto data, worker->Collect(kPairs, /*num_envs=*/8, /*seed=*/5));
    EXPECT_EQ(data.obs_size(), 1);
    EXPECT_EQ(data.action_size(), 1);
    ASSERT_EQ(data.observations_size(), kPairs);
    ASSERT_EQ(data.actions_size(), kPairs);
    ASSERT_EQ(data.latents_size(), kPairs);
    float largest = 0;
    for (int i = 0; i < kPairs; ++i) {
      ASSERT_TRUE(std::isfinite(data.actions(i))) << i;
      EXPECT_EQ(data.actions(i), data.latents(i)) << i;
      EXPECT_GE(data.observations(i), -1.0f);
      EXPECT_LE(data.observations(i), 1.0f);
      largest = std::max(largest, std::abs(data.actions(i)));
    }
    // Pre-tanh: with sigma ~0.7 some of 37 samples leave (-1, 1).
    EXPECT_GT(largest, 1.0f);
    // Reproducible for a fixed seed.
    GORL_ASSERT_OK_AND_ASSIGN(const auto again, worker->Collect(kPairs, 8, 5));
    EXPECT_EQ(again.SerializeAsString(), data.SerializeAsString());
  }
}

TEST_F(RolloutWorkerTest, DeterministicEvaluationIsReproducible) {
  const v1::TrainConfig config = Config("gorl-fm");
  auto learner = MakeLearner(config);
  auto worker = MakeWorker(4, 9);
  v1::PolicySnapshot snapshot = WithDecoder(*learner, config);
  snapshot.set_mode(v1::ACTOR_MODE_EVAL);
  GORL_ASSERT_OK(worker->SetPolicy(snapshot));

  constexpr int kEpisodes = 5;
  GORL_ASSERT_OK_AND_ASSIGN(const auto first,
                            worker->Evaluate(kEpisodes, /*deterministic=*/true, /*seed=*/13));
  EXPECT_TRUE(first.deterministic());
  EXPECT_EQ(first.encoder_version(), snapshot.encoder_version());
  ASSERT_EQ(first.episode_returns_size(), kEpisodes);  // one per episode
  for (float r : first.episode_returns()) {
    EXPECT_GT(r, 0.0f);
    EXPECT_LE(r, kEpisodeLength);
  }
  // Train-mode sampling in between must not change an evaluation.
  GORL_ASSERT_OK(worker->Unroll(7));
  GORL_ASSERT_OK_AND_ASSIGN(const auto second, worker->Evaluate(kEpisodes, true, 13));
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());

  GORL_ASSERT_OK_AND_ASSIGN(const auto other_seed, worker->Evaluate(kEpisodes, true, 14));
  EXPECT_NE(
      std::vector<float>(other_seed.episode_returns().begin(), other_seed.episode_returns().end()),
      std::vector<float>(first.episode_returns().begin(), first.episode_returns().end()));
  GORL_ASSERT_OK_AND_ASSIGN(const auto stochastic, worker->Evaluate(kEpisodes, false, 13));
  EXPECT_FALSE(stochastic.deterministic());
  EXPECT_EQ(stochastic.episode_returns_size(), kEpisodes);
  EXPECT_NE(
      std::vector<float>(stochastic.episode_returns().begin(), stochastic.episode_returns().end()),
      std::vector<float>(first.episode_returns().begin(), first.episode_returns().end()));
}

// FPO / DPPO snapshots: the actor samples the flow policy, records what the
// learner's loss needs (checked by CheckRollout against the run's algorithm),
// and the learner trains on it; the records reproduce under the snapshot
// that acted (an FPO draw's old loss, a DPPO step's log-likelihood).
class FlowBaselineWorkerTest : public RolloutWorkerTest,
                               public ::testing::WithParamInterface<std::string> {};

INSTANTIATE_TEST_SUITE_P(Baselines, FlowBaselineWorkerTest, ::testing::Values("fpo", "dppo"));

TEST_P(FlowBaselineWorkerTest, UnrollRecordsWhatTheLossNeeds) {
  const v1::TrainConfig config = Config(GetParam());
  const bool fpo = GetParam() == "fpo";
  auto learner = MakeLearner(config);
  auto worker = MakeWorker(/*num_envs=*/4, /*seed=*/3);
  GORL_ASSERT_OK(worker->SetPolicy(WithDecoder(*learner, config)));
  GORL_ASSERT_OK_AND_ASSIGN(const v1::Rollout rollout, worker->Unroll(5));
  GORL_EXPECT_OK(CheckRollout(rollout, {1, 1, RecordedFpoDraws(config), RecordedDppoSteps(config)},
                              /*num_envs=*/4));
  // The other algorithm's expectations refuse it.
  EXPECT_THAT(CheckRollout(rollout, {1, 1, fpo ? 0 : 3, fpo ? 4 : 0}, 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(rollout.fpo_draws(), fpo ? 3 : 0);
  EXPECT_EQ(rollout.dppo_steps(), fpo ? 0 : 4);

  // Rebuild the acting policy and recompute one record of the first step.
  {
    torch::NoGradGuard no_grad;
    const v1::PolicySnapshot snapshot = learner->Snapshot();
    GORL_ASSERT_OK_AND_ASSIGN(auto flow, nn::DecoderModel::FromProto(snapshot.flow_policy()));
    const torch::Tensor obs =
        flow->NormalizeObs(torch::tensor({rollout.observations(0)}).reshape({1, 1}));
    if (fpo) {
      const torch::Tensor u = torch::tensor({rollout.latents(0)}).reshape({1, 1});
      const torch::Tensor taus = torch::tensor({rollout.fpo_times(0)}).reshape({1, 1});
      const torch::Tensor eps = torch::tensor({rollout.fpo_noise(0)}).reshape({1, 1, 1});
      EXPECT_NEAR(flow->CfmLosses(obs, u, taus, eps).item<float>(), rollout.fpo_old_losses(0),
                  1e-5);
      // tau lies on the sampling grid {1, 0.75, 0.5, 0.25}.
      for (float tau : rollout.fpo_times()) {
        EXPECT_NEAR(tau * 4, std::round(tau * 4), 1e-5);
        EXPECT_GT(tau, 0.2f);
      }
    } else {
      // x_K is the action's pre-tanh value; the step log-likelihoods sum to log_probs.
      EXPECT_EQ(rollout.dppo_chain(4), rollout.latents(0));
      const torch::Tensor chain =
          torch::tensor(
              std::vector<float>(rollout.dppo_chain().begin(), rollout.dppo_chain().begin() + 5))
              .reshape({1, 5, 1});
      const torch::Tensor step = flow->StepLogLikelihoods(obs, chain, 0.05);
      EXPECT_NEAR(step[0][2].item<float>(), rollout.dppo_old_log_probs(2), 1e-3);
      EXPECT_NEAR(step.sum().item<float>(), rollout.log_probs(0), 1e-3);
    }
  }
  GORL_ASSERT_OK(learner->Update({rollout}));

  // The trained policy evaluates, deterministically (x_0 = 0) and not.
  GORL_ASSERT_OK(worker->SetPolicy(WithDecoder(*learner, config)));
  for (bool deterministic : {true, false}) {
    GORL_ASSERT_OK_AND_ASSIGN(const v1::EvalReport report, worker->Evaluate(3, deterministic, 9));
    EXPECT_EQ(report.episode_returns_size(), 3);
  }
}

}  // namespace
}  // namespace gorl::actor
