// Learning tests: whole in-process training runs with fixed seeds, asserting
// measured returns and action distributions against thresholds. They use
// the project's cheap tasks (twin-peaks, cartpole) so they fit in CI.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/nn/decoder.h"
#include "common/nn/latent_policy.h"
#include "common/running_normalizer.h"
#include "envs/task_registry.h"
#include "runtime/train_in_process.h"

namespace gorl {
namespace {

std::string MakeRunDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "gorl_learning_", name, "_XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << dir;
  return dir;
}

v1::TrainConfig Config(const std::string& task, const std::string& algo,
                       const std::vector<std::string>& overrides) {
  absl::StatusOr<v1::TrainConfig> config = LoadPreset("local");
  EXPECT_TRUE(config.ok()) << config.status();
  config->set_task(task);
  config->set_algo(algo);
  for (const std::string& assignment : overrides) {
    const absl::Status status = ApplyOverride(assignment, *config);
    EXPECT_TRUE(status.ok()) << status;
  }
  const absl::Status valid = ValidateConfig(*config);
  EXPECT_TRUE(valid.ok()) << valid;
  return *config;
}

runtime::TrainResult TrainOrDie(const v1::TrainConfig& config, const std::string& name) {
  auto factory = envs::MakeTaskFactory(config.task(), "");
  EXPECT_TRUE(factory.ok()) << factory.status();
  if (!factory.ok()) return {};
  absl::StatusOr<runtime::TrainResult> result =
      runtime::TrainInProcess(config, **factory, MakeRunDir(name));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return {};
  for (const learner::EvalPoint& point : result->summary.evaluations) {
    std::printf("[%s] %lld steps, stage %d: return %.2f (stochastic %.2f)\n", name.c_str(),
                static_cast<long long>(point.env_steps), point.stage, point.deterministic_mean,
                point.stochastic_mean);
  }
  return *std::move(result);
}

// Environment actions tanh(decoder(obs, z)) with z ~ encoder(obs), at one
// fixed raw observation.
std::vector<float> SampleActions(const v1::PolicySnapshot& policy, const std::vector<float>& obs,
                                 int samples, uint64_t seed) {
  auto encoder = nn::LatentPolicy::FromSnapshot(policy);
  auto decoder = nn::DecoderModel::FromProto(policy.decoder());
  auto normalizer = RunningNormalizer::FromProto(policy.normalizer());
  EXPECT_TRUE(encoder.ok() && decoder.ok() && normalizer.ok());
  if (!encoder.ok() || !decoder.ok() || !normalizer.ok()) return {};
  const int n = samples, d = static_cast<int>(obs.size());
  std::vector<float> raw(static_cast<size_t>(n) * d), norm;
  for (int i = 0; i < n; ++i) std::copy(obs.begin(), obs.end(), raw.begin() + i * d);
  norm = raw;
  normalizer->Normalize(norm.data(), n);
  torch::NoGradGuard no_grad;
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  const auto [mean, std_dev] =
      (*encoder)->Distribution(torch::from_blob(norm.data(), {n, d}, torch::kFloat32));
  const torch::Tensor z = mean + std_dev * torch::randn(mean.sizes(), gen);
  const torch::Tensor a =
      torch::tanh((*decoder)->Decode(torch::from_blob(raw.data(), {n, d}, torch::kFloat32), z))
          .contiguous();
  return std::vector<float>(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
}

double FractionNear(const std::vector<float>& actions, double centre, double radius) {
  int count = 0;
  for (float a : actions) count += std::abs(a - centre) < radius;
  return static_cast<double>(count) / actions.size();
}

// twin-peaks budgets: 2,560 env steps per iteration with a small critic.
const std::vector<std::string> kTwinPeaks = {
    "rollout.num_envs=32",        "rollout.unroll_length=20",  "ppo.batch_size=32",
    "ppo.num_minibatches=4",      "ppo.updates_per_batch=4",   "ppo.discount=0.9",
    "encoder.critic_hidden=64,64", "eval.episodes=32",          "eval.every_env_steps=100000",
    "refine.num_pairs=60000",     "refine.collect_envs=32",    "refine.epochs=30",
    "refine.batch_size=4096",     "refine.patience=0",         "learner_threads=2",
};

std::vector<std::string> With(std::vector<std::string> base, std::vector<std::string> more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

TEST(LearningTest, GaussianPpoLearnsTwinPeaksButStaysUnimodal) {
  const v1::TrainConfig config =
      Config("twin-peaks", "ppo", With(kTwinPeaks, {"total_env_steps=300000", "seed=1"}));
  const runtime::TrainResult result = TrainOrDie(config, "ppo_twin_peaks");
  // Random actions earn 18.9 per 100-step episode; always picking the
  // likelier peak earns about 95.
  EXPECT_GT(result.summary.final_evaluation.deterministic_mean, 60.0);
  const std::vector<float> actions = SampleActions(result.final_policy, {0.0f}, 4000, 7);
  ASSERT_EQ(actions.size(), 4000u);
  const double plus = FractionNear(actions, 0.6, 0.15), minus = FractionNear(actions, -0.6, 0.15);
  std::printf("ppo at c = 0: %.3f near +0.6, %.3f near -0.6\n", plus, minus);
  EXPECT_LT(std::min(plus, minus), 0.2);
}

TEST(LearningTest, GoRLFlowIsBimodalAtTheAmbiguousContextAfterOneRefinement) {
  const v1::TrainConfig config = Config(
      "twin-peaks", "gorl-fm",
      With(kTwinPeaks, {"total_env_steps=600000", "stages.fractions=0.5,0.5", "seed=1"}));
  const runtime::TrainResult result = TrainOrDie(config, "gorl_fm_twin_peaks");
  ASSERT_EQ(result.final_policy.decoder().kind(), v1::DECODER_KIND_FLOW);
  ASSERT_EQ(result.final_policy.decoder().version(), 1);
  EXPECT_GT(result.summary.final_evaluation.deterministic_mean, 60.0);
  const std::vector<float> actions = SampleActions(result.final_policy, {0.0f}, 4000, 7);
  ASSERT_EQ(actions.size(), 4000u);
  const double plus = FractionNear(actions, 0.6, 0.15), minus = FractionNear(actions, -0.6, 0.15);
  std::printf("gorl-fm at c = 0: %.3f near +0.6, %.3f near -0.6\n", plus, minus);
  EXPECT_GE(plus, 0.2);
  EXPECT_GE(minus, 0.2);
}

}  // namespace
}  // namespace gorl
