// Inputs the nn tests share: observations at a scale that exercises the
// normalisers, and a normaliser fitted to non-trivial statistics.
#ifndef GORL_TESTS_NN_TEST_INPUTS_H_
#define GORL_TESTS_NN_TEST_INPUTS_H_

#include <cstdint>

#include <torch/torch.h>

#include "common/nn/tensor_codec.h"
#include "common/running_normalizer.h"
#include "tests/status_matchers.h"

namespace gorl::nn::testing {

// A normaliser of `obs_size` fitted to N(3, 2^2) data.
inline RunningNormalizer FittedNormalizer(int obs_size, uint64_t seed) {
  RunningNormalizer normalizer(obs_size);
  const torch::Tensor data = torch::randn({64, obs_size}, MakeGenerator(seed)) * 2.0 + 3.0;
  GORL_EXPECT_OK(normalizer.Update(data.data_ptr<float>(), 64));
  return normalizer;
}

// Raw observations [rows, obs_size] ~ N(0, 5^2).
inline torch::Tensor RandomObs(int rows, int obs_size, uint64_t seed) {
  return (torch::randn({rows, obs_size}, MakeGenerator(seed)) * 5.0).contiguous();
}

}  // namespace gorl::nn::testing

#endif  // GORL_TESTS_NN_TEST_INPUTS_H_
