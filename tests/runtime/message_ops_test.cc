#include "runtime/message_ops.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/message_checks.h"
#include "tests/status_matchers.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;

// T steps of N envs where every value encodes (row, env) so slices are checkable.
v1::Rollout MakeRollout(int steps, int envs, int obs_size, int latent_size) {
  v1::Rollout r;
  r.set_encoder_version(3);
  r.set_num_envs(envs);
  r.set_unroll_length(steps);
  r.set_obs_size(obs_size);
  r.set_latent_size(latent_size);
  for (int t = 0; t <= steps; ++t) {
    for (int n = 0; n < envs; ++n) {
      for (int k = 0; k < obs_size; ++k) r.add_observations(100.0f * t + n + 0.1f * k);
    }
  }
  for (int t = 0; t < steps; ++t) {
    for (int n = 0; n < envs; ++n) {
      for (int k = 0; k < latent_size; ++k) r.add_latents(100.0f * t + n);
      r.add_log_probs(-1.0f * n);
      r.add_rewards(100.0f * t + n);
      r.add_terminated(n == 1);
      r.add_truncated(false);
    }
  }
  r.add_episode_returns(5.0f);
  r.set_diverged_episodes(1);
  return r;
}

TEST(SliceEnvsTest, KeepsTheChosenEnvsOfEveryRow) {
  v1::Rollout r = MakeRollout(3, 4, 2, 1);
  r.set_actor_id("actor-7");
  const v1::Rollout s = SliceEnvs(r, 1, 2);
  ASSERT_TRUE(CheckRollout(s, {2, 1}, 2).ok()) << CheckRollout(s, {2, 1}, 2);
  EXPECT_EQ(s.encoder_version(), 3);
  EXPECT_EQ(s.actor_id(), "actor-7");
  EXPECT_FLOAT_EQ(s.observations(0), 1.0f);            // t=0, env 1, k=0
  EXPECT_FLOAT_EQ(s.observations(3), 2.1f);            // t=0, env 2, k=1
  EXPECT_FLOAT_EQ(s.observations(3 * 2 * 2), 301.0f);  // bootstrap row, env 1
  EXPECT_FLOAT_EQ(s.rewards(2), 101.0f);               // t=1, env 1
  EXPECT_TRUE(s.terminated(0));
  EXPECT_FALSE(s.terminated(1));
  // Episode returns go to slices in which episodes ended (only env 1's
  // here), never more than ended there, so each slice passes CheckRollout.
  EXPECT_EQ(s.episode_returns_size(), 1);
  EXPECT_EQ(s.diverged_episodes(), 1);
  const v1::Rollout head = SliceEnvs(r, 0, 1);
  EXPECT_EQ(head.episode_returns_size(), 0);
  EXPECT_EQ(head.diverged_episodes(), 0);
  EXPECT_TRUE(CheckRollout(head, {2, 1}, 1).ok()) << CheckRollout(head, {2, 1}, 1);
}

// FPO's and DPPO's per-step records are sliced with their envs, so a slice
// that fills the learner's batch still carries what its loss needs.
TEST(SliceEnvsTest, KeepsTheBaselinesRecordsOfTheChosenEnvs) {
  v1::Rollout fpo = MakeRollout(2, 3, 1, 2);
  fpo.set_fpo_draws(2);
  v1::Rollout dppo = MakeRollout(2, 3, 1, 2);
  dppo.set_dppo_steps(1);
  for (int t = 0; t < 2; ++t) {
    for (int n = 0; n < 3; ++n) {
      for (int i = 0; i < 2; ++i) {
        fpo.add_fpo_times(0.5f);
        fpo.add_fpo_old_losses(10.0f * t + n + 0.1f * i);
        for (int d = 0; d < 2; ++d) fpo.add_fpo_noise(100.0f * t + 10.0f * n + i + 0.1f * d);
      }
      for (int x = 0; x < 4; ++x) dppo.add_dppo_chain(10.0f * t + n + 0.1f * x);
      dppo.add_dppo_old_log_probs(10.0f * t + n);
    }
  }
  ASSERT_TRUE(CheckRollout(fpo, {1, 2, 2, 0}, 3).ok()) << CheckRollout(fpo, {1, 2, 2, 0}, 3);
  ASSERT_TRUE(CheckRollout(dppo, {1, 2, 0, 1}, 3).ok()) << CheckRollout(dppo, {1, 2, 0, 1}, 3);
  const v1::Rollout f = SliceEnvs(fpo, 1, 2);
  EXPECT_TRUE(CheckRollout(f, {1, 2, 2, 0}, 2).ok()) << CheckRollout(f, {1, 2, 2, 0}, 2);
  EXPECT_FLOAT_EQ(f.fpo_old_losses(0), 1.0f);   // t=0, env 1, draw 0
  EXPECT_FLOAT_EQ(f.fpo_old_losses(7), 12.1f);  // t=1, env 2, draw 1
  EXPECT_FLOAT_EQ(f.fpo_noise(3), 11.1f);       // t=0, env 1, draw 1, dim 1
  const v1::Rollout d = SliceEnvs(dppo, 2, 1);
  EXPECT_TRUE(CheckRollout(d, {1, 2, 0, 1}, 1).ok()) << CheckRollout(d, {1, 2, 0, 1}, 1);
  EXPECT_FLOAT_EQ(d.dppo_chain(0), 2.0f);   // t=0, env 2, x_0 dim 0
  EXPECT_FLOAT_EQ(d.dppo_chain(7), 12.3f);  // t=1, env 2, x_1 dim 1
  EXPECT_FLOAT_EQ(d.dppo_old_log_probs(1), 12.0f);
  // A record cut short is refused by name.
  v1::Rollout short_chain = d;
  short_chain.mutable_dppo_chain()->RemoveLast();
  EXPECT_THAT(std::string(CheckRollout(short_chain, {1, 2, 0, 1}, 1).message()),
              HasSubstr("rollout.dppo_chain has 7 values, expected 8"));
  v1::Rollout late = f;
  late.set_fpo_times(0, 1.5f);
  EXPECT_THAT(std::string(CheckRollout(late, {1, 2, 2, 0}, 2).message()),
              HasSubstr("rollout.fpo_times[0] = 1.5 is outside [0, 1]"));
}

TEST(SplitPairsTest, ChunksStayUnderTheLimitAndJoinBackExactly) {
  v1::RefinementData data;
  data.set_obs_size(3);
  data.set_action_size(2);
  for (int i = 0; i < 10000; ++i) {
    for (int k = 0; k < 3; ++k) data.add_observations(i + 0.25f * k);
    for (int k = 0; k < 2; ++k) data.add_actions(-i - 0.5f * k);
    for (int k = 0; k < 2; ++k) data.add_latents(0.1f * i);
  }
  const std::vector<v1::RefinementData> chunks = SplitPairs(data, 16 << 10);
  EXPECT_GT(chunks.size(), 10u);
  v1::RefinementData joined;
  for (const v1::RefinementData& chunk : chunks) {
    EXPECT_LE(chunk.ByteSizeLong(), size_t{16} << 10);
    EXPECT_TRUE(CheckRefinementData(chunk, {3, 2}).ok());
    AppendPairs(chunk, joined);
  }
  EXPECT_EQ(joined.SerializeAsString(), data.SerializeAsString());
  EXPECT_EQ(SplitPairs(v1::RefinementData(), 1024).size(), 1u) << "empty data is one empty chunk";
}

TEST(MessageChecksTest, RefusesWrongSizesAndNonFiniteValues) {
  v1::Rollout r = MakeRollout(2, 2, 1, 1);
  EXPECT_TRUE(CheckRollout(r, {1, 1}, 2).ok());
  EXPECT_THAT(std::string(CheckRollout(r, {3, 1}, 2).message()), HasSubstr("the task has obs 3"));
  EXPECT_THAT(std::string(CheckRollout(r, {1, 1}, 4).message()),
              HasSubstr("the actor joined with 4"));
  v1::Rollout short_rewards = r;
  short_rewards.mutable_rewards()->RemoveLast();
  EXPECT_THAT(std::string(CheckRollout(short_rewards, {1, 1}, 2).message()),
              HasSubstr("rollout.rewards has 3 values, expected 4"));
  v1::Rollout nan = r;
  nan.set_log_probs(1, std::nanf(""));
  const absl::Status status = CheckRollout(nan, {1, 1}, 2);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("rollout.log_probs[1] is not finite"));

  // Found by tests/fuzz (message_checks): sizes whose products overflow
  // int64 (undefined behaviour) are refused before the products are formed.
  v1::Rollout huge = r;
  huge.set_num_envs(std::numeric_limits<int32_t>::max());
  huge.set_unroll_length(std::numeric_limits<int32_t>::max());
  huge.set_obs_size(256);
  huge.set_latent_size(256);
  EXPECT_THAT(CheckRollout(huge, {256, 256}, std::numeric_limits<int32_t>::max()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more values than a message can hold")));

  v1::EvalReport report;
  report.add_episode_returns(1.0f);
  EXPECT_FALSE(CheckEvalReport(report, 2).ok());
  report.add_episode_returns(INFINITY);
  EXPECT_FALSE(CheckEvalReport(report, 2).ok());
}

// Finite but huge values pass isfinite and overflow the first sum of
// squares in an update (rewards of 3e38 did); each refusal says which
// kind it is, for gorl_messages_refused_total{reason}.
TEST(MessageChecksTest, RefusesFiniteButHugeValuesAndNamesTheReason) {
  const v1::Rollout r = MakeRollout(2, 2, 1, 1);
  v1::Rollout huge = r;
  huge.set_rewards(2, 3e38f);
  absl::Status status = CheckRollout(huge, {1, 1}, 2);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("rollout.rewards[2]"));
  EXPECT_EQ(RefusalReason(status), "out_of_range");
  huge = r;
  huge.set_rewards(2, kMaxAbsReward);  // the bound itself is fine
  EXPECT_TRUE(CheckRollout(huge, {1, 1}, 2).ok());
  v1::Rollout nan = r;
  nan.set_observations(0, std::nanf(""));
  EXPECT_EQ(RefusalReason(CheckRollout(nan, {1, 1}, 2)), "non_finite");
  v1::Rollout extra_returns = r;
  extra_returns.add_episode_returns(1.0f);  // env 1 ended twice: 2 returns are fine,
  EXPECT_TRUE(CheckRollout(extra_returns, {1, 1}, 2).ok());
  extra_returns.add_episode_returns(1.0f);  // 3 are more than episodes ended
  status = CheckRollout(extra_returns, {1, 1}, 2);
  EXPECT_THAT(std::string(status.message()), HasSubstr("episode_returns"));
  EXPECT_EQ(RefusalReason(status), "shape");
  v1::RefinementData data;
  data.set_obs_size(1);
  data.set_action_size(1);
  data.add_observations(0.0f);
  data.add_actions(-1e30f);
  EXPECT_EQ(RefusalReason(CheckRefinementData(data, {1, 1})), "out_of_range");
}

}  // namespace
}  // namespace gorl::runtime
