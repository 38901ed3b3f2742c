#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/envs/task_test_util.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

// Mean reward of a constant action over `steps` contexts, and the contexts seen.
double MeanReward(Task& task, float action, int steps, uint64_t seed,
                  std::vector<float>* contexts = nullptr) {
  Rng rng(seed);
  float obs = 0.0f;
  GORL_EXPECT_OK(task.Reset(rng, &obs));
  double total = 0;
  for (int t = 0; t < steps; ++t) {
    if (contexts) contexts->push_back(obs);
    total += task.Step(&action, &obs).reward;
  }
  return total / steps;
}

TEST(TwinPeaksTest, BothPeaksPayTheSameOnAverageAndTheValleyPaysAlmostNothing) {
  auto task = testing::MakeTaskOrDie("twin-peaks");
  ASSERT_NE(task, nullptr);
  const int n = 200000;
  // By symmetry P(k = +1) = 1/2 over c ~ U(-1, 1): each peak action earns 1
  // half the time and exp(-0.5 * (1.2 / 0.15)^2) ~ 1e-14 otherwise.
  EXPECT_NEAR(MeanReward(*task, 0.6f, n, 1), 0.5, 0.005);
  EXPECT_NEAR(MeanReward(*task, -0.6f, n, 2), 0.5, 0.005);
  // Halfway between: exp(-0.5 * (0.6 / 0.15)^2) = exp(-8).
  EXPECT_NEAR(MeanReward(*task, 0.0f, 1000, 3), std::exp(-8.0), 1e-9);
}

struct Band {
  const char* task;
  float half_width;  // P(k = +1 | c) ramps over |c| < half_width
};

class TwinPeaksBandTest : public ::testing::TestWithParam<Band> {};

TEST_P(TwinPeaksBandTest, ContextRevealsTheSignOutsideTheBand) {
  const Band band = GetParam();
  auto task = testing::MakeTaskOrDie(band.task);
  ASSERT_NE(task, nullptr);
  Rng rng(5);
  float obs = 0.0f;
  GORL_ASSERT_OK(task->Reset(rng, &obs));
  int plus_in_band = 0, in_band = 0, plus_just_inside = 0, just_inside = 0;
  for (int t = 0; t < 1000000; ++t) {
    const float c = obs;
    ASSERT_GE(c, -1.0f);
    ASSERT_LE(c, 1.0f);
    const float plus = 0.6f;
    const double reward = task->Step(&plus, &obs).reward;
    const bool paid = reward > 0.5;
    if (c >= band.half_width) {
      ASSERT_TRUE(paid) << c;  // k = +1 for sure
    }
    if (c <= -band.half_width) {
      ASSERT_FALSE(paid) << c;  // k = -1 for sure
    }
    if (std::abs(c) < band.half_width / 4) {
      ++in_band;
      plus_in_band += paid;
    }
    // Three quarters of the way out, P(k = +1) is 0.875 (0.125 on the left).
    if (std::abs(c - 0.75f * band.half_width) < band.half_width / 8) {
      ++just_inside;
      plus_just_inside += paid;
    }
  }
  // Near c = 0 the two signs are close to equally likely (0.5 +- 0.125).
  ASSERT_GT(in_band, 1500);
  EXPECT_NEAR(static_cast<double>(plus_in_band) / in_band, 0.5, 0.07);
  // The band is a ramp, not a step: this is what tells the variants apart.
  ASSERT_GT(just_inside, 800);
  EXPECT_NEAR(static_cast<double>(plus_just_inside) / just_inside, 0.875, 0.06);
}

INSTANTIATE_TEST_SUITE_P(Variants, TwinPeaksBandTest,
                         ::testing::Values(Band{"twin-peaks", 0.2f},
                                           Band{"twin-peaks-sharp", 0.01f}),
                         [](const ::testing::TestParamInfo<Band>& info) {
                           return info.index == 0 ? std::string("TwinPeaks")
                                                  : std::string("TwinPeaksSharp");
                         });

TEST(TwinPeaksTest, UniformRandomActionsEarnTheClosedFormMean) {
  // E_a~U(-1,1)[exp(-(a - 0.6)^2 / (2 * 0.15^2))] = 0.15 sqrt(2 pi) / 2 * P(|N| < bounds),
  // and the truncation at +-1 removes less than 0.4% of the bump.
  auto task = testing::MakeTaskOrDie("twin-peaks");
  ASSERT_NE(task, nullptr);
  Rng reset(1), actions(2);
  float obs = 0.0f;
  GORL_ASSERT_OK(task->Reset(reset, &obs));
  double total = 0;
  const int n = 400000;
  for (int t = 0; t < n; ++t) {
    const float a = static_cast<float>(actions.Uniform(-1.0, 1.0));
    total += task->Step(&a, &obs).reward;
  }
  const double expected = 0.15 * std::sqrt(2 * M_PI) / 2 * (1 - 0.0038);
  EXPECT_NEAR(total / n, expected, 0.002);
}

}  // namespace
}  // namespace gorl::envs
