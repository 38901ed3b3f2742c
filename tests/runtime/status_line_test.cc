#include "runtime/status_line.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace gorl::runtime {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

// In a log, each status is a whole line, and one a period at most: a
// ten-hour sweep must not write a status every two seconds.
TEST(StatusLineTest, InALogEachStatusIsAWholeLineAtMostOncePerPeriod) {
  StatusLine line(/*terminal=*/false, absl::ZeroDuration(), absl::Hours(1));
  CaptureStderr();
  line.Show("first");
  line.Show("too soon");
  line.Show("forced", /*force=*/true);
  line.Break();
  EXPECT_EQ(GetCapturedStderr(), "first\nforced\n");
}

TEST(StatusLineTest, OnATerminalTheLineIsRewrittenInPlaceAndBreakEndsItOnce) {
  StatusLine line(/*terminal=*/true, absl::ZeroDuration(), absl::Hours(1));
  CaptureStderr();
  line.Show("one");
  line.Show("two");
  line.Break();
  line.Break();
  EXPECT_EQ(GetCapturedStderr(), "\rone   \rtwo   \n");
}

TEST(StatusLineTest, OnATerminalTheTerminalPeriodApplies) {
  StatusLine line(/*terminal=*/true, absl::Hours(1), absl::ZeroDuration());
  CaptureStderr();
  line.Show("one");
  line.Show("two");
  line.Break();
  EXPECT_EQ(GetCapturedStderr(), "\rone   \n");
}

}  // namespace
}  // namespace gorl::runtime
