// The stage loop's ablation switches: keeping the encoder across stage
// boundaries (stages.reinit_encoder = false) and a frozen decoder
// (stages.frozen_decoder) that is never refined.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/nn/decoder.h"
#include "common/nn/tensor_codec.h"
#include "common/running_normalizer.h"
#include "learner/ppo_learner.h"
#include "learner/training_loop.h"
#include "runtime/in_process.h"
#include "tests/learner/fake_roles.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"

namespace gorl::learner {
namespace {

using ::gorl::testing::StatusIs;
using testing::DeterministicActors;
using testing::VersionRefiner;

constexpr int kObs = 3;
constexpr int kAction = 2;

// 3 stages x 2 iterations of 40 env steps, an evaluation every iteration.
v1::TrainConfig AblationConfig() {
  v1::TrainConfig config = testing::TinyLoopConfig("gorl-fm", "final");
  config.set_seed(9);
  config.mutable_decoder()->add_hidden(8);
  config.mutable_decoder()->set_steps(3);
  config.mutable_eval()->set_episodes(2);
  return config;
}

struct Outcome {
  DeterministicActors actors{4, kObs, kAction};
  VersionRefiner refiner;
  std::unique_ptr<PpoLearner> learner;
  v1::Decoder final_decoder;
};

void Train(const v1::TrainConfig& config, const v1::Decoder& initial_decoder,
           const std::string& name, Outcome& out) {
  GORL_ASSERT_OK_AND_ASSIGN(out.learner, PpoLearner::Create(config, kObs, kAction));
  TrainingLoopOptions options;
  options.config = config;
  options.run_dir = test_files::MakeTempDir("ablation_" + name);
  options.initial_decoder = initial_decoder;
  TrainingLoop loop(options, *out.learner, out.actors, out.refiner);
  GORL_ASSERT_OK_AND_ASSIGN(const auto summary, loop.Run());
  EXPECT_EQ(summary.env_steps, 240);
  out.final_decoder = loop.decoder();
}

v1::Decoder StageZeroDecoder() {
  v1::Decoder decoder;
  decoder.set_kind(v1::DECODER_KIND_FLOW);
  return decoder;
}

// The last snapshot of `mode` broadcast before train broadcast `index` of
// `actors`. Before a stage's first train broadcast come the collection
// snapshot and then the refinement's hand-over evaluations (the collecting
// policy, then the next stage's starting one).
v1::PolicySnapshot LastBeforeTrainBroadcast(const DeterministicActors& actors, int index,
                                            v1::ActorMode mode) {
  int seen = -1;
  for (size_t i = 0; i < actors.broadcasts.size(); ++i) {
    if (actors.broadcasts[i].mode() == v1::ACTOR_MODE_TRAIN && ++seen == index) {
      for (size_t j = i; j-- > 0;) {
        if (actors.broadcasts[j].mode() == mode) return actors.broadcasts[j];
      }
    }
  }
  ADD_FAILURE() << "no train broadcast " << index;
  return {};
}

TEST(StageAblationTest, WithoutReinitialisationTheEncoderKeepsTraining) {
  v1::TrainConfig config = AblationConfig();
  config.mutable_stages()->set_reinit_encoder(false);
  Outcome kept;
  Train(config, StageZeroDecoder(), "kept", kept);
  Outcome redrawn;
  Train(AblationConfig(), StageZeroDecoder(), "redrawn", redrawn);

  const std::vector<v1::PolicySnapshot> kept_train = kept.actors.Broadcasts(v1::ACTOR_MODE_TRAIN);
  ASSERT_EQ(kept_train.size(), 6u);
  for (int boundary : {2, 4}) {
    // The new stage starts from exactly the encoder (and version) the last
    // stage ended with; only the decoder changes.
    const v1::PolicySnapshot before =
        LastBeforeTrainBroadcast(kept.actors, boundary, v1::ACTOR_MODE_COLLECT);
    EXPECT_EQ(kept_train[boundary].encoder().SerializeAsString(),
              before.encoder().SerializeAsString())
        << boundary;
    EXPECT_EQ(kept_train[boundary].encoder_version(), before.encoder_version()) << boundary;
    EXPECT_EQ(kept_train[boundary].stage(), boundary / 2);
    EXPECT_EQ(kept_train[boundary].decoder().version(), boundary / 2);
    // The default run re-draws it at the same point.
    const v1::PolicySnapshot redrawn_before =
        LastBeforeTrainBroadcast(redrawn.actors, boundary, v1::ACTOR_MODE_COLLECT);
    const v1::PolicySnapshot redrawn_start =
        redrawn.actors.Broadcasts(v1::ACTOR_MODE_TRAIN)[boundary];
    EXPECT_NE(redrawn_start.encoder().SerializeAsString(),
              redrawn_before.encoder().SerializeAsString())
        << boundary;
    // The hand-over evaluated exactly the encoder each stage then starts
    // from (PpoLearner::FreshEncoderSnapshot matches ReinitializeEncoder),
    // with the new decoder.
    for (const Outcome* run : {&kept, &redrawn}) {
      const v1::PolicySnapshot start = run->actors.Broadcasts(v1::ACTOR_MODE_TRAIN)[boundary];
      const v1::PolicySnapshot hand_over =
          LastBeforeTrainBroadcast(run->actors, boundary, v1::ACTOR_MODE_EVAL);
      EXPECT_EQ(hand_over.encoder().SerializeAsString(), start.encoder().SerializeAsString())
          << boundary;
      EXPECT_EQ(hand_over.decoder().SerializeAsString(), start.decoder().SerializeAsString())
          << boundary;
    }
  }
  // One version per update, none for re-initialisations.
  EXPECT_EQ(kept.learner->encoder_version(), kept_train.front().encoder_version() + 6);
  EXPECT_EQ(redrawn.learner->encoder_version(),
            redrawn.actors.Broadcasts(v1::ACTOR_MODE_TRAIN).front().encoder_version() + 8);
  // The encoder's Adam moments continued too: 6 updates x 2 epochs x 2
  // minibatches, against the last stage's 2 x 2 x 2 after a re-draw.
  EXPECT_EQ(kept.learner->SaveState().encoder_adam().steps(0), 24);
  EXPECT_EQ(redrawn.learner->SaveState().encoder_adam().steps(0), 8);
  // Refinement still happens at every boundary.
  EXPECT_EQ(kept.refiner.versions, (std::vector<int64_t>{1, 2}));
}

TEST(StageAblationTest, FrozenDecoderIsNeverRefined) {
  // A trained-looking (random, non-identity) flow decoder saved by "another run".
  v1::TrainConfig config = AblationConfig();
  RunningNormalizer normalizer(kObs);
  const std::vector<float> rows = {0.5f, -1.0f, 2.0f, 1.5f, 0.0f, -2.0f};
  GORL_ASSERT_OK(normalizer.Update(rows.data(), 2));
  const v1::Decoder frozen =
      nn::DecoderModel::NewTrainable(v1::DECODER_KIND_FLOW, kObs, kAction, config.decoder(),
                                     normalizer, nn::MakeGenerator(3))
          ->ToProto(/*version=*/7);
  const std::string path = test_files::MakeTempDir("ablation_decoder") + "/frozen_decoder.pb";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(frozen.SerializeToOstream(&out));
  }
  config.mutable_stages()->set_frozen_decoder(path);
  GORL_ASSERT_OK_AND_ASSIGN(const auto initial, runtime::InitialDecoder(config, kObs, kAction));
  EXPECT_EQ(initial.SerializeAsString(), frozen.SerializeAsString());

  Outcome out;
  Train(config, initial, "frozen", out);
  EXPECT_TRUE(out.refiner.versions.empty());
  EXPECT_EQ(out.actors.collect_calls, 0);
  EXPECT_EQ(out.final_decoder.SerializeAsString(), frozen.SerializeAsString());
  // Every snapshot of every stage carries the frozen decoder...
  ASSERT_EQ(out.actors.broadcasts.size(), 12u);  // 6 train + 6 eval
  for (const v1::PolicySnapshot& s : out.actors.broadcasts) {
    EXPECT_EQ(s.decoder().SerializeAsString(), frozen.SerializeAsString());
  }
  // ... while the stages still advance and re-draw the encoder.
  const std::vector<v1::PolicySnapshot> train = out.actors.Broadcasts(v1::ACTOR_MODE_TRAIN);
  EXPECT_EQ(train.back().stage(), 2);
  EXPECT_NE(
      train[2].encoder().SerializeAsString(),
      LastBeforeTrainBroadcast(out.actors, 2, v1::ACTOR_MODE_EVAL).encoder().SerializeAsString());

  // A decoder file for other sizes is refused up front.
  EXPECT_THAT(runtime::InitialDecoder(config, kObs + 1, kAction),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace gorl::learner
