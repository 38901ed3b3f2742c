#include "runtime/run_config.h"

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace gorl::runtime {

absl::Status CheckOverrides(const std::vector<std::string>& words) {
  for (const std::string& word : words) {
    if (word.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", word, "' (overrides look like ppo.clip_epsilon=0.2)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::TrainConfig> BuildTrainConfig(const ConfigSource& source) {
  GORL_RETURN_IF_ERROR(CheckOverrides(source.overrides));
  GORL_ASSIGN_OR_RETURN(
      v1::TrainConfig config,
      LoadPreset(source.config_file.empty() ? source.preset : source.config_file));
  if (!source.task.empty()) config.set_task(source.task);
  if (!source.algo.empty()) GORL_RETURN_IF_ERROR(ApplyOverride("algo=" + source.algo, config));
  if (source.seed >= 0) config.set_seed(source.seed);
  for (const std::string& assignment : source.overrides) {
    GORL_RETURN_IF_ERROR(ApplyOverride(assignment, config));
  }
  GORL_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

}  // namespace gorl::runtime
