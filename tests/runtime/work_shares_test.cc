#include "runtime/work_shares.h"

#include <gtest/gtest.h>

#include <set>

namespace gorl::runtime {
namespace {

TEST(SplitTest, CollectSharesSumToTheRequestAndKeepPairsPerEnv) {
  const std::vector<v1::Work> shares = SplitCollect(1000, 10, 7, 3);
  ASSERT_EQ(shares.size(), 3u);
  int64_t pairs = 0;
  int envs = 0;
  std::set<uint64_t> seeds;
  for (const v1::Work& work : shares) {
    EXPECT_EQ(work.mode(), v1::ACTOR_MODE_COLLECT);
    pairs += work.collect().pairs();
    envs += work.collect().num_envs();
    seeds.insert(work.collect().seed());
    EXPECT_NEAR(static_cast<double>(work.collect().pairs()) / work.collect().num_envs(), 100.0,
                1.0);
  }
  EXPECT_EQ(pairs, 1000);
  EXPECT_EQ(envs, 10);
  EXPECT_EQ(seeds.size(), 3u) << "every share needs its own envs";
}

TEST(SplitTest, OneShareReproducesTheInProcessRequest) {
  const std::vector<v1::Work> collect = SplitCollect(1000, 10, 7, 1);
  ASSERT_EQ(collect.size(), 1u);
  EXPECT_EQ(collect[0].collect().seed(), 7u);
  EXPECT_EQ(collect[0].collect().num_envs(), 10);
  const std::vector<v1::Work> eval = SplitEval(16, true, 9, 1);
  ASSERT_EQ(eval.size(), 1u);
  EXPECT_EQ(eval[0].eval().seed(), 9u);
  EXPECT_EQ(eval[0].eval().episodes(), 16);
}

TEST(SplitTest, NeverMoreSharesThanUnits) {
  EXPECT_EQ(SplitEval(3, false, 0, 8).size(), 3u);
  EXPECT_EQ(SplitCollect(1000, 2, 0, 8).size(), 2u);
  EXPECT_EQ(SplitCollect(1, 8, 0, 8).size(), 1u);
  int episodes = 0;
  for (const v1::Work& work : SplitEval(10, true, 0, 4)) episodes += work.eval().episodes();
  EXPECT_EQ(episodes, 10);
}

std::vector<v1::Work> WithIds(std::vector<v1::Work> works) {
  for (size_t i = 0; i < works.size(); ++i) works[i].set_id(100 + i);
  return works;
}

TEST(ShareBoardTest, AssignsEachShareOnceAndFinishesInShareOrder) {
  ShareBoard board;
  board.Start(WithIds(SplitEval(4, true, 0, 2)));
  const auto now = ShareBoard::Clock::now();
  const v1::Work* first = board.Assign(/*owner=*/1, now);
  const v1::Work* second = board.Assign(/*owner=*/2, now);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(board.Assign(3, now), nullptr);
  EXPECT_TRUE(board.Holds(1));
  EXPECT_EQ(board.Find(second->id(), 1), nullptr) << "results only from the holder";
  ShareBoard::Share* share = board.Find(second->id(), 2);
  ASSERT_NE(share, nullptr);
  share->report.add_episode_returns(2.0f);
  board.Complete(*share);
  EXPECT_FALSE(board.AllDone());
  share = board.Find(first->id(), 1);
  share->report.add_episode_returns(1.0f);
  board.Complete(*share);
  EXPECT_TRUE(board.AllDone());
  const std::vector<ShareBoard::Share> shares = board.Finish();
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].report.episode_returns(0), 1.0f);
  EXPECT_EQ(shares[1].report.episode_returns(0), 2.0f);
  EXPECT_FALSE(board.active());
}

TEST(ShareBoardTest, ReleasedAndExpiredSharesGoBackToThePool) {
  ShareBoard board;
  board.Start(WithIds(SplitCollect(100, 4, 0, 2)));
  const auto t0 = ShareBoard::Clock::now();
  const uint64_t first = board.Assign(1, t0)->id();
  board.Find(first, 1)->pairs.add_observations(1.0f);
  board.Assign(2, t0 + std::chrono::seconds(10));
  EXPECT_EQ(board.pending(), 0);
  EXPECT_TRUE(board.Release(1));
  EXPECT_EQ(board.pending(), 1);
  const v1::Work* again = board.Assign(3, t0 + std::chrono::seconds(10));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->id(), first);
  EXPECT_EQ(board.Find(first, 3)->pairs.observations_size(), 0) << "partial results dropped";
  const std::vector<uint64_t> expired = board.Expire(t0 + std::chrono::seconds(11));
  EXPECT_EQ(expired.size(), 2u);
  EXPECT_EQ(board.pending(), 2);
}

}  // namespace
}  // namespace gorl::runtime
