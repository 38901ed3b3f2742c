#include "learner/stage_schedule.h"

#include <gtest/gtest.h>

namespace gorl::learner {
namespace {

TEST(StageScheduleTest, PaperBudgetsRoundToWholeIterations) {
  // 180M steps as 1/3, 1/3, 1/6, 1/6 of 983,040-step iterations:
  // 60M / 983,040 = 61.04 -> 61 and 30M / 983,040 = 30.5 -> 31 (llround).
  auto schedule = StageSchedule::Create(180000000, {1.0 / 3, 1.0 / 3, 1.0 / 6, 1.0 / 6}, 983040);
  ASSERT_TRUE(schedule.ok()) << schedule.status();
  EXPECT_EQ(schedule->num_stages(), 4);
  EXPECT_EQ(schedule->Iterations(0), 61);
  EXPECT_EQ(schedule->Iterations(1), 61);
  EXPECT_EQ(schedule->Iterations(2), 31);
  EXPECT_EQ(schedule->Iterations(3), 31);
  EXPECT_EQ(schedule->StageEnd(0), 61 * 983040);
  EXPECT_EQ(schedule->total_env_steps(), 184 * 983040);
}

TEST(StageScheduleTest, StageAtFindsTheStageOfAnIterationStart) {
  auto schedule = StageSchedule::Create(1000, {2, 1, 1}, 100);  // 5, 2(.5 -> 3), 3 iterations
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->Iterations(0), 5);
  EXPECT_EQ(schedule->StageAt(0), 0);
  EXPECT_EQ(schedule->StageAt(499), 0);
  EXPECT_EQ(schedule->StageAt(500), 1);
  EXPECT_EQ(schedule->StageAt(schedule->StageEnd(1)), 2);
  EXPECT_EQ(schedule->StageAt(1 << 30), 2);
}

TEST(StageScheduleTest, EveryStageGetsAtLeastOneIteration) {
  auto schedule = StageSchedule::Create(100, {1000, 1}, 50);
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->Iterations(1), 1);
}

TEST(StageScheduleTest, BadInputsAreRejected) {
  EXPECT_FALSE(StageSchedule::Create(100, {}, 10).ok());
  EXPECT_FALSE(StageSchedule::Create(100, {1, 0}, 10).ok());
  EXPECT_FALSE(StageSchedule::Create(100, {1, -1}, 10).ok());
  EXPECT_FALSE(StageSchedule::Create(0, {1}, 10).ok());
  EXPECT_FALSE(StageSchedule::Create(100, {1}, 0).ok());
}

}  // namespace
}  // namespace gorl::learner
