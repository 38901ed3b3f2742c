// The JSON lines a role prints on stdout for whoever started it (the
// launcher, the multi-process tests): {"event": "listening", ...} once it
// serves, and the learner's {"event": "progress", ...} per iteration. The
// launcher reads them back with ProgressFromLine / common/json_line.h.
#ifndef GORL_RUNTIME_ROLE_LINES_H_
#define GORL_RUNTIME_ROLE_LINES_H_

#include <optional>
#include <string>

#include "learner/training_loop.h"

namespace gorl::runtime {

// {"event": "listening", "role": ..., "address": ...}: a role started with
// port 0 tells its actual port this way.
void AnnounceListening(const std::string& role, const std::string& address);

// {"event": "progress", "env_steps": ..., ...}: the fields PrintProgress
// shows (not the PPO statistics).
void PrintProgressLine(const learner::Progress& progress);

// The progress a PrintProgressLine line carries; nullopt for other lines.
std::optional<learner::Progress> ProgressFromLine(const std::string& line);

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_ROLE_LINES_H_
