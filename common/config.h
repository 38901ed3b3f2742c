// Run configuration: presets, command-line overrides, validation.
//
// A preset is a text-format gorl.v1.TrainConfig (configs/*.textproto,
// compiled into the binary so it runs from any directory). Overrides are
// "path.to.field=value" strings applied through protobuf reflection, so every
// field is overridable without a flag per hyper-parameter; repeated fields
// take comma-separated values ("encoder.hidden=64,64").
#ifndef GORL_COMMON_CONFIG_H_
#define GORL_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"

namespace gorl {

// Names of the built-in presets ("local", "paper", "reference").
std::vector<std::string> PresetNames();

// A built-in preset by name, or a text-format file when `name_or_path`
// contains a '/' or ends in ".textproto".
absl::StatusOr<v1::TrainConfig> LoadPreset(const std::string& name_or_path);

// Parses text-format config (errors name the line).
absl::StatusOr<v1::TrainConfig> ParseConfig(const std::string& text, const std::string& origin);

// Applies one "path.to.field=value" override.
absl::Status ApplyOverride(const std::string& assignment, v1::TrainConfig& config);

// Checks ranges and consistency; the message names the offending field.
absl::Status ValidateConfig(const v1::TrainConfig& config);

// Text format, as written into a run directory.
std::string ConfigToText(const v1::TrainConfig& config);

// A short multi-line summary of the numbers that decide cost and quality,
// printed at start-up.
std::string DescribeConfig(const v1::TrainConfig& config);

// Env steps that one PPO iteration consumes: batch_size x num_minibatches x unroll_length.
int64_t EnvStepsPerIteration(const v1::TrainConfig& config);

}  // namespace gorl

#endif  // GORL_COMMON_CONFIG_H_
