// The one-line status a long command shows on stderr (`gorl train`'s
// progress, `gorl sweep`'s). On a terminal the line is rewritten in place
// (\r); anywhere else (a log file, `kubectl logs`, CI) each status is a
// whole line, at most one a minute, so that a log of a ten-hour sweep stays
// readable with `tail` and small.
#ifndef GORL_RUNTIME_STATUS_LINE_H_
#define GORL_RUNTIME_STATUS_LINE_H_

#include <string>

#include "absl/time/time.h"

namespace gorl::runtime {

class StatusLine {
 public:
  // Shows at most one status per `terminal_every` on a terminal, per
  // `log_every` elsewhere.
  explicit StatusLine(absl::Duration terminal_every = absl::ZeroDuration(),
                      absl::Duration log_every = absl::Minutes(1));
  // For tests: `terminal` instead of asking isatty(stderr).
  StatusLine(bool terminal, absl::Duration terminal_every, absl::Duration log_every);

  // Shows `text` unless the last status is too recent (`force`: anyway).
  void Show(const std::string& text, bool force = false);

  // Call before printing anything else on stderr: ends a line being
  // rewritten in place, so that the next output starts on its own line.
  void Break();

 private:
  const bool terminal_;
  const absl::Duration every_;
  absl::Time last_shown_ = absl::InfinitePast();
  bool open_ = false;  // an in-place line is on screen, not yet ended
};

}  // namespace gorl::runtime

#endif  // GORL_RUNTIME_STATUS_LINE_H_
