#include "envs/tolerance.h"

#include <cassert>
#include <cmath>

namespace gorl::envs {

double SigmoidValue(double d, double v, Sigmoid sigmoid) {
  switch (sigmoid) {
    case Sigmoid::kGaussian: {
      const double k = std::sqrt(-2.0 * std::log(v));
      return std::exp(-0.5 * (d * k) * (d * k));
    }
    case Sigmoid::kHyperbolic: {
      const double k = std::acosh(1.0 / v);
      return 1.0 / std::cosh(d * k);
    }
    case Sigmoid::kLongTail: {
      const double k = std::sqrt(1.0 / v - 1.0);
      return 1.0 / ((d * k) * (d * k) + 1.0);
    }
    case Sigmoid::kReciprocal: {
      const double k = 1.0 / v - 1.0;
      return 1.0 / (d * k + 1.0);
    }
    case Sigmoid::kCosine: {
      const double k = std::acos(2.0 * v - 1.0) / M_PI;
      const double dk = d * k;
      return dk < 1.0 ? (1.0 + std::cos(M_PI * dk)) / 2.0 : 0.0;
    }
    case Sigmoid::kLinear: {
      const double dk = d * (1.0 - v);
      return dk < 1.0 ? 1.0 - dk : 0.0;
    }
    case Sigmoid::kQuadratic: {
      const double dk = d * std::sqrt(1.0 - v);
      return dk < 1.0 ? 1.0 - dk * dk : 0.0;
    }
    case Sigmoid::kTanhSquared: {
      const double k = std::atanh(std::sqrt(1.0 - v));
      const double t = std::tanh(d * k);
      return 1.0 - t * t;
    }
  }
  return 0.0;
}

double Tolerance(double x, const ToleranceParams& p) {
  assert(p.lower <= p.upper && p.margin >= 0.0);
  if (p.lower <= x && x <= p.upper) return 1.0;
  if (p.margin == 0.0) return 0.0;
  const double d = (x < p.lower ? p.lower - x : x - p.upper) / p.margin;
  return SigmoidValue(d, p.value_at_margin, p.sigmoid);
}

}  // namespace gorl::envs
