#include "runtime/sweep.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/config_diff.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"
#include "learner/checkpoint.h"
#include "runtime/exit_codes.h"
#include "runtime/run_directory.h"
#include "runtime/run_lock.h"
#include "runtime/shutdown_signals.h"
#include "runtime/status_line.h"
#include "runtime/subprocess.h"

namespace gorl::runtime {
namespace {

// How long stopped runs get to write their checkpoints: a launcher stops
// its roles in order and a refinement in flight is cancelled, so this
// bounds a hung child, not a slow one.
constexpr auto kStopGrace = std::chrono::minutes(10);
constexpr absl::Duration kProgressEvery = absl::Seconds(2);
constexpr absl::Duration kPaceWarmUp = absl::Minutes(5);

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

bool Finished(const std::string& run_dir) { return FileExists(run_dir + "/final_eval.json"); }

// The env steps of the last row of <run_dir>/metrics.jsonl (0 when none):
// the sweep's view of a running run's progress.
int64_t LastEnvSteps(const std::string& run_dir) {
  std::ifstream in(run_dir + "/metrics.jsonl", std::ios::binary);
  if (!in) return 0;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - 8192);
  in.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  const std::string key = "\"env_steps\": ";
  const size_t at = tail.rfind(key);
  if (at == std::string::npos) return 0;
  return std::strtoll(tail.c_str() + at + key.size(), nullptr, 10);
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  return absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

struct Cell {
  SweepRun run;
  int64_t total_env_steps = 0;
  bool resume = false;     // it has a checkpoint to continue from
  bool overwrite = false;  // it holds files of a run that never checkpointed
  // When the preset changed since the run started: what changed (saved ->
  // now). The run continues with its own configuration.
  std::string preset_drift;
  std::unique_ptr<Child> child;
  enum class State { kPending, kRunning, kFinished, kFailed, kStopped } state = State::kPending;
};

// <run_dir>/sweep_cell.json: the command the sweep started the run with
// (its preset or config file and its overrides; the task, algo and seed are
// the cell's), so that a rerun can tell a changed command from a preset that
// changed under an unchanged one.
std::string CellFile(const SweepRun& run) { return run.dir + "/sweep_cell.json"; }

std::string CellCommand(const ConfigSource& config) {
  return JsonRow()
      .Add("preset", config.config_file.empty() ? config.preset : "")
      .Add("config_file", config.config_file)
      .Add("overrides", absl::StrJoin(config.overrides, " "))
      .ToString();
}

std::optional<std::string> StartedWith(const SweepRun& run) {
  std::ifstream in(CellFile(run));
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// Whether every change lies outside what the command sets (the grid's
// task, algo and seed, and the overrides) of a built-in preset: a preset can
// change only with gorl itself, while an edited --config file is the user's.
bool OnlyPresetFields(const SweepRun& run, const std::vector<ConfigChange>& changes) {
  if (!run.config.config_file.empty()) return false;
  std::vector<std::string> commanded = OverriddenPaths(run.config.overrides);
  commanded.insert(commanded.end(), {"preset", "task", "algo", "seed"});
  for (const ConfigChange& change : changes) {
    for (const std::string& field : commanded) {
      if (PathWithin(change.path, field)) return false;
    }
  }
  return true;
}

// For a saved run whose configuration differs from the one the sweep builds
// for it now (`changes`, saved -> now): the changes, when the sweep started
// it with this same command and only the preset changed since (a newer
// gorl); else FailedPrecondition: a changed grid is a new sweep.
absl::StatusOr<std::string> PresetDrift(const SweepRun& run,
                                        const std::vector<ConfigChange>& changes) {
  const std::string refusal = absl::StrCat(
      run.dir,
      " holds a run of another configuration (saved -> now: ", FormatConfigChanges(changes), ")");
  const std::optional<std::string> started_with = StartedWith(run);
  if (!started_with.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(refusal,
                     "; use a new sweep directory, or, if only the preset changed since the run "
                     "started (a newer gorl), continue the run alone with `gorl train --resume ",
                     run.dir, "`"));
  }
  const std::string now = CellCommand(run.config);
  if (*started_with != now) {
    return absl::FailedPreconditionError(absl::StrCat(refusal, ": the sweep started it with ",
                                                      *started_with, ", this command gives ", now,
                                                      "; use a new sweep directory"));
  }
  if (!OnlyPresetFields(run, changes)) {
    return absl::FailedPreconditionError(absl::StrCat(refusal, "; use a new sweep directory"));
  }
  return FormatConfigChanges(changes);
}

// Says how each cell starts, and refuses a directory that holds a run of
// another configuration.
absl::Status Inspect(Cell& cell) {
  const std::string& dir = cell.run.dir;
  cell.total_env_steps = cell.run.built.total_env_steps();
  const bool has_run_files = !RunFilesIn(dir).empty();
  const bool has_checkpoint = HasCheckpoint(dir);
  if (has_run_files) {
    // A run that another process is training (another sweep, a `gorl train
    // --resume`) is refused before anything starts.
    if (absl::StatusOr<RunLock> probe = RunLock::Acquire(dir);
        !probe.ok() && probe.status().code() == absl::StatusCode::kFailedPrecondition) {
      return probe.status();
    }
  }
  if (has_checkpoint) {
    // Only looked at here: `gorl train --resume` sets an unreadable latest aside.
    absl::StatusOr<SavedRun> saved = LoadSavedRun(dir, learner::UnreadableLatest::kLeave);
    if (!saved.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " holds a run that cannot be continued (", saved.status().message(), ")"));
    }
    const std::vector<ConfigChange> changes = ConfigChanges(saved->config, cell.run.built);
    if (!changes.empty()) {
      GORL_ASSIGN_OR_RETURN(cell.preset_drift, PresetDrift(cell.run, changes));
    }
    cell.total_env_steps = saved->config.total_env_steps();
  }
  if (Finished(dir)) {
    cell.state = Cell::State::kFinished;
  } else if (has_checkpoint) {
    cell.resume = true;
  } else {
    cell.overwrite = has_run_files;
  }
  return absl::OkStatus();
}

// Records the command a fresh cell starts with (CellFile).
absl::Status WriteCellFile(const Cell& cell) {
  GORL_RETURN_IF_ERROR(MakeDirs(cell.run.dir));
  std::ofstream out(CellFile(cell.run), std::ios::trunc);
  out << CellCommand(cell.run.config) << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", CellFile(cell.run)));
  return absl::OkStatus();
}

std::vector<std::string> TrainArgs(const std::string& self, const Cell& cell,
                                   const SweepOptions& options) {
  std::vector<std::string> args = {self, "train"};
  if (cell.resume) {
    args.insert(args.end(), {"--resume", cell.run.dir});
  } else {
    const ConfigSource& c = cell.run.config;
    args.insert(args.end(), {"--run_dir", cell.run.dir, "--task", c.task, "--algo", c.algo,
                             "--seed", absl::StrCat(c.seed)});
    if (!c.config_file.empty()) {
      args.insert(args.end(), {"--config", c.config_file});
    } else {
      args.insert(args.end(), {"--preset", c.preset});
    }
    if (cell.overwrite) args.push_back("--overwrite");
  }
  if (options.in_process) args.push_back("--in_process");
  if (options.actors > 0) args.insert(args.end(), {"--actors", absl::StrCat(options.actors)});
  if (!options.in_process) {
    args.insert(args.end(), {"--start_timeout", absl::StrCat(options.start_timeout_s)});
  }
  if (!options.assets.empty()) args.insert(args.end(), {"--assets", options.assets});
  if (!cell.resume) {
    for (const std::string& word : cell.run.config.overrides) args.push_back(word);
  }
  return args;
}

class Sweep {
 public:
  Sweep(const SweepOptions& options, std::vector<Cell> cells, std::string self)
      : options_(options), cells_(std::move(cells)), self_(std::move(self)) {}

  int Run() {
    for (const Cell& cell : cells_) steps_at_start_ += StepsOf(cell);
    started_ = absl::Now();
    std::fprintf(stderr, "[sweep] %zu runs in %s: %d finished already, up to %d at once\n",
                 cells_.size(), options_.dir.c_str(), Count(Cell::State::kFinished),
                 options_.parallel);
    for (const Cell& cell : cells_) {
      if (cell.preset_drift.empty() || cell.state == Cell::State::kFinished) continue;
      std::fprintf(stderr,
                   "[sweep] %s: the %s preset has changed since this run started (saved -> now: "
                   "%s); the run keeps its own configuration (%s/config.textproto)\n",
                   cell.run.name.c_str(), cell.run.built.preset().c_str(),
                   cell.preset_drift.c_str(), cell.run.dir.c_str());
    }
    while (true) {
      if (ShutdownSignalReceived() != 0) return Stop();
      Reap();
      StartPending();
      if (Count(Cell::State::kRunning) == 0) break;
      ShowProgress(false);
      // Woken early when a child exits.
      for (Cell& cell : cells_) {
        if (cell.state == Cell::State::kRunning) {
          cell.child->Wait(std::chrono::milliseconds(500));
          break;
        }
      }
    }
    ShowProgress(true);
    status_.Break();
    const int failed = Count(Cell::State::kFailed);
    if (failed > 0) {
      std::fprintf(stderr, "[sweep] %d of %zu runs failed (see their logs); rerun to retry them\n",
                   failed, cells_.size());
      return kExitFailure;
    }
    std::fprintf(stderr, "[sweep] every run finished\n");
    return options_.report ? Report() : kExitOk;
  }

 private:
  int Count(Cell::State state) const {
    return static_cast<int>(std::count_if(cells_.begin(), cells_.end(),
                                          [state](const Cell& c) { return c.state == state; }));
  }

  int64_t StepsOf(const Cell& cell) const {
    return cell.state == Cell::State::kFinished ? cell.total_env_steps : LastEnvSteps(cell.run.dir);
  }

  void StartPending() {
    for (Cell& cell : cells_) {
      if (Count(Cell::State::kRunning) >= options_.parallel) return;
      if (cell.state != Cell::State::kPending) continue;
      if (!cell.resume) {
        if (const absl::Status written = WriteCellFile(cell); !written.ok()) {
          status_.Break();
          std::fprintf(stderr, "[sweep] %s: cannot start: %s\n", cell.run.name.c_str(),
                       written.ToString().c_str());
          cell.state = Cell::State::kFailed;
          continue;
        }
      }
      ChildOptions child;
      child.argv = TrainArgs(self_, cell, options_);
      child.executable = kThisExecutable;
      child.stderr_path = cell.run.dir + ".log";
      absl::StatusOr<std::unique_ptr<Child>> spawned = Child::Spawn(child);
      if (!spawned.ok()) {
        status_.Break();
        std::fprintf(stderr, "[sweep] %s: cannot start: %s\n", cell.run.name.c_str(),
                     spawned.status().ToString().c_str());
        cell.state = Cell::State::kFailed;
        continue;
      }
      cell.child = std::move(*spawned);
      cell.state = Cell::State::kRunning;
      status_.Break();
      std::fprintf(stderr, "[sweep] %s %s (log %s.log)\n", cell.resume ? "resuming" : "starting",
                   cell.run.name.c_str(), cell.run.dir.c_str());
    }
  }

  void Reap() {
    for (Cell& cell : cells_) {
      if (cell.state != Cell::State::kRunning || !cell.child->Poll()) continue;
      const int code = cell.child->exit_code();
      if (code == kExitOk && Finished(cell.run.dir)) {
        cell.state = Cell::State::kFinished;
        status_.Break();
        std::fprintf(stderr, "[sweep] %s finished\n", cell.run.name.c_str());
      } else {
        cell.state = Cell::State::kFailed;
        status_.Break();
        std::fprintf(stderr, "[sweep] %s failed (exit %d); see %s.log\n", cell.run.name.c_str(),
                     code, cell.run.dir.c_str());
      }
    }
  }

  int Stop() {
    const int signal = ShutdownSignalReceived();
    status_.Break();
    std::fprintf(stderr, "[sweep] stopping the running runs (each writes its checkpoint)\n");
    for (Cell& cell : cells_) {
      if (cell.state == Cell::State::kRunning) cell.child->Signal(SIGTERM);
    }
    for (Cell& cell : cells_) {
      if (cell.state != Cell::State::kRunning) continue;
      if (!cell.child->Wait(kStopGrace)) cell.child->Terminate(std::chrono::seconds(10));
      cell.state = Finished(cell.run.dir) ? Cell::State::kFinished : Cell::State::kStopped;
    }
    std::fprintf(stderr,
                 "[sweep] stopped: %d of %zu runs finished; run the same command again to "
                 "continue\n",
                 Count(Cell::State::kFinished), cells_.size());
    return 128 + signal;
  }

  // The status line: runs done, the running ones with their env steps, and
  // the ETA from this sweep's own pace.
  void ShowProgress(bool force) {
    const absl::Time now = absl::Now();
    int64_t done_steps = 0;
    int64_t total_steps = 0;
    std::string running;
    for (const Cell& cell : cells_) {
      const int64_t steps = std::min(StepsOf(cell), cell.total_env_steps);
      done_steps += steps;
      total_steps += cell.total_env_steps;
      if (cell.state == Cell::State::kRunning) {
        absl::StrAppend(&running, " ", cell.run.name,
                        absl::StrFormat(" %.1fM/%.1fM", steps / 1e6, cell.total_env_steps / 1e6));
      }
    }
    const double seconds = absl::ToDoubleSeconds(now - started_);
    // The first minutes are start-up (roles loading, resumed runs' first
    // iteration): a pace measured over them would promise days.
    const double pace = seconds >= absl::ToDoubleSeconds(kPaceWarmUp)
                            ? (done_steps - steps_at_start_) / seconds
                            : 0;
    const std::string eta =
        pace > 0 ? FormatDuration(static_cast<double>(total_steps - done_steps) / pace) : "-";
    status_.Show(
        absl::StrFormat("[sweep] %d/%zu done  running:%s  ETA %s", Count(Cell::State::kFinished),
                        cells_.size(), running.empty() ? " -" : running, eta),
        force);
  }

  int Report() {
    ChildOptions child;
    child.argv = {self_, "report", options_.dir, "--out", options_.dir + "/report"};
    child.executable = kThisExecutable;
    if (!options_.assets.empty()) {
      child.argv.insert(child.argv.end(), {"--assets", options_.assets});
    }
    absl::StatusOr<std::unique_ptr<Child>> report = Child::Spawn(child);
    if (!report.ok()) {
      std::fprintf(stderr, "[sweep] cannot start the report: %s\n",
                   report.status().ToString().c_str());
      return kExitFailure;
    }
    while (!(*report)->Wait(std::chrono::milliseconds(500))) {
      if (ShutdownSignalReceived() != 0) (*report)->Signal(SIGTERM);
    }
    return (*report)->exit_code();
  }

  const SweepOptions& options_;
  std::vector<Cell> cells_;
  const std::string self_;
  int64_t steps_at_start_ = 0;
  absl::Time started_;
  StatusLine status_{kProgressEvery};
};

}  // namespace

absl::StatusOr<std::vector<SweepRun>> PlanSweep(const SweepOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("the sweep needs a directory");
  if (options.tasks.empty() || options.algos.empty() || options.seeds.empty()) {
    return absl::InvalidArgumentError("the sweep needs at least one task, algorithm and seed");
  }
  if (options.parallel < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--parallel must be >= 1, got ", options.parallel));
  }
  std::vector<SweepRun> runs;
  std::set<std::string> names;
  for (const std::string& task : options.tasks) {
    for (const std::string& algo : options.algos) {
      for (const int64_t seed : options.seeds) {
        if (seed < 0) return absl::InvalidArgumentError(absl::StrCat("seed ", seed, " < 0"));
        SweepRun run;
        run.config = options.config;
        run.config.task = task;
        run.config.algo = algo;
        run.config.seed = seed;
        absl::StatusOr<v1::TrainConfig> config = BuildTrainConfig(run.config);
        if (!config.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(task, " / ", algo, " / seed ", seed, ": ", config.status().message()));
        }
        run.built = *std::move(config);
        // Canonical names, so that `gorl-fm` and `ALGO_GORL_FM` are one run.
        run.config.algo = EnumUserName(run.built.algo());
        run.name = absl::StrCat(run.built.task(), "-", run.config.algo, "-s", seed);
        run.dir = absl::StrCat(options.dir, "/", run.name);
        if (!names.insert(run.name).second) {
          return absl::InvalidArgumentError(absl::StrCat(run.name, " appears twice in the grid"));
        }
        runs.push_back(std::move(run));
      }
    }
  }
  return runs;
}

absl::StatusOr<int> RunSweep(const SweepOptions& options) {
  GORL_ASSIGN_OR_RETURN(std::vector<SweepRun> runs, PlanSweep(options));
  GORL_RETURN_IF_ERROR(MakeDirs(options.dir));
  std::vector<Cell> cells;
  for (SweepRun& run : runs) {
    Cell cell;
    cell.run = std::move(run);
    GORL_RETURN_IF_ERROR(Inspect(cell));
    cells.push_back(std::move(cell));
  }
  GORL_ASSIGN_OR_RETURN(std::string self, SelfExecutable());
  return Sweep(options, std::move(cells), std::move(self)).Run();
}

}  // namespace gorl::runtime
