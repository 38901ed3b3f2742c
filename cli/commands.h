// The `gorl` subcommands. Each Add*Command registers one subcommand, with
// only the flags that command reads, on its parent CLI::App and returns
// what to run once the command line has been parsed. The commands parse
// and check flags; the work is done by one runtime/ (or bench/) function
// per command.
#ifndef GORL_CLI_COMMANDS_H_
#define GORL_CLI_COMMANDS_H_

#include <functional>

namespace CLI {
class App;
}  // namespace CLI

namespace gorl::cli {

struct Command {
  CLI::App* app = nullptr;  // owned by its parent
  // Reads the flags bound on `app`; returns the process exit code
  // (runtime/exit_codes.h).
  std::function<int()> run;
};

Command AddTasksCommand(CLI::App& gorl);
Command AddEvalCommand(CLI::App& gorl);
Command AddTrainCommand(CLI::App& gorl);
// The resolved configuration as a file for a deployment to mount.
Command AddConfigCommand(CLI::App& gorl);
// The distributed runtime's roles, one process each (`gorl train` starts
// them all on one machine).
Command AddLearnerCommand(CLI::App& gorl);
Command AddRefinerCommand(CLI::App& gorl);
Command AddActorCommand(CLI::App& gorl);
// A run's CA, certificates and token (runtime/certificates.h).
Command AddCertsCommand(CLI::App& gorl);
// A saved policy's actions at given observations (runtime/policy_samples.h).
Command AddSampleCommand(CLI::App& gorl);
// One health probe of a role (runtime/health_check.h).
Command AddHealthCommand(CLI::App& gorl);
// A grid of training runs that a rerun continues (runtime/sweep.h).
Command AddSweepCommand(CLI::App& gorl);
// Figures and tables of runs (runtime/report.h).
Command AddReportCommand(CLI::App& gorl);
// Under `gorl bench`.
Command AddBenchEnvsCommand(CLI::App& bench);
Command AddBenchTrainCommand(CLI::App& bench);
Command AddBenchActorCommand(CLI::App& bench);

}  // namespace gorl::cli

#endif  // GORL_CLI_COMMANDS_H_
