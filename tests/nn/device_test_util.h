// Helpers for the tests that train on CUDA and on the CPU from one seed and
// compare the results (tests/learner/device_test.cc, tests/refiner/device_test.cc).
#ifndef GORL_TESTS_NN_DEVICE_TEST_UTIL_H_
#define GORL_TESTS_NN_DEVICE_TEST_UTIL_H_

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "gorl/v1/tensor.pb.h"

namespace gorl::nn::testing {

// Why the CUDA comparisons skip on a machine without a usable GPU.
inline constexpr char kNoCuda[] =
    "torch::cuda::is_available() is false: no CUDA LibTorch or no GPU";

// Largest |a - b| over every value of two bundles of the same layout.
inline double MaxAbsDiff(const v1::TensorBundle& a, const v1::TensorBundle& b) {
  EXPECT_EQ(a.tensors_size(), b.tensors_size());
  double diff = 0.0;
  for (int t = 0; t < a.tensors_size() && t < b.tensors_size(); ++t) {
    EXPECT_EQ(a.tensors(t).name(), b.tensors(t).name());
    EXPECT_EQ(a.tensors(t).values_size(), b.tensors(t).values_size());
    for (int i = 0; i < a.tensors(t).values_size() && i < b.tensors(t).values_size(); ++i) {
      diff = std::max(
          diff, std::abs(static_cast<double>(a.tensors(t).values(i)) - b.tensors(t).values(i)));
    }
  }
  return diff;
}

}  // namespace gorl::nn::testing

#endif  // GORL_TESTS_NN_DEVICE_TEST_UTIL_H_
