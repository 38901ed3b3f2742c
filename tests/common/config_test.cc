#include "common/config.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace gorl {
namespace {

bool Contains(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

TEST(ConfigTest, EveryBuiltinPresetParsesAndValidates) {
  ASSERT_EQ(PresetNames(), (std::vector<std::string>{"local", "paper", "reference"}));
  for (const std::string& name : PresetNames()) {
    absl::StatusOr<v1::TrainConfig> config = LoadPreset(name);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->preset(), name);
    EXPECT_TRUE(ValidateConfig(*config).ok()) << name << ": " << ValidateConfig(*config);
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
  // One paper iteration is 983,040 env steps (ALGORITHM.md §1).
  EXPECT_EQ(EnvStepsPerIteration(paper), 983040);
}

TEST(ConfigTest, OverridesReachScalarsRepeatedFieldsStringsAndOptionals) {
  v1::TrainConfig config = *LoadPreset("local");
  ASSERT_TRUE(ApplyOverride("ppo.clip_epsilon=0.25", config).ok());
  ASSERT_TRUE(ApplyOverride("decoder.hidden=16,16", config).ok());
  ASSERT_TRUE(ApplyOverride("algo=gorl-diff", config).ok());
  ASSERT_TRUE(ApplyOverride("first_stage.clip_epsilon=0.1", config).ok());
  ASSERT_TRUE(ApplyOverride("stages.reinit_critic=false", config).ok());
  ASSERT_TRUE(ApplyOverride("total_env_steps=123", config).ok());
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
  absl::Status status = ApplyOverride("ppo.clip=0.2", config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "no field 'clip'")) << status;
  EXPECT_TRUE(Contains(status, "clip_epsilon")) << status;  // lists the real fields
  EXPECT_FALSE(ApplyOverride("ppo.clip_epsilon=abc", config).ok());
  EXPECT_FALSE(ApplyOverride("ppo=3", config).ok());
  EXPECT_FALSE(ApplyOverride("noequals", config).ok());
  EXPECT_FALSE(ApplyOverride("decoder.hidden=64,x", config).ok());
  EXPECT_EQ(config.SerializeAsString(), before.SerializeAsString());
}

TEST(ConfigTest, ValidationRejectsOutOfRangeValuesByName) {
  v1::TrainConfig config = *LoadPreset("local");
  config.mutable_ppo()->set_discount(1.5f);
  absl::Status status = ValidateConfig(config);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status, "ppo.discount")) << status;

  config = *LoadPreset("local");
  config.set_algo(v1::ALGO_UNSPECIFIED);
  EXPECT_TRUE(Contains(ValidateConfig(config), "algo"));

  // Sizes that other checks divide by are refused, not a division by zero.
  for (const char* zero : {"rollout.num_envs=0", "rollout.unroll_length=0"}) {
    config = *LoadPreset("local");
    ASSERT_TRUE(ApplyOverride(zero, config).ok());
    EXPECT_EQ(ValidateConfig(config).code(), absl::StatusCode::kInvalidArgument) << zero;
  }
  config = *LoadPreset("local");
  ASSERT_TRUE(ApplyOverride("encoder.hidden=32,-5", config).ok());
  EXPECT_TRUE(Contains(ValidateConfig(config), "encoder.hidden")) << ValidateConfig(config);

  config = *LoadPreset("local");
  config.mutable_ppo()->set_batch_size(63);  // not whole unrolls per env
  EXPECT_TRUE(Contains(ValidateConfig(config), "multiple of rollout.num_envs"));
}

TEST(ConfigTest, DeviceIsAutoCpuOrCuda) {
  v1::TrainConfig config = *LoadPreset("local");
  EXPECT_EQ(config.device(), v1::DEVICE_AUTO) << "unset means auto";
  for (const char* device : {"auto", "cpu", "cuda", "DEVICE_CUDA"}) {
    ASSERT_TRUE(ApplyOverride(absl::StrCat("device=", device), config).ok()) << device;
    EXPECT_TRUE(ValidateConfig(config).ok()) << device;
  }
  EXPECT_EQ(config.device(), v1::DEVICE_CUDA);
  const absl::Status status = ApplyOverride("device=gpu", config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "'gpu' is not a valid device; valid: auto, cpu, cuda")) << status;
  config.set_device(static_cast<v1::Device>(7));  // e.g. from a newer peer
  EXPECT_TRUE(Contains(ValidateConfig(config), "device")) << ValidateConfig(config);
}

// The names users type keep working now that the fields are enums, in
// overrides and in config files, next to protobuf's own value names.
TEST(ConfigTest, EnumFieldsTakeTheNamesUsersType) {
  v1::TrainConfig config = *LoadPreset("local");
  EXPECT_EQ(config.algo(), v1::ALGO_GORL_FM);  // the preset says algo: "gorl-fm"
  EXPECT_EQ(config.stages().collect_with(), v1::COLLECT_WITH_BEST);
  EXPECT_EQ(config.refine().inputs(), v1::REFINE_INPUTS_PRIOR);
  ASSERT_TRUE(ApplyOverride("algo=ppo", config).ok());
  ASSERT_TRUE(ApplyOverride("stages.collect_with=final", config).ok());
  ASSERT_TRUE(ApplyOverride("refine.inputs=REFINE_INPUTS_ENCODER", config).ok());
  EXPECT_EQ(config.algo(), v1::ALGO_PPO);
  EXPECT_EQ(config.stages().collect_with(), v1::COLLECT_WITH_FINAL);
  EXPECT_EQ(config.refine().inputs(), v1::REFINE_INPUTS_ENCODER);
  EXPECT_EQ(EnumUserName(v1::ALGO_GORL_DIFF), "gorl-diff");
  EXPECT_EQ(EnumUserName(v1::COLLECT_WITH_BEST), "best");

  const v1::TrainConfig before = config;
  const absl::Status unknown = ApplyOverride("algo=gorl-xl", config);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(unknown, "'gorl-xl' is not a valid algo; valid: ppo, gorl-fm, gorl-diff"))
      << unknown;
  EXPECT_FALSE(ApplyOverride("algo=unspecified", config).ok());
  EXPECT_EQ(config.SerializeAsString(), before.SerializeAsString());

  // In files: both spellings; a comment that looks like a field is left alone.
  absl::StatusOr<v1::TrainConfig> parsed = ParseConfig(
      "# algo: \"not-an-algo\"\nalgo: \"gorl-diff\"\nstages {\n\tcollect_with: \"final\" }\n"
      "device: DEVICE_CPU\n",
      "file");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->algo(), v1::ALGO_GORL_DIFF);
  EXPECT_EQ(parsed->stages().collect_with(), v1::COLLECT_WITH_FINAL);
  EXPECT_EQ(parsed->device(), v1::DEVICE_CPU);
  const absl::Status bad = ParseConfig("task: \"x\"\nalgo: \"sac\"\n", "bad.textproto").status();
  EXPECT_TRUE(Contains(bad, "bad.textproto: line 2: algo: 'sac' is not a valid algo")) << bad;
}

TEST(ConfigTest, TextRoundTripAndParseErrorsWithLineNumbers) {
  const v1::TrainConfig config = *LoadPreset("reference");
  absl::StatusOr<v1::TrainConfig> again = ParseConfig(ConfigToText(config), "round trip");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), config.SerializeAsString());
  absl::Status status = ParseConfig("task: \"x\"\nppo { clip_epsilon: }\n", "bad.textproto").status();
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status, "bad.textproto")) << status;
  EXPECT_TRUE(Contains(status, "line 2")) << status;
  EXPECT_EQ(LoadPreset("fast").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadPreset("/nonexistent/x.textproto").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gorl
