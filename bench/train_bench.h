// `gorl bench train`: one training configuration run by the in-process
// driver and by the multi-process gRPC runtime, alternately, in one
// invocation, so that their ratio survives a noisy, shared machine.
//
// The library only times and compares: the caller supplies a TrainRunner
// that does the run (the CLI hands it runtime::TrainInProcess and the
// `gorl train` launcher), so that this target needs neither LibTorch nor
// gRPC. Throughput comes from the run's own metrics.jsonl, which both
// drivers write with the same stage coordinator and the same clock.
#ifndef GORL_BENCH_TRAIN_BENCH_H_
#define GORL_BENCH_TRAIN_BENCH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gorl/v1/config.pb.h"

namespace gorl::bench {

enum class TrainDriver { kInProcess, kGrpc };

// "in-process" or "grpc".
const char* DriverName(TrainDriver driver);

// Trains `config` to the end with `driver`; `run_dir` exists and holds
// config.textproto. Returns when every process of the run has exited.
using TrainRunner = std::function<absl::Status(TrainDriver driver, const v1::TrainConfig& config,
                                               const std::string& run_dir)>;

// `base` cut to `iterations` PPO iterations, with evaluation only at the
// end (one deterministic pass of `eval_episodes`), so that the run times
// the training iterations rather than evaluation.
v1::TrainConfig BenchTrainConfig(v1::TrainConfig base, int iterations, int eval_episodes);

// What the update rows of one run's metrics.jsonl say.
struct IterationTiming {
  int iterations = 0;
  int64_t env_steps = 0;  // PPO env steps after the last iteration
  // Loop start to the end of the first iteration: the first snapshot, in
  // the gRPC runtime also the actors' start-up and first join.
  double first_iteration_seconds = 0.0;
  // Env steps per second over the iterations that directly follow another
  // iteration (no evaluation, refinement or the start in between); 0 when
  // there are none (a one-iteration run).
  double steps_per_second = 0.0;
};

absl::StatusOr<IterationTiming> ReadIterationTiming(const std::string& metrics_path);

struct TrainRunTiming {
  TrainDriver driver = TrainDriver::kInProcess;
  int round = 0;  // 1-based
  std::string run_dir;
  IterationTiming iterations;
  // The whole run as its caller sees it: start-up, every iteration, the
  // final evaluation and shutdown.
  double wall_seconds = 0.0;
  double end_to_end_steps_per_second() const {
    return wall_seconds > 0 ? iterations.env_steps / wall_seconds : 0.0;
  }
};

// Medians of one driver's runs.
struct DriverSummary {
  double iteration_steps_per_second = 0.0;
  double end_to_end_steps_per_second = 0.0;
  double first_iteration_seconds = 0.0;
  double wall_seconds = 0.0;
};

struct TrainBenchResult {
  std::vector<TrainRunTiming> runs;
  DriverSummary in_process;
  DriverSummary grpc;
  // gRPC / in-process; 0 where a figure is missing.
  double iteration_ratio() const;
  double end_to_end_ratio() const;
};

struct TrainBenchOptions {
  v1::TrainConfig config;  // already cut (BenchTrainConfig)
  int rounds = 2;          // each round runs both drivers; the order alternates
  std::string work_dir;    // run k of driver d goes to <work_dir>/r<k>-<d>
  // Called after each run (progress on a long benchmark); may be empty.
  std::function<void(const TrainRunTiming&)> on_run;
};

// Runs both drivers `rounds` times, in-process first in odd rounds and
// gRPC first in even ones, so that a drift of the machine's speed (another
// process, thermal state) does not favour one driver.
absl::StatusOr<TrainBenchResult> BenchmarkTraining(const TrainBenchOptions& options,
                                                   const TrainRunner& run);

// The human-readable report: one row per run, the medians, and the row
// "ratio grpc/in-process <iterations> <end-to-end>" ("-" for a missing one).
std::string FormatTrainBenchTable(const TrainBenchResult& result);

// The JSON Lines report: {"event": "run", ...} per run, then
// {"event": "summary", ...} with the medians and ratios.
std::string FormatTrainBenchJson(const TrainBenchResult& result, const v1::TrainConfig& config,
                                 int actors);

}  // namespace gorl::bench

#endif  // GORL_BENCH_TRAIN_BENCH_H_
