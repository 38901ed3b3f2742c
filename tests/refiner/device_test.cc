// TrainConfig.device for the refiner: "cuda" without CUDA is a
// FailedPrecondition, and on a CUDA machine decoder training on the GPU
// matches training on the CPU from the same seed (to float tolerance). The
// learner's side is tests/learner/device_test.cc.
//
// The CUDA test skips where torch::cuda::is_available() is false (CI); it
// runs on a GPU machine through tools/cuda_check/.
#include <cstddef>
#include <iostream>

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "common/random.h"
#include "refiner/decoder_trainer.h"
#include "tests/nn/device_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::refiner {
namespace {

using ::gorl::nn::testing::kNoCuda;
using ::gorl::nn::testing::MaxAbsDiff;
using ::gorl::testing::StatusIs;

TEST(RefinerDeviceTest, CudaWithoutCudaIsAFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
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
  EXPECT_THAT(TrainDecoder(data, v1::DECODER_KIND_FLOW, decoder, refine, 1, 1, v1::DEVICE_CUDA),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  GORL_EXPECT_OK(TrainDecoder(data, v1::DECODER_KIND_FLOW, decoder, refine, 1, 1, v1::DEVICE_CPU));
}

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
    GORL_ASSERT_OK_AND_ASSIGN(const RefineResult cpu,
                              TrainDecoder(data, kind, decoder, refine, 4, 1, v1::DEVICE_CPU));
    GORL_ASSERT_OK_AND_ASSIGN(const RefineResult cuda,
                              TrainDecoder(data, kind, decoder, refine, 4, 1, v1::DEVICE_CUDA));
    EXPECT_EQ(cuda.epochs_run, cpu.epochs_run);
    ASSERT_EQ(cuda.train_losses.size(), cpu.train_losses.size());
    for (size_t e = 0; e < cpu.train_losses.size(); ++e) {
      EXPECT_NEAR(cuda.train_losses[e], cpu.train_losses[e], 1e-3 * (1 + cpu.train_losses[e]));
    }
    EXPECT_NEAR(cuda.best_validation_loss, cpu.best_validation_loss,
                1e-3 * (1 + cpu.best_validation_loss));
    const double diff = MaxAbsDiff(cuda.decoder.weights(), cpu.decoder.weights());
    EXPECT_LT(diff, 1e-3);
    std::cout << "[ CUDA     ] refiner " << v1::DecoderKind_Name(kind)
              << ": max |w_cuda - w_cpu| = " << diff << "\n";
  }
}

}  // namespace
}  // namespace gorl::refiner
