// dm_control's tolerance function against closed forms. Each sigmoid's value
// half a margin out (d = 0.5, value_at_margin = 0.1) is derived by hand from
// an identity that does not reuse the implementation's formula.
#include "envs/tolerance.h"

#include <cmath>

#include <gtest/gtest.h>

namespace gorl::envs {
namespace {

constexpr double kTol = 1e-6;

struct SigmoidCase {
  Sigmoid sigmoid;
  const char* name;
  double at_half_margin;  // s(0.5) for v = 0.1
  bool reaches_zero;      // finite support: s(2) == 0 for v = 0.1
};

const SigmoidCase kCases[] = {
    // s(d) = v^(d^2): 0.1^0.25.
    {Sigmoid::kGaussian, "gaussian", 0.5623413251903491, false},
    // 1/cosh(x/2) with cosh x = 1/v = 10: 1/sqrt((10 + 1) / 2).
    {Sigmoid::kHyperbolic, "hyperbolic", 0.42640143271122083, false},
    // k^2 = 1/v - 1 = 9: 1 / (9/4 + 1).
    {Sigmoid::kLongTail, "long_tail", 1.0 / 3.25, false},
    // k = 9: 1 / (4.5 + 1).
    {Sigmoid::kReciprocal, "reciprocal", 1.0 / 5.5, false},
    // cos(theta/2) with cos theta = 2v - 1 = -0.8: (1 + sqrt(0.1)) / 2.
    {Sigmoid::kCosine, "cosine", (1.0 + 0.31622776601683794) / 2.0, true},
    // 1 - 0.5 (1 - v).
    {Sigmoid::kLinear, "linear", 0.55, true},
    // 1 - 0.25 (1 - v).
    {Sigmoid::kQuadratic, "quadratic", 0.775, true},
    // tanh(x/2) = tanh x / (1 + sqrt(1 - tanh^2 x)) with tanh x = sqrt(0.9).
    {Sigmoid::kTanhSquared, "tanh_squared",
     1.0 - std::pow(0.9486832980505138 / (1.0 + 0.31622776601683794), 2), false},
};

TEST(ToleranceTest, EverySigmoidMatchesClosedFormsAtZeroHalfAndOneMargin) {
  for (const SigmoidCase& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_NEAR(SigmoidValue(0.0, 0.1, c.sigmoid), 1.0, kTol);
    EXPECT_NEAR(SigmoidValue(0.5, 0.1, c.sigmoid), c.at_half_margin, kTol);
    EXPECT_NEAR(SigmoidValue(1.0, 0.1, c.sigmoid), 0.1, kTol);
    if (c.reaches_zero) {
      EXPECT_EQ(SigmoidValue(2.0, 0.1, c.sigmoid), 0.0);
    } else {
      EXPECT_GT(SigmoidValue(2.0, 0.1, c.sigmoid), 0.0);
      EXPECT_LT(SigmoidValue(2.0, 0.1, c.sigmoid), 0.1);
    }
  }
}

TEST(ToleranceTest, EverySigmoidIsDecreasingOutsideTheBounds) {
  for (const SigmoidCase& c : kCases) {
    SCOPED_TRACE(c.name);
    double previous = 1.0;
    for (double d = 0.05; d < 1.0; d += 0.05) {
      const double value = SigmoidValue(d, 0.1, c.sigmoid);
      EXPECT_LT(value, previous);
      previous = value;
    }
  }
}

TEST(ToleranceTest, InsideTheBoundsIsOneInclusive) {
  const ToleranceParams p{.lower = -1.0, .upper = 2.0, .margin = 0.5};
  EXPECT_EQ(Tolerance(-1.0, p), 1.0);
  EXPECT_EQ(Tolerance(0.3, p), 1.0);
  EXPECT_EQ(Tolerance(2.0, p), 1.0);
  EXPECT_LT(Tolerance(2.01, p), 1.0);
}

TEST(ToleranceTest, ZeroMarginIsAnIndicator) {
  const ToleranceParams p{.lower = 0.6, .upper = 2.0};
  EXPECT_EQ(Tolerance(0.59, p), 0.0);
  EXPECT_EQ(Tolerance(0.6, p), 1.0);
  EXPECT_EQ(Tolerance(2.0, p), 1.0);
  EXPECT_EQ(Tolerance(2.0001, p), 0.0);
}

TEST(ToleranceTest, DistanceIsMeasuredFromTheNearestBoundInMargins) {
  const ToleranceParams p{.lower = 1.0,
                          .upper = 3.0,
                          .margin = 2.0,
                          .sigmoid = Sigmoid::kGaussian,
                          .value_at_margin = 0.1};
  // One margin below the lower bound and one above the upper bound.
  EXPECT_NEAR(Tolerance(-1.0, p), 0.1, kTol);
  EXPECT_NEAR(Tolerance(5.0, p), 0.1, kTol);
  // Half a margin out on either side: 0.1^0.25.
  EXPECT_NEAR(Tolerance(0.0, p), 0.5623413251903491, kTol);
  EXPECT_NEAR(Tolerance(4.0, p), 0.5623413251903491, kTol);
}

TEST(ToleranceTest, LinearRunRewardIsAClampedRatio) {
  // tol(s; V, inf, margin V, linear, 0) = clamp(s / V, 0, 1), as CheetahRun uses it.
  const ToleranceParams p{.lower = 10.0,
                          .upper = kInf,
                          .margin = 10.0,
                          .sigmoid = Sigmoid::kLinear,
                          .value_at_margin = 0.0};
  for (double s : {-3.0, 0.0, 2.5, 7.0, 10.0, 14.0}) {
    EXPECT_NEAR(Tolerance(s, p), std::clamp(s / 10.0, 0.0, 1.0), 1e-12) << s;
  }
  // tol(s; V, inf, margin V/2, linear, 0.5) is the same ratio (walker's move term).
  const ToleranceParams half{.lower = 8.0,
                             .upper = kInf,
                             .margin = 4.0,
                             .sigmoid = Sigmoid::kLinear,
                             .value_at_margin = 0.5};
  for (double s : {-1.0, 0.0, 2.0, 6.0, 8.0, 9.0}) {
    EXPECT_NEAR(Tolerance(s, half), std::clamp(s / 8.0, 0.0, 1.0), 1e-12) << s;
  }
}

TEST(ToleranceTest, QuadraticSmallControlIsOneMinusSquare) {
  const ToleranceParams p{.margin = 1.0, .sigmoid = Sigmoid::kQuadratic, .value_at_margin = 0.0};
  for (double u : {-1.5, -1.0, -0.5, 0.0, 0.3, 0.9}) {
    EXPECT_NEAR(Tolerance(u, p), std::max(0.0, 1.0 - u * u), 1e-12) << u;
  }
}

}  // namespace
}  // namespace gorl::envs
