// dm_control's tolerance function (dm_control/utils/rewards.py at 1.0.7).
//
// tol(x) is 1 inside [lower, upper]; outside it decays with the distance to
// the nearest bound, measured in margins, through one of eight sigmoids, each
// scaled so that it equals `value_at_margin` one margin away. With margin 0 it
// is the indicator of the interval.
#ifndef GORL_ENVS_TOLERANCE_H_
#define GORL_ENVS_TOLERANCE_H_

#include <limits>

namespace gorl::envs {

enum class Sigmoid {
  kGaussian,
  kHyperbolic,
  kLongTail,
  kReciprocal,
  kCosine,
  kLinear,
  kQuadratic,
  kTanhSquared,
};

struct ToleranceParams {
  double lower = 0.0;
  double upper = 0.0;
  double margin = 0.0;
  Sigmoid sigmoid = Sigmoid::kGaussian;
  double value_at_margin = 0.1;
};

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// s(d) for a normalised distance d >= 0, with s(0) = 1 and s(1) = value_at_margin.
double SigmoidValue(double d, double value_at_margin, Sigmoid sigmoid);

// Requires lower <= upper and margin >= 0 (checked in debug builds).
double Tolerance(double x, const ToleranceParams& params);

}  // namespace gorl::envs

#endif  // GORL_ENVS_TOLERANCE_H_
