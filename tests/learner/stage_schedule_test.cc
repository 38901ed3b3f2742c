#include "learner/stage_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/status_matchers.h"

namespace gorl::learner {
namespace {

using ::gorl::testing::IsOk;
using ::testing::Not;

TEST(StageScheduleTest, PaperBudgetsRoundToWholeIterations) {
  // 180M steps as 1/3, 1/3, 1/6, 1/6 of 983,040-step iterations:
  // 60M / 983,040 = 61.04 -> 61 and 30M / 983,040 = 30.5 -> 31 (llround).
  GORL_ASSERT_OK_AND_ASSIGN(
      const StageSchedule schedule,
      StageSchedule::Create(180000000, {1.0 / 3, 1.0 / 3, 1.0 / 6, 1.0 / 6}, 983040));
  EXPECT_EQ(schedule.num_stages(), 4);
  EXPECT_EQ(schedule.Iterations(0), 61);
  EXPECT_EQ(schedule.Iterations(1), 61);
  EXPECT_EQ(schedule.Iterations(2), 31);
  EXPECT_EQ(schedule.Iterations(3), 31);
  EXPECT_EQ(schedule.StageEnd(0), 61 * 983040);
  EXPECT_EQ(schedule.total_env_steps(), 184 * 983040);
}

TEST(StageScheduleTest, StageAtFindsTheStageOfAnIterationStart) {
  auto schedule = StageSchedule::Create(1000, {2, 1, 1}, 100);  // 5, 2(.5 -> 3), 3 iterations
  GORL_ASSERT_OK(schedule);
  EXPECT_EQ(schedule->Iterations(0), 5);
  EXPECT_EQ(schedule->StageAt(0), 0);
  EXPECT_EQ(schedule->StageAt(499), 0);
  EXPECT_EQ(schedule->StageAt(500), 1);
  EXPECT_EQ(schedule->StageAt(schedule->StageEnd(1)), 2);
  EXPECT_EQ(schedule->StageAt(1 << 30), 2);
}

TEST(StageScheduleTest, EveryStageGetsAtLeastOneIteration) {
  GORL_ASSERT_OK_AND_ASSIGN(const StageSchedule schedule,
                            StageSchedule::Create(100, {1000, 1}, 50));
  EXPECT_EQ(schedule.Iterations(1), 1);
}

TEST(StageScheduleTest, BadInputsAreRejected) {
  EXPECT_THAT(StageSchedule::Create(100, {}, 10), Not(IsOk()));
  EXPECT_THAT(StageSchedule::Create(100, {1, 0}, 10), Not(IsOk()));
  EXPECT_THAT(StageSchedule::Create(100, {1, -1}, 10), Not(IsOk()));
  EXPECT_THAT(StageSchedule::Create(0, {1}, 10), Not(IsOk()));
  EXPECT_THAT(StageSchedule::Create(100, {1}, 0), Not(IsOk()));
}

}  // namespace
}  // namespace gorl::learner
