// LibTorch's kernels and OpenBLAS's GEMM run on pool threads that start at
// the first parallel operation; they must inherit the main thread's
// flush-to-zero (common/process_init.h), or a learner slows down several
// times once its GEMMs meet denormals (docs/toolchain.md §3.11).
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "common/process_init.h"

namespace gorl {
namespace {

TEST(DenormalsTest, ElementwiseKernelsOnEveryThreadFlushThem) {
  ASSERT_TRUE(FlushesDenormals());
  // Large enough for at::parallel_for to split it over the intra-op pool.
  const torch::Tensor product = torch::full({1 << 20}, 1e-30f) * 1e-10f;
  EXPECT_EQ(product.count_nonzero().item<int64_t>(), 0);
}

TEST(DenormalsTest, MatrixProductsFlushThem) {
  // Each term 1e-21 * 1e-21 = 1e-42 and their sum over 512 terms (5e-40)
  // are denormal: without flush-to-zero every entry would be about 5e-40.
  const torch::Tensor a = torch::full({512, 512}, 1e-21f);
  const torch::Tensor product = torch::mm(a, a);
  EXPECT_EQ(product.count_nonzero().item<int64_t>(), 0);
}

}  // namespace
}  // namespace gorl
