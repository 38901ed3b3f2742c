#include "learner/training_loop.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "common/nn/decoder.h"
#include "tests/learner/synthetic_rollout.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"

namespace gorl::learner {
namespace {

constexpr int kObs = 3;
constexpr int kAction = 2;

// Test double of the actors: records every broadcast and serves synthetic,
// on-policy rollouts of the right sizes from the last broadcast snapshot.
class RecordingActors : public ActorGroup {
 public:
  explicit RecordingActors(int num_envs) : num_envs_(num_envs) {}

  absl::Status Broadcast(const v1::PolicySnapshot& snapshot) override {
    broadcasts.push_back(snapshot);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<v1::Rollout>> GatherRollouts(int64_t sequences,
                                                          int unroll_length) override {
    const v1::PolicySnapshot& current = broadcasts.back();
    EXPECT_EQ(current.mode(), v1::ACTOR_MODE_TRAIN);
    EXPECT_EQ(sequences % num_envs_, 0);
    std::vector<v1::Rollout> rollouts;
    for (int64_t k = 0; k < sequences / num_envs_; ++k) {
      testing::SyntheticOptions options;
      options.num_envs = num_envs_;
      options.unroll_length = unroll_length;
      options.seed = ++rollout_seed_;
      options.truncate_every = 4;
      options.reward = [](const float* z) { return -z[0] * z[0]; };
      rollouts.push_back(testing::SampleRollout(current, options));
      rollouts.back().add_episode_returns(1.0f);
    }
    return rollouts;
  }

  absl::StatusOr<v1::RefinementData> Collect(int64_t pairs, int num_envs, uint64_t seed) override {
    collect_snapshots.push_back(broadcasts.back());
    collect_seeds.push_back(seed);
    v1::RefinementData data;
    data.set_obs_size(kObs);
    data.set_action_size(kAction);
    for (int64_t i = 0; i < pairs * kObs; ++i) data.add_observations(0.1f * (i % 7));
    for (int64_t i = 0; i < pairs * kAction; ++i) data.add_actions(0.2f * (i % 5) - 0.4f);
    return data;
  }

  // Scripted returns: the first deterministic evaluation of each two gets
  // the higher return, so "best" is never the stage's last evaluation.
  absl::StatusOr<v1::EvalReport> Evaluate(int episodes, bool deterministic,
                                          uint64_t seed) override {
    const v1::PolicySnapshot& current = broadcasts.back();
    EXPECT_EQ(current.mode(), v1::ACTOR_MODE_EVAL);
    v1::EvalReport report;
    report.set_encoder_version(current.encoder_version());
    report.set_deterministic(deterministic);
    const int index = deterministic_evals;
    if (deterministic) {
      eval_versions.push_back(current.encoder_version());
      ++deterministic_evals;
    }
    const float value = index % 2 == 0 ? 100.0f + index : static_cast<float>(index);
    for (int e = 0; e < episodes; ++e) report.add_episode_returns(value + e);
    return report;
  }

  std::vector<v1::PolicySnapshot> broadcasts;
  std::vector<v1::PolicySnapshot> collect_snapshots;
  std::vector<uint64_t> collect_seeds;
  std::vector<int64_t> eval_versions;  // encoder version at each deterministic evaluation
  int deterministic_evals = 0;

 private:
  int num_envs_;
  uint64_t rollout_seed_ = 0;
};

class RecordingRefiner : public Refiner {
 public:
  absl::StatusOr<RefineOutcome> Refine(const v1::RefinementData& data, int64_t version) override {
    versions.push_back(version);
    pairs.push_back(data.actions_size() / data.action_size());
    RefineOutcome outcome;
    // A usable decoder (the all-zero flow network), so that the fidelity
    // measurement can sample it; its version identifies it.
    outcome.decoder =
        nn::DecoderModel::Identity(v1::DECODER_KIND_FLOW, data.obs_size(), data.action_size(),
                                   testing::TinyLoopConfig("gorl-fm", "best").decoder())
            ->ToProto(version);
    outcome.best_validation_loss = 0.5 / version;
    outcome.final_train_loss = 0.25;
    outcome.epochs = 3;
    outcome.validation_losses = {0.9, 0.7, 0.5 / version};
    return outcome;
  }
  std::vector<int64_t> versions;
  std::vector<int64_t> pairs;
};

// 3 stages x 2 iterations of 4 envs x 2 unrolls x 5 steps (40 env steps),
// an evaluation after every iteration.
v1::TrainConfig LoopConfig(const std::string& algo, const std::string& collect_with) {
  return testing::TinyLoopConfig(algo, collect_with);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool ReadDecoder(const std::string& path, v1::Decoder& decoder) {
  std::ifstream in(path, std::ios::binary);
  return in && decoder.ParseFromIstream(&in);
}

struct LoopRun {
  RecordingActors actors{4};
  RecordingRefiner refiner;
  std::unique_ptr<PpoLearner> learner;
  absl::StatusOr<TrainingSummary> summary;
  std::string run_dir;
  std::vector<Progress> progress;
  std::vector<std::string> phases;  // on_phase, consecutive repeats collapsed
  int checkpoints = 0;              // on_checkpoint calls
  std::vector<RefinementReport> refinements;
};

void RunLoop(const v1::TrainConfig& config, const std::string& name, LoopRun& run) {
  GORL_ASSERT_OK_AND_ASSIGN(run.learner, PpoLearner::Create(config, kObs, kAction));
  run.run_dir = test_files::MakeTempDir("loop_" + name);
  TrainingLoopOptions options;
  options.config = config;
  options.run_dir = run.run_dir;
  options.initial_decoder =
      nn::DecoderModel::Identity(DecoderKindFor(config.algo()), kObs, kAction, config.decoder())
          ->ToProto(0);
  options.on_progress = [&run](const Progress& p) { run.progress.push_back(p); };
  options.on_phase = [&run](const char* phase) {
    if (run.phases.empty() || run.phases.back() != phase) run.phases.push_back(phase);
  };
  options.on_refinement = [&run](const RefinementReport& r) { run.refinements.push_back(r); };
  options.on_checkpoint = [&run] {
    // Called once the file is in place.
    EXPECT_TRUE(std::ifstream(run.run_dir + "/checkpoint.pb").good());
    ++run.checkpoints;
  };
  TrainingLoop loop(options, *run.learner, run.actors, run.refiner);
  run.summary = loop.Run();
  GORL_ASSERT_OK(run.summary);
}

// Train-mode broadcasts, in order.
std::vector<v1::PolicySnapshot> TrainBroadcasts(const RecordingActors& actors) {
  std::vector<v1::PolicySnapshot> out;
  for (const auto& s : actors.broadcasts) {
    if (s.mode() == v1::ACTOR_MODE_TRAIN) out.push_back(s);
  }
  return out;
}

TEST(TrainingLoopTest, RefinesOncePerBoundaryAndSwapsTheDecoderIn) {
  LoopRun run;
  RunLoop(LoopConfig("gorl-fm", "best"), "boundaries", run);
  GORL_ASSERT_OK(run.summary);
  EXPECT_EQ(run.summary->env_steps, 240);
  EXPECT_EQ(run.summary->collect_env_steps, 2 * 10);
  EXPECT_EQ(run.summary->evaluations.size(), 6u);

  // Two boundaries for three stages: no refinement after the last stage.
  EXPECT_EQ(run.refiner.versions, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(run.refiner.pairs, (std::vector<int64_t>{10, 10}));
  ASSERT_EQ(run.actors.collect_snapshots.size(), 2u);
  EXPECT_NE(run.actors.collect_seeds[0], run.actors.collect_seeds[1]);

  const std::vector<v1::PolicySnapshot> train = TrainBroadcasts(run.actors);
  ASSERT_EQ(train.size(), 6u);  // one per iteration
  for (size_t i = 0; i < train.size(); ++i) {
    const int stage = static_cast<int>(i / 2);
    EXPECT_EQ(train[i].stage(), stage) << i;
    // The decoder in use is the stage's: the refiner's, after a boundary.
    EXPECT_EQ(train[i].decoder().version(), stage) << i;
    EXPECT_EQ(train[i].decoder().kind(), v1::DECODER_KIND_FLOW) << i;
  }
  // At a boundary the encoder is re-drawn: new weights and a new version.
  for (size_t boundary : {2u, 4u}) {
    EXPECT_NE(train[boundary].encoder().SerializeAsString(),
              train[boundary - 1].encoder().SerializeAsString());
    EXPECT_GT(train[boundary].encoder_version(), train[boundary - 1].encoder_version());
  }
  // Collect data come from the current decoder.
  EXPECT_EQ(run.actors.collect_snapshots[0].decoder().version(), 0);
  EXPECT_EQ(run.actors.collect_snapshots[1].decoder().version(), 1);
}

// The phases the exporter shows (gorl_learner_phase), in order, and one
// on_checkpoint per checkpoint written.
TEST(TrainingLoopTest, ReportsPhasesAndCheckpoints) {
  v1::TrainConfig config = LoopConfig("gorl-fm", "best");
  config.set_checkpoint_every_iterations(1);
  LoopRun run;
  RunLoop(config, "phases", run);
  GORL_ASSERT_OK(run.summary);
  const std::vector<std::string> stage = {"train", "evaluate", "train", "evaluate"};
  std::vector<std::string> expected;
  for (int s = 0; s < 3; ++s) {
    expected.insert(expected.end(), stage.begin(), stage.end());
    // The refinement, then the hand-over's evaluations (collecting and refined policy).
    if (s < 2) expected.insert(expected.end(), {"collect", "refine", "evaluate"});
  }
  expected.push_back("done");
  EXPECT_EQ(run.phases, expected);
  // The start, every iteration but the last (its stage end is saved
  // instead), and the 3 stage ends.
  EXPECT_EQ(run.checkpoints, 1 + 5 + 3);
}

TEST(TrainingLoopTest, CollectsWithTheBestEvaluatedEncoder) {
  LoopRun run;
  RunLoop(LoopConfig("gorl-fm", "best"), "best", run);
  GORL_ASSERT_OK(run.summary);
  // 2 per stage, and 2 per refinement: the collecting policy and the refined one.
  ASSERT_EQ(run.actors.eval_versions.size(), 10u);
  ASSERT_EQ(run.actors.collect_snapshots.size(), 2u);
  for (size_t stage = 0; stage < 2; ++stage) {
    const v1::PolicySnapshot& collect = run.actors.collect_snapshots[stage];
    EXPECT_EQ(collect.mode(), v1::ACTOR_MODE_COLLECT);
    // The stage's first evaluation scored best; the second was later.
    EXPECT_EQ(collect.encoder_version(), run.actors.eval_versions[4 * stage]);
    EXPECT_NE(collect.encoder_version(), run.actors.eval_versions[4 * stage + 1]);
    // The hand-over evaluated the collecting encoder, then the next stage's.
    EXPECT_EQ(run.actors.eval_versions[4 * stage + 2], collect.encoder_version());
    EXPECT_EQ(run.actors.eval_versions[4 * stage + 3], run.actors.eval_versions[4 * stage + 1] + 1);
  }
}

TEST(TrainingLoopTest, CollectsWithTheFinalEncoderWhenAsked) {
  LoopRun run;
  RunLoop(LoopConfig("gorl-fm", "final"), "final", run);
  GORL_ASSERT_OK(run.summary);
  ASSERT_EQ(run.actors.collect_snapshots.size(), 2u);
  for (int stage = 0; stage < 2; ++stage) {
    EXPECT_EQ(run.actors.collect_snapshots[stage].encoder_version(),
              run.actors.eval_versions[4 * stage + 1]);
  }
}

TEST(TrainingLoopTest, WritesMetricsAndDecoders) {
  LoopRun run;
  RunLoop(LoopConfig("gorl-fm", "best"), "outputs", run);
  GORL_ASSERT_OK(run.summary);
  std::map<std::string, int> events;
  for (const std::string& line : ReadLines(run.run_dir + "/metrics.jsonl")) {
    ASSERT_EQ(line.front(), '{');
    ASSERT_EQ(line.back(), '}');
    for (const char* event : {"update", "eval", "refine"}) {
      if (line.find(std::string("\"event\": \"") + event + "\"") == std::string::npos) continue;
      ++events[event];
      std::vector<std::string> keys = {"env_steps", "wall_seconds", "stage"};
      if (std::string(event) == "update") {
        keys.insert(keys.end(),
                    {"encoder_version", "policy_loss", "value_loss", "entropy", "approx_kl",
                     "clip_fraction", "explained_variance", "grad_norm", "latent_std"});
      } else if (std::string(event) == "eval") {
        keys.insert(keys.end(), {"eval_return_mean", "eval_return_std"});
      } else {
        keys.insert(keys.end(), {"decoder_version", "decoder_val_loss", "pairs"});
      }
      for (const std::string& key : keys) {
        EXPECT_NE(line.find("\"" + key + "\": "), std::string::npos) << key << " in " << line;
      }
    }
  }
  EXPECT_EQ(events["update"], 6);
  EXPECT_EQ(events["eval"], 6);
  EXPECT_EQ(events["refine"], 2);

  // The progress callback sees what the update rows say (the exporter's
  // gauges come from it), and the loss of the decoder in use.
  std::vector<std::string> updates;
  for (const std::string& line : ReadLines(run.run_dir + "/metrics.jsonl")) {
    if (line.find("\"event\": \"update\"") != std::string::npos) updates.push_back(line);
  }
  ASSERT_EQ(run.progress.size(), updates.size());
  for (size_t i = 0; i < updates.size(); ++i) {
    const PpoMetrics& ppo = run.progress[i].ppo;
    EXPECT_GT(ppo.samples, 0) << i;
    for (const auto& [key, value] : std::vector<std::pair<std::string, double>>{
             {"policy_loss", ppo.policy_loss},
             {"value_loss", ppo.value_loss},
             {"approx_kl", ppo.approx_kl},
             {"explained_variance", ppo.explained_variance}}) {
      EXPECT_NE(updates[i].find(absl::StrFormat("\"%s\": %.9g", key, value)), std::string::npos)
          << key << " of progress " << i << " not in " << updates[i];
    }
    // RecordingRefiner's decoder v<k> has loss 0.5 / k; none before the first.
    const int stage = run.progress[i].stage;
    if (stage == 0) {
      EXPECT_TRUE(std::isnan(run.progress[i].decoder_validation_loss)) << i;
    } else {
      EXPECT_DOUBLE_EQ(run.progress[i].decoder_validation_loss, 0.5 / stage) << i;
    }
  }

  for (int k = 0; k < 3; ++k) {
    v1::Decoder decoder;
    ASSERT_TRUE(ReadDecoder(run.run_dir + "/decoder_stage" + std::to_string(k) + ".pb", decoder))
        << k;
    EXPECT_EQ(decoder.version(), k);
  }
  v1::Decoder unused;
  EXPECT_FALSE(ReadDecoder(run.run_dir + "/decoder_stage3.pb", unused));
}

// Each refinement measures its hand-over (learner/refinement_fidelity.h) on
// states held out of the decoder's data, and logs it with the stage's
// diagnostics.
TEST(TrainingLoopTest, MeasuresTheFidelityOfEveryRefinement) {
  v1::TrainConfig config = LoopConfig("gorl-fm", "best");
  config.mutable_refine()->set_num_pairs(40);
  config.mutable_refine()->set_fidelity_states(4);
  config.mutable_refine()->set_fidelity_samples(8);
  // The hand-over's evaluations over 5 episodes, the stage's over eval.episodes (3).
  config.mutable_refine()->set_fidelity_episodes(5);
  LoopRun run;
  RunLoop(config, "fidelity", run);
  GORL_ASSERT_OK(run.summary);
  // The refiner never saw the held-out states.
  EXPECT_EQ(run.refiner.pairs, (std::vector<int64_t>{40, 40}));
  EXPECT_EQ(run.summary->collect_env_steps, 2 * 44);
  ASSERT_EQ(run.refinements.size(), 2u);
  for (int stage = 0; stage < 2; ++stage) {
    const RefinementReport& r = run.refinements[stage];
    EXPECT_EQ(r.stage, stage);
    EXPECT_EQ(r.fidelity.states, 4);
    EXPECT_EQ(r.fidelity.samples, 8);
    EXPECT_GT(r.fidelity.floor.sliced_wasserstein, 0.0);
    EXPECT_TRUE(std::isfinite(r.fidelity.prior.sliced_wasserstein));
    EXPECT_TRUE(std::isfinite(r.fidelity.fresh_encoder.mean_error));
    // RecordingActors scores the evaluations in call order: the stage's
    // own two, then the collecting policy (an even call: 100 + index, + 2
    // for the mean of 5 episodes 0..4), then the refined one (odd: index + 1).
    const int first = 4 * stage + 2;
    EXPECT_EQ(r.eval_episodes, 5);
    EXPECT_DOUBLE_EQ(r.collecting_deterministic, 100 + first + 2);
    EXPECT_DOUBLE_EQ(r.refined_deterministic, first + 1 + 2);
    EXPECT_EQ(r.validation_losses, (std::vector<double>{0.9, 0.7, 0.5 / (stage + 1)}));
    // The targets' statistics come from the collected actions (not zeros).
    EXPECT_GT(r.targets.abs_mean, 0.0);
    EXPECT_GE(r.targets.abs_max, r.targets.abs_p99);
    EXPECT_GT(r.targets.abs_p99, 0.0);
  }
  std::map<std::string, int> events;
  for (const std::string& line : ReadLines(run.run_dir + "/metrics.jsonl")) {
    for (const char* event : {"refine", "stage_end", "stage_best"}) {
      if (line.find(std::string("\"event\": \"") + event + "\"") != std::string::npos) {
        ++events[event];
      }
    }
    if (line.find("\"event\": \"refine\"") == std::string::npos) continue;
    for (const char* key :
         {"decoder_val_curve\": [0.899999976, 0.699999988", "\"fidelity_states\": 4",
          "\"fidelity_sw_prior\": ", "\"fidelity_sw_floor\": ",
          "\"collecting_stochastic_return\": ", "\"refined_stochastic_return\": ",
          "\"collecting_stochastic_return_std\": ", "\"refined_stochastic_return_std\": ",
          "\"fidelity_seconds\": ", "\"target_abs_p99\": ", "\"target_saturated_fraction\": ",
          "\"fidelity_eval_episodes\": 5"}) {
      EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
    }
  }
  EXPECT_EQ(events["refine"], 2);
  EXPECT_EQ(events["stage_end"], 3);
  // The first evaluation of each stage is its best (RecordingActors).
  EXPECT_EQ(events["stage_best"], 3);
  // Each stage's final policy, with the decoder it trained against.
  for (int k = 0; k < 3; ++k) {
    std::ifstream in(run.run_dir + "/policy_stage" + std::to_string(k) + ".pb", std::ios::binary);
    v1::PolicySnapshot policy;
    ASSERT_TRUE(in && policy.ParseFromIstream(&in)) << k;
    EXPECT_EQ(policy.decoder().version(), k);
    EXPECT_EQ(policy.stage(), k);
  }
  // The progress reports carry the stage's best return so far.
  for (const Progress& p : run.progress) {
    EXPECT_FALSE(std::isnan(p.stage_best_return)) << p.env_steps;
  }
}

TEST(TrainingLoopTest, GaussianPpoIsOneStageWithoutRefinement) {
  LoopRun run;
  RunLoop(LoopConfig("ppo", "best"), "ppo", run);
  GORL_ASSERT_OK(run.summary);
  EXPECT_TRUE(run.refiner.versions.empty());
  EXPECT_TRUE(run.actors.collect_snapshots.empty());
  const std::vector<v1::PolicySnapshot> train = TrainBroadcasts(run.actors);
  EXPECT_EQ(train.size(), 6u);
  for (const auto& s : train) {
    EXPECT_EQ(s.stage(), 0);
    EXPECT_EQ(s.decoder().kind(), v1::DECODER_KIND_IDENTITY);
  }
  // Without a re-initialisation, the version counts exactly the updates.
  EXPECT_EQ(run.learner->encoder_version(), train.front().encoder_version() + 6);
}

}  // namespace
}  // namespace gorl::learner
