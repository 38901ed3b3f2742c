#include "bench/train_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/median.h"
#include "common/config.h"
#include "common/json_line.h"
#include "common/metrics_log.h"
#include "common/status_macros.h"

namespace gorl::bench {
namespace {

using Clock = std::chrono::steady_clock;

DriverSummary Summarize(const std::vector<TrainRunTiming>& runs, TrainDriver driver) {
  std::vector<double> iteration, end_to_end, first, wall;
  for (const TrainRunTiming& run : runs) {
    if (run.driver != driver) continue;
    if (run.iterations.steps_per_second > 0) iteration.push_back(run.iterations.steps_per_second);
    end_to_end.push_back(run.end_to_end_steps_per_second());
    first.push_back(run.iterations.first_iteration_seconds);
    wall.push_back(run.wall_seconds);
  }
  DriverSummary summary;
  summary.iteration_steps_per_second = Median(iteration);
  summary.end_to_end_steps_per_second = Median(end_to_end);
  summary.first_iteration_seconds = Median(first);
  summary.wall_seconds = Median(wall);
  return summary;
}

double Ratio(double grpc, double in_process) {
  return grpc > 0 && in_process > 0 ? grpc / in_process : 0.0;
}

// "-" for a missing (zero) figure.
std::string Cell(double value, int decimals) {
  return value > 0 ? absl::StrFormat("%.*f", decimals, value) : "-";
}

}  // namespace

const char* DriverName(TrainDriver driver) {
  return driver == TrainDriver::kInProcess ? "in-process" : "grpc";
}

v1::TrainConfig BenchTrainConfig(v1::TrainConfig config, int iterations, int eval_episodes) {
  const int64_t total = std::max(1, iterations) * EnvStepsPerIteration(config);
  config.set_total_env_steps(total);
  // The first evaluation is due at the end, where the stage end asks for
  // one anyway: one evaluation per run.
  config.mutable_eval()->set_every_env_steps(total);
  config.mutable_eval()->set_episodes(std::max(1, eval_episodes));
  config.mutable_eval()->set_stochastic(false);
  return config;
}

absl::StatusOr<IterationTiming> ReadIterationTiming(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read ", metrics_path));
  IterationTiming timing;
  bool previous_was_update = false;
  double previous_wall = 0.0;
  int64_t previous_steps = 0;
  int64_t steady_steps = 0;
  double steady_seconds = 0.0;
  std::string line;
  while (std::getline(in, line)) {
    const std::optional<std::string> event = JsonField(line, "event");
    const double wall = JsonNumber(line, "wall_seconds");
    if (!event.has_value() || !std::isfinite(wall)) continue;
    const bool update = *event == "update";
    if (update) {
      const auto steps = static_cast<int64_t>(JsonNumber(line, "env_steps"));
      if (timing.iterations == 0) {
        timing.first_iteration_seconds = wall;
      } else if (previous_was_update) {
        steady_steps += steps - previous_steps;
        steady_seconds += wall - previous_wall;
      }
      ++timing.iterations;
      timing.env_steps = steps;
      previous_steps = steps;
    }
    previous_was_update = update;
    previous_wall = wall;
  }
  if (timing.iterations == 0) {
    return absl::DataLossError(absl::StrCat(metrics_path, " has no update rows"));
  }
  if (steady_seconds > 0) timing.steps_per_second = steady_steps / steady_seconds;
  return timing;
}

double TrainBenchResult::iteration_ratio() const {
  return Ratio(grpc.iteration_steps_per_second, in_process.iteration_steps_per_second);
}

double TrainBenchResult::end_to_end_ratio() const {
  return Ratio(grpc.end_to_end_steps_per_second, in_process.end_to_end_steps_per_second);
}

absl::StatusOr<TrainBenchResult> BenchmarkTraining(const TrainBenchOptions& options,
                                                   const TrainRunner& run) {
  TrainBenchResult result;
  for (int round = 1; round <= std::max(1, options.rounds); ++round) {
    const bool in_process_first = round % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      TrainRunTiming timing;
      timing.driver = (k == 0) == in_process_first ? TrainDriver::kInProcess : TrainDriver::kGrpc;
      timing.round = round;
      timing.run_dir = absl::StrCat(options.work_dir, "/r", round, "-", DriverName(timing.driver));
      const auto start = Clock::now();
      GORL_RETURN_IF_ERROR(run(timing.driver, options.config, timing.run_dir));
      timing.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
      GORL_ASSIGN_OR_RETURN(timing.iterations,
                            ReadIterationTiming(timing.run_dir + "/metrics.jsonl"));
      if (options.on_run) options.on_run(timing);
      result.runs.push_back(std::move(timing));
    }
  }
  result.in_process = Summarize(result.runs, TrainDriver::kInProcess);
  result.grpc = Summarize(result.runs, TrainDriver::kGrpc);
  return result;
}

std::string FormatTrainBenchTable(const TrainBenchResult& result) {
  constexpr char kRow[] = "%-24s %18s %20s %18s %8s\n";
  std::string out = absl::StrFormat(kRow, "run", "iteration steps/s", "end-to-end steps/s",
                                    "first iteration s", "wall s");
  auto row = [&](const std::string& name, double iteration, double end_to_end, double first,
                 double wall) {
    absl::StrAppendFormat(&out, kRow, name, Cell(iteration, 0), Cell(end_to_end, 0), Cell(first, 2),
                          Cell(wall, 2));
  };
  for (const TrainRunTiming& run : result.runs) {
    row(absl::StrCat(DriverName(run.driver), " #", run.round), run.iterations.steps_per_second,
        run.end_to_end_steps_per_second(), run.iterations.first_iteration_seconds,
        run.wall_seconds);
  }
  auto median = [&](const char* name, const DriverSummary& summary) {
    row(name, summary.iteration_steps_per_second, summary.end_to_end_steps_per_second,
        summary.first_iteration_seconds, summary.wall_seconds);
  };
  median("median in-process", result.in_process);
  median("median grpc", result.grpc);
  absl::StrAppendFormat(&out, kRow, "ratio grpc/in-process", Cell(result.iteration_ratio(), 3),
                        Cell(result.end_to_end_ratio(), 3), "", "");
  return out;
}

std::string FormatTrainBenchJson(const TrainBenchResult& result, const v1::TrainConfig& config,
                                 int actors) {
  std::string out;
  for (const TrainRunTiming& run : result.runs) {
    absl::StrAppend(&out,
                    JsonRow()
                        .Add("event", "run")
                        .Add("driver", DriverName(run.driver))
                        .Add("round", run.round)
                        .Add("iterations", run.iterations.iterations)
                        .Add("env_steps", run.iterations.env_steps)
                        .Add("iteration_steps_per_s", run.iterations.steps_per_second)
                        .Add("end_to_end_steps_per_s", run.end_to_end_steps_per_second())
                        .Add("first_iteration_seconds", run.iterations.first_iteration_seconds)
                        .Add("wall_seconds", run.wall_seconds)
                        .ToString(),
                    "\n");
  }
  // A missing figure is null, not 0, so that no reader mistakes it for a rate.
  auto figure = [](double value) { return value > 0 ? value : std::nan(""); };
  absl::StrAppend(
      &out,
      JsonRow()
          .Add("event", "summary")
          .Add("task", config.task())
          .Add("algo", EnumUserName(config.algo()))
          .Add("env_steps_per_iteration", EnvStepsPerIteration(config))
          .Add("actors", actors)
          .Add("rounds", static_cast<int>(result.runs.size() / 2))
          .Add("in_process_iteration_steps_per_s",
               figure(result.in_process.iteration_steps_per_second))
          .Add("grpc_iteration_steps_per_s", figure(result.grpc.iteration_steps_per_second))
          .Add("iteration_ratio", figure(result.iteration_ratio()))
          .Add("in_process_end_to_end_steps_per_s",
               figure(result.in_process.end_to_end_steps_per_second))
          .Add("grpc_end_to_end_steps_per_s", figure(result.grpc.end_to_end_steps_per_second))
          .Add("end_to_end_ratio", figure(result.end_to_end_ratio()))
          .ToString(),
      "\n");
  return out;
}

}  // namespace gorl::bench
