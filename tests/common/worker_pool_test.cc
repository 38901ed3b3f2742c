#include "common/worker_pool.h"

#include <atomic>
#include <vector>

#include <gtest/gtest.h>

namespace gorl {
namespace {

TEST(WorkerPoolTest, EveryShardRunsExactlyOncePerRun) {
  WorkerPool pool(3);
  std::vector<std::atomic<int>> calls(3);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    pool.Run([&](int shard) { calls[shard].fetch_add(1); });
    // Run() returns only after every shard finished.
    for (int s = 0; s < 3; ++s) ASSERT_EQ(calls[s].load(), iteration + 1) << "shard " << s;
  }
}

TEST(WorkerPoolTest, ShardsWriteDisjointResultsVisibleAfterRun) {
  WorkerPool pool(2);
  std::vector<long> partial(2);
  pool.Run([&](int shard) {
    long sum = 0;
    for (long i = shard; i < 1000000; i += 2) sum += i;
    partial[shard] = sum;
  });
  EXPECT_EQ(partial[0] + partial[1], 999999L * 1000000L / 2);
}

TEST(WorkerPoolTest, SingleThreadRunsOnCaller) {
  WorkerPool pool(1);
  int calls = 0;
  pool.Run([&](int shard) {
    EXPECT_EQ(shard, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace gorl
