//===- schedule.h - discrete processes' tables, as diffusers makes them -*- C++ -*-===//
//
// Header-only, so that the compiler (which evaluates grid declarations that
// read a table, PlanGrid.cpp) and the runtime (which steps through it,
// BetaTable.cpp) compute the same float32 numbers:
//
//   computeBetaTable  the betas and alphas_cumprod of a discrete process, in
//                     float32 and in the order of operations of diffusers'
//                     torch code (tests/Derivation/beta-tables.test);
//   TableSigmas       its noise levels sigma_k = sqrt((1 - acp_k) / acp_k)
//                     in float32, with diffusers' two ways across them:
//                     sigmaAt (np.interp: linear in sigma between integer
//                     timesteps) and timeAt (_sigma_to_t: the fractional
//                     timestep by linear interpolation in log sigma, the
//                     logs in float32 as numpy takes them of float32 sigmas).
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_SCHEDULE_H
#define DIFFUSE_SCHEDULE_H

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace diffuse::rt {

/// np.arange(start, stop, step)[k] for floats: numpy stores start and
/// start + step, then fills start + k * delta with delta the difference of
/// those two, which can differ from step in its last bits (diffusers'
/// trailing timesteps, np.arange(T, 0, -T / N), rounded: at T = 1000 and
/// N = 48 this gives 937 where T - k T / N gives 938).
inline double arangeAt(double start, double step, long k) {
  if (k == 1)
    return start + step;
  return start + (double)k * ((start + step) - start);
}

struct BetaTable {
  std::vector<float> betas, alphasCumprod;
};

/// What a discrete process's table is made from (manifest process.*).
struct TableSpec {
  std::string schedule = "linear"; // linear | scaled_linear | squaredcos_cap_v2 | sigmoid | table
  double betaStart = 0.0001, betaEnd = 0.02;
  long trainSteps = 1000;
  std::vector<double> betas; // table
  bool zeroTerminalSnr = false;
};

inline BetaTable computeBetaTable(const TableSpec &spec) {
  const long n = spec.trainSteps;
  // torch.linspace(start, end, n, dtype=float32): step in float32, the
  // first half counted from start and the second half from end.
  auto linspace = [&](float a, float b) {
    std::vector<float> v((size_t)n);
    float step = (b - a) / (float)(n - 1);
    long half = n / 2;
    for (long i = 0; i < n; ++i)
      v[(size_t)i] = i < half ? a + step * (float)i : b - step * (float)(n - 1 - i);
    return v;
  };
  BetaTable t;
  std::vector<float> &betas = t.betas;
  if (spec.schedule == "scaled_linear") {
    // beta_start ** 0.5 in Python (float64), then a float32 linspace.
    betas = linspace((float)std::sqrt(spec.betaStart), (float)std::sqrt(spec.betaEnd));
    for (float &b : betas)
      b = b * b;
  } else if (spec.schedule == "squaredcos_cap_v2") {
    // diffusers' betas_for_alpha_bar (cosine, max_beta 0.999), in float64
    // and then made a float32 tensor.
    auto alphaBar = [](double u) {
      double c = std::cos((u + 0.008) / 1.008 * M_PI / 2);
      return c * c;
    };
    for (long i = 0; i < n; ++i)
      betas.push_back((float)std::min(
          1 - alphaBar((double)(i + 1) / (double)n) / alphaBar((double)i / (double)n), 0.999));
  } else if (spec.schedule == "sigmoid") {
    // sigmoid(linspace(-6, 6)) * (end - start) + start, in float32.
    betas = linspace(-6.0f, 6.0f);
    for (float &b : betas)
      b = 1.0f / (1.0f + std::exp(-b)) * (float)(spec.betaEnd - spec.betaStart) +
          (float)spec.betaStart;
  } else if (spec.schedule == "table") {
    for (double b : spec.betas)
      betas.push_back((float)b);
  } else {
    betas = linspace((float)spec.betaStart, (float)spec.betaEnd);
  }
  // torch's CPU cumprod accumulates float32 input in double.
  auto cumprod = [](const std::vector<float> &a) {
    std::vector<float> out(a.size());
    double prod = 1.0;
    for (size_t i = 0; i < a.size(); ++i)
      out[i] = (float)(prod *= (double)a[i]);
    return out;
  };
  auto alphas = [](const std::vector<float> &b) {
    std::vector<float> a(b.size());
    for (size_t i = 0; i < b.size(); ++i)
      a[i] = 1.0f - b[i];
    return a;
  };
  if (spec.zeroTerminalSnr && !betas.empty()) {
    // diffusers' rescale_zero_terminal_snr (Lin et al. 2024, algorithm 1),
    // in float32: shift sqrt(alphas_cumprod) to end at 0, scale it to keep
    // its start, and recover the betas.
    std::vector<float> root = cumprod(alphas(betas));
    for (float &r : root)
      r = std::sqrt(r);
    float first = root.front(), last = root.back();
    float scale = first / (first - last);
    for (float &r : root)
      r = (r - last) * scale;
    std::vector<float> bar(root.size());
    for (size_t i = 0; i < root.size(); ++i)
      bar[i] = root[i] * root[i];
    betas[0] = 1.0f - bar[0];
    for (size_t i = 1; i < bar.size(); ++i)
      betas[i] = 1.0f - bar[i] / bar[i - 1];
  }
  t.alphasCumprod = cumprod(alphas(betas));
  return t;
}

/// A table's noise levels as diffusers' k-style and multistep schedulers
/// see them: sigma_k = ((1 - acp_k) / acp_k) ** 0.5 in float32 torch, and
/// numpy's float32 log of them.
struct TableSigmas {
  std::vector<float> sigma, logSigma;

  explicit TableSigmas(const std::vector<float> &acp) {
    for (float a : acp) {
      float s = std::sqrt((1.0f - a) / a);
      sigma.push_back(s);
      logSigma.push_back((float)std::log((double)s));
    }
  }
  long size() const { return (long)sigma.size(); }

  /// np.interp(t, arange(n), sigma): linear in sigma between integer
  /// timesteps, clamped to the table's ends; NaN for NaN.
  double sigmaAt(double t) const {
    long n = size();
    if (std::isnan(t) || n == 0)
      return NAN;
    if (t <= 0)
      return sigma.front();
    if (t >= (double)(n - 1))
      return sigma.back();
    long j = (long)std::floor(t);
    double f0 = sigma[(size_t)j], f1 = sigma[(size_t)j + 1];
    return (f1 - f0) * (t - (double)j) + f0;
  }

  /// diffusers' _sigma_to_t: the last index whose log sigma is <= log s
  /// (at most n - 2), and the fraction of the way to the next one in log
  /// sigma, clipped to [0, 1]. The log sigmas are a float32 array and log s
  /// a float64 scalar, so numpy 1.x's value-based casting does the
  /// comparisons and the fraction in float32 (log s rounded to float32
  /// first); only (1 - w) lo + w (lo + 1) is float64, the indices being
  /// int64. numpy's float32 log is not correctly rounded either (on numpy
  /// 1.24/x86-64, 142 of the 1000 log sigmas of SD's linear table differ from
  /// the correctly rounded ones taken here), so a fractional timestep may
  /// still differ from diffusers' by a float32 ulp.
  double timeAt(double s) const {
    long n = size();
    if (std::isnan(s) || n < 2)
      return NAN;
    float l = (float)std::log(std::max(s, 1e-10));
    long lo = 0;
    for (long k = 0; k < n; ++k)
      if (l - logSigma[(size_t)k] >= 0.0f)
        lo = k;
    lo = std::min(lo, n - 2);
    float low = logSigma[(size_t)lo], high = logSigma[(size_t)lo + 1];
    float w = std::clamp((low - l) / (low - high), 0.0f, 1.0f);
    return (double)(1.0f - w) * (double)lo + (double)w * (double)(lo + 1);
  }

  /// ComfyUI's ModelSamplingDiscrete.timestep: the timestep whose float32
  /// log sigma is nearest to log s taken in float32 (torch's argmin: the
  /// lower one on a tie).
  long nearestAt(double s) const {
    float l = (float)std::log(s);
    long best = 0;
    for (long k = 1; k < size(); ++k)
      if (std::fabs(l - logSigma[(size_t)k]) < std::fabs(l - logSigma[(size_t)best]))
        best = k;
    return best;
  }
};

} // namespace diffuse::rt

#endif
