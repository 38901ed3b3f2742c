// TrainConfig.device for the learner: "cpu" works, "cuda" without CUDA is a
// FailedPrecondition, and on a CUDA machine training on the GPU matches
// training on the CPU from the same seed (to float tolerance) while
// everything that leaves the learner is a CPU value. The refiner's side is
// tests/refiner/device_test.cc.
//
// The CUDA tests skip where torch::cuda::is_available() is false (CI); they
// run on a GPU machine through tools/cuda_check/.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "learner/ppo_learner.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/nn/device_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::learner {
namespace {

using ::gorl::nn::testing::kNoCuda;
using ::gorl::nn::testing::MaxAbsDiff;
using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::SampleRollout;
using testing::Synthetic;
using testing::SyntheticOptions;

constexpr int kObs = 3;
constexpr int kLatent = 2;

v1::TrainConfig Config(v1::Device device, const std::string& algo = "gorl-fm") {
  v1::TrainConfig config = testing::TinyTrainConfig({16, 16}, {32, 32});
  config.set_seed(5);
  config.set_algo(ParseEnum<v1::Algo>(algo).value());
  config.set_device(device);
  config.mutable_ppo()->set_learning_rate(1e-3);
  return config;
}

TEST(LearnerDeviceTest, CpuMatchesTheDefaultOnACpuOnlyBuild) {
  GORL_ASSERT_OK_AND_ASSIGN(auto cpu, PpoLearner::Create(Config(v1::DEVICE_CPU), kObs, kLatent));
  const std::vector<v1::Rollout> rollouts = {SampleRollout(cpu->Snapshot(), Synthetic(1))};
  GORL_ASSERT_OK_AND_ASSIGN(const auto metrics, cpu->Update(rollouts));
  EXPECT_TRUE(std::isfinite(metrics.policy_loss));
  EXPECT_EQ(cpu->encoder_version(), 1);
  if (torch::cuda::is_available()) return;  // "" would mean CUDA there
  // On the CPU, "" (auto) is exactly "cpu".
  GORL_ASSERT_OK_AND_ASSIGN(auto automatic,
                            PpoLearner::Create(Config(v1::DEVICE_AUTO), kObs, kLatent));
  GORL_ASSERT_OK(automatic->Update(rollouts));
  EXPECT_EQ(automatic->Snapshot().SerializeAsString(), cpu->Snapshot().SerializeAsString());
}

TEST(LearnerDeviceTest, CudaWithoutCudaIsAFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  EXPECT_THAT(PpoLearner::Create(Config(v1::DEVICE_CUDA), kObs, kLatent),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("device = cuda"), HasSubstr("no usable CUDA device"))));
}

TEST(LearnerDeviceTest, UnknownDeviceIsAnInvalidArgument) {
  EXPECT_THAT(PpoLearner::Create(Config(static_cast<v1::Device>(7)), kObs, kLatent),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device")));
}

class LearnerCudaTest : public ::testing::TestWithParam<std::string> {};

// A few PPO iterations on CUDA and on the CPU from the same seed, fed the same
// rollouts: same versions, close metrics and weights, CPU snapshots and state.
TEST_P(LearnerCudaTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << kNoCuda;
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PpoLearner> cpu,
                            PpoLearner::Create(Config(v1::DEVICE_CPU, GetParam()), kObs, kLatent));
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PpoLearner> cuda,
                            PpoLearner::Create(Config(v1::DEVICE_CUDA, GetParam()), kObs, kLatent));
  // Initial weights are drawn on the CPU: identical on both devices.
  EXPECT_EQ(cuda->Snapshot().SerializeAsString(), cpu->Snapshot().SerializeAsString());

  double weight_diff = 0.0;
  for (int it = 0; it < 4; ++it) {
    const std::vector<v1::Rollout> rollouts = {SampleRollout(cpu->Snapshot(), Synthetic(10 + it)),
                                               SampleRollout(cpu->Snapshot(), Synthetic(20 + it))};
    GORL_ASSERT_OK_AND_ASSIGN(const auto m_cpu, cpu->Update(rollouts));
    GORL_ASSERT_OK_AND_ASSIGN(const auto m_cuda, cuda->Update(rollouts));
    EXPECT_EQ(cuda->encoder_version(), cpu->encoder_version());
    EXPECT_EQ(m_cuda.samples, m_cpu.samples);
    for (const auto& [a, b, name] : std::vector<std::tuple<double, double, const char*>>{
             {m_cuda.policy_loss, m_cpu.policy_loss, "policy_loss"},
             {m_cuda.value_loss, m_cpu.value_loss, "value_loss"},
             {m_cuda.entropy, m_cpu.entropy, "entropy"},
             {m_cuda.grad_norm, m_cpu.grad_norm, "grad_norm"},
             {m_cuda.mean_std, m_cpu.mean_std, "mean_std"},
             {m_cuda.approx_kl, m_cpu.approx_kl, "approx_kl"}}) {
      EXPECT_TRUE(std::isfinite(a)) << name;
      EXPECT_NEAR(a, b, 1e-3 * (1.0 + std::abs(b))) << name << " at iteration " << it;
    }
    const v1::PolicySnapshot s_cpu = cpu->Snapshot(), s_cuda = cuda->Snapshot();
    EXPECT_EQ(s_cuda.encoder_version(), it + 1);
    // The normaliser is updated on the CPU in both: exactly equal.
    EXPECT_EQ(s_cuda.normalizer().SerializeAsString(), s_cpu.normalizer().SerializeAsString());
    weight_diff = MaxAbsDiff(s_cuda.encoder(), s_cpu.encoder());
    EXPECT_LT(weight_diff, 1e-3) << "iteration " << it;
  }
  std::cout << "[ CUDA     ] " << GetParam()
            << ": max |w_cuda - w_cpu| after 4 updates = " << weight_diff << "\n";

  // The CUDA learner's state is plain CPU data: it restores into a CPU learner
  // (and back) exactly.
  const v1::PpoLearnerState state = cuda->SaveState();
  EXPECT_LT(MaxAbsDiff(state.critic(), cpu->SaveState().critic()), 1e-3);
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PpoLearner> restored,
                            PpoLearner::Create(Config(v1::DEVICE_CPU, GetParam()), kObs, kLatent));
  GORL_ASSERT_OK(restored->RestoreState(state));
  EXPECT_EQ(restored->Snapshot().SerializeAsString(), cuda->Snapshot().SerializeAsString());
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PpoLearner> back,
                            PpoLearner::Create(Config(v1::DEVICE_CUDA, GetParam()), kObs, kLatent));
  GORL_ASSERT_OK(back->RestoreState(restored->SaveState()));
  EXPECT_EQ(back->SaveState().SerializeAsString(), state.SerializeAsString());

  // Re-initialisation draws on the CPU too.
  cpu->ReinitializeEncoder(99);
  cuda->ReinitializeEncoder(99);
  cpu->ReinitializeCritic(98);
  cuda->ReinitializeCritic(98);
  EXPECT_EQ(cuda->Snapshot().encoder().SerializeAsString(),
            cpu->Snapshot().encoder().SerializeAsString());
  EXPECT_EQ(cuda->SaveState().critic().SerializeAsString(),
            cpu->SaveState().critic().SerializeAsString());
  const std::vector<v1::Rollout> rollouts = {SampleRollout(cpu->Snapshot(), Synthetic(7))};
  GORL_ASSERT_OK(cpu->Update(rollouts));
  GORL_ASSERT_OK(cuda->Update(rollouts));
  EXPECT_LT(MaxAbsDiff(cuda->Snapshot().encoder(), cpu->Snapshot().encoder()), 1e-3);
}

// gorl-fm: Gaussian entropy; ppo: the tanh entropy draws noise (on the CPU).
INSTANTIATE_TEST_SUITE_P(Algos, LearnerCudaTest, ::testing::Values("gorl-fm", "ppo"));

}  // namespace
}  // namespace gorl::learner
