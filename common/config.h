// Run configuration: presets, command-line overrides, validation.
//
// A preset is a text-format gorl.v1.TrainConfig (configs/*.textproto,
// compiled into the binary so it runs from any directory). Overrides are
// "path.to.field=value" strings applied through protobuf reflection, so every
// field is overridable without a flag per hyper-parameter; repeated fields
// take comma-separated values ("encoder.hidden=64,64").
//
// Enum fields (algo, stages.collect_with, refine.inputs, device) take the
// names users type: the value's name without the enum's prefix, lower case,
// '-' for '_' (ALGO_GORL_FM is "gorl-fm", COLLECT_WITH_BEST is "best"), in
// overrides (algo=gorl-fm) and in config files (algo: "gorl-fm"), besides
// protobuf's own form (algo: ALGO_GORL_FM). An unknown name lists the valid
// ones.
//
// Every rule about what a valid configuration is lives in this file's
// Validate* functions; the learner and the refiner call them rather than
// repeating any check.
#ifndef GORL_COMMON_CONFIG_H_
#define GORL_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gorl/v1/config.pb.h"

namespace gorl {

// The user-facing name of an enum value ("gorl-fm" for ALGO_GORL_FM).
std::string EnumUserName(const google::protobuf::EnumValueDescriptor& value);

// The value of `type` named `name` (a user name or the full value name);
// InvalidArgument listing the valid user names otherwise. The zero
// "..._UNSPECIFIED" value is never valid.
absl::StatusOr<const google::protobuf::EnumValueDescriptor*> ParseEnumUserName(
    const google::protobuf::EnumDescriptor& type, absl::string_view name);

template <typename Enum>
std::string EnumUserName(Enum value) {
  const google::protobuf::EnumValueDescriptor* descriptor =
      google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value);
  return descriptor == nullptr ? std::to_string(static_cast<int>(value))
                               : EnumUserName(*descriptor);
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(absl::string_view name) {
  absl::StatusOr<const google::protobuf::EnumValueDescriptor*> value =
      ParseEnumUserName(*google::protobuf::GetEnumDescriptor<Enum>(), name);
  if (!value.ok()) return value.status();
  return static_cast<Enum>((*value)->number());
}

// Whether `algo` trains a generative decoder by refinement (GoRL-FM and
// GoRL-Diff); the others run one stage without refinement.
inline bool HasDecoder(v1::Algo algo) {
  return algo == v1::ALGO_GORL_FM || algo == v1::ALGO_GORL_DIFF;
}

// FPO and DPPO: a flow policy trained directly (docs/learning.md, "Baselines").
inline bool IsFlowBaseline(v1::Algo algo) { return algo == v1::ALGO_FPO || algo == v1::ALGO_DPPO; }

// The flow-baseline section of `config` for its algo (fpo or dppo).
inline const v1::FlowBaselineConfig& FlowBaselineSection(const v1::TrainConfig& config) {
  return config.algo() == v1::ALGO_DPPO ? config.dppo() : config.fpo();
}

// What each rollout step records beyond PPO's fields (message_checks'
// TaskShape): FPO's draws, DPPO's Euler steps; 0 for the other algorithms.
inline int RecordedFpoDraws(const v1::TrainConfig& config) {
  return config.algo() == v1::ALGO_FPO ? config.fpo().draws() : 0;
}
inline int RecordedDppoSteps(const v1::TrainConfig& config) {
  return config.algo() == v1::ALGO_DPPO ? config.dppo().steps() : 0;
}

// Names of the built-in presets ("local", "paper", "reference").
std::vector<std::string> PresetNames();

// A built-in preset by name, or a text-format file when `name_or_path`
// contains a '/' or ends in ".textproto".
absl::StatusOr<v1::TrainConfig> LoadPreset(const std::string& name_or_path);

// Parses text-format config (errors name the line).
absl::StatusOr<v1::TrainConfig> ParseConfig(const std::string& text, const std::string& origin);

// Applies one "path.to.field=value" override.
absl::Status ApplyOverride(const std::string& assignment, v1::TrainConfig& config);

// Checks ranges and consistency of a whole run; the message names the
// offending field and its value.
absl::Status ValidateConfig(const v1::TrainConfig& config);

// The parts of ValidateConfig that one role relies on, for roles that get
// only part of a run's config: the learner's (algo, ppo, first_stage,
// encoder, learner_threads, device) and the refiner's (decoder, and what of
// refine trains it: batch, learning rate, epochs, samples, validation
// split, patience, inputs).
absl::Status ValidateLearnerConfig(const v1::TrainConfig& config);
absl::Status ValidateRefineConfig(const v1::DecoderConfig& decoder, const v1::RefineConfig& refine);

// Text format, as written into a run directory.
std::string ConfigToText(const v1::TrainConfig& config);

// A short multi-line summary of the numbers that decide cost and quality,
// printed at start-up.
std::string DescribeConfig(const v1::TrainConfig& config);

// Env steps that one PPO iteration consumes: batch_size x num_minibatches x unroll_length.
int64_t EnvStepsPerIteration(const v1::TrainConfig& config);

// Episodes of each evaluation at a refinement's hand-over:
// refine.fidelity_episodes, or eval.episodes when it is 0.
int FidelityEpisodes(const v1::TrainConfig& config);

}  // namespace gorl

#endif  // GORL_COMMON_CONFIG_H_
