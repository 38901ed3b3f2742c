// `gorl report`: figures and a summary of training runs. The work is
// tools/report/gorl_report.py (python3 with numpy and matplotlib, Debian's
// python3-numpy and python3-matplotlib), which reads the run directories and
// calls back `gorl sample` for the action densities; this finds the script
// and the interpreter and runs it in place of this process.
#ifndef GORL_RUNTIME_REPORT_H_
#define GORL_RUNTIME_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gorl::runtime {

struct ReportOptions {
  // Run directories, or directories of runs (a sweep).
  std::vector<std::string> paths;
  std::string out;
  std::string assets;  // for the densities' rollouts ("" = $GORL_ASSETS)
  int densities = 3;   // states per task at which the stages are compared
  int samples = 2000;  // actions per state and stage
};

// Replaces this process with the report script (its exit code is the
// command's). Returns only on failure: NotFound when the script or python3
// cannot be found (saying where it looked), InvalidArgument for bad options.
// The script: $GORL_REPORT_SCRIPT, else the source tree's
// tools/report/gorl_report.py, else <binary dir>/../share/gorl/. The
// interpreter: $GORL_PYTHON, else /usr/bin/python3, else python3 on PATH.
absl::Status ExecReport(const ReportOptions& options);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_REPORT_H_
