// The `gorl` subcommands. Each returns the process exit code.
#ifndef GORL_CLI_COMMANDS_H_
#define GORL_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"

// Flags shared by several subcommands (defined in main.cc).
ABSL_DECLARE_FLAG(std::string, assets);
ABSL_DECLARE_FLAG(std::string, task);
ABSL_DECLARE_FLAG(int64_t, seed);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(bool, json);

namespace gorl::cli {

// Exit codes: 0 success, 1 runtime failure, 2 bad usage or input.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int RunTasksCommand(const std::vector<std::string>& args);
int RunEvalCommand(const std::vector<std::string>& args);
int RunTrainCommand(const std::vector<std::string>& args);
int RunBenchCommand(const std::vector<std::string>& args);
// The distributed runtime's roles, one process each (`gorl train` starts
// them all on one machine).
int RunLearnerCommand(const std::vector<std::string>& args);
int RunRefinerCommand(const std::vector<std::string>& args);
int RunActorCommand(const std::vector<std::string>& args);

}  // namespace gorl::cli

#endif  // GORL_CLI_COMMANDS_H_
