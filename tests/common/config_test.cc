#include "common/config.h"

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/status_matchers.h"

namespace gorl {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigTest, EveryBuiltinPresetParsesAndValidates) {
  ASSERT_EQ(PresetNames(), (std::vector<std::string>{"local", "paper", "reference"}));
  for (const std::string& name : PresetNames()) {
    GORL_ASSERT_OK_AND_ASSIGN(const v1::TrainConfig config, LoadPreset(name));
    EXPECT_EQ(config.preset(), name);
    GORL_EXPECT_OK(ValidateConfig(config)) << name;
  }
}

TEST(ConfigTest, PaperAndReferencePresetsDifferWhereThePaperAndTheCodeDiffer) {
  const v1::TrainConfig paper = *LoadPreset("paper");
  const v1::TrainConfig reference = *LoadPreset("reference");
  EXPECT_FLOAT_EQ(paper.ppo().clip_epsilon(), 0.2f);
  EXPECT_FALSE(paper.first_stage().has_clip_epsilon());
  EXPECT_EQ(paper.decoder().hidden(0), 32);
  EXPECT_EQ(paper.refine().num_pairs(), 512000);
  EXPECT_FLOAT_EQ(reference.first_stage().clip_epsilon(), 0.15f);
  EXPECT_FLOAT_EQ(reference.ppo().clip_epsilon(), 0.3f);
  EXPECT_FLOAT_EQ(reference.first_stage().max_grad_norm(), 0.5f);
  EXPECT_FLOAT_EQ(reference.ppo().max_grad_norm(), 1.0f);
  EXPECT_GT(reference.ppo().prior_penalty(), 0.0f);
  EXPECT_EQ(reference.decoder().hidden(0), 64);
  EXPECT_EQ(reference.refine().num_pairs(), 10000000);
  // One paper iteration is 983,040 env steps (docs/algorithm.md §1).
  EXPECT_EQ(EnvStepsPerIteration(paper), 983040);
}

TEST(ConfigTest, OverridesReachScalarsRepeatedFieldsStringsAndOptionals) {
  v1::TrainConfig config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("ppo.clip_epsilon=0.25", config));
  GORL_ASSERT_OK(ApplyOverride("decoder.hidden=16,16", config));
  GORL_ASSERT_OK(ApplyOverride("algo=gorl-diff", config));
  GORL_ASSERT_OK(ApplyOverride("first_stage.clip_epsilon=0.1", config));
  GORL_ASSERT_OK(ApplyOverride("stages.reinit_critic=false", config));
  GORL_ASSERT_OK(ApplyOverride("total_env_steps=123", config));
  EXPECT_FLOAT_EQ(config.ppo().clip_epsilon(), 0.25f);
  EXPECT_EQ(config.decoder().hidden_size(), 2);
  EXPECT_EQ(config.decoder().hidden(1), 16);
  EXPECT_EQ(config.algo(), v1::ALGO_GORL_DIFF);
  EXPECT_FLOAT_EQ(config.first_stage().clip_epsilon(), 0.1f);
  EXPECT_FALSE(config.stages().reinit_critic());
  EXPECT_EQ(config.total_env_steps(), 123);
}

TEST(ConfigTest, BadOverridesNameTheProblemAndChangeNothing) {
  v1::TrainConfig config = *LoadPreset("local");
  const v1::TrainConfig before = config;
  // The message names the bad field and lists the real ones.
  EXPECT_THAT(ApplyOverride("ppo.clip=0.2", config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("no field 'clip'"), HasSubstr("clip_epsilon"))));
  EXPECT_THAT(ApplyOverride("ppo.clip_epsilon=abc", config), Not(IsOk()));
  EXPECT_THAT(ApplyOverride("ppo=3", config), Not(IsOk()));
  EXPECT_THAT(ApplyOverride("noequals", config), Not(IsOk()));
  EXPECT_THAT(ApplyOverride("decoder.hidden=64,x", config), Not(IsOk()));
  EXPECT_EQ(config.SerializeAsString(), before.SerializeAsString());
}

TEST(ConfigTest, ValidationRejectsOutOfRangeValuesByName) {
  v1::TrainConfig config = *LoadPreset("local");
  config.mutable_ppo()->set_discount(1.5f);
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, Not(IsOk()));
  EXPECT_THAT(status.message(), HasSubstr("ppo.discount"));

  config = *LoadPreset("local");
  config.set_algo(v1::ALGO_UNSPECIFIED);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algo")));

  // Sizes that other checks divide by are refused, not a division by zero.
  for (const char* zero : {"rollout.num_envs=0", "rollout.unroll_length=0"}) {
    config = *LoadPreset("local");
    GORL_ASSERT_OK(ApplyOverride(zero, config));
    EXPECT_THAT(ValidateConfig(config), StatusIs(absl::StatusCode::kInvalidArgument)) << zero;
  }
  config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("encoder.hidden=32,-5", config));
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("encoder.hidden")));

  config = *LoadPreset("local");
  config.mutable_ppo()->set_batch_size(63);  // not whole unrolls per env
  EXPECT_THAT(ValidateConfig(config).message(), HasSubstr("multiple of rollout.num_envs"));

  // Settings that would silently do nothing.
  config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("stages.reinit_encoder=false", config));
  GORL_ASSERT_OK(ApplyOverride("stages.reinit_to_prior=true", config));
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stages.reinit_to_prior")));
  config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("refine.fidelity_samples=1", config));
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refine.fidelity_samples")));
  config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("refine.fidelity_episodes=-1", config));
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refine.fidelity_episodes")));
  // 0 falls back to eval.episodes; the local preset evaluates its hand-overs over more.
  config = *LoadPreset("local");
  EXPECT_EQ(FidelityEpisodes(config), 64);
  GORL_ASSERT_OK(ApplyOverride("refine.fidelity_episodes=0", config));
  EXPECT_EQ(FidelityEpisodes(config), config.eval().episodes());
  for (const char* clip :
       {"refine.target_clip=-1", "refine.target_clip=nan", "refine.target_clip=inf"}) {
    config = *LoadPreset("local");
    GORL_ASSERT_OK(ApplyOverride(clip, config));
    EXPECT_THAT(ValidateConfig(config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refine.target_clip")))
        << clip;
  }
}

// GoRL-Diff's decoder parametrisation: users type epsilon or v; an unknown
// number (a hand-edited or newer checkpoint) is refused by name.
TEST(ConfigTest, DiffusionPredictionIsTypedByNameAndValidated) {
  v1::TrainConfig config = *LoadPreset("local");
  GORL_ASSERT_OK(ApplyOverride("algo=gorl-diff", config));
  GORL_ASSERT_OK(ApplyOverride("decoder.diffusion_prediction=epsilon", config));
  EXPECT_EQ(config.decoder().diffusion_prediction(), v1::DIFFUSION_PREDICTION_EPSILON);
  GORL_ASSERT_OK(ApplyOverride("decoder.diffusion_prediction=v", config));
  EXPECT_EQ(config.decoder().diffusion_prediction(), v1::DIFFUSION_PREDICTION_V);
  GORL_ASSERT_OK(ValidateConfig(config));
  EXPECT_THAT(DescribeConfig(config), HasSubstr("v-prediction"));
  EXPECT_THAT(ApplyOverride("decoder.diffusion_prediction=x0", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon")));
  config.mutable_decoder()->set_diffusion_prediction(static_cast<v1::DiffusionPrediction>(7));
  EXPECT_THAT(ValidateConfig(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                               HasSubstr("decoder.diffusion_prediction")));
}

// The baselines' sections: every preset sets the released settings, and
// nonsense is refused by name (only for the algorithm that reads it).
TEST(ConfigTest, BaselineSectionsAreSetAndValidated) {
  for (const std::string& name : PresetNames()) {
    v1::TrainConfig config = *LoadPreset(name);
    EXPECT_FLOAT_EQ(config.fpo().learning_rate(), 3e-4f) << name;
    EXPECT_FLOAT_EQ(config.fpo().clip_epsilon(), 0.05f) << name;
    EXPECT_FLOAT_EQ(config.dppo().clip_epsilon(), 0.2f) << name;
    EXPECT_FLOAT_EQ(config.dppo().sigma(), 0.05f) << name;
    EXPECT_EQ(config.fpo().draws(), 8) << name;
    for (const char* algo : {"fpo", "dppo"}) {
      GORL_ASSERT_OK(ApplyOverride(absl::StrCat("algo=", algo), config));
      GORL_EXPECT_OK(ValidateConfig(config)) << name << " " << algo;
      EXPECT_THAT(DescribeConfig(config), HasSubstr("entropy 0 (none), grad clip off"));
    }
  }
  const std::pair<const char*, const char*> bad[] = {
      {"fpo", "fpo.draws=0"},          {"fpo", "fpo.draws=-2"},
      {"fpo", "fpo.log_ratio_clip=0"}, {"fpo", "fpo.learning_rate=0"},
      {"fpo", "fpo.hidden=32,0"},      {"fpo", "fpo.velocity_scale=0"},
      {"dppo", "dppo.sigma=0"},        {"dppo", "dppo.sigma=-0.05"},
      {"dppo", "dppo.steps=0"},        {"dppo", "dppo.clip_epsilon=0"},
  };
  for (const auto& [algo, assignment] : bad) {
    v1::TrainConfig config = *LoadPreset("local");
    GORL_ASSERT_OK(ApplyOverride(absl::StrCat("algo=", algo), config));
    GORL_ASSERT_OK(ApplyOverride(assignment, config));
    const std::string field(assignment, std::string(assignment).find('='));
    EXPECT_THAT(ValidateConfig(config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)))
        << assignment;
    // Another algorithm does not read the section.
    GORL_ASSERT_OK(ApplyOverride("algo=ppo", config));
    GORL_EXPECT_OK(ValidateConfig(config)) << assignment;
  }
}

// Found by tests/fuzz (config): the iteration size was multiplied in int
// (and in int64 with the unroll length) without a bound, undefined
// behaviour for large batch and minibatch counts.
TEST(ConfigTest, ValidationRefusesIterationSizesThatOverflow) {
  v1::TrainConfig config = *LoadPreset("local");
  for (const char* assignment :
       {"ppo.batch_size=65536", "ppo.num_minibatches=65536", "rollout.num_envs=7"}) {
    GORL_ASSERT_OK(ApplyOverride(assignment, config));
  }
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("= 4294967296 is invalid")));

  config = *LoadPreset("local");
  for (const char* assignment : {"ppo.batch_size=2147483647", "ppo.num_minibatches=2147483647"}) {
    GORL_ASSERT_OK(ApplyOverride(assignment, config));
  }
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows 64 bits")));
}

TEST(ConfigTest, DeviceIsAutoCpuOrCuda) {
  v1::TrainConfig config = *LoadPreset("local");
  EXPECT_EQ(config.device(), v1::DEVICE_AUTO) << "unset means auto";
  for (const char* device : {"auto", "cpu", "cuda", "DEVICE_CUDA"}) {
    GORL_ASSERT_OK(ApplyOverride(absl::StrCat("device=", device), config)) << device;
    GORL_EXPECT_OK(ValidateConfig(config)) << device;
  }
  EXPECT_EQ(config.device(), v1::DEVICE_CUDA);
  EXPECT_THAT(ApplyOverride("device=gpu", config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'gpu' is not a valid device; valid: auto, cpu, cuda")));
  config.set_device(static_cast<v1::Device>(7));  // e.g. from a newer peer
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device")));
}

// The names users type keep working now that the fields are enums, in
// overrides and in config files, next to protobuf's own value names.
TEST(ConfigTest, EnumFieldsTakeTheNamesUsersType) {
  v1::TrainConfig config = *LoadPreset("local");
  EXPECT_EQ(config.algo(), v1::ALGO_GORL_FM);  // the preset says algo: "gorl-fm"
  EXPECT_EQ(config.stages().collect_with(), v1::COLLECT_WITH_BEST);
  EXPECT_EQ(config.refine().inputs(), v1::REFINE_INPUTS_PRIOR);
  GORL_ASSERT_OK(ApplyOverride("algo=ppo", config));
  GORL_ASSERT_OK(ApplyOverride("stages.collect_with=final", config));
  GORL_ASSERT_OK(ApplyOverride("refine.inputs=REFINE_INPUTS_ENCODER", config));
  EXPECT_EQ(config.algo(), v1::ALGO_PPO);
  EXPECT_EQ(config.stages().collect_with(), v1::COLLECT_WITH_FINAL);
  EXPECT_EQ(config.refine().inputs(), v1::REFINE_INPUTS_ENCODER);
  EXPECT_EQ(EnumUserName(v1::ALGO_GORL_DIFF), "gorl-diff");
  EXPECT_EQ(EnumUserName(v1::COLLECT_WITH_BEST), "best");

  const v1::TrainConfig before = config;
  EXPECT_THAT(ApplyOverride("algo=gorl-xl", config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'gorl-xl' is not a valid algo; valid: ppo, gorl-fm, gorl-diff")));
  EXPECT_THAT(ApplyOverride("algo=unspecified", config), Not(IsOk()));
  EXPECT_EQ(config.SerializeAsString(), before.SerializeAsString());

  // In files: both spellings; a comment that looks like a field is left alone.
  absl::StatusOr<v1::TrainConfig> parsed = ParseConfig(
      "# algo: \"not-an-algo\"\nalgo: \"gorl-diff\"\nstages {\n\tcollect_with: \"final\" }\n"
      "device: DEVICE_CPU\n",
      "file");
  GORL_ASSERT_OK(parsed);
  EXPECT_EQ(parsed->algo(), v1::ALGO_GORL_DIFF);
  EXPECT_EQ(parsed->stages().collect_with(), v1::COLLECT_WITH_FINAL);
  EXPECT_EQ(parsed->device(), v1::DEVICE_CPU);
  const absl::Status bad = ParseConfig("task: \"x\"\nalgo: \"sac\"\n", "bad.textproto").status();
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("bad.textproto: line 2: algo: 'sac' is not a valid algo")));
}

TEST(ConfigTest, TextRoundTripAndParseErrorsWithLineNumbers) {
  const v1::TrainConfig config = *LoadPreset("reference");
  GORL_ASSERT_OK_AND_ASSIGN(const v1::TrainConfig again,
                            ParseConfig(ConfigToText(config), "round trip"));
  EXPECT_EQ(again.SerializeAsString(), config.SerializeAsString());
  const absl::Status status =
      ParseConfig("task: \"x\"\nppo { clip_epsilon: }\n", "bad.textproto").status();
  EXPECT_THAT(status, Not(IsOk()));
  EXPECT_THAT(status.message(), AllOf(HasSubstr("bad.textproto"), HasSubstr("line 2")));
  EXPECT_THAT(LoadPreset("fast"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LoadPreset("/nonexistent/x.textproto"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace gorl
