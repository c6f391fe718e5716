//===- special.h - special functions the grids need --------------*- C++ -*-===//
//
// Header-only, so that the compiler (which evaluates grid declarations:
// `beta_ppf` in PlanGrid.cpp) and the runtime (the built-in `beta` grid,
// Grid.cpp) compute the same numbers.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_SPECIAL_H
#define DIFFUSE_SPECIAL_H

#include <cmath>

namespace diffuse::rt {

/// The regularized incomplete beta function I_x(a, b), by the continued
/// fraction (modified Lentz) on the side of x where it converges fast.
inline double incompleteBeta(double x, double a, double b) {
  if (x <= 0)
    return 0;
  if (x >= 1)
    return 1;
  if (x > (a + 1) / (a + b + 2))
    return 1 - incompleteBeta(1 - x, b, a);
  double lead = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                         b * std::log1p(-x)) /
                a;
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::fabs(d) < tiny ? tiny : d);
  double h = d;
  for (int m = 1; m < 500; ++m) {
    for (int odd = 0; odd < 2; ++odd) {
      double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                       : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
      d = 1 + num * d;
      d = 1 / (std::fabs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (std::fabs(c) < tiny)
        c = tiny;
      h *= c * d;
      if (odd && std::fabs(c * d - 1) < 1e-16)
        return lead * h;
    }
  }
  return lead * h;
}

/// The q-quantile of the Beta(a, b) distribution (scipy.stats.beta.ppf):
/// the x where I_x(a, b) = q, by bisection down to adjacent doubles; NaN
/// outside a, b > 0 and 0 <= q <= 1, as scipy's.
inline double betaQuantile(double q, double a, double b) {
  if (!(a > 0) || !(b > 0) || !(q >= 0 && q <= 1) || std::isinf(a) || std::isinf(b))
    return NAN;
  if (q <= 0)
    return 0;
  if (q >= 1)
    return 1;
  double lo = 0, hi = 1;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi)
      break;
    (incompleteBeta(mid, a, b) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

} // namespace diffuse::rt

#endif // DIFFUSE_SPECIAL_H
