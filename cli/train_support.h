// What every training entry point shares (`gorl train` in process, the
// `gorl train` launcher, `gorl learner`, `gorl actor`): the run
// configuration from flags and overrides, the run directory, the progress
// line and the final result.
#ifndef GORL_CLI_TRAIN_SUPPORT_H_
#define GORL_CLI_TRAIN_SUPPORT_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "common/metrics_log.h"
#include "gorl/v1/config.pb.h"
#include "learner/training_loop.h"

ABSL_DECLARE_FLAG(std::string, preset);
ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(std::string, algo);
ABSL_DECLARE_FLAG(std::string, run_dir);
ABSL_DECLARE_FLAG(std::string, resume);

namespace gorl::cli {

// Positional `path.to.field=value` arguments; InvalidArgument for anything else.
absl::StatusOr<std::vector<std::string>> ParseOverrides(const std::vector<std::string>& args);

// --preset or --config, then --task, --algo, --seed, then `overrides`; validated.
absl::StatusOr<v1::TrainConfig> BuildConfig(const std::vector<std::string>& overrides);

// `mkdir -p`.
absl::Status MakeDirs(const std::string& path);

// --run_dir, or runs/<task>-<algo>-s<seed>-<time>.
std::string RunDirFor(const v1::TrainConfig& config);

// Creates `run_dir` and writes config.textproto there.
absl::Status PrepareRunDir(const v1::TrainConfig& config, const std::string& run_dir);

// The one-line progress display on stderr (rewritten in place).
void PrintProgress(const learner::Progress& progress);

// The final result as written to <run_dir>/final_eval.json and printed.
JsonRow FinalResult(const v1::TrainConfig& config, const learner::TrainingSummary& summary);

// Writes <run_dir>/final_eval.json and prints the result on stdout.
void ReportResult(const v1::TrainConfig& config, const std::string& run_dir,
                  const learner::TrainingSummary& summary);

// The exit code for a failed command: usage errors (bad input) are 2.
int ExitCodeFor(const absl::Status& status);

}  // namespace gorl::cli

#endif  // GORL_CLI_TRAIN_SUPPORT_H_
