// A learner process that dies (SIGKILL) or is stopped (SIGTERM) mid-run
// and a new one started with --resume on the same run directory and
// address: the actor rejoins it and the run ends as one run, continuing
// from the checkpoint's counters and optimiser state.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/json_line.h"
#include "gorl/v1/checkpoint.pb.h"
#include "learner/checkpoint.h"
#include "runtime/subprocess.h"
#include "tests/common/http_get.h"
#include "tests/runtime/role_processes.h"
#include "tests/test_files.h"

namespace gorl::runtime {
namespace {

using std::chrono::seconds;
using test_files::ReadFile;
using testing::Join;

constexpr int64_t kStepsPerIteration = 160;  // testing::TinyRun()
// ppo.updates_per_batch x ppo.num_minibatches: Adam steps per iteration.
constexpr int64_t kAdamStepsPerIteration = 2;

// A refiner, a learner address that survives learner restarts, and one
// actor that follows whichever learner listens there.
class LearnerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_files::MakeTempDir("restart");
    run_ = dir_ + "/run";
    address_ = absl::StrCat("127.0.0.1:", testutil::PickFreeLoopbackPort());
    refiner_ = testing::StartGorl({"refiner", "--insecure", "--listen=127.0.0.1:0"},
                                  dir_ + "/refiner.log");
    ASSERT_NE(refiner_, nullptr);
    refiner_address_ = testing::AwaitListening(*refiner_);
  }

  // `extra`: --run_dir and overrides for a new run, or --resume.
  std::unique_ptr<Child> StartLearner(const std::string& name,
                                      const std::vector<std::string>& extra) {
    std::unique_ptr<Child> learner =
        testing::StartGorl(Join({"learner", "--insecure", "--listen=" + address_,
                                 "--refiner=" + refiner_address_, "--progress_json"},
                                extra),
                           dir_ + "/" + name + ".log");
    if (learner != nullptr) testing::AwaitListening(*learner);
    return learner;
  }

  void StartActor() {
    actor_ = testing::StartGorl(Join({"actor", "--insecure", "--learner=" + address_,
                                      "--actor_id=survivor", "--actor_envs=8"},
                                     testing::TinyRun()),
                                dir_ + "/actor.log");
    ASSERT_NE(actor_, nullptr);
  }

  std::string Log(const std::string& name) const { return ReadFile(dir_ + "/" + name + ".log"); }

  absl::StatusOr<v1::LearnerCheckpoint> Checkpoint() const {
    return learner::ReadCheckpoint(learner::CheckpointPath(run_));
  }

  // env_steps of every update row of metrics.jsonl, in order.
  std::vector<int64_t> UpdateRows() const {
    std::vector<int64_t> steps;
    for (const std::string& row : testing::EventRows(run_, "update")) {
      steps.push_back(static_cast<int64_t>(JsonNumber(row, "env_steps")));
    }
    return steps;
  }

  // The resumed learner runs to the end: it starts from the checkpoint's
  // counter, the run directory reads as one run, and the actor exits with it.
  void ExpectResumedRunFinishes(const v1::LearnerCheckpoint& checkpoint, int64_t total_steps) {
    std::unique_ptr<Child> resumed = StartLearner("resumed", {"--resume=" + run_});
    ASSERT_NE(resumed, nullptr);
    std::vector<int64_t> progress;
    ASSERT_TRUE(testing::WaitReadingProgress(*resumed, seconds(300), [&](int64_t steps) {
      progress.push_back(steps);
    })) << Log("resumed");
    ASSERT_EQ(resumed->exit_code(), 0) << Log("resumed");
    // It went on from the checkpoint's iteration.
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.front(), checkpoint.env_steps() + kStepsPerIteration);
    EXPECT_EQ(progress.back(), total_steps);

    // One update row per iteration, in order: the rows that the first
    // learner logged after its checkpoint were cut, and redone once.
    const std::vector<int64_t> rows = UpdateRows();
    ASSERT_EQ(static_cast<int64_t>(rows.size()), total_steps / kStepsPerIteration);
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(rows[i], static_cast<int64_t>(i + 1) * kStepsPerIteration) << "row " << i;
    }
    const std::string final_eval = ReadFile(run_ + "/final_eval.json");
    ASSERT_FALSE(final_eval.empty()) << "no final_eval.json";
    EXPECT_EQ(JsonNumber(final_eval, "env_steps"), static_cast<double>(total_steps));

    // The one actor there is trained every update, before and after the
    // restart (it rejoined the new learner), and exits with the run.
    EXPECT_THAT(testing::RolloutActorsPerUpdate(run_), ::testing::Each(1));
    ASSERT_TRUE(actor_->Wait(seconds(60))) << ReadFile(dir_ + "/actor.log");
    EXPECT_EQ(actor_->exit_code(), 0);
  }

  void TearDown() override {
    if (refiner_ != nullptr) {
      EXPECT_EQ(refiner_->Terminate(seconds(10)), 0);
    }
  }

  std::string dir_, run_, address_, refiner_address_;
  std::unique_ptr<Child> refiner_, actor_;
};

// Every Adam step count of `adam` (one per parameter; all equal here).
void ExpectAdamSteps(const v1::AdamState& adam, int64_t steps, const char* which) {
  ASSERT_GT(adam.steps_size(), 0) << which;
  for (int64_t s : adam.steps()) {
    ASSERT_EQ(s, steps) << which;
  }
}

// A SIGKILLed learner leaves its last periodic checkpoint; a new learner on
// the same address resumes from it (counters, Adam moments) and finishes.
TEST_F(LearnerRestartTest, KilledLearnerResumesFromItsCheckpoint) {
  // 500 iterations: 20 in stage 0, then a refinement, 480 in stage 1, with
  // a checkpoint every 5. The kill lands in stage 1, whose Adam step counts
  // (reset at the stage start) then span both learners. An iteration takes
  // milliseconds: the long stage 1 keeps the run going until the test,
  // which shares the cores with it, gets to the kill.
  constexpr int64_t kTotal = 500 * kStepsPerIteration;
  constexpr int64_t kStage1Start = 20 * kStepsPerIteration;
  std::unique_ptr<Child> first = StartLearner(
      "first", Join({"--run_dir=" + run_, absl::StrCat("total_env_steps=", kTotal)},
                    Join(testing::TinyRun(),
                         {"stages.fractions=0.04,0.96", "checkpoint_every_iterations=5"})));
  ASSERT_NE(first, nullptr);
  StartActor();
  bool killed = false;
  testing::WaitReadingProgress(*first, seconds(300), [&](int64_t env_steps) {
    if (killed || env_steps < kStage1Start + 6 * kStepsPerIteration) return;
    const absl::StatusOr<v1::LearnerCheckpoint> checkpoint = Checkpoint();
    if (checkpoint.ok() && checkpoint->stage() == 1 && checkpoint->iteration() >= 5) {
      first->Signal(SIGKILL);
      killed = true;
    }
  });
  ASSERT_TRUE(killed) << Log("first");
  ASSERT_TRUE(first->Wait(seconds(60)));
  ASSERT_EQ(first->exit_code(), 128 + SIGKILL);

  // Whatever instant the kill hit, the file is a whole checkpoint.
  const absl::StatusOr<v1::LearnerCheckpoint> checkpoint = Checkpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_EQ(checkpoint->stage(), 1);
  ASSERT_EQ(checkpoint->iteration() % 5, 0);
  EXPECT_EQ(checkpoint->env_steps(), kStage1Start + checkpoint->iteration() * kStepsPerIteration);
  const int64_t adam_steps = checkpoint->iteration() * kAdamStepsPerIteration;
  ExpectAdamSteps(checkpoint->learner().encoder_adam(), adam_steps, "encoder");
  ExpectAdamSteps(checkpoint->learner().critic_adam(), adam_steps, "critic");
  EXPECT_EQ(checkpoint->decoder().version(), 1);
  // The first learner got further than its checkpoint (rows to cut), or
  // was killed right at it.
  EXPECT_GE(static_cast<int64_t>(UpdateRows().size()) * kStepsPerIteration,
            checkpoint->env_steps());

  ExpectResumedRunFinishes(*checkpoint, kTotal);

  // The optimiser went on from the checkpoint's moments: a learner that
  // started them afresh would count only the resumed iterations.
  const absl::StatusOr<v1::LearnerCheckpoint> final_checkpoint = Checkpoint();
  ASSERT_TRUE(final_checkpoint.ok()) << final_checkpoint.status();
  EXPECT_EQ(final_checkpoint->stage(), 2);  // finished
  EXPECT_EQ(final_checkpoint->env_steps(), kTotal);
  const int64_t resumed_iterations = (kTotal - checkpoint->env_steps()) / kStepsPerIteration;
  const int64_t expected = adam_steps + resumed_iterations * kAdamStepsPerIteration;
  ExpectAdamSteps(final_checkpoint->learner().encoder_adam(), expected, "encoder");
  ExpectAdamSteps(final_checkpoint->learner().critic_adam(), expected, "critic");
}

// SIGTERM stops the learner after it has saved the last completed
// iteration, although no periodic checkpoint is due (none is configured).
TEST_F(LearnerRestartTest, SigtermLeavesACheckpointOfTheLastIteration) {
  // 270 iterations in stage 0 leave the signal time to arrive there, where
  // nothing else would have written a checkpoint.
  constexpr int64_t kTotal = 300 * kStepsPerIteration;
  std::unique_ptr<Child> first = StartLearner(
      "first", Join({"--run_dir=" + run_, absl::StrCat("total_env_steps=", kTotal)},
                    Join(testing::TinyRun(),
                         {"stages.fractions=0.9,0.1", "checkpoint_every_iterations=0"})));
  ASSERT_NE(first, nullptr);
  StartActor();
  bool stopped = false;
  int64_t last_progress = 0;
  const bool exited = testing::WaitReadingProgress(*first, seconds(300), [&](int64_t env_steps) {
    last_progress = env_steps;
    if (!stopped && env_steps >= 5 * kStepsPerIteration) {
      first->Signal(SIGTERM);
      stopped = true;
    }
  });
  ASSERT_TRUE(stopped) << Log("first");
  ASSERT_TRUE(exited) << Log("first");
  // It stopped by itself (a failure: the run is not over), not by SIGKILL.
  EXPECT_NE(first->exit_code(), 0) << Log("first");
  EXPECT_NE(first->exit_code(), 128 + SIGKILL) << Log("first");

  // The checkpoint is the iteration of the last progress line, whichever
  // part of the loop the signal interrupted.
  const absl::StatusOr<v1::LearnerCheckpoint> checkpoint = Checkpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status() << "\n" << Log("first");
  EXPECT_EQ(checkpoint->env_steps(), last_progress);
  EXPECT_EQ(checkpoint->stage(), 0);
  EXPECT_EQ(checkpoint->iteration(), last_progress / kStepsPerIteration);

  ExpectResumedRunFinishes(*checkpoint, kTotal);
}

}  // namespace
}  // namespace gorl::runtime
