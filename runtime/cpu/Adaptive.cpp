//===- Adaptive.cpp - the step size controller of adaptive solvers --------===//
//
// A solver with `adaptive = error_control(...)` (docs/language.md) computes
// in its step an embedded pair: the next state and an estimate of its local
// error. The runtime owns the control loop around it, the standard one of
// Hairer, Norsett and Wanner (Solving ODEs I, II.4), as torchdiffeq's
// RKAdaptiveStepsizeODESolver runs it:
//  - first step size: from the norms of x, of the drift f0 = pf_ode(x, t0)
//    and of the drift after a tiny Euler step (two evaluations, through the
//    compiled step's drift variant, DFS_CTX_DRIFT);
//  - the error ratio is the RMS over all elements (the whole batch, one step
//    size for every sample) of error / (atol + rtol max(|x|, |x_next|));
//    a step is accepted when the ratio is <= 1;
//  - the next step size is h min(grow, max(safety ratio^(-1/order), lo)),
//    lo = 1 after an accepted step (it never shrinks) and shrink otherwise;
//  - with a slope state (pf_ode at the step's start, "first same as last")
//    the controller seeds it with f0 and keeps it across rejected steps;
//  - with a mid state (the solution at the step's midpoint) the last step
//    may overshoot the end and the result is the quartic dense output
//    through x, mid, x_next with slopes f0, f1 at the end time; without
//    it the last step is shortened to land on the end.
// Options for controllers written differently (the DPM-Solver repository's
// adaptive DPM-Solver-12/23 among them): a first step size h0 instead of
// the estimate; a tolerance state the step computes per element in place
// of atol + rtol max(|x|, |x_next|); the norm sample_max (the largest of
// the samples' own RMS norms); limits = 0, where every attempt, accepted
// or not, sizes the next as (safety h) ratio^(-1/order) with no bounds;
// factor_float32, which rounds ratio^(-1/order) to float32 first;
// end_tol, which stops once the process's time (end_coord = 1: the
// solver's own) is that close to the end; and pid = 1, k-diffusion's
// PIDStepSizeController: the factor 1 + atan(f - 1), f the product of the
// last three inverse errors 1 / (ratio + 1e-8) (the current attempt's and
// the last two accepted) to the powers (p + i + d) / order,
// -(p + 2 d) / order and d / order, sizes every next attempt, and an
// attempt is accepted when it is at least accept_safety.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace diffuse::rt {

namespace {

/// sqrt(mean(v_i^2)) of v_i = term(i) over i in [from, from + n),
/// accumulated in double.
template <typename F> double rms(int64_t n, F term, int64_t from = 0) {
  double sum = 0;
  for (int64_t i = from; i < from + n; ++i) {
    double v = term(i);
    sum += v * v;
  }
  return std::sqrt(sum / (double)n);
}

} // namespace

template <typename T>
bool Runner::runAdaptive(std::vector<T> &x0, const std::vector<Step> &grid, std::string &err) {
  const int64_t n = batch_ * dim_;
  const Manifest &m = manifest();
  const double order = m.num("adaptive.order"), rtol = m.num("adaptive.rtol"),
               atol = m.num("adaptive.atol"), safety = m.num("adaptive.safety"),
               grow = m.num("adaptive.grow"), shrink = m.num("adaptive.shrink"),
               maxSteps = m.num("adaptive.max_steps");
  const double h0Given = m.num("adaptive.h0", 0), endTol = m.num("adaptive.end_tol", 0);
  const bool limits = m.num("adaptive.limits", 1) != 0,
             factorF32 = m.num("adaptive.factor_float32", 0) != 0,
             sampleMax = m.num("adaptive.norm", 0) == 1,
             endCoord = m.num("adaptive.end_coord", 0) != 0, pid = m.num("adaptive.pid", 0) != 0;
  // k-diffusion's PIDStepSizeController: exponents of the last three inverse errors.
  const double pc = m.num("adaptive.pcoeff", 0), ic = m.num("adaptive.icoeff", 1),
               dc = m.num("adaptive.dcoeff", 0),
               acceptSafety = m.num("adaptive.accept_safety", 0.81);
  const double b1 = (pc + ic + dc) / order, b2 = -(pc + 2 * dc) / order, b3 = dc / order;
  std::array<double, 3> invErrs{0, 0, 0};
  bool pidStarted = false;
  const int eSlot = (int)m.num("adaptive.error", -1), sSlot = (int)m.num("adaptive.slope", -1),
            mSlot = (int)m.num("adaptive.mid", -1), tSlot = (int)m.num("adaptive.tolerance", -1);
  const size_t fields = (size_t)m.num("state.fields"), scalars = (size_t)m.num("state.scalars");
  if (eSlot < 0 || eSlot >= (int)fields) {
    err = "the adaptive sampler names no error state";
    return false;
  }
  // The integration runs between the grid's first and last points.
  const Point start = grid.front().s, end = grid.back().t;
  const double t0 = start[DFS_POINT_TAU], tEnd = end[DFS_POINT_TAU];
  const double dir = tEnd >= t0 ? 1.0 : -1.0;
  SolverState state;
  state.reset(fields, scalars, (size_t)n);

  std::vector<T> x = x0, y(n), f0(n), f1(n);
  std::vector<void *> scratchOut(fields);
  std::vector<double> scratchScalars(scalars + 1);
  auto pointAt = [&](double tau) {
    if (tau == t0)
      return start;
    if (tau == tEnd)
      return end;
    return pointAtTau(tau);
  };
  auto drift = [&](const T *in, T *out, double tau) {
    Point p = pointAt(tau);
    std::array<double, DFS_CTX_FIELDS> c{0, 0, 1, 0, 1};
    scratchOut = state.pout;
    sampler_.step(&head_, n, in, out, p.data(), p.data(), c.data(), state.pin.data(),
                  scratchOut.data(), state.sin.data(), scratchScalars.data());
  };
  auto field = [&](std::vector<void *> &slots, int k) { return (T *)slots[(size_t)k]; };

  double h = h0Given;
  if (h0Given <= 0 || sSlot >= 0)
    drift(x.data(), f0.data(), t0);
  if (h0Given <= 0) {
    // The first step size (Hairer, Norsett, Wanner, II.4).
    auto scale0 = [&](int64_t i) { return atol + std::fabs((double)x[i]) * rtol; };
    double d0 = rms(n, [&](int64_t i) { return (double)x[i] / scale0(i); });
    double d1 = rms(n, [&](int64_t i) { return (double)f0[i] / scale0(i); });
    double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
    for (int64_t i = 0; i < n; ++i)
      y[i] = (T)((double)x[i] + dir * h0 * (double)f0[i]);
    drift(y.data(), f1.data(), t0 + dir * h0);
    double d2 =
        rms(n, [&](int64_t i) { return ((double)f1[i] - (double)f0[i]) / scale0(i); }) / h0;
    double h1 = d1 <= 1e-15 && d2 <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                           : std::pow(0.01 / std::max(d1, d2), 1.0 / order);
    h = std::min(100 * h0, h1);
  }
  if (sSlot >= 0)
    std::memcpy(field(state.pin, sSlot), f0.data(), sizeof(T) * (size_t)n);
  // The error ratio of a step from x to y with error estimate e.
  auto errorRatio = [&](const T *e, const T *tol) {
    auto term = [&](int64_t i) {
      if (tol)
        return (double)e[i] / (double)tol[i];
      double a = std::max(std::fabs((double)x[i]), std::fabs((double)y[i]));
      return (double)e[i] / (atol + rtol * a);
    };
    if (!sampleMax)
      return rms(n, term);
    double worst = 0;
    for (int64_t b = 0; b < batch_; ++b)
      worst = std::max(worst, rms(dim_, term, b * dim_));
    return worst;
  };

  const bool dense = mSlot >= 0 && sSlot >= 0;
  double t = t0;
  long accepted = 0, attempts = 0;
  accepted_ = rejected_ = 0;
  while (dir * (tEnd - t) > 0) {
    if (++attempts > (long)maxSteps) {
      err = "the adaptive solver made " + std::to_string(attempts - 1) +
            " step attempts without reaching the end (max_steps); loosen rtol/atol or raise "
            "max_steps";
      return false;
    }
    double tn = t + dir * h;
    if (!dense && dir * (tn - tEnd) >= 0) {
      tn = tEnd; // land on the end
      h = std::fabs(tn - t);
    }
    if (tn == t || !std::isfinite(tn)) {
      err = "the adaptive solver's step size underflowed at t = " + std::to_string(t) +
            "; the error estimate cannot be met (loosen rtol/atol)";
      return false;
    }
    bool reaches = dir * (tn - tEnd) >= 0;
    Point ps = pointAt(t), pt = pointAt(tn);
    std::array<double, DFS_CTX_FIELDS> c{(double)accepted, 0, accepted == 0 ? 1.0 : 0.0,
                                         reaches ? 1.0 : 0.0, 0};
    state.freshOutputs();
    std::vector<void *> fresh = state.pout;
    sampler_.step(&head_, n, x.data(), y.data(), ps.data(), pt.data(), c.data(),
                  state.pin.data(), state.pout.data(), state.sin.data(), state.sout.data());
    // A state kept equal to the step's input x (UniPC's x_last) points at
    // x, whose buffer the next step overwrites: give it its own copy.
    for (size_t k = 0; k < fields; ++k)
      if (state.pout[k] == (void *)x.data()) {
        std::memcpy(fresh[k], x.data(), sizeof(T) * (size_t)n);
        state.pout[k] = fresh[k];
      }
    double ratio =
        errorRatio(field(state.pout, eSlot), tSlot >= 0 ? field(state.pout, tSlot) : nullptr);
    if (!std::isfinite(ratio)) {
      err = "the adaptive solver's error estimate is not finite at t = " + std::to_string(t);
      return false;
    }
    bool accept = ratio <= 1;
    double pidFactor = 1;
    if (pid) {
      // 1 / (E + 1e-8) for the attempt, the accepted ones before it; the
      // factor 1 + atan(f - 1) both sizes the next attempt and decides.
      double inv = 1 / (ratio + 1e-8);
      if (!pidStarted)
        invErrs = {inv, inv, inv}, pidStarted = true;
      invErrs[0] = inv;
      double f = std::pow(invErrs[0], b1) * std::pow(invErrs[1], b2) * std::pow(invErrs[2], b3);
      pidFactor = 1 + std::atan(f - 1);
      accept = pidFactor >= acceptSafety;
      if (accept) {
        invErrs[2] = invErrs[1];
        invErrs[1] = invErrs[0];
      }
    }
    if (accept && dense && dir * (tn - tEnd) >= 0) {
      // Dense output at the end: the quartic through x (theta 0), mid
      // (1/2) and y (1) with slopes f0, f1 (torchdiffeq's _interp_fit).
      const T *s0 = field(state.pin, sSlot), *s1 = field(state.pout, sSlot),
              *ym = field(state.pout, mSlot);
      double dt = tn - t, th = (tEnd - t) / dt;
      for (int64_t i = 0; i < n; ++i) {
        double a0 = x[i], a1 = y[i], am = ym[i], g0 = s0[i], g1 = s1[i];
        double qa = 2 * dt * (g1 - g0) - 8 * (a1 + a0) + 16 * am;
        double qb = dt * (5 * g0 - 3 * g1) + 18 * a0 + 14 * a1 - 32 * am;
        double qc = dt * (g1 - 4 * g0) - 11 * a0 - 5 * a1 + 16 * am;
        double qd = dt * g0;
        double total = a0 + th * qd, p = th;
        p *= th;
        total += p * qc;
        p *= th;
        total += p * qb;
        p *= th;
        total += p * qa;
        x[i] = (T)total;
      }
      t = tEnd;
      accepted_ = ++accepted;
      break;
    }
    if (accept) {
      std::swap(x, y);
      t = tn;
      accepted_ = ++accepted;
      state.rotate();
      double left =
          endCoord ? std::fabs(tEnd - t) : std::fabs(pointAt(t)[DFS_POINT_T] - end[DFS_POINT_T]);
      if (endTol > 0 && left <= endTol)
        break;
    } else {
      ++rejected_;
    }
    if (pid) {
      h *= pidFactor;
      continue;
    }
    if (!limits) {
      // (safety h) ratio^(-1/order), after accepted and rejected steps alike;
      // a zero error takes the rest of the way in one step.
      double f = std::pow(ratio, -1.0 / order);
      if (factorF32)
        f = (double)(float)f;
      h = safety * h * f;
      if (!std::isfinite(h))
        h = std::fabs(tEnd - t);
      continue;
    }
    double factor;
    if (ratio == 0) {
      factor = grow;
    } else {
      double lo = ratio < 1 ? 1.0 : shrink;
      factor = std::min(grow, std::max(safety / std::pow(ratio, 1.0 / order), lo));
    }
    h *= factor;
  }
  x0.assign(x.begin(), x.end());
  return true;
}

template bool Runner::runAdaptive(std::vector<double> &, const std::vector<Step> &, std::string &);
template bool Runner::runAdaptive(std::vector<float> &, const std::vector<Step> &, std::string &);

} // namespace diffuse::rt
