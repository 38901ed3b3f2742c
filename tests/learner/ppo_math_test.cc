#include "learner/ppo_math.h"

#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "common/nn/decoder.h"
#include "common/nn/mlp.h"
#include "common/nn/tensor_codec.h"

namespace gorl::learner {
namespace {

// [T, N] tensor from rows given time-major.
torch::Tensor TN(std::vector<std::vector<float>> rows) {
  std::vector<torch::Tensor> ts;
  for (auto& row : rows) ts.push_back(torch::tensor(row));
  return torch::stack(ts, 0);
}

void ExpectNear(const torch::Tensor& actual, const torch::Tensor& expected, double tol = 1e-5) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/0, tol)) << "actual\n"
                                                                  << actual << "\nexpected\n"
                                                                  << expected;
}

// T = 4 steps, N = 2 envs, gamma = 0.5, lambda = 0.5 (gamma lambda = 0.25).
//
// env 0: r = [1, 2, 3, 4], V = [0.5, 1, 1.5, 2], bootstrap 4, terminated at t = 1.
//   V_{t+1}   = [1, 1.5, 2, 4]
//   delta_0 = 1 + 0.5*1   - 0.5 = 1.0
//   delta_1 = 2 + 0 (term) - 1  = 1.0
//   delta_2 = 3 + 0.5*2   - 1.5 = 2.5
//   delta_3 = 4 + 0.5*4   - 2   = 4.0
//   G_3 = 4.0; G_2 = 2.5 + 0.25*4 = 3.5; G_1 = 1.0 + 0 (term) = 1.0;
//   G_0 = 1.0 + 0.25*1.0 = 1.25;  vs = G + V = [1.75, 2.0, 5.0, 6.0]
//   vs_{t+1} = [2.0, 5.0, 6.0, 4 (bootstrap)]
//   A_0 = 1 + 0.5*2 - 0.5 = 1.5;  A_1 = 2 + 0 (term) - 1 = 1.0;
//   A_2 = 3 + 0.5*6 - 1.5 = 4.5;  A_3 = 4 + 0.5*4 - 2 = 4.0
//
// env 1: r = [1, 1, 1, 1], V = [1, 2, 3, 4], bootstrap 8, truncated at t = 2.
//   V_{t+1} = [2, 3, 4, 8]
//   delta_0 = 1 + 0.5*2 - 1 = 1.0
//   delta_1 = 1 + 0.5*3 - 2 = 0.5
//   delta_2 = 0 (truncated)
//   delta_3 = 1 + 0.5*8 - 4 = 1.0
//   G_3 = 1.0; G_2 = 0 + 0 (trunc) = 0; G_1 = 0.5 + 0.25*0 = 0.5;
//   G_0 = 1.0 + 0.25*0.5 = 1.125;  vs = [2.125, 2.5, 3.0, 5.0]
//   vs_{t+1} = [2.5, 3.0, 5.0, 8 (bootstrap)]
//   A_0 = 1 + 0.5*2.5 - 1 = 1.25;  A_1 = 1 + 0.5*3 - 2 = 0.5;
//   A_2 = 0 (truncated);           A_3 = 1 + 0.5*8 - 4 = 1.0
TEST(ComputeGaeTest, HandComputedTerminationAndTruncation) {
  const torch::Tensor rewards = TN({{1, 1}, {2, 1}, {3, 1}, {4, 1}});
  const torch::Tensor values = TN({{0.5, 1}, {1, 2}, {1.5, 3}, {2, 4}});
  const torch::Tensor bootstrap = torch::tensor({4.0f, 8.0f});
  const torch::Tensor terminated = TN({{0, 0}, {1, 0}, {0, 0}, {0, 0}});
  const torch::Tensor truncated = TN({{0, 0}, {0, 0}, {0, 1}, {0, 0}});
  const GaeResult gae =
      ComputeGae(rewards, values, bootstrap, terminated, truncated, /*discount=*/0.5,
                 /*lambda=*/0.5);
  ExpectNear(gae.advantages, TN({{1.5, 1.25}, {1.0, 0.5}, {4.5, 0.0}, {4.0, 1.0}}));
  ExpectNear(gae.value_targets, TN({{1.75, 2.125}, {2.0, 2.5}, {5.0, 3.0}, {6.0, 5.0}}));
}

TEST(ComputeGaeTest, BoolMasksWorkLikeFloatMasks) {
  const torch::Tensor rewards = TN({{1, 2}, {3, 4}});
  const torch::Tensor values = TN({{0.1, 0.2}, {0.3, 0.4}});
  const torch::Tensor bootstrap = torch::tensor({1.0f, 2.0f});
  const torch::Tensor term = TN({{0, 1}, {0, 0}});
  const torch::Tensor trunc = TN({{1, 0}, {0, 0}});
  const GaeResult a = ComputeGae(rewards, values, bootstrap, term, trunc, 0.9, 0.8);
  const GaeResult b = ComputeGae(rewards, values, bootstrap, term.to(torch::kBool),
                                 trunc.to(torch::kBool), 0.9, 0.8);
  ExpectNear(a.advantages, b.advantages);
}

// With gamma = lambda = 1 and no episode ends, A_t is the Monte-Carlo return
// from t plus the bootstrap, minus V_t.
TEST(ComputeGaeTest, UndiscountedWithoutDonesIsMonteCarlo) {
  const torch::Tensor rewards = TN({{1}, {2}, {3}});
  const torch::Tensor values = TN({{5}, {-1}, {2}});
  const torch::Tensor zeros = torch::zeros({3, 1});
  const GaeResult gae = ComputeGae(rewards, values, torch::tensor({10.0f}), zeros, zeros, 1, 1);
  // Returns-to-go + bootstrap: [16, 15, 13].
  ExpectNear(gae.advantages, TN({{16 - 5}, {15 + 1}, {13 - 2}}));
  ExpectNear(gae.value_targets, TN({{16}, {15}, {13}}));
}

// B = 4 samples, eps = 0.2, ratios r = [1, 1.5, 0.5, 1.1] (old log-prob 0),
// A = [1, 2, -1, -3]:
//   min(rA, clip(r)A) = [1, min(3, 2.4), min(-0.5, -0.8), min(-3.3, -3.3)]
//                     = [1, 2.4, -0.8, -3.3];  policy loss = -(-0.7)/4 = 0.175
//   clip fraction: |r - 1| > 0.2 for samples 1 and 2 -> 0.5
//   approx KL = mean((r - 1) - log r)
//             = (0 + (0.5 - ln 1.5) + (-0.5 - ln 0.5) + (0.1 - ln 1.1)) / 4
// Value: V = [0, 1, 2, 3], vs = [1, 1, 0, 7], mask = [1, 1, 0, 1]
//   squared errors [1, 0, (4 masked), 16] -> masked mean 17/3;
//   loss = 0.5 (coefficient) * 0.5 * 17/3 = 17/12
// Entropy [1, 2, 3, 4] -> mean 2.5, cost 0.01 -> -0.025 in the total.
// Prior (c = 0.1): mean mu^2 over [[1,0],[0,1],[1,1],[0,0]] = 4/8 = 0.5,
//   std = 2 everywhere -> mean std^2 = 4; penalty 0.1 * 4.5 = 0.45.
// Total = 0.175 + 17/12 - 0.025 + 0.45.
struct LossFixture {
  PpoLossInputs in;
  PpoLossOptions options;
  LossFixture() {
    in.log_prob = torch::log(torch::tensor({1.0f, 1.5f, 0.5f, 1.1f})).requires_grad_(true);
    in.old_log_prob = torch::zeros({4});
    in.advantages = torch::tensor({1.0f, 2.0f, -1.0f, -3.0f});
    in.values = torch::tensor({0.0f, 1.0f, 2.0f, 3.0f});
    in.value_targets = torch::tensor({1.0f, 1.0f, 0.0f, 7.0f});
    in.entropy = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
    in.mask = torch::tensor({1.0f, 1.0f, 0.0f, 1.0f});
    in.mean = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 0.0f, 0.0f}).reshape({4, 2});
    in.std = torch::full({4, 2}, 2.0f);
    options.clip_epsilon = 0.2;
    options.value_loss_coefficient = 0.5;
    options.entropy_cost = 0.01;
    options.prior_penalty = 0.1;
  }
};

TEST(ComputePpoLossTest, HandComputedTerms) {
  LossFixture f;
  const PpoLossTerms terms = ComputePpoLoss(f.in, f.options);
  const double kl =
      (0.0 + (0.5 - std::log(1.5)) + (-0.5 - std::log(0.5)) + (0.1 - std::log(1.1))) / 4;
  EXPECT_NEAR(terms.policy_loss.item<double>(), 0.175, 1e-6);
  EXPECT_NEAR(terms.value_loss.item<double>(), 17.0 / 12.0, 1e-6);
  EXPECT_NEAR(terms.entropy.item<double>(), 2.5, 1e-6);
  EXPECT_NEAR(terms.prior_penalty.item<double>(), 0.45, 1e-6);
  EXPECT_NEAR(terms.clip_fraction.item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(terms.approx_kl.item<double>(), kl, 1e-6);
  EXPECT_NEAR(terms.total.item<double>(), 0.175 + 17.0 / 12.0 - 0.025 + 0.45, 1e-5);
}

// d total / d log_prob_i = -A_i r_i / B where the unclipped term is the
// minimum, 0 where the clipped one is: samples 1 and 2 are clipped.
TEST(ComputePpoLossTest, ClippedSamplesGetNoPolicyGradient) {
  LossFixture f;
  ComputePpoLoss(f.in, f.options).total.backward();
  const torch::Tensor grad = f.in.log_prob.grad();
  EXPECT_NEAR(grad[0].item<double>(), -1.0 * 1.0 / 4, 1e-6);
  EXPECT_NEAR(grad[1].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(grad[2].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(grad[3].item<double>(), 3.0 * 1.1 / 4, 1e-5);
}

TEST(ComputePpoLossTest, FullyMaskedValueLossIsZeroNotNan) {
  LossFixture f;
  f.in.mask = torch::zeros({4});
  const PpoLossTerms terms = ComputePpoLoss(f.in, f.options);
  EXPECT_EQ(terms.value_loss.item<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(terms.total.item<double>()));
}

TEST(ComputePpoLossTest, OnPolicyRatioIsOneAndNothingIsClipped) {
  LossFixture f;
  f.in.log_prob = torch::tensor({-1.0f, -2.0f, -3.0f, -4.0f});
  f.in.old_log_prob = f.in.log_prob.clone();
  const PpoLossTerms terms = ComputePpoLoss(f.in, f.options);
  EXPECT_EQ(terms.clip_fraction.item<double>(), 0.0);
  EXPECT_NEAR(terms.approx_kl.item<double>(), 0.0, 1e-7);
  // -mean(A) = -(1 + 2 - 1 - 3) / 4.
  EXPECT_NEAR(terms.policy_loss.item<double>(), 0.25, 1e-6);
}

// ---------------------------------------------------------------------------
// The baselines' losses (docs/algorithm.md §2-3) on tiny batches, every
// expected value worked out by hand below. The flow network is all zeros
// but for its last bias b = (0.4, -0.8), so with velocity_scale 0.25 its
// velocity is v = (0.1, -0.2) everywhere.

std::unique_ptr<nn::DecoderModel> ConstantVelocityFlow(int steps) {
  auto flow = nn::DecoderModel::NewFlowPolicy(/*obs_size=*/1, /*action_size=*/2, {3}, steps,
                                              /*velocity_scale=*/0.25, nn::MakeGenerator(1));
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : (*flow->net())->parameters()) p.zero_();
  (*flow->net())->parameters().back().copy_(torch::tensor({0.4f, -0.8f}));
  return flow;
}

// Two transitions x two draws, A = 2.
//  transition 0: u = (0.5, -1)
//   draw 0: tau 1,   eps (1, 0):  x = eps, (1 - tau) v = 0, eps - x = 0          -> 0
//   draw 1: tau 0.5, eps (-1, 2): x = (-0.25, 0.5), + 0.5 v = (-0.2, 0.4),
//           eps - that = (-0.8, 1.6)                      -> (0.64 + 2.56) / 2 = 1.6
//  transition 1: u = (0, 0)
//   draw 0: tau 0.2, eps (0.5, 0.5): x = (0.1, 0.1), + 0.8 v = (0.18, -0.06),
//           eps - that = (0.32, 0.56)               -> (0.1024 + 0.3136) / 2 = 0.208
//   draw 1: tau 0.9, eps (0, -1): x = (0, -0.9), + 0.1 v = (0.01, -0.92),
//           eps - that = (-0.01, -0.08)             -> (0.0001 + 0.0064) / 2 = 0.00325
//  old losses (0.02, 5) and (0.2, 0.00325): old - new = (0.02, 3.4), (-0.008, 0),
//  clipped to +-3: (0.02, 3), (-0.008, 0); ratios e^0.02 = 1.0202013,
//  e^3 = 20.085537, e^-0.008 = 0.9920319, 1.
//  Advantages (1, -2), clip 0.05: min(r A, clip(r) A) = 1.0202013, 1.05 (clipped),
//  -1.9840638, -2 -> loss = -(sum) / 4 = 0.47846562; one of four ratios is
//  beyond 1 +- 0.05; KL = mean((r - 1) - log r) = 4.0214425.
TEST(FpoLossTest, HandComputedCfmLossesClippedLogRatiosAndSurrogate) {
  const auto flow = ConstantVelocityFlow(/*steps=*/10);
  const torch::Tensor obs = torch::tensor({{0.3f}, {-2.0f}});
  const torch::Tensor u = torch::tensor({{0.5f, -1.0f}, {0.0f, 0.0f}});
  const torch::Tensor taus = torch::tensor({{1.0f, 0.5f}, {0.2f, 0.9f}});
  const torch::Tensor eps =
      torch::tensor({1.0f, 0.0f, -1.0f, 2.0f, 0.5f, 0.5f, 0.0f, -1.0f}).reshape({2, 2, 2});
  const torch::Tensor losses = flow->CfmLosses(obs, u, taus, eps);
  ExpectNear(losses, torch::tensor({{0.0f, 1.6f}, {0.208f, 0.00325f}}));

  const torch::Tensor old_losses = torch::tensor({{0.02f, 5.0f}, {0.2f, 0.00325f}});
  const torch::Tensor log_ratios = FpoLogRatios(old_losses, losses, /*clip=*/3.0);
  ExpectNear(log_ratios, torch::tensor({{0.02f, 3.0f}, {-0.008f, 0.0f}}));

  const SurrogateTerms terms =
      ClippedSurrogate(log_ratios, torch::tensor({1.0f, -2.0f}), /*clip_epsilon=*/0.05);
  EXPECT_NEAR(terms.loss.item<double>(), 0.47846562, 1e-5);
  EXPECT_NEAR(terms.clip_fraction.item<double>(), 0.25, 1e-7);
  EXPECT_NEAR(terms.approx_kl.item<double>(), 4.0214425, 1e-4);
}

// Two env steps, K = 2 Euler steps (dt = 0.5), sigma = 0.1, A = 2: each
// step's mean is x_k - 0.5 v = x_k + (-0.05, 0.1), and its log-likelihood
// -0.5 |(x_{k+1} - mean) / 0.1|^2 - C with C = 2 (log 0.1 + 0.5 log 2 pi)
// = -2.7672931.
//  env step 0: chain (0, 0) -> (0.05, 0.1) -> (0, 0.3)
//   step 0: mean (-0.05, 0.1), residual (0.1, 0), z = (1, 0) -> -0.5 - C = 2.2672931
//   step 1: mean (0, 0.2),     residual (0, 0.1), z = (0, 1) -> 2.2672931
//  env step 1: chain (1, -1) -> (0.95, -0.9) -> (0.7, -0.8)
//   step 0: residual 0                    -> -C = 2.7672931
//   step 1: mean (0.9, -0.8), z = (-2, 0) -> -2 - C = 0.7672931
//  old per-step log-probs (-0.5 - C, -0.4 - C) and (-0.3 - C, -2 - C): log-ratios
//  (0, -0.1) and (0.3, 0); ratios 1, 0.9048374, 1.3498588, 1.
//  Advantages (2, -1), clip 0.2: min(r A, clip(r) A) = 2, 1.8096748, -1.3498588
//  (r A is below clip(r) A = -1.2), -1 -> loss = -(1.4598160) / 4 = -0.3649540;
//  one ratio of four beyond 1 +- 0.2; KL = 0.0136741.
TEST(DppoLossTest, HandComputedStepLogLikelihoodsRatiosAndSurrogate) {
  const auto flow = ConstantVelocityFlow(/*steps=*/2);
  const torch::Tensor obs = torch::tensor({{1.0f}, {0.0f}});
  const torch::Tensor chain = torch::tensor({0.0f, 0.0f, 0.05f, 0.1f, 0.0f, 0.3f,  //
                                             1.0f, -1.0f, 0.95f, -0.9f, 0.7f, -0.8f})
                                  .reshape({2, 3, 2});
  const torch::Tensor log_probs = flow->StepLogLikelihoods(obs, chain, /*sigma=*/0.1);
  const double c = -2.7672931;
  ExpectNear(log_probs, torch::tensor({{-0.5 - c, -0.5 - c}, {-c, -2.0 - c}}).to(torch::kFloat),
             1e-4);

  const torch::Tensor old_log_probs =
      torch::tensor({{-0.5 - c, -0.4 - c}, {-0.3 - c, -2.0 - c}}).to(torch::kFloat);
  const SurrogateTerms terms = ClippedSurrogate(log_probs - old_log_probs,
                                                torch::tensor({2.0f, -1.0f}), /*clip_epsilon=*/0.2);
  EXPECT_NEAR(terms.loss.item<double>(), -0.3649540, 1e-4);
  EXPECT_NEAR(terms.clip_fraction.item<double>(), 0.25, 1e-7);
  EXPECT_NEAR(terms.approx_kl.item<double>(), 0.0136741, 1e-4);
}

// The noisy sampler draws exactly the chain whose per-step residuals are
// sigma times its noise: at sigma = 0 it is the deterministic Euler flow
// (what Decode runs), and the log-likelihood of its own chain is that of
// standard normal noise.
TEST(DppoLossTest, NoisyChainIsTheEulerFlowPlusSigmaNoise) {
  const auto flow = ConstantVelocityFlow(/*steps=*/2);
  const torch::Tensor obs = torch::tensor({{1.0f}});
  const torch::Tensor x0 = torch::tensor({{0.2f, -0.4f}});
  torch::Tensor chain;
  const torch::Tensor plain = flow->SampleNormalized(obs, x0, 0.0, nullptr, &chain);
  // Two steps of x - 0.5 v: (0.2, -0.4) + 2 (-0.05, 0.1) = (0.1, -0.2).
  ExpectNear(plain, torch::tensor({{0.1f, -0.2f}}));
  ExpectNear(chain, torch::tensor({0.2f, -0.4f, 0.15f, -0.3f, 0.1f, -0.2f}).reshape({1, 3, 2}));

  torch::Generator gen = nn::MakeGenerator(7);
  torch::Generator same = nn::MakeGenerator(7);
  const torch::Tensor noisy = flow->SampleNormalized(obs, x0, 0.05, &gen, &chain);
  const torch::Tensor xi0 = torch::randn({1, 2}, same), xi1 = torch::randn({1, 2}, same);
  ExpectNear(noisy, plain + 0.05 * (xi0 + xi1));
  const torch::Tensor expected = -0.5 * torch::stack({xi0.pow(2).sum(-1), xi1.pow(2).sum(-1)}, 1) -
                                 2 * (std::log(0.05) + 0.5 * std::log(2 * M_PI));
  ExpectNear(flow->StepLogLikelihoods(obs, chain, 0.05), expected, 1e-4);
}

}  // namespace
}  // namespace gorl::learner
