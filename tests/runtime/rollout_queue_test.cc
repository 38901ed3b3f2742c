#include "runtime/rollout_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/wait_until.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::WaitUntil;
using std::chrono::milliseconds;

v1::Rollout RolloutOf(int64_t version, int num_envs = 2) {
  v1::Rollout rollout;
  rollout.set_encoder_version(version);
  rollout.set_num_envs(num_envs);
  return rollout;
}

TEST(RolloutQueueTest, PopsInOrderAndCountsSequences) {
  RolloutQueue queue(5);
  ASSERT_EQ(queue.Push(RolloutOf(0, 2), nullptr), RolloutQueue::PushResult::kQueued);
  ASSERT_EQ(queue.Push(RolloutOf(0, 3), nullptr), RolloutQueue::PushResult::kQueued);
  EXPECT_EQ(queue.queued_sequences(), 5);
  EXPECT_EQ(queue.Pop(milliseconds(10))->num_envs(), 2);
  EXPECT_EQ(queue.Pop(milliseconds(10))->num_envs(), 3);
  EXPECT_FALSE(queue.Pop(milliseconds(10)).has_value());
  EXPECT_EQ(queue.queued_sequences(), 0);
}

TEST(RolloutQueueTest, IsBoundedInBytesAsWellAsSequences) {
  // Two env-sequences each, but 4000 floats (16 kB) each: the byte bound,
  // not the sequence bound, decides.
  auto big = [](int64_t version) {
    v1::Rollout rollout = RolloutOf(version, 2);
    for (int i = 0; i < 4000; ++i) rollout.add_rewards(1.0f);
    return rollout;
  };
  const int64_t one = static_cast<int64_t>(big(0).ByteSizeLong());
  RolloutQueue queue(/*capacity=*/1000, /*capacity_bytes=*/2 * one + one / 2);
  queue.SetProducersWait(false);  // a full queue answers kFull instead of blocking
  ASSERT_EQ(queue.Push(big(0), nullptr), RolloutQueue::PushResult::kQueued);
  ASSERT_EQ(queue.Push(big(0), nullptr), RolloutQueue::PushResult::kQueued);
  EXPECT_EQ(queue.queued_bytes(), 2 * one);
  EXPECT_EQ(queue.Push(big(0), nullptr), RolloutQueue::PushResult::kFull);
  EXPECT_EQ(queue.queued_sequences(), 4) << "far below the sequence capacity";
  ASSERT_TRUE(queue.Pop(milliseconds(10)).has_value());
  EXPECT_EQ(queue.queued_bytes(), one);
  EXPECT_EQ(queue.Push(big(0), nullptr), RolloutQueue::PushResult::kQueued);
  EXPECT_EQ(queue.SetMinVersion(1), 2);
  EXPECT_EQ(queue.queued_bytes(), 0);
}

TEST(RolloutQueueTest, FullQueueBlocksTheProducerUntilTheConsumerPops) {
  // Capacity in sequences; a rollout larger than it still enters an empty queue.
  RolloutQueue queue(3);
  ASSERT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kQueued);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kQueued);
    pushed = true;
  });
  EXPECT_TRUE(WaitUntil([&] { return queue.blocked_producers() == 1; }));
  EXPECT_FALSE(pushed) << "a full queue must hold the producer back";
  EXPECT_EQ(queue.size(), 1);
  ASSERT_TRUE(queue.Pop(milliseconds(10)).has_value());
  producer.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(queue.size(), 1);
  EXPECT_EQ(queue.blocked_producers(), 0);
}

TEST(RolloutQueueTest, RaisingTheMinimumVersionDropsStaleRolloutsAndFreesBlockedProducers) {
  RolloutQueue queue(1);
  ASSERT_EQ(queue.Push(RolloutOf(3), nullptr), RolloutQueue::PushResult::kQueued);
  RolloutQueue::PushResult blocked_result = RolloutQueue::PushResult::kQueued;
  std::thread producer([&] { blocked_result = queue.Push(RolloutOf(3), nullptr); });
  EXPECT_TRUE(WaitUntil([&] { return queue.blocked_producers() == 1; }));
  EXPECT_EQ(queue.SetMinVersion(4), 1);
  producer.join();
  EXPECT_EQ(blocked_result, RolloutQueue::PushResult::kStale);
  EXPECT_EQ(queue.size(), 0);
  EXPECT_EQ(queue.Push(RolloutOf(3), nullptr), RolloutQueue::PushResult::kStale);
  EXPECT_EQ(queue.Push(RolloutOf(4), nullptr), RolloutQueue::PushResult::kQueued);
  // The minimum never goes back.
  EXPECT_EQ(queue.SetMinVersion(2), 0);
  EXPECT_EQ(queue.min_version(), 4);
}

TEST(RolloutQueueTest, ProducersDropInsteadOfWaitingWhenNobodyDrains) {
  RolloutQueue queue(1);
  queue.SetProducersWait(false);
  ASSERT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kQueued);
  EXPECT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kFull);
}

TEST(RolloutQueueTest, ABlockedProducerNoticesThatItsSenderWentAway) {
  RolloutQueue queue(1);
  ASSERT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kQueued);
  std::atomic<bool> gone{false};
  std::thread producer([&] {
    EXPECT_EQ(queue.Push(RolloutOf(0), [&] { return gone.load(); }),
              RolloutQueue::PushResult::kCancelled);
  });
  gone = true;
  producer.join();
}

TEST(RolloutQueueTest, CloseWakesEveryone) {
  RolloutQueue queue(1);
  ASSERT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kQueued);
  std::thread producer(
      [&] { EXPECT_EQ(queue.Push(RolloutOf(0), nullptr), RolloutQueue::PushResult::kClosed); });
  EXPECT_TRUE(WaitUntil([&] { return queue.blocked_producers() == 1; }));
  queue.Close();
  producer.join();
  EXPECT_FALSE(queue.Pop(milliseconds(1000)).has_value());
}

TEST(RolloutQueueTest, PushFrontPutsARemainderAheadOfEverything) {
  RolloutQueue queue(1);
  ASSERT_EQ(queue.Push(RolloutOf(0, 5), nullptr), RolloutQueue::PushResult::kQueued);
  queue.PushFront(RolloutOf(0, 1));
  EXPECT_EQ(queue.Pop(milliseconds(10))->num_envs(), 1);
  EXPECT_EQ(queue.Pop(milliseconds(10))->num_envs(), 5);
}

}  // namespace
}  // namespace gorl::runtime
