// Shared main for the test binaries: the process settings of every gorl main().
#include <gtest/gtest.h>

#include "common/process_init.h"

int main(int argc, char** argv) {
  gorl::TuneMalloc();
  gorl::FlushDenormalsToZero();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
