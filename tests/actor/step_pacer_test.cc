#include "actor/step_pacer.h"

#include <gtest/gtest.h>

#include <chrono>

namespace gorl::actor {
namespace {

using std::chrono::milliseconds;
using Clock = StepPacer::Clock;

TEST(StepPacerTest, UncappedNeverHoldsAnUnrollBack) {
  for (double cap : {0.0, -5.0}) {
    StepPacer pacer(cap);
    EXPECT_FALSE(pacer.capped());
    pacer.Record(Clock::now(), 1e9);
    EXPECT_LE(pacer.NextStart(), Clock::now());
  }
}

TEST(StepPacerTest, SpacesUnrollsByTheirStepsOverTheCap) {
  StepPacer pacer(1000);  // env steps per second
  ASSERT_TRUE(pacer.capped());
  const Clock::time_point t0 = Clock::now();
  pacer.Record(t0, 500);
  EXPECT_EQ(pacer.NextStart(), t0 + milliseconds(500));
  // The next unroll waited for its turn and started a little after it.
  pacer.Record(t0 + milliseconds(501), 250);
  EXPECT_EQ(pacer.NextStart(), t0 + milliseconds(751));
}

TEST(StepPacerTest, AnUnrollThatStartedEarlyStillWaitsForTheEarlierTurn) {
  // An unroll started before its turn (a Record without waiting): the turn
  // after it counts from the earlier turn, so the average stays at the cap.
  StepPacer pacer(1000);
  const Clock::time_point t0 = Clock::now();
  pacer.Record(t0, 1000);
  pacer.Record(t0 + milliseconds(10), 1000);
  EXPECT_EQ(pacer.NextStart(), t0 + milliseconds(2000));
}

TEST(StepPacerTest, IdleTimeIsNotBankedForABurst) {
  StepPacer pacer(1000);
  const Clock::time_point t0 = Clock::now();
  pacer.Record(t0, 100);
  // Ten seconds idle (the learner refining, say): the next turn counts from
  // when that unroll started, not from the old turn at 100 ms.
  const Clock::time_point later = t0 + std::chrono::seconds(10);
  pacer.Record(later, 100);
  EXPECT_EQ(pacer.NextStart(), later + milliseconds(100));
}

}  // namespace
}  // namespace gorl::actor
