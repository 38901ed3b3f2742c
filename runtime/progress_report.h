// What a training run shows a person: the progress status line on stderr
// and the final result (stdout and <run_dir>/final_eval.json). The
// in-process driver, the learner and the launcher print them the same way.
#ifndef GORL_RUNTIME_PROGRESS_REPORT_H_
#define GORL_RUNTIME_PROGRESS_REPORT_H_

#include <string>

#include "common/metrics_log.h"
#include "gorl/v1/config.pb.h"
#include "learner/training_loop.h"

namespace gorl::runtime {

// "[gorl] N/M env steps  S steps/s  stage k/K  eval R  ETA XmYYs", the
// status a StatusLine shows.
std::string FormatProgress(const learner::Progress& progress);

// The final result: task, algo, seed, env steps, wall time and the final
// evaluation's returns.
JsonRow FinalResult(const v1::TrainConfig& config, const learner::TrainingSummary& summary);

// Writes FinalResult to <run_dir>/final_eval.json and prints it on stdout.
void ReportResult(const v1::TrainConfig& config, const std::string& run_dir,
                  const learner::TrainingSummary& summary);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_PROGRESS_REPORT_H_
