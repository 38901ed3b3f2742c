// Checkpoints: the learner's state round trip, resuming an interrupted
// training loop, and refusing damaged or mismatched checkpoints.
#include "learner/checkpoint.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <ostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/build_info.h"
#include "learner/ppo_learner.h"
#include "learner/training_loop.h"
#include "tests/learner/fake_roles.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"

namespace gorl::learner {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using testing::DeterministicActors;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::SampleRollout;
using testing::SyntheticOptions;
using testing::VersionRefiner;

constexpr int kObs = 3;
constexpr int kLatent = 2;

// ---------------------------------------------------------------------------
// PpoLearner::SaveState / RestoreState

v1::TrainConfig LearnerConfig(const std::string& algo) {
  v1::TrainConfig config = testing::TinyTrainConfig({16, 16}, {32});
  config.set_algo(ParseEnum<v1::Algo>(algo).value());
  config.set_seed(11);
  config.mutable_ppo()->set_learning_rate(1e-2);
  return config;
}

std::unique_ptr<PpoLearner> MakeLearner(const v1::TrainConfig& config, int obs = kObs) {
  auto learner = PpoLearner::Create(config, obs, kLatent);
  GORL_EXPECT_OK(learner);
  return std::move(learner).value();
}

v1::Rollout Rollout(const PpoLearner& learner, uint64_t seed) {
  SyntheticOptions options;
  options.num_envs = 8;
  options.unroll_length = 5;
  options.seed = seed;
  options.truncate_every = 3;
  options.obs_offset = 1.0;
  options.obs_scale = 2.0;
  options.reward = [](const float* z) { return z[0] - 0.5f * z[1] * z[1]; };
  return SampleRollout(learner.Snapshot(), options);
}

std::string Bytes(const google::protobuf::Message& message) { return message.SerializeAsString(); }

void ExpectSameMetrics(const PpoMetrics& a, const PpoMetrics& b) {
  EXPECT_EQ(a.policy_loss, b.policy_loss);
  EXPECT_EQ(a.value_loss, b.value_loss);
  EXPECT_EQ(a.entropy, b.entropy);
  EXPECT_EQ(a.approx_kl, b.approx_kl);
  EXPECT_EQ(a.clip_fraction, b.clip_fraction);
  EXPECT_EQ(a.grad_norm, b.grad_norm);
  EXPECT_EQ(a.mean_std, b.mean_std);
  EXPECT_EQ(a.samples, b.samples);
}

class LearnerStateTest : public ::testing::TestWithParam<std::string> {};

// "ppo" also draws from the tanh-entropy stream; "gorl-fm" does not; "fpo"
// and "dppo" train the flow policy (their records ride in the rollouts).
INSTANTIATE_TEST_SUITE_P(Algos, LearnerStateTest,
                         ::testing::Values("gorl-fm", "ppo", "fpo", "dppo"));

TEST_P(LearnerStateTest, RestoredLearnerContinuesIdentically) {
  const v1::TrainConfig config = LearnerConfig(GetParam());
  auto original = MakeLearner(config);
  original->SetStage(1);
  for (uint64_t seed : {1, 2, 3}) {
    GORL_ASSERT_OK(original->Update({Rollout(*original, seed)}));
  }
  // Through bytes, as a checkpoint file carries it.
  v1::PpoLearnerState state;
  ASSERT_TRUE(state.ParseFromString(Bytes(original->SaveState())));
  EXPECT_EQ(state.encoder_adam().steps_size(), state.encoder().tensors_size());
  EXPECT_EQ(state.encoder_adam().steps(0), 3 * 2 * 2);  // updates x epochs x minibatches
  EXPECT_EQ(state.shuffle_draws(), 3u * 2u);            // one permutation per epoch

  auto restored = MakeLearner(config);
  ASSERT_NE(Bytes(restored->Snapshot()), Bytes(original->Snapshot()));
  GORL_ASSERT_OK(restored->RestoreState(state));
  EXPECT_EQ(Bytes(restored->Snapshot()), Bytes(original->Snapshot()));
  EXPECT_EQ(restored->encoder_version(), original->encoder_version());
  EXPECT_EQ(restored->Snapshot().stage(), 1);
  EXPECT_EQ(Bytes(restored->Snapshot().normalizer()), Bytes(original->Snapshot().normalizer()));

  // The next update is the same, bit for bit: metrics, weights, moments.
  const v1::Rollout next = Rollout(*original, 4);
  const auto m_original = original->Update({next});
  const auto m_restored = restored->Update({next});
  GORL_ASSERT_OK(m_original);
  GORL_ASSERT_OK(m_restored);
  ExpectSameMetrics(*m_original, *m_restored);
  EXPECT_EQ(Bytes(restored->SaveState()), Bytes(original->SaveState()));

  // Controls: restoring without the Adam moments, or with the shuffle stream
  // elsewhere, gives a different update, so the equality above is owed to them.
  v1::PpoLearnerState no_adam = state;
  no_adam.clear_encoder_adam();
  no_adam.clear_critic_adam();
  v1::PpoLearnerState other_shuffle = state;
  other_shuffle.set_shuffle_draws(state.shuffle_draws() + 1);
  for (const v1::PpoLearnerState* variant : {&no_adam, &other_shuffle}) {
    auto learner = MakeLearner(config);
    GORL_ASSERT_OK(learner->RestoreState(*variant));
    GORL_ASSERT_OK(learner->Update({next}));
    EXPECT_NE(Bytes(learner->SaveState().encoder()), Bytes(original->SaveState().encoder()));
  }
}

TEST(LearnerStateTest, FreshLearnerRoundTripsWithoutAdamState) {
  auto learner = MakeLearner(LearnerConfig("gorl-fm"));
  const v1::PpoLearnerState state = learner->SaveState();
  EXPECT_EQ(state.encoder_adam().steps_size(), 0);
  auto other = MakeLearner(LearnerConfig("gorl-fm"));
  GORL_ASSERT_OK(other->RestoreState(state));
  const v1::Rollout rollout = Rollout(*learner, 5);
  const auto a = learner->Update({rollout});
  const auto b = other->Update({rollout});
  GORL_ASSERT_OK(a);
  GORL_ASSERT_OK(b);
  ExpectSameMetrics(*a, *b);
}

TEST(LearnerStateTest, RefusesMismatchedStateAndChangesNothing) {
  const v1::TrainConfig config = LearnerConfig("gorl-fm");
  auto source = MakeLearner(config);
  GORL_ASSERT_OK(source->Update({Rollout(*source, 1)}));
  const v1::PpoLearnerState good = source->SaveState();

  auto target = MakeLearner(config);
  const std::string before = Bytes(target->SaveState());
  struct Case {
    const char* name;
    std::function<void(v1::PpoLearnerState&)> corrupt;
    const char* message;  // the field the error must name
  };
  const std::vector<Case> cases = {
      {"obs size", [](v1::PpoLearnerState& s) { s.set_obs_size(kObs + 1); }, "obs_size"},
      {"encoder tensor missing",
       [](v1::PpoLearnerState& s) { s.mutable_encoder()->mutable_tensors()->RemoveLast(); },
       "encoder"},
      {"critic shape",
       [](v1::PpoLearnerState& s) { s.mutable_critic()->mutable_tensors(0)->set_shape(0, 5); },
       "critic"},
      {"NaN weight",
       [](v1::PpoLearnerState& s) {
         s.mutable_critic()->mutable_tensors(0)->set_values(0, std::nanf(""));
       },
       "is not finite"},
      {"Adam moment size",
       [](v1::PpoLearnerState& s) {
         s.mutable_encoder_adam()
             ->mutable_exp_avg()
             ->mutable_tensors(1)
             ->mutable_values()
             ->RemoveLast();
       },
       "encoder_adam.exp_avg"},
      {"Adam step counts",
       [](v1::PpoLearnerState& s) { s.mutable_critic_adam()->mutable_steps()->RemoveLast(); },
       "critic_adam"},
      {"Adam unknown parameter",
       [](v1::PpoLearnerState& s) {
         s.mutable_encoder_adam()->mutable_exp_avg()->mutable_tensors(0)->set_name("nope");
       },
       "encoder_adam"},
      {"negative second moment",
       [](v1::PpoLearnerState& s) {
         s.mutable_critic_adam()->mutable_exp_avg_sq()->mutable_tensors(0)->set_values(0, -1.0f);
       },
       "critic_adam.exp_avg_sq"},
      {"normaliser size",
       [](v1::PpoLearnerState& s) {
         s.mutable_normalizer()->mutable_mean()->RemoveLast();
         s.mutable_normalizer()->mutable_m2()->RemoveLast();
       },
       "normalizer"},
      {"negative version", [](v1::PpoLearnerState& s) { s.set_encoder_version(-1); },
       "encoder_version"},
  };
  for (const Case& c : cases) {
    v1::PpoLearnerState bad = good;
    c.corrupt(bad);
    EXPECT_THAT(target->RestoreState(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
    EXPECT_EQ(Bytes(target->SaveState()), before) << c.name;
  }

  // A learner with other network widths refuses the state too.
  v1::TrainConfig wider = config;
  wider.mutable_encoder()->set_critic_hidden(0, 64);
  auto other = MakeLearner(wider);
  EXPECT_THAT(other->RestoreState(good),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("critic")));
  GORL_EXPECT_OK(target->RestoreState(good));
}

// ---------------------------------------------------------------------------
// TrainingLoop checkpoints and Resume

// 3 stages x 2 iterations of 40 env steps, an evaluation every iteration.
v1::TrainConfig LoopConfig(int checkpoint_every) {
  v1::TrainConfig config = testing::TinyLoopConfig("gorl-fm", "best");
  config.set_checkpoint_every_iterations(checkpoint_every);
  return config;
}

// A learner, fake roles and a loop on `run_dir`.
struct Session {
  Session(const v1::TrainConfig& config, const std::string& run_dir) {
    auto created = PpoLearner::Create(config, kObs, kLatent);
    GORL_EXPECT_OK(created);
    learner = std::move(created).value();
    TrainingLoopOptions options;
    options.config = config;
    options.run_dir = run_dir;
    options.initial_decoder.set_kind(v1::DECODER_KIND_FLOW);
    options.on_progress = [this](const Progress& p) {
      progress.push_back(p);
      if (on_progress) on_progress(p);
    };
    options.on_start = [this](int64_t env_steps) {
      if (on_start) on_start(env_steps);
    };
    loop = std::make_unique<TrainingLoop>(options, *learner, actors, refiner);
  }
  std::unique_ptr<PpoLearner> learner;
  DeterministicActors actors{4, kObs, kLatent};
  VersionRefiner refiner;
  std::unique_ptr<TrainingLoop> loop;
  std::vector<Progress> progress;
  std::function<void(const Progress&)> on_progress;  // called after recording
  std::function<void(int64_t)> on_start;
};

// metrics.jsonl without the timing fields (every "..._seconds"), which differ between runs.
std::string MetricsWithoutTimes(const std::string& run_dir) {
  static const std::regex kTimes(R"re(, "[a-z_]*_seconds": [^,}]*)re");
  return std::regex_replace(test_files::ReadFile(run_dir + "/metrics.jsonl"), kTimes, "");
}

int CountLines(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++count;
  }
  return count;
}

TEST(TrainingLoopCheckpointTest, WritesCheckpointsPeriodicallyAndAtTheEnd) {
  const std::string dir = test_files::MakeTempDir("ckpt_periodic");
  Session session(LoopConfig(/*checkpoint_every=*/2), dir);
  // What is on disk when each iteration reports progress (before that
  // iteration's own checkpoint).
  std::vector<int64_t> on_disk;
  session.on_progress = [&](const Progress&) {
    const auto checkpoint = ReadCheckpoint(CheckpointPath(dir));
    on_disk.push_back(checkpoint.ok() ? checkpoint->env_steps() : -1);
  };
  GORL_ASSERT_OK(session.loop->Run());
  // (0: the checkpoint of the run's start.)
  EXPECT_EQ(on_disk, (std::vector<int64_t>{0, 0, 80, 80, 160, 160}));

  GORL_ASSERT_OK_AND_ASSIGN(const auto final_checkpoint, ReadCheckpoint(CheckpointPath(dir)));
  EXPECT_EQ(final_checkpoint.stage(), 3);  // past the last stage: finished
  EXPECT_EQ(final_checkpoint.iteration(), 0);
  EXPECT_EQ(final_checkpoint.env_steps(), 240);
  EXPECT_EQ(final_checkpoint.collect_env_steps(), 20);
  EXPECT_EQ(final_checkpoint.evaluations_size(), 6);
  EXPECT_EQ(final_checkpoint.decoder().version(), 2);
  EXPECT_EQ(Bytes(final_checkpoint.learner()), Bytes(session.learner->SaveState()));
  EXPECT_EQ(Bytes(final_checkpoint.config()), Bytes(LoopConfig(2)));
  struct stat st;
  EXPECT_NE(stat((CheckpointPath(dir) + ".tmp").c_str(), &st), 0) << "temp file left behind";

  // Resuming a finished run does nothing more and reports the same summary.
  Session again(LoopConfig(2), dir);
  GORL_ASSERT_OK_AND_ASSIGN(const auto resumed, again.loop->Resume(final_checkpoint));
  EXPECT_EQ(resumed.env_steps, 240);
  EXPECT_EQ(resumed.evaluations.size(), 6u);
  EXPECT_TRUE(again.actors.broadcasts.empty());
}

// The learner role turns SERVING (grpc.health.v1) in on_start: by then the
// run's position is on disk (Run) or restored (Resume), and no actor has
// been asked for anything yet.
TEST(TrainingLoopCheckpointTest, OnStartComesAfterTheRestoreAndBeforeAnyWork) {
  const std::string dir = test_files::MakeTempDir("ckpt_on_start");
  {
    Session first(LoopConfig(/*checkpoint_every=*/1), dir);
    std::vector<int64_t> started;
    first.on_start = [&](int64_t env_steps) {
      started.push_back(env_steps);
      EXPECT_TRUE(ReadCheckpoint(CheckpointPath(dir)).ok());
      EXPECT_TRUE(first.actors.broadcasts.empty());
    };
    first.actors.fail_gather_call = 3;
    first.actors.fail_code = absl::StatusCode::kCancelled;
    ASSERT_THAT(first.loop->Run(), StatusIs(absl::StatusCode::kCancelled));
    EXPECT_EQ(started, std::vector<int64_t>{0});
  }
  GORL_ASSERT_OK_AND_ASSIGN(const auto checkpoint, ReadCheckpoint(CheckpointPath(dir)));
  ASSERT_GT(checkpoint.env_steps(), 0);
  Session resumed(LoopConfig(1), dir);
  std::vector<int64_t> started;
  resumed.on_start = [&](int64_t env_steps) {
    started.push_back(env_steps);
    EXPECT_EQ(Bytes(resumed.learner->SaveState()), Bytes(checkpoint.learner()));
    EXPECT_TRUE(resumed.actors.broadcasts.empty());
  };
  GORL_ASSERT_OK(resumed.loop->Resume(checkpoint).status());
  EXPECT_EQ(started, std::vector<int64_t>{checkpoint.env_steps()});
}

struct Interruption {
  const char* name;
  int checkpoint_every;
  // Injected failure: call index of GatherRollouts / Collect / Evaluate /
  // Refine (Refine is always cancelled).
  int fail_gather, fail_collect, fail_eval, fail_refine;
  // Where the checkpoint left on disk must be.
  int stage;
  int64_t iteration;
  // The failure is a cancellation (the learner's SIGTERM), not an error.
  bool cancelled = false;
};

void PrintTo(const Interruption& cut, std::ostream* os) { *os << cut.name; }

class ResumeTest : public ::testing::TestWithParam<Interruption> {};

INSTANTIATE_TEST_SUITE_P(
    Interruptions, ResumeTest,
    ::testing::Values(
        // Mid-stage (stage 1 after its first iteration); iteration 4 had
        // already logged its update, which the resume must drop and redo.
        // (Evaluate calls: 2 per stage, then 4 per refinement, the collecting
        // and the refined policy each deterministic and stochastic.)
        Interruption{"mid_stage", 3, -1, -1, 7, -1, 1, 1},
        // At a stage start (after stage 0's refinement, before re-initialising).
        Interruption{"stage_start", 0, 2, -1, -1, -1, 1, 0},
        // Stage 1 trained, its refinement not done (the collect failed).
        Interruption{"before_refine", 2, -1, 1, -1, -1, 1, 2},
        // Cancelled runs (no periodic checkpoints) save the last completed
        // iteration at exit: while waiting for rollouts,
        Interruption{"cancelled_in_gather", 0, 3, -1, -1, -1, 1, 1, true},
        // in an evaluation, after the update of the iteration it evaluates
        // (which must not be in the checkpoint),
        Interruption{"cancelled_in_eval", 0, -1, -1, 7, -1, 1, 1, true},
        // in the hand-over's evaluation after a refinement (redone whole),
        Interruption{"cancelled_in_hand_over", 0, -1, -1, 8, -1, 1, 2, true},
        // in a stage's first gather (the re-initialisation must not be saved),
        Interruption{"cancelled_at_stage_start", 0, 4, -1, -1, -1, 2, 0, true},
        // and in the collect or the refinement after a stage's last iteration.
        Interruption{"cancelled_in_collect", 0, -1, 1, -1, -1, 1, 2, true},
        Interruption{"cancelled_in_refine", 0, -1, -1, -1, 1, 1, 2, true}),
    [](const ::testing::TestParamInfo<Interruption>& info) { return info.param.name; });

TEST_P(ResumeTest, ResumedRunEndsLikeTheUninterruptedOne) {
  const Interruption& cut = GetParam();
  const v1::TrainConfig config = LoopConfig(cut.checkpoint_every);

  const std::string whole_dir = test_files::MakeTempDir(std::string("ckpt_whole_") + cut.name);
  Session whole(config, whole_dir);
  GORL_ASSERT_OK_AND_ASSIGN(const auto expected, whole.loop->Run());
  // Stage 1 collects with its best encoder (version 4), not its final one (5).
  ASSERT_EQ(whole.actors.collect_snapshots.size(), 2u);
  ASSERT_EQ(whole.actors.collect_snapshots[1].encoder_version(), 4);

  const std::string dir = test_files::MakeTempDir(std::string("ckpt_cut_") + cut.name);
  {
    Session interrupted(config, dir);
    interrupted.actors.fail_gather_call = cut.fail_gather;
    interrupted.actors.fail_collect_call = cut.fail_collect;
    interrupted.actors.fail_eval_call = cut.fail_eval;
    interrupted.refiner.fail_call = cut.fail_refine;
    const absl::StatusCode code =
        cut.cancelled ? absl::StatusCode::kCancelled : absl::StatusCode::kUnavailable;
    interrupted.actors.fail_code = code;
    ASSERT_THAT(interrupted.loop->Run(), StatusIs(code));
  }
  GORL_ASSERT_OK_AND_ASSIGN(const auto checkpoint, ReadCheckpoint(CheckpointPath(dir)));
  EXPECT_EQ(checkpoint.stage(), cut.stage);
  EXPECT_EQ(checkpoint.iteration(), cut.iteration);

  // A fresh process: new learner (other weights until restored), new roles.
  Session resumed(config, dir);
  GORL_ASSERT_OK_AND_ASSIGN(const auto summary, resumed.loop->Resume(checkpoint));

  EXPECT_EQ(summary.env_steps, expected.env_steps);
  EXPECT_EQ(summary.collect_env_steps, expected.collect_env_steps);
  ASSERT_EQ(summary.evaluations.size(), expected.evaluations.size());
  for (size_t i = 0; i < summary.evaluations.size(); ++i) {
    EXPECT_EQ(summary.evaluations[i].env_steps, expected.evaluations[i].env_steps) << i;
    EXPECT_EQ(summary.evaluations[i].deterministic_mean, expected.evaluations[i].deterministic_mean)
        << i;
  }
  EXPECT_EQ(summary.final_evaluation.deterministic_mean,
            expected.final_evaluation.deterministic_mean);
  // Same final networks, Adam moments, normaliser, version and streams.
  EXPECT_EQ(Bytes(resumed.learner->SaveState()), Bytes(whole.learner->SaveState()));
  EXPECT_EQ(Bytes(resumed.loop->decoder()), Bytes(whole.loop->decoder()));
  // The resumed part collected with the same (best) encoders.
  const size_t skipped =
      whole.actors.collect_snapshots.size() - resumed.actors.collect_snapshots.size();
  for (size_t i = 0; i < resumed.actors.collect_snapshots.size(); ++i) {
    EXPECT_EQ(Bytes(resumed.actors.collect_snapshots[i]),
              Bytes(whole.actors.collect_snapshots[skipped + i]))
        << i;
  }
  // The log reads as one run: rows after the checkpoint were cut and redone,
  // and one resume row marks where, at the checkpoint's env steps.
  const std::string with_resume = MetricsWithoutTimes(dir);
  EXPECT_EQ(CountLines(with_resume, "\"event\": \"resume\""), 1);
  EXPECT_EQ(CountLines(with_resume, absl::StrCat("{\"event\": \"resume\", \"env_steps\": ",
                                                 checkpoint.env_steps(), ",")),
            1);
  // The run's first row and the resume row name the build that ran each
  // session, and the machine.
  EXPECT_TRUE(absl::StartsWith(with_resume, "{\"event\": \"start\", \"env_steps\": 0, "))
      << with_resume.substr(0, 200);
  EXPECT_EQ(CountLines(with_resume, absl::StrCat("\"gorl_version\": \"", BuildVersion(), "\"")), 2);
  EXPECT_EQ(CountLines(with_resume, "\"host\": \""), 2);
  static const std::regex kResumeRow(R"re(\{"event": "resume"[^\n]*\n)re");
  const std::string metrics = std::regex_replace(with_resume, kResumeRow, "");
  EXPECT_EQ(CountLines(metrics, "\"event\": \"update\""), 6);
  EXPECT_EQ(metrics, MetricsWithoutTimes(whole_dir));
  // The progress of the resumed session counts on from the checkpoint.
  ASSERT_FALSE(resumed.progress.empty());
  EXPECT_EQ(resumed.progress.front().env_steps, checkpoint.env_steps() + 40);
  EXPECT_EQ(resumed.progress.back().env_steps, 240);
}

// The baselines run one stage without refinement; a run cut after its third
// iteration and resumed ends with the same networks, optimiser state,
// evaluations and metrics as the uninterrupted one.
class BaselineResumeTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Baselines, BaselineResumeTest, ::testing::Values("fpo", "dppo"));

TEST_P(BaselineResumeTest, ResumedRunEndsLikeTheUninterruptedOne) {
  v1::TrainConfig config = testing::TinyLoopConfig(GetParam(), "best");
  config.set_checkpoint_every_iterations(1);
  const std::string whole_dir = test_files::MakeTempDir("ckpt_whole_" + GetParam());
  Session whole(config, whole_dir);
  GORL_ASSERT_OK_AND_ASSIGN(const auto expected, whole.loop->Run());
  // One stage of all 6 iterations, no refinement, flow-policy snapshots.
  EXPECT_EQ(expected.env_steps, 240);
  EXPECT_EQ(expected.collect_env_steps, 0);
  EXPECT_TRUE(whole.actors.collect_snapshots.empty());
  const auto train = whole.actors.Broadcasts(v1::ACTOR_MODE_TRAIN);
  ASSERT_EQ(train.size(), 6u);
  EXPECT_EQ(train.back().policy_kind(),
            GetParam() == "fpo" ? v1::POLICY_KIND_FPO : v1::POLICY_KIND_DPPO);
  EXPECT_EQ(train.back().stage(), 0);

  const std::string dir = test_files::MakeTempDir("ckpt_cut_" + GetParam());
  {
    Session interrupted(config, dir);
    interrupted.actors.fail_gather_call = 3;
    ASSERT_THAT(interrupted.loop->Run(), StatusIs(absl::StatusCode::kUnavailable));
  }
  GORL_ASSERT_OK_AND_ASSIGN(const auto checkpoint, ReadCheckpoint(CheckpointPath(dir)));
  EXPECT_EQ(checkpoint.stage(), 0);
  EXPECT_EQ(checkpoint.iteration(), 3);
  Session resumed(config, dir);
  GORL_ASSERT_OK_AND_ASSIGN(const auto summary, resumed.loop->Resume(checkpoint));
  EXPECT_EQ(summary.env_steps, expected.env_steps);
  ASSERT_EQ(summary.evaluations.size(), expected.evaluations.size());
  EXPECT_EQ(Bytes(resumed.learner->SaveState()), Bytes(whole.learner->SaveState()));
  static const std::regex kResumeRow(R"re(\{"event": "resume"[^\n]*\n)re");
  EXPECT_EQ(std::regex_replace(MetricsWithoutTimes(dir), kResumeRow, ""),
            MetricsWithoutTimes(whole_dir));
}

// ---------------------------------------------------------------------------
// Damaged and mismatched checkpoints

class DamagedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_files::MakeTempDir("ckpt_damaged");
    Session session(LoopConfig(1), dir_);
    session.actors.fail_eval_call = 3;  // stop in stage 1
    ASSERT_THAT(session.loop->Run(), Not(IsOk()));
    GORL_ASSERT_OK_AND_ASSIGN(good_, ReadCheckpoint(CheckpointPath(dir_)));
    bytes_ = test_files::ReadFile(CheckpointPath(dir_));
  }

  absl::Status ReadBytes(const std::string& bytes) {
    const std::string path = dir_ + "/damaged.pb";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return ReadCheckpoint(path).status();
  }

  // Resume of `checkpoint` into a fresh session; a refused one must leave
  // the learner alone and run nothing.
  absl::Status Resume(const v1::LearnerCheckpoint& checkpoint,
                      const v1::TrainConfig& config = LoopConfig(1)) {
    Session session(config, dir_);
    const std::string before = Bytes(session.learner->SaveState());
    absl::Status status = session.loop->Resume(checkpoint).status();
    if (!status.ok()) {
      EXPECT_EQ(Bytes(session.learner->SaveState()), before) << "refused, yet changed";
      EXPECT_TRUE(session.actors.broadcasts.empty());
    }
    return status;
  }

  std::string dir_;
  v1::LearnerCheckpoint good_;
  std::string bytes_;
};

// An InvalidArgument status whose message names `needle`.
auto IsInvalid(const std::string& needle) {
  return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(needle));
}

TEST_F(DamagedCheckpointTest, DamagedFilesAreRefused) {
  GORL_ASSERT_OK(ReadBytes(bytes_));
  EXPECT_THAT(ReadCheckpoint(dir_ + "/missing.pb"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadBytes(bytes_.substr(0, bytes_.size() / 2)), IsInvalid("corrupted"));
  EXPECT_THAT(ReadBytes("this is not a checkpoint"), IsInvalid("corrupted"));
  EXPECT_THAT(ReadBytes(""), IsInvalid("format_version"));
  // A flipped bit in the middle (a weight, most likely) still parses.
  std::string flipped = bytes_;
  flipped[flipped.size() / 2] ^= 0x10;
  EXPECT_THAT(ReadBytes(flipped), IsInvalid("corrupted"));

  v1::LearnerCheckpoint future = good_;
  future.set_format_version(kCheckpointFormatVersion + 1);
  EXPECT_THAT(ReadBytes(future.SerializeAsString()), IsInvalid("format_version"));
}

TEST_F(DamagedCheckpointTest, MismatchedCheckpointsAreRefusedByResume) {
  // Another run's settings.
  v1::TrainConfig other = LoopConfig(1);
  other.set_seed(6);
  EXPECT_THAT(Resume(good_, other), StatusIs(absl::StatusCode::kInvalidArgument,
                                             AllOf(HasSubstr("config"), HasSubstr("seed"))));

  struct Case {
    const char* name;
    std::function<void(v1::LearnerCheckpoint&)> corrupt;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"stage", [](v1::LearnerCheckpoint& c) { c.set_stage(7); }, "stage 7"},
      {"iteration", [](v1::LearnerCheckpoint& c) { c.set_iteration(3); }, "iteration 3"},
      {"env steps", [](v1::LearnerCheckpoint& c) { c.set_env_steps(c.env_steps() + 1); },
       "env_steps"},
      {"next eval", [](v1::LearnerCheckpoint& c) { c.set_next_eval(0); }, "next_eval"},
      {"decoder", [](v1::LearnerCheckpoint& c) { c.clear_decoder(); }, "decoder"},
      {"learner sizes", [](v1::LearnerCheckpoint& c) { c.mutable_learner()->set_latent_size(5); },
       "latent_size"},
      {"learner weights",
       [](v1::LearnerCheckpoint& c) { c.mutable_learner()->mutable_encoder()->clear_tensors(); },
       "encoder"},
      {"format", [](v1::LearnerCheckpoint& c) { c.set_format_version(0); }, "format_version"},
  };
  for (const Case& c : cases) {
    v1::LearnerCheckpoint bad = good_;
    c.corrupt(bad);
    SCOPED_TRACE(c.name);
    EXPECT_THAT(Resume(bad), IsInvalid(c.needle));
  }
  // And the good one is accepted.
  GORL_EXPECT_OK(Resume(good_));
}

// ---------------------------------------------------------------------------
// A non-finite update

// A batch the update refuses (rewards of 3e38: finite, but they would
// overflow the value targets; the learner's own check of the batch refuses
// them before the update, and a non-finite update itself is refused and
// rolled back as PpoLearnerNonFiniteTest shows) stops the run and leaves the
// last good checkpoint on disk.
TEST(TrainingLoopCheckpointTest, RefusedUpdateStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  const std::string dir = test_files::MakeTempDir("ckpt_nonfinite");
  Session session(LoopConfig(/*checkpoint_every=*/1), dir);
  // Stage 1's second iteration: the one after the checkpoint at 120 env steps.
  session.actors.poison_gather_call = 3;
  const absl::Status status = session.loop->Run().status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("rewards"), HasSubstr("beyond the bound"))));
  EXPECT_EQ(session.progress.size(), 3u) << "the poisoned iteration must not report progress";

  GORL_ASSERT_OK_AND_ASSIGN(const v1::LearnerCheckpoint checkpoint,
                            ReadCheckpoint(CheckpointPath(dir)));
  EXPECT_EQ(checkpoint.env_steps(), 120);
  // The learner was put back to its state before the bad update, which is
  // what the checkpoint holds.
  EXPECT_TRUE(Bytes(session.learner->SaveState()) == Bytes(checkpoint.learner()));

  // The run resumes from it (the same data without the poison finishes).
  Session resumed(LoopConfig(1), dir);
  GORL_EXPECT_OK(resumed.loop->Resume(checkpoint));
}

TEST(PpoLearnerNonFiniteTest, HugeLearningRateIsRefusedAndRolledBack) {
  v1::TrainConfig config = LearnerConfig("ppo");
  config.mutable_ppo()->set_learning_rate(1e30);
  config.mutable_ppo()->set_max_grad_norm(0);
  auto learner = MakeLearner(config);
  absl::Status status;
  for (uint64_t seed = 1; seed <= 5 && status.ok(); ++seed) {
    const std::string last_good = Bytes(learner->SaveState());
    status = learner->Update({Rollout(*learner, seed)}).status();
    if (!status.ok()) {
      EXPECT_TRUE(Bytes(learner->SaveState()) == last_good) << "not rolled back";
    }
  }
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted,
                               AllOf(HasSubstr("non-finite"), HasSubstr("ppo.learning_rate"))));
  // Its state is finite again: a learner restores it (RestoreState refuses
  // non-finite values).
  GORL_EXPECT_OK(MakeLearner(config)->RestoreState(learner->SaveState()));
}

// ---------------------------------------------------------------------------
// The run's checkpoint files: the previous one kept, fallback, failed writes

v1::LearnerCheckpoint SampleCheckpoint(int64_t iteration) {
  v1::LearnerCheckpoint checkpoint;
  checkpoint.set_iteration(iteration);
  *checkpoint.mutable_learner() = MakeLearner(LearnerConfig("gorl-fm"))->SaveState();
  return checkpoint;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(CheckpointFilesTest, SavingKeepsThePreviousCheckpoint) {
  const std::string dir = test_files::MakeTempDir("ckpt_prev");
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(1), dir));
  EXPECT_FALSE(Exists(PreviousCheckpointPath(dir)));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(2), dir));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(3), dir));
  GORL_ASSERT_OK_AND_ASSIGN(const auto latest, ReadCheckpoint(CheckpointPath(dir)));
  GORL_ASSERT_OK_AND_ASSIGN(const auto previous, ReadCheckpoint(PreviousCheckpointPath(dir)));
  EXPECT_EQ(latest.iteration(), 3);
  EXPECT_EQ(previous.iteration(), 2);
  GORL_ASSERT_OK_AND_ASSIGN(const auto loaded, LoadRunCheckpoint(dir));
  EXPECT_EQ(loaded.iteration(), 3);
}

TEST(CheckpointFilesTest, LoadFallsBackToThePreviousWhenTheLatestIsUnreadable) {
  const std::string dir = test_files::MakeTempDir("ckpt_fallback");
  EXPECT_THAT(LoadRunCheckpoint(dir), StatusIs(absl::StatusCode::kNotFound));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(1), dir));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(2), dir));
  // A flipped bit in the latest.
  std::string bytes = test_files::ReadFile(CheckpointPath(dir));
  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(CheckpointPath(dir), std::ios::binary | std::ios::trunc) << bytes;
  GORL_ASSERT_OK_AND_ASSIGN(auto loaded, LoadRunCheckpoint(dir));
  EXPECT_EQ(loaded.iteration(), 1);
  // The damaged file was set aside: the run's next save keeps the good one
  // as the previous checkpoint instead of the damaged one.
  EXPECT_FALSE(Exists(CheckpointPath(dir)));
  EXPECT_TRUE(Exists(CheckpointPath(dir) + ".unreadable"));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(3), dir));
  GORL_ASSERT_OK_AND_ASSIGN(const auto previous, ReadCheckpoint(PreviousCheckpointPath(dir)));
  EXPECT_EQ(previous.iteration(), 1);
  // The latest gone (a crash between the two renames).
  ASSERT_EQ(std::remove(CheckpointPath(dir).c_str()), 0);
  GORL_ASSERT_OK_AND_ASSIGN(loaded, LoadRunCheckpoint(dir));
  EXPECT_EQ(loaded.iteration(), 1);
  // A reader that does not continue the run leaves the damaged latest in place.
  std::ofstream(CheckpointPath(dir), std::ios::binary | std::ios::trunc) << "garbage";
  GORL_ASSERT_OK_AND_ASSIGN(loaded, LoadRunCheckpoint(dir, UnreadableLatest::kLeave));
  EXPECT_EQ(loaded.iteration(), 1);
  EXPECT_EQ(test_files::ReadFile(CheckpointPath(dir)), "garbage");
  // Both unreadable: the error names the files.
  std::ofstream(CheckpointPath(dir), std::ios::binary | std::ios::trunc) << "garbage";
  std::ofstream(PreviousCheckpointPath(dir), std::ios::binary | std::ios::trunc) << "garbage";
  EXPECT_THAT(LoadRunCheckpoint(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("checkpoint.pb"), HasSubstr("checkpoint.prev.pb"))));
}

// Files this process writes may not grow past `bytes` while it lives: a full
// disk without root (writes past it fail with EFBIG; SIGXFSZ is ignored).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &saved_), 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = SIG_DFL;
};

TEST(CheckpointFilesTest, FullDiskFailsCleanlyAndKeepsBothCheckpoints) {
  const std::string dir = test_files::MakeTempDir("ckpt_full");
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(1), dir));
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(2), dir));
  const std::string latest = test_files::ReadFile(CheckpointPath(dir));
  const std::string previous = test_files::ReadFile(PreviousCheckpointPath(dir));
  ASSERT_GT(latest.size(), 1000u);
  absl::Status saved, written;
  {
    FileSizeLimit full(latest.size() / 2);
    saved = SaveRunCheckpoint(SampleCheckpoint(3), dir);
    written = WriteCheckpoint(SampleCheckpoint(3), dir + "/other.pb");
  }
  EXPECT_THAT(saved, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot write")));
  EXPECT_THAT(written, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot write")));
  EXPECT_FALSE(Exists(CheckpointPath(dir) + ".tmp")) << "temp file left behind";
  EXPECT_FALSE(Exists(dir + "/other.pb.tmp")) << "temp file left behind";
  EXPECT_FALSE(Exists(dir + "/other.pb"));
  EXPECT_EQ(test_files::ReadFile(CheckpointPath(dir)), latest);
  EXPECT_EQ(test_files::ReadFile(PreviousCheckpointPath(dir)), previous);
  // With space again, the next save works.
  GORL_ASSERT_OK(SaveRunCheckpoint(SampleCheckpoint(3), dir));
  GORL_ASSERT_OK_AND_ASSIGN(const auto loaded, LoadRunCheckpoint(dir));
  EXPECT_EQ(loaded.iteration(), 3);
}

}  // namespace
}  // namespace gorl::learner
