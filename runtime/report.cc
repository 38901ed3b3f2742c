#include "runtime/report.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "runtime/subprocess.h"

namespace gorl::runtime {
namespace {

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

absl::StatusOr<std::string> FindScript(const std::string& self) {
  std::vector<std::string> tried;
  if (const char* env = std::getenv("GORL_REPORT_SCRIPT"); env != nullptr && *env != '\0') {
    if (Readable(env)) return std::string(env);
    return absl::NotFoundError(absl::StrCat("$GORL_REPORT_SCRIPT names ", env, ", not readable"));
  }
#ifdef GORL_SOURCE_DIR
  tried.push_back(GORL_SOURCE_DIR "/tools/report/gorl_report.py");
#endif
  tried.push_back(Dirname(self) + "/../share/gorl/gorl_report.py");
  for (const std::string& path : tried) {
    if (Readable(path)) return path;
  }
  return absl::NotFoundError(
      absl::StrCat("the report script is not in ", absl::StrJoin(tried, " or "),
                   "; set $GORL_REPORT_SCRIPT to tools/report/gorl_report.py"));
}

std::string FindPython() {
  if (const char* env = std::getenv("GORL_PYTHON"); env != nullptr && *env != '\0') return env;
  // Debian's interpreter has python3-numpy and python3-matplotlib; a
  // python3 earlier on PATH (a virtualenv, pyenv) may not.
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

}  // namespace

absl::Status ExecReport(const ReportOptions& options) {
  if (options.paths.empty()) return absl::InvalidArgumentError("give at least one run directory");
  if (options.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (options.densities < 0 || options.samples < 1) {
    return absl::InvalidArgumentError("--densities must be >= 0 and --samples >= 1");
  }
  GORL_ASSIGN_OR_RETURN(const std::string self, SelfExecutable());
  GORL_ASSIGN_OR_RETURN(const std::string script, FindScript(self));
  const std::string python = FindPython();
  std::vector<std::string> args = {python,        script,
                                   "--out",       options.out,
                                   "--gorl",      self,
                                   "--densities", absl::StrCat(options.densities),
                                   "--samples",   absl::StrCat(options.samples)};
  if (!options.assets.empty()) args.insert(args.end(), {"--assets", options.assets});
  args.insert(args.end(), options.paths.begin(), options.paths.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execvp(python.c_str(), argv.data());
  return absl::NotFoundError(
      absl::StrCat("cannot run ", python, " (", std::strerror(errno),
                   "): `gorl report` needs python3 with numpy and matplotlib (Debian: "
                   "python3-numpy python3-matplotlib), or $GORL_PYTHON"));
}

}  // namespace gorl::runtime
