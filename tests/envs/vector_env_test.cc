#include "envs/vector_env.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "envs/task_registry.h"
#include "tests/status_matchers.h"

namespace gorl::envs {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<VectorEnv> MakeEnv(const std::string& task, int num_envs, int threads,
                                   uint64_t seed) {
  auto factory = MakeTaskFactory(task, "");
  GORL_EXPECT_OK(factory);
  if (!factory.ok()) return nullptr;
  VectorEnvOptions options;
  options.num_envs = num_envs;
  options.num_threads = threads;
  options.seed = seed;
  auto env = VectorEnv::Create(**factory, options);
  GORL_EXPECT_OK(env);
  return env.ok() ? std::move(*env) : nullptr;
}

// A task that diverges at a chosen step of every episode, to check how the
// vector env reports failures (real MuJoCo divergence is tested per task).
class DivergingTask : public Task {
 public:
  explicit DivergingTask(const TaskSpec& spec) : spec_(spec) {}
  const TaskSpec& spec() const override { return spec_; }
  absl::Status Reset(Rng&, float* obs) override {
    step_ = 0;
    obs[0] = 0.0f;
    return absl::OkStatus();
  }
  StepOutcome Step(const float*, float* obs) override {
    ++step_;
    obs[0] = static_cast<float>(step_);
    StepOutcome outcome;
    outcome.reward = 1.0;
    if (step_ == 5) {
      outcome.reward = 0.0;
      outcome.diverged = true;
      outcome.terminated = true;
    }
    return outcome;
  }

 private:
  TaskSpec spec_;
  int step_ = 0;
};

class DivergingFactory : public TaskFactory {
 public:
  DivergingFactory() {
    spec_.name = "diverging";
    spec_.obs_size = 1;
    spec_.action_size = 1;
    spec_.episode_length = 1000;
  }
  const TaskSpec& spec() const override { return spec_; }
  absl::StatusOr<std::unique_ptr<Task>> NewTask() const override {
    return std::unique_ptr<Task>(new DivergingTask(spec_));
  }

 private:
  TaskSpec spec_;
};

TEST(VectorEnvTest, TruncatesAtTheTimeLimitAndAutoResets) {
  auto env = MakeEnv("twin-peaks", 3, 1, 0);
  ASSERT_NE(env, nullptr);
  GORL_ASSERT_OK(env->Reset());
  std::vector<float> actions(3, 0.6f);
  for (int t = 1; t <= 250; ++t) {
    GORL_ASSERT_OK(env->Step(actions.data()));
    const bool at_limit = t % 100 == 0;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(env->truncated()[i], at_limit) << "t=" << t;
      EXPECT_EQ(env->terminated()[i], 0);
    }
    const std::vector<EpisodeRecord> finished = env->TakeFinishedEpisodes();
    ASSERT_EQ(finished.size(), at_limit ? 3u : 0u);
    for (const EpisodeRecord& record : finished) {
      EXPECT_EQ(record.length, 100);
      EXPECT_TRUE(record.truncated);
      EXPECT_FALSE(record.diverged);
    }
  }
  EXPECT_EQ(env->total_episodes(), 6);
  EXPECT_EQ(env->total_steps(), 750);
}

TEST(VectorEnvTest, FinalObservationIsKeptApartFromTheResetObservation) {
  auto env = MakeEnv("hopper-v2", 2, 1, 3);
  ASSERT_NE(env, nullptr);
  GORL_ASSERT_OK(env->Reset());
  // Zero torque: the hopper falls and Gym's health check ends the episode.
  std::vector<float> actions(2 * 3, 0.0f);
  bool saw_termination = false;
  for (int t = 0; t < 1000 && !saw_termination; ++t) {
    GORL_ASSERT_OK(env->Step(actions.data()));
    if (env->terminated()[0]) {
      saw_termination = true;
      EXPECT_EQ(env->truncated()[0], 0);
      // The finished episode's last torso height (obs[0] = qpos[1]) is below
      // the 0.7 threshold or its angle out of range; the reset one is near 1.25.
      const float final_height = env->final_obs()[0];
      const float final_angle = env->final_obs()[1];
      EXPECT_TRUE(final_height <= 0.7f || std::abs(final_angle) >= 0.2f);
      EXPECT_NEAR(env->obs()[0], 1.25f, 0.01f);
    }
  }
  EXPECT_TRUE(saw_termination);
}

TEST(VectorEnvTest, SameSeedSameTrajectoryWhateverTheThreadCount) {
  auto one = MakeEnv("cheetah-run", 4, 1, 42);
  auto two = MakeEnv("cheetah-run", 4, 2, 42);
  auto other_seed = MakeEnv("cheetah-run", 4, 1, 43);
  ASSERT_TRUE(one && two && other_seed);
  GORL_ASSERT_OK(one->Reset());
  GORL_ASSERT_OK(two->Reset());
  GORL_ASSERT_OK(other_seed->Reset());
  Rng rng(5);
  std::vector<float> actions(4 * 6);
  for (int t = 0; t < 50; ++t) {
    for (float& a : actions) a = static_cast<float>(rng.Uniform(-1.0, 1.0));
    GORL_ASSERT_OK(one->Step(actions.data()));
    GORL_ASSERT_OK(two->Step(actions.data()));
    GORL_ASSERT_OK(other_seed->Step(actions.data()));
  }
  const int n = 4 * 17;
  EXPECT_EQ(std::vector<float>(one->obs(), one->obs() + n),
            std::vector<float>(two->obs(), two->obs() + n));
  EXPECT_NE(std::vector<float>(one->obs(), one->obs() + n),
            std::vector<float>(other_seed->obs(), other_seed->obs() + n));
  // Envs of one vector env start from different states.
  EXPECT_NE(std::vector<float>(one->obs(), one->obs() + 17),
            std::vector<float>(one->obs() + 17, one->obs() + 34));
}

TEST(VectorEnvTest, NonFiniteActionIsRejectedAndNothingMoves) {
  auto env = MakeEnv("cheetah-run", 2, 1, 0);
  ASSERT_NE(env, nullptr);
  GORL_ASSERT_OK(env->Reset());
  const std::vector<float> before(env->obs(), env->obs() + 2 * 17);
  std::vector<float> actions(2 * 6, 0.1f);
  actions[8] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(env->Step(actions.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("env 1")));
  EXPECT_EQ(std::vector<float>(env->obs(), env->obs() + 2 * 17), before);
  EXPECT_EQ(env->total_steps(), 0);
  actions[8] = 0.1f;
  GORL_EXPECT_OK(env->Step(actions.data()));
}

TEST(VectorEnvTest, DivergenceEndsTheEpisodeAsACountedFailure) {
  DivergingFactory factory;
  GORL_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<VectorEnv> env,
      VectorEnv::Create(factory, {.num_envs = 2, .seed = 0, .num_threads = 2}));
  GORL_ASSERT_OK(env->Reset());
  float actions[2] = {0.0f, 0.0f};
  for (int t = 1; t <= 12; ++t) {
    GORL_ASSERT_OK(env->Step(actions));
    const bool diverged = t == 5 || t == 10;
    EXPECT_EQ(env->diverged()[1], diverged) << t;
    EXPECT_EQ(env->terminated()[1], diverged) << t;
    EXPECT_EQ(env->truncated()[1], 0);
    if (diverged) {
      EXPECT_EQ(env->final_obs()[1], 5.0f);
    }
  }
  EXPECT_EQ(env->total_divergences(), 4);
  const std::vector<EpisodeRecord> finished = env->TakeFinishedEpisodes();
  ASSERT_EQ(finished.size(), 4u);
  for (const EpisodeRecord& record : finished) {
    EXPECT_TRUE(record.diverged);
    EXPECT_EQ(record.length, 5);
    EXPECT_EQ(record.episode_return, 4.0);
  }
}

TEST(VectorEnvTest, BadOptionsAndMisuseGiveClearErrors) {
  DivergingFactory factory;
  EXPECT_THAT(VectorEnv::Create(factory, {.num_envs = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(VectorEnv::Create(factory, {.num_envs = 1, .num_threads = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  GORL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<VectorEnv> env,
                            VectorEnv::Create(factory, {.num_envs = 1}));
  float action = 0.0f;
  // Stepping before the first reset.
  EXPECT_THAT(env->Step(&action), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace gorl::envs
