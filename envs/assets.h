// Where the MJCF model files come from.
//
// The dm_control (tag 1.0.7) and Gym (commit 1b09a7eb) model files are never
// part of this repository. The assets root is given by --assets DIR or the
// GORL_ASSETS environment variable and must hold dm_control/ and gym/
// (scripts/fetch_assets.sh downloads them; see README "Model assets").
#ifndef GORL_ENVS_ASSETS_H_
#define GORL_ENVS_ASSETS_H_

#include <string>

#include "absl/status/statusor.h"

namespace gorl::envs {

inline constexpr char kAssetsEnvVar[] = "GORL_ASSETS";

// `flag_value` wins when non-empty, then $GORL_ASSETS. The directory must exist.
absl::StatusOr<std::string> ResolveAssetsDir(const std::string& flag_value);

// Full path of `relative` (e.g. "dm_control/cheetah.xml") under `assets_dir`,
// or an error that names both the missing path and the expected file.
absl::StatusOr<std::string> AssetPath(const std::string& assets_dir, const std::string& relative);

}  // namespace gorl::envs

#endif  // GORL_ENVS_ASSETS_H_
