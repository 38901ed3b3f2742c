// A run's configuration from what a user gives on the command line: a
// built-in preset or a config file, the --task / --algo / --seed
// shortcuts, then `path.to.field=value` overrides (applied in order).
// Plain data in, so that the CLI, the tests and the benchmark build it the
// same way.
#ifndef GORL_RUNTIME_RUN_CONFIG_H_
#define GORL_RUNTIME_RUN_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"

namespace gorl::runtime {

struct ConfigSource {
  std::string preset = "local";        // used when config_file is empty
  std::string config_file;             // a text-format gorl.v1.TrainConfig
  std::string task;                    // "" keeps the preset's
  std::string algo;                    // "" keeps the preset's
  int64_t seed = -1;                   // < 0 keeps the preset's
  std::vector<std::string> overrides;  // path.to.field=value
};

// InvalidArgument naming the first word that is not `path=value`.
absl::Status CheckOverrides(const std::vector<std::string>& words);

// The preset or file, then task, algo, seed, then the overrides; validated.
absl::StatusOr<v1::TrainConfig> BuildTrainConfig(const ConfigSource& source);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_RUN_CONFIG_H_
