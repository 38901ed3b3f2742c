#include "runtime/status_line.h"

#include <unistd.h>

#include <cstdio>

#include "absl/time/clock.h"

namespace gorl::runtime {

StatusLine::StatusLine(absl::Duration terminal_every, absl::Duration log_every)
    : StatusLine(isatty(STDERR_FILENO) == 1, terminal_every, log_every) {}

StatusLine::StatusLine(bool terminal, absl::Duration terminal_every, absl::Duration log_every)
    : terminal_(terminal), every_(terminal ? terminal_every : log_every) {}

void StatusLine::Show(const std::string& text, bool force) {
  const absl::Time now = absl::Now();
  if (!force && now - last_shown_ < every_) return;
  last_shown_ = now;
  if (terminal_) {
    // Trailing spaces cover the end of a longer previous status.
    std::fprintf(stderr, "\r%s   ", text.c_str());
    open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

void StatusLine::Break() {
  if (!open_) return;
  std::fputc('\n', stderr);
  open_ = false;
}

}  // namespace gorl::runtime
