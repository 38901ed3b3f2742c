#include "common/running_normalizer.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/random.h"
#include "tests/status_matchers.h"

namespace gorl {
namespace {

using ::gorl::testing::IsOk;
using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<float> RandomRows(int rows, int dim, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> data(static_cast<size_t>(rows) * dim);
  for (int r = 0; r < rows; ++r) {
    for (int d = 0; d < dim; ++d)
      data[r * dim + d] = static_cast<float>(rng.Normal(3.0 * d - 2.0, 0.5 + d));
  }
  return data;
}

// Plain two-pass mean and population variance, in double.
void TwoPass(const std::vector<float>& data, int dim, std::vector<double>& mean,
             std::vector<double>& var) {
  const size_t rows = data.size() / dim;
  mean.assign(dim, 0.0);
  var.assign(dim, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (int d = 0; d < dim; ++d) mean[d] += data[r * dim + d];
  for (double& m : mean) m /= rows;
  for (size_t r = 0; r < rows; ++r) {
    for (int d = 0; d < dim; ++d) var[d] += std::pow(data[r * dim + d] - mean[d], 2);
  }
  for (double& v : var) v /= rows;
}

TEST(RunningNormalizerTest, ChunkedUpdatesMatchTwoPassStatistics) {
  const int dim = 4;
  const std::vector<float> data = RandomRows(1000, dim, 7);
  RunningNormalizer normalizer(dim);
  // Uneven chunks, including a single row.
  const int chunks[] = {1, 99, 400, 500};
  int offset = 0;
  for (int rows : chunks) {
    GORL_ASSERT_OK(normalizer.Update(data.data() + offset * dim, rows));
    offset += rows;
  }
  std::vector<double> mean, var;
  TwoPass(data, dim, mean, var);
  EXPECT_EQ(normalizer.count(), 1000.0);
  for (int d = 0; d < dim; ++d) {
    EXPECT_NEAR(normalizer.mean()[d], mean[d], 1e-9);
    EXPECT_NEAR(normalizer.Variance()[d], var[d], 1e-9);
    EXPECT_NEAR(normalizer.Std()[d], std::sqrt(var[d]), 1e-9);
  }
}

TEST(RunningNormalizerTest, MergeEqualsOneNormalizerOverBothBatches) {
  const int dim = 3;
  const std::vector<float> a = RandomRows(300, dim, 1), b = RandomRows(50, dim, 2);
  RunningNormalizer left(dim), right(dim), both(dim);
  GORL_ASSERT_OK(left.Update(a.data(), 300));
  GORL_ASSERT_OK(right.Update(b.data(), 50));
  GORL_ASSERT_OK(both.Update(a.data(), 300));
  GORL_ASSERT_OK(both.Update(b.data(), 50));
  GORL_ASSERT_OK(left.Merge(right));
  for (int d = 0; d < dim; ++d) {
    EXPECT_NEAR(left.mean()[d], both.mean()[d], 1e-10);
    EXPECT_NEAR(left.Variance()[d], both.Variance()[d], 1e-9);
  }
  EXPECT_EQ(left.count(), 350.0);
}

TEST(RunningNormalizerTest, StdIsClippedAndDefaultsToOne) {
  RunningNormalizer normalizer(2);
  EXPECT_EQ(normalizer.Std()[0], 1.0);  // before any data: identity scaling
  const float rows[] = {5.0f, 1e7f, 5.0f, -1e7f};
  GORL_ASSERT_OK(normalizer.Update(rows, 2));
  EXPECT_EQ(normalizer.Std()[0], RunningNormalizer::kMinStd);  // constant column
  EXPECT_EQ(normalizer.Std()[1], RunningNormalizer::kMaxStd);  // std 1e7 clipped
}

TEST(RunningNormalizerTest, NormalizeSubtractsMeanAndDividesByStd) {
  RunningNormalizer normalizer(1);
  const float rows[] = {1.0f, 3.0f};  // mean 2, population std 1
  GORL_ASSERT_OK(normalizer.Update(rows, 2));
  float x[] = {4.0f, 0.0f};
  normalizer.Normalize(x, 2);
  EXPECT_FLOAT_EQ(x[0], 2.0f);
  EXPECT_FLOAT_EQ(x[1], -2.0f);
}

TEST(RunningNormalizerTest, NonFiniteBatchIsRejectedAndChangesNothing) {
  RunningNormalizer normalizer(2);
  const float good[] = {1.0f, 2.0f};
  GORL_ASSERT_OK(normalizer.Update(good, 1));
  const float bad[] = {1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f};
  EXPECT_THAT(normalizer.Update(bad, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 1")));
  EXPECT_EQ(normalizer.count(), 1.0);
  EXPECT_EQ(normalizer.mean()[0], 1.0);
}

TEST(RunningNormalizerTest, MergeOfDifferentSizesIsAnError) {
  RunningNormalizer a(2), b(3);
  EXPECT_THAT(a.Merge(b), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RunningNormalizerTest, ProtoRoundTripIsExactAndBadStatesAreRejected) {
  const std::vector<float> data = RandomRows(64, 5, 3);
  RunningNormalizer normalizer(5);
  GORL_ASSERT_OK(normalizer.Update(data.data(), 64));
  GORL_ASSERT_OK_AND_ASSIGN(const RunningNormalizer copy,
                            RunningNormalizer::FromProto(normalizer.ToProto()));
  EXPECT_EQ(copy.count(), normalizer.count());
  EXPECT_EQ(copy.mean(), normalizer.mean());
  EXPECT_EQ(copy.Variance(), normalizer.Variance());

  v1::NormalizerState mismatched = normalizer.ToProto();
  mismatched.add_m2(1.0);
  EXPECT_THAT(RunningNormalizer::FromProto(mismatched),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::NormalizerState negative = normalizer.ToProto();
  negative.set_m2(0, -1.0);
  EXPECT_THAT(RunningNormalizer::FromProto(negative), Not(IsOk()));
  v1::NormalizerState nan_count = normalizer.ToProto();
  nan_count.set_count(std::nan(""));
  EXPECT_THAT(RunningNormalizer::FromProto(nan_count), Not(IsOk()));
}

}  // namespace
}  // namespace gorl
