// Help and usage errors of the `gorl` command line: what every command's
// help looks like, and the one-line messages (exit 2) for flags or words
// that the command does not take.
#ifndef GORL_CLI_USAGE_H_
#define GORL_CLI_USAGE_H_

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace gorl::cli {

// Settings the subcommands inherit, so call it before adding them: defaults
// shown in help, "Commands" headings, and arguments no flag takes kept for
// CheckLeftovers (CLI11's own message would not name the command).
void ConfigureHelp(CLI::App& gorl);

// The parsed command: "gorl", "gorl train", "gorl bench envs".
std::string CommandPath(const CLI::App& gorl);

// "<command>: <message>" and "Run '<command> --help' for usage." on
// stderr; returns the usage exit code.
int ReportUsageError(const CLI::App& gorl, const std::string& message);

// The first argument that no flag or positional of the parsed command took:
// an unknown flag (naming the commands that do have it), an unknown command
// or a stray word is reported as a usage error. Returns 0 when there is
// none, else the usage exit code.
int CheckLeftovers(const CLI::App& gorl);

// `gorl help [command...]`: the command list, or one command's help.
int PrintHelpFor(const CLI::App& gorl, const std::vector<std::string>& topic);

}  // namespace gorl::cli

#endif  // GORL_CLI_USAGE_H_
