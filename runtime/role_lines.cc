#include "runtime/role_lines.h"

#include <cstdio>

#include "common/json_line.h"
#include "common/metrics_log.h"

namespace gorl::runtime {

void AnnounceListening(const std::string& role, const std::string& address) {
  std::printf("%s\n", JsonRow()
                          .Add("event", "listening")
                          .Add("role", role)
                          .Add("address", address)
                          .ToString()
                          .c_str());
  std::fflush(stdout);
}

void PrintProgressLine(const learner::Progress& p) {
  std::printf("%s\n", JsonRow()
                          .Add("event", "progress")
                          .Add("env_steps", p.env_steps)
                          .Add("total_env_steps", p.total_env_steps)
                          .Add("stage", p.stage)
                          .Add("num_stages", p.num_stages)
                          .Add("steps_per_second", p.steps_per_second)
                          .Add("elapsed_seconds", p.elapsed_seconds)
                          .Add("last_eval_return", p.last_eval_return)
                          .ToString()
                          .c_str());
  std::fflush(stdout);
}

std::optional<learner::Progress> ProgressFromLine(const std::string& line) {
  if (JsonField(line, "event") != "progress") return std::nullopt;
  learner::Progress p;
  p.env_steps = static_cast<int64_t>(JsonNumber(line, "env_steps"));
  p.total_env_steps = static_cast<int64_t>(JsonNumber(line, "total_env_steps"));
  p.stage = static_cast<int>(JsonNumber(line, "stage"));
  p.num_stages = static_cast<int>(JsonNumber(line, "num_stages"));
  p.steps_per_second = JsonNumber(line, "steps_per_second");
  p.elapsed_seconds = JsonNumber(line, "elapsed_seconds");
  p.last_eval_return = JsonNumber(line, "last_eval_return");
  return p;
}

}  // namespace gorl::runtime
