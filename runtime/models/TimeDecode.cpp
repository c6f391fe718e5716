//===- TimeDecode.cpp - how analytic networks read their time input -------===//
#include "diffuse/models.h"

#include <algorithm>
#include <cmath>

namespace diffuse::rt {

TimeDecode decodeDiscreteTimestep(const std::vector<double> &acp, double t) {
  long n = (long)acp.size();
  t = std::min(std::max(t, 0.0), (double)(n - 1));
  long lo = (long)std::floor(t);
  if (t == (double)lo)
    return TimeDecode{std::sqrt(acp[lo]), std::sqrt(1 - acp[lo]), 0, 0};
  // The inverse of diffusers' _sigma_to_t: log sigma interpolated linearly.
  double f = t - lo;
  auto ls = [&](long i) { return 0.5 * std::log((1 - acp[i]) / acp[i]); };
  double sg = std::exp((1 - f) * ls(lo) + f * ls(lo + 1));
  double a = 1 / std::sqrt(1 + sg * sg);
  return TimeDecode{a, sg * a, 0, 0};
}

double interpolateLogAlpha(const std::vector<double> &logAlpha, double pos) {
  long n = (long)logAlpha.size();
  long lo = std::min(std::max<long>((long)std::floor(pos), 0), n - 2);
  return logAlpha[lo] + (pos - lo) * (logAlpha[lo + 1] - logAlpha[lo]);
}

} // namespace diffuse::rt
