// gorl: GoRL training and tooling. `gorl help` lists the subcommands.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "cli/commands.h"
#include "common/process_init.h"

ABSL_FLAG(std::string, assets, "",
          "Model assets root holding dm_control/ and gym/ (default: $GORL_ASSETS)");
ABSL_FLAG(std::string, task, "", "Task name (see `gorl tasks`); eval defaults to cheetah-run, train to the preset's");
ABSL_FLAG(int64_t, seed, -1, "Random seed (default: 0, or the preset's for train)");
ABSL_FLAG(int, threads, 1, "Threads that step environments");
ABSL_FLAG(bool, json, false, "Print machine-readable JSON instead of text");

namespace {

constexpr char kUsage[] =
    "gorl <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  tasks   List every task with observation/action sizes and timing\n"
    "  eval    Evaluate a policy (random|zero) on a task: mean/std of the return\n"
    "  train   Train ppo / gorl-fm / gorl-diff (presets: local, paper, reference): starts\n"
    "          the learner, refiner and actors as local processes (--in_process: one process)\n"
    "  learner The learner role: serves actors (--listen), calls the refiner (--refiner)\n"
    "  refiner The refiner role: trains decoders for the learner (--listen)\n"
    "  actor   One actor: steps envs for the learner at --learner\n"
    "  bench   Benchmarks: `bench envs` times every task against raw mj_step,\n"
    "          `bench train` the gRPC runtime against the in-process driver\n"
    "  help    This text\n"
    "\n"
    "Examples:\n"
    "  gorl tasks --json\n"
    "  gorl eval --task cheetah-run --policy random --episodes 10 --seed 0\n"
    "  gorl train --preset local --algo gorl-fm --task cheetah-run ppo.clip_epsilon=0.2\n"
    "  gorl bench envs --tasks cheetah-run,walker-walk --threads 1\n"
    "  gorl bench train --task cheetah-run --iterations 10 --actors 1\n"
    "  gorl learner --listen 0.0.0.0:50051 --refiner refiner:50052 --task cheetah-run\n"
    "  gorl actor --learner learner:50051 --task cheetah-run --actor_envs 16\n"
    "\n"
    "Run `gorl <command> --helpfull` for every flag.";

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"tasks", gorl::cli::RunTasksCommand},
    {"eval", gorl::cli::RunEvalCommand},
    {"train", gorl::cli::RunTrainCommand},
    {"bench", gorl::cli::RunBenchCommand},
    {"learner", gorl::cli::RunLearnerCommand},
    {"refiner", gorl::cli::RunRefinerCommand},
    {"actor", gorl::cli::RunActorCommand},
};

}  // namespace

int main(int argc, char** argv) {
  gorl::InitProcess(argv[0]);
  absl::SetProgramUsageMessage(kUsage);
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::printf("%s\n", kUsage);
    return argc < 2 ? gorl::cli::kExitUsage : gorl::cli::kExitOk;
  }
  const std::string name = argv[1];
  for (const Command& command : kCommands) {
    if (name != command.name) continue;
    // Parse the flags after the subcommand; positional words are passed on.
    std::vector<char*> rest = {argv[0]};
    for (int i = 2; i < argc; ++i) rest.push_back(argv[i]);
    std::vector<char*> positional =
        absl::ParseCommandLine(static_cast<int>(rest.size()), rest.data());
    std::vector<std::string> args(positional.begin() + 1, positional.end());
    return command.run(args);
  }
  std::fprintf(stderr, "gorl: unknown command '%s'\n\n%s\n", name.c_str(), kUsage);
  return gorl::cli::kExitUsage;
}
