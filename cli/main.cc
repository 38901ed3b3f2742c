// gorl: GoRL training and tooling. One CLI::App with a subcommand per
// command; each command owns its flags (cli/README.md says why CLI11).
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/usage.h"
#include "common/build_info.h"
#include "common/process_init.h"
#include "runtime/exit_codes.h"

namespace {

constexpr char kDescription[] =
    "gorl: GoRL training and tooling. The learner, the refiner and the actors run as separate "
    "processes over gRPC; `gorl train` starts them all on this machine.";

constexpr char kExamples[] =
    "Run 'gorl <command> --help' (or 'gorl help <command>') for a command's flags.\n"
    "\n"
    "Examples:\n"
    "  gorl tasks --json\n"
    "  gorl eval --task cheetah-run --policy random --episodes 10 --seed 0\n"
    "  gorl train --preset local --algo gorl-fm --task cheetah-run ppo.clip_epsilon=0.2\n"
    "  gorl bench envs --tasks cheetah-run,walker-walk --threads 1\n"
    "  gorl bench train --task cheetah-run --iterations 10 --actors 1\n"
    "  gorl certs --out tls --hosts learner,refiner --client_count 4\n"
    "  gorl health --target localhost:8080 --service gorl.v1.Learner\n"
    "  gorl learner --listen 0.0.0.0:50051 --refiner refiner:50052 --task cheetah-run "
    "--tls_ca tls/ca.pem ...\n"
    "  gorl actor --learner learner:50051 --task cheetah-run --actor_envs 16 --tls_ca tls/ca.pem "
    "...";

}  // namespace

// Outside parse(), CLI11 throws only while commands are registered (a
// duplicate name: a programming error), where terminating is right.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  gorl::InitProcess(argv[0]);
  using gorl::cli::Command;
  CLI::App gorl_app(kDescription, "gorl");
  gorl::cli::ConfigureHelp(gorl_app);

  std::vector<Command> commands = {
      gorl::cli::AddTasksCommand(gorl_app),   gorl::cli::AddEvalCommand(gorl_app),
      gorl::cli::AddTrainCommand(gorl_app),   gorl::cli::AddLearnerCommand(gorl_app),
      gorl::cli::AddRefinerCommand(gorl_app), gorl::cli::AddActorCommand(gorl_app),
      gorl::cli::AddCertsCommand(gorl_app),   gorl::cli::AddConfigCommand(gorl_app),
      gorl::cli::AddHealthCommand(gorl_app),  gorl::cli::AddSampleCommand(gorl_app),
      gorl::cli::AddSweepCommand(gorl_app),   gorl::cli::AddReportCommand(gorl_app),
  };
  CLI::App* bench = gorl_app.add_subcommand(
      "bench",
      "Benchmarks: `bench envs` times every task against raw mj_step, `bench actor` one actor "
      "thread with inference against it, `bench train` the gRPC runtime against the "
      "in-process driver");
  bench->footer(
      "Run 'gorl bench envs --help', 'gorl bench actor --help' or 'gorl bench train --help' for "
      "their flags.");
  commands.push_back(gorl::cli::AddBenchEnvsCommand(*bench));
  commands.push_back(gorl::cli::AddBenchTrainCommand(*bench));
  commands.push_back(gorl::cli::AddBenchActorCommand(*bench));
  std::vector<std::string> help_topic;
  CLI::App* help = gorl_app.add_subcommand(
      "help", "List the commands, or show one command's usage, flags and examples");
  help->add_option("command", help_topic, "A command, e.g. train or bench envs")->default_str("");
  help->footer("Examples:\n  gorl help\n  gorl help train\n  gorl help bench envs");

  bool print_version = false;
  gorl_app.add_flag("--version", print_version,
                    "Print this build's version (git describe of its checkout) and exit");
  gorl_app.footer(kExamples);  // after the subcommands: they would inherit it

  if (argc < 2) {
    std::printf("%s", gorl_app.help().c_str());
    return gorl::runtime::kExitUsage;
  }
  try {
    gorl_app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", gorl_app.help().c_str());  // the selected command's help
    return gorl::runtime::kExitOk;
  } catch (const CLI::ParseError& error) {
    return gorl::cli::ReportUsageError(gorl_app, error.what());
  }
  if (const int code = gorl::cli::CheckLeftovers(gorl_app); code != gorl::runtime::kExitOk) {
    return code;
  }
  if (print_version) {
    std::printf("gorl %s\n", gorl::BuildVersion());
    return gorl::runtime::kExitOk;
  }
  if (help->parsed()) return gorl::cli::PrintHelpFor(gorl_app, help_topic);
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  if (bench->parsed()) {
    return gorl::cli::ReportUsageError(gorl_app, "name a benchmark: envs, actor or train");
  }
  return gorl::cli::ReportUsageError(gorl_app, "name a command");
}
