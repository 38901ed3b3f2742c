// `gorl report`: learning curves, refinement fidelity, action densities and
// a results table for run directories (runtime/report.h).
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "runtime/exit_codes.h"
#include "runtime/report.h"

namespace gorl::cli {
namespace {

constexpr char kFooter[] =
    "Writes to --out: curves_steps.png and curves_wall.png (evaluation return against env "
    "steps and wall-clock, one panel per task, mean and std over seeds, stage boundaries "
    "marked), fidelity.png (each refinement's returns and distances), "
    "densities_<task>_<algo>.png "
    "(actions of every stage at the same states, PCA to 2-D, KDE contours), summary.md and "
    "summary.json (final returns per task and algorithm beside the GoRL paper's Table 1). A "
    "directory that is not a usable run is named on stderr and left out. Needs python3 with "
    "numpy and matplotlib (Debian: python3-numpy python3-matplotlib).\n"
    "\n"
    "Examples:\n"
    "  gorl report runs/cheetah-run-gorl-fm-s0-20261201-120000 --out report\n"
    "  gorl report sweeps/cheetah --out sweeps/cheetah/report --densities 0";

}  // namespace

Command AddReportCommand(CLI::App& gorl) {
  CLI::App* app = gorl.add_subcommand(
      "report", "Figures and a results table of run directories (or of sweep directories)");
  auto options = std::make_shared<runtime::ReportOptions>();
  app->add_option("runs", options->paths, "Run directories, or directories of runs")
      ->required()
      ->type_name("DIR");
  app->add_option("--out", options->out, "Where to write the figures and summaries")->required();
  app->add_option("--densities", options->densities,
                  "States per run at which the stages' actions are compared (0: none)");
  app->add_option("--samples", options->samples, "Actions per state and stage");
  AddAssetsFlag(*app, options->assets);
  app->footer(kFooter);
  return {app, [options] {
            const absl::Status status = runtime::ExecReport(*options);
            std::fprintf(stderr, "gorl report: %s\n", status.ToString().c_str());
            return runtime::ExitCodeFor(status);
          }};
}

}  // namespace gorl::cli
