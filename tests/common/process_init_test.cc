#include "common/process_init.h"

#include <thread>

#include <gtest/gtest.h>

namespace gorl {
namespace {

// 1e-30 * 1e-10 = 1e-40 is a denormal float; flushed, it is zero. `volatile`
// keeps the compiler from folding the product at compile time.
float DenormalProduct() {
  volatile float tiny = 1e-30f, scale = 1e-10f;
  return tiny * scale;
}

// tests/test_main.cc applies every main()'s process settings first.
TEST(ProcessInitTest, DenormalsFlushInThisThreadAndInThreadsStartedLater) {
  EXPECT_TRUE(FlushesDenormals());
  EXPECT_EQ(DenormalProduct(), 0.0f);
  bool flushes = false;
  float product = -1.0f;
  std::thread([&] {
    flushes = FlushesDenormals();
    product = DenormalProduct();
  }).join();
  EXPECT_TRUE(flushes);
  EXPECT_EQ(product, 0.0f);
}

}  // namespace
}  // namespace gorl
