// TrainConfig.device for the learner and the refiner: "cpu" works, "cuda"
// without CUDA is a FailedPrecondition, and on a CUDA machine training on
// the GPU matches training on the CPU from the same seed (to float
// tolerance) while everything that leaves the learner is a CPU value.
//
// The CUDA tests skip where torch::cuda::is_available() is false (CI); they
// run on a GPU machine through tools/cuda_check/.
#include <cmath>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "common/config.h"
#include "common/random.h"
#include "learner/ppo_learner.h"
#include "refiner/decoder_trainer.h"
#include "tests/learner/synthetic_rollout.h"

namespace gorl::learner {
namespace {

using ::testing::HasSubstr;
using testing::SampleRollout;
using testing::Synthetic;
using testing::SyntheticOptions;

constexpr int kObs = 3;
constexpr int kLatent = 2;
constexpr char kNoCuda[] = "torch::cuda::is_available() is false: no CUDA LibTorch or no GPU";

v1::TrainConfig Config(v1::Device device, const std::string& algo = "gorl-fm") {
  v1::TrainConfig config = testing::TinyTrainConfig({16, 16}, {32, 32});
  config.set_seed(5);
  config.set_algo(ParseEnum<v1::Algo>(algo).value());
  config.set_device(device);
  config.mutable_ppo()->set_learning_rate(1e-3);
  return config;
}

// Largest |a - b| over every value of two bundles of the same layout.
double MaxAbsDiff(const v1::TensorBundle& a, const v1::TensorBundle& b) {
  EXPECT_EQ(a.tensors_size(), b.tensors_size());
  double diff = 0.0;
  for (int t = 0; t < a.tensors_size() && t < b.tensors_size(); ++t) {
    EXPECT_EQ(a.tensors(t).name(), b.tensors(t).name());
    EXPECT_EQ(a.tensors(t).values_size(), b.tensors(t).values_size());
    for (int i = 0; i < a.tensors(t).values_size() && i < b.tensors(t).values_size(); ++i) {
      diff = std::max(diff, std::abs(static_cast<double>(a.tensors(t).values(i)) -
                                     b.tensors(t).values(i)));
    }
  }
  return diff;
}

TEST(LearnerDeviceTest, CpuMatchesTheDefaultOnACpuOnlyBuild) {
  auto cpu = PpoLearner::Create(Config(v1::DEVICE_CPU), kObs, kLatent);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const std::vector<v1::Rollout> rollouts = {SampleRollout((*cpu)->Snapshot(), Synthetic(1))};
  const auto metrics = (*cpu)->Update(rollouts);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_TRUE(std::isfinite(metrics->policy_loss));
  EXPECT_EQ((*cpu)->encoder_version(), 1);
  if (torch::cuda::is_available()) return;  // "" would mean CUDA there
  // On the CPU, "" (auto) is exactly "cpu".
  auto automatic = PpoLearner::Create(Config(v1::DEVICE_AUTO), kObs, kLatent);
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  ASSERT_TRUE((*automatic)->Update(rollouts).ok());
  EXPECT_EQ((*automatic)->Snapshot().SerializeAsString(), (*cpu)->Snapshot().SerializeAsString());
}

TEST(LearnerDeviceTest, CudaWithoutCudaIsAFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  const auto learner = PpoLearner::Create(Config(v1::DEVICE_CUDA), kObs, kLatent);
  ASSERT_FALSE(learner.ok());
  EXPECT_EQ(learner.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(learner.status().message()), HasSubstr("device = cuda"));
  EXPECT_THAT(std::string(learner.status().message()), HasSubstr("no usable CUDA device"));

  v1::RefinementData data;
  data.set_obs_size(1);
  data.set_action_size(1);
  for (int i = 0; i < 20; ++i) {
    data.add_observations(static_cast<float>(i));
    data.add_actions(i % 2 ? 1.0f : -1.0f);
  }
  v1::DecoderConfig decoder;
  decoder.add_hidden(8);
  decoder.set_steps(2);
  v1::RefineConfig refine;
  refine.set_batch_size(8);
  refine.set_epochs(1);
  refine.set_samples_per_pair(1);
  refine.set_learning_rate(1e-3);
  refine.set_validation_fraction(0.1);
  const auto refined = refiner::TrainDecoder(data, v1::DECODER_KIND_FLOW, decoder, refine, 1, 1,
                                             v1::DEVICE_CUDA);
  EXPECT_EQ(refined.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(refiner::TrainDecoder(data, v1::DECODER_KIND_FLOW, decoder, refine, 1, 1, v1::DEVICE_CPU).ok());
}

TEST(LearnerDeviceTest, UnknownDeviceIsAnInvalidArgument) {
  const auto learner = PpoLearner::Create(Config(static_cast<v1::Device>(7)), kObs, kLatent);
  EXPECT_EQ(learner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(learner.status().message()), HasSubstr("device"));
}

class LearnerCudaTest : public ::testing::TestWithParam<std::string> {};

// A few PPO iterations on CUDA and on the CPU from the same seed, fed the same
// rollouts: same versions, close metrics and weights, CPU snapshots and state.
TEST_P(LearnerCudaTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << kNoCuda;
  auto cpu = PpoLearner::Create(Config(v1::DEVICE_CPU, GetParam()), kObs, kLatent);
  auto cuda = PpoLearner::Create(Config(v1::DEVICE_CUDA, GetParam()), kObs, kLatent);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  ASSERT_TRUE(cuda.ok()) << cuda.status();
  // Initial weights are drawn on the CPU: identical on both devices.
  EXPECT_EQ((*cuda)->Snapshot().SerializeAsString(), (*cpu)->Snapshot().SerializeAsString());

  double weight_diff = 0.0;
  for (int it = 0; it < 4; ++it) {
    const std::vector<v1::Rollout> rollouts = {
        SampleRollout((*cpu)->Snapshot(), Synthetic(10 + it)),
        SampleRollout((*cpu)->Snapshot(), Synthetic(20 + it))};
    const auto m_cpu = (*cpu)->Update(rollouts);
    const auto m_cuda = (*cuda)->Update(rollouts);
    ASSERT_TRUE(m_cpu.ok()) << m_cpu.status();
    ASSERT_TRUE(m_cuda.ok()) << m_cuda.status();
    EXPECT_EQ((*cuda)->encoder_version(), (*cpu)->encoder_version());
    EXPECT_EQ(m_cuda->samples, m_cpu->samples);
    for (const auto& [a, b, name] :
         std::vector<std::tuple<double, double, const char*>>{
             {m_cuda->policy_loss, m_cpu->policy_loss, "policy_loss"},
             {m_cuda->value_loss, m_cpu->value_loss, "value_loss"},
             {m_cuda->entropy, m_cpu->entropy, "entropy"},
             {m_cuda->grad_norm, m_cpu->grad_norm, "grad_norm"},
             {m_cuda->mean_std, m_cpu->mean_std, "mean_std"},
             {m_cuda->approx_kl, m_cpu->approx_kl, "approx_kl"}}) {
      EXPECT_TRUE(std::isfinite(a)) << name;
      EXPECT_NEAR(a, b, 1e-3 * (1.0 + std::abs(b))) << name << " at iteration " << it;
    }
    const v1::PolicySnapshot s_cpu = (*cpu)->Snapshot(), s_cuda = (*cuda)->Snapshot();
    EXPECT_EQ(s_cuda.encoder_version(), it + 1);
    // The normaliser is updated on the CPU in both: exactly equal.
    EXPECT_EQ(s_cuda.normalizer().SerializeAsString(), s_cpu.normalizer().SerializeAsString());
    weight_diff = MaxAbsDiff(s_cuda.encoder(), s_cpu.encoder());
    EXPECT_LT(weight_diff, 1e-3) << "iteration " << it;
  }
  std::cout << "[ CUDA     ] " << GetParam() << ": max |w_cuda - w_cpu| after 4 updates = "
            << weight_diff << "\n";

  // The CUDA learner's state is plain CPU data: it restores into a CPU learner
  // (and back) exactly.
  const v1::PpoLearnerState state = (*cuda)->SaveState();
  EXPECT_LT(MaxAbsDiff(state.critic(), (*cpu)->SaveState().critic()), 1e-3);
  auto restored = PpoLearner::Create(Config(v1::DEVICE_CPU, GetParam()), kObs, kLatent);
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->RestoreState(state).ok());
  EXPECT_EQ((*restored)->Snapshot().SerializeAsString(), (*cuda)->Snapshot().SerializeAsString());
  auto back = PpoLearner::Create(Config(v1::DEVICE_CUDA, GetParam()), kObs, kLatent);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE((*back)->RestoreState((*restored)->SaveState()).ok());
  EXPECT_EQ((*back)->SaveState().SerializeAsString(), state.SerializeAsString());

  // Re-initialisation draws on the CPU too.
  (*cpu)->ReinitializeEncoder(99);
  (*cuda)->ReinitializeEncoder(99);
  (*cpu)->ReinitializeCritic(98);
  (*cuda)->ReinitializeCritic(98);
  EXPECT_EQ((*cuda)->Snapshot().encoder().SerializeAsString(),
            (*cpu)->Snapshot().encoder().SerializeAsString());
  EXPECT_EQ((*cuda)->SaveState().critic().SerializeAsString(),
            (*cpu)->SaveState().critic().SerializeAsString());
  const std::vector<v1::Rollout> rollouts = {SampleRollout((*cpu)->Snapshot(), Synthetic(7))};
  ASSERT_TRUE((*cpu)->Update(rollouts).ok());
  ASSERT_TRUE((*cuda)->Update(rollouts).ok());
  EXPECT_LT(MaxAbsDiff((*cuda)->Snapshot().encoder(), (*cpu)->Snapshot().encoder()), 1e-3);
}

// gorl-fm: Gaussian entropy; ppo: the tanh entropy draws noise (on the CPU).
INSTANTIATE_TEST_SUITE_P(Algos, LearnerCudaTest, ::testing::Values("gorl-fm", "ppo"));

TEST(RefinerCudaTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << kNoCuda;
  Rng rng(3);
  v1::RefinementData data;
  data.set_obs_size(2);
  data.set_action_size(1);
  for (int i = 0; i < 400; ++i) {
    for (int d = 0; d < 2; ++d) data.add_observations(static_cast<float>(rng.Normal(5, 2)));
    data.add_actions(rng.Uniform() < 0.5 ? -1.0f : 1.0f);
  }
  v1::DecoderConfig decoder;
  for (int w : {32, 32}) decoder.add_hidden(w);
  decoder.set_steps(10);
  v1::RefineConfig refine;
  refine.set_batch_size(64);
  refine.set_epochs(3);
  refine.set_samples_per_pair(2);
  refine.set_learning_rate(1e-3);
  refine.set_validation_fraction(0.1);
  for (const v1::DecoderKind kind : {v1::DECODER_KIND_FLOW, v1::DECODER_KIND_DIFFUSION}) {
    const auto cpu = refiner::TrainDecoder(data, kind, decoder, refine, 4, 1, v1::DEVICE_CPU);
    const auto cuda = refiner::TrainDecoder(data, kind, decoder, refine, 4, 1, v1::DEVICE_CUDA);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_EQ(cuda->epochs_run, cpu->epochs_run);
    ASSERT_EQ(cuda->train_losses.size(), cpu->train_losses.size());
    for (size_t e = 0; e < cpu->train_losses.size(); ++e) {
      EXPECT_NEAR(cuda->train_losses[e], cpu->train_losses[e], 1e-3 * (1 + cpu->train_losses[e]));
    }
    EXPECT_NEAR(cuda->best_validation_loss, cpu->best_validation_loss,
                1e-3 * (1 + cpu->best_validation_loss));
    const double diff = MaxAbsDiff(cuda->decoder.weights(), cpu->decoder.weights());
    EXPECT_LT(diff, 1e-3);
    std::cout << "[ CUDA     ] refiner " << v1::DecoderKind_Name(kind)
              << ": max |w_cuda - w_cpu| = " << diff << "\n";
  }
}

}  // namespace
}  // namespace gorl::learner
