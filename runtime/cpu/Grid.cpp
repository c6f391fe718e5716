//===- Grid.cpp - the time grid of a run ---------------------------------===//
//
// Runner::buildGrid: the grid families of the manifest (Note [Time grids] in
// docs/design.md) turned into steps, each as its two grid points (see Note
// [Grid points] in Runner.cpp), plus img2img's strength.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"
#include "diffuse/special.h"

#include <cmath>
#include <map>
#include <sstream>

namespace diffuse::rt {

std::vector<Step> Runner::buildGrid(std::string &err) const {
  const Manifest &m = sampler_.manifest;
  std::string kind = m.str("grid.kind");
  long trainSteps = (long)m.num("process.train_steps", 1000);
  std::vector<double> ts;
  std::vector<Point> pts;
  long steps = (long)m.num("grid.steps", 0);
  bool sigmaGrid = false; // ts holds VE noise levels sigma/alpha, not times

  if (kind == "given") {
    if (given_.t.size() < 2) {
      err = "grid = given needs the times from the caller (at least 2)";
      return {};
    }
    ts = given_.t;
  } else if (kind == "list") {
    ts = m.nums("grid.times");
  } else if (kind == "pairs") {
    // A grid declaration's (timestep, noise level) pairs.
    ts = m.nums("grid.times");
  } else if (kind == "sigmas") {
    // A grid declaration's noise levels (compiled), then 0 with append_zero.
    sigmaGrid = true;
    ts = m.nums("grid.times");
    if (m.num("grid.append_zero", 1) != 0)
      ts.push_back(0.0);
  } else if (kind == "uniform" || kind == "logsnr") {
    double lo = m.num("grid.from", NAN), hi = m.num("grid.to", NAN);
    auto snr = [&](double t) {
      Point p = pointAt(t);
      return std::log(p[DFS_POINT_A] / p[DFS_POINT_S]);
    };
    if (std::isnan(lo) || std::isnan(hi)) {
      // By default from the noisier end of the time range to the cleaner
      // one; `from` or `to` alone replaces its end only.
      auto [t0, t1] = timeRange();
      bool forward = snr(t0) < snr(t1);
      if (std::isnan(lo))
        lo = forward ? t0 : t1;
      if (std::isnan(hi))
        hi = forward ? t1 : t0;
    }
    // A flow's timestep shift (SD3, Flux) acts on the noise fraction u of
    // each time (1 at `lo`, 0 at `hi`): u -> shift u / (1 + (shift - 1) u);
    // with seq_len the shift is exp(mu), mu interpolated linearly in the
    // image's sequence length (diffusers' calculate_shift).
    double shift = m.num("grid.shift", 1);
    if (m.has("grid.seq_len")) {
      double b0 = m.num("grid.base_shift", 0.5), b1 = m.num("grid.max_shift", 1.15);
      double l0 = m.num("grid.base_seq_len", 256), l1 = m.num("grid.max_seq_len", 4096);
      shift = std::exp(b0 + (b1 - b0) * (m.num("grid.seq_len") - l0) / (l1 - l0));
    }
    double la = kind == "logsnr" ? snr(lo) : 0, lb = kind == "logsnr" ? snr(hi) : 0;
    for (long i = 0; i <= steps; ++i) {
      double f = (double)i / (double)steps;
      if (kind == "logsnr") {
        // DPM-Solver's logSNR grid: uniform in lambda, the ends exact.
        ts.push_back(i == 0       ? lo
                     : i == steps ? hi
                                  : timeAtLambda(la + (lb - la) * f));
        continue;
      }
      double u = 1 - f;
      if (shift != 1)
        u = shift * u / (1 + (shift - 1) * u);
      ts.push_back(hi + (lo - hi) * u);
    }
  } else if (kind == "karras" || kind == "exponential" || kind == "polyexponential" ||
             kind == "vp" || kind == "beta") {
    sigmaGrid = true;
    // Default noise levels: the process's own range of sigma/alpha.
    auto [t0, t1] = timeRange();
    auto ratio = [&](double t) {
      Point p = pointAt(t);
      return p[DFS_POINT_S] / p[DFS_POINT_A];
    };
    double r0 = ratio(t0), r1 = ratio(t1);
    double smin = m.num("grid.sigma_min", std::min(r0, r1));
    double smax = m.num("grid.sigma_max", std::max(r0, r1));
    double rho = m.num("grid.rho", kind == "karras" ? 7 : 1);
    for (long i = 0; i < steps; ++i) {
      double f = steps == 1 ? 0 : (double)i / (double)(steps - 1);
      if (kind == "karras") {
        ts.push_back(std::pow(std::pow(smax, 1 / rho) + f * (std::pow(smin, 1 / rho) -
                                                             std::pow(smax, 1 / rho)),
                              rho));
      } else if (kind == "exponential") {
        ts.push_back(std::exp(std::log(smax) + f * (std::log(smin) - std::log(smax))));
      } else if (kind == "beta") {
        // diffusers' use_beta_sigmas (Lee et al. 2024, "Beta Sampling is All
        // You Need"): the Beta(alpha, beta) quantile of 1 - f, from sigma_min
        // to sigma_max.
        double q = betaQuantile(1 - f, m.num("grid.alpha", 0.6), m.num("grid.beta", 0.6));
        ts.push_back(smin + q * (smax - smin));
      } else if (kind == "polyexponential") {
        // k-diffusion's get_sigmas_polyexponential: log sigma along (1 - f)^rho.
        double ramp = std::pow(1 - f, rho);
        ts.push_back(std::exp(std::log(smin) + ramp * (std::log(smax) - std::log(smin))));
      } else {
        // k-diffusion's get_sigmas_vp: the VP-SDE's sigma at t = 1 ... eps_s.
        double bd = m.num("grid.beta_d", 19.9), bm = m.num("grid.beta_min", 0.1);
        double tt = 1 + f * (m.num("grid.eps_s", 1e-3) - 1);
        ts.push_back(std::sqrt(std::expm1(0.5 * bd * tt * tt + bm * tt)));
      }
    }
    if (m.num("grid.append_zero", 1) != 0)
      ts.push_back(0.0);
  } else if (kind == "leading" || kind == "trailing" || kind == "linspace") {
    long offset = (long)m.num("grid.offset", 0);
    for (long i = 0; i < steps; ++i) {
      double t;
      if (kind == "leading")
        t = (double)((steps - 1 - i) * (trainSteps / steps) + offset);
      // numpy's arithmetic: arange(T, 0, -T / N) and linspace(0, T - 1, N)
      // (k times the step, the end exact), rounded with ties to even.
      // arange fills start + k * delta with delta = (start - T / N) - start,
      // which need not be -T / N: at N = 48, 937 where T - k T / N gives 938.
      else if (kind == "trailing")
        t = std::nearbyint(arangeAt((double)trainSteps, -(double)trainSteps / (double)steps, i)) -
            1;
      else if (i == 0)
        t = (double)(trainSteps - 1);
      else
        t = std::nearbyint((double)(steps - 1 - i) *
                           ((double)(trainSteps - 1) / (double)(steps - 1)));
      ts.push_back(t);
    }
    ts.push_back(-1); // the end of the chain
  } else {
    err = "unknown grid kind '" + kind + "'";
    return {};
  }

  const std::vector<double> pairSigmas = m.nums("grid.sigmas"); // kind == "pairs"
  // A declared grid of times with append_zero ends at noise level 0.
  bool cleanEnd = kind == "list" && m.num("grid.append_zero", 0) != 0;
  if (cleanEnd)
    ts.push_back(NAN);
  for (size_t i = 0; i < ts.size(); ++i) {
    bool hs = i < given_.sigma.size() && kind == "given";
    Point p;
    if (kind == "pairs") {
      p = Point{};
      p[DFS_POINT_BETA] = std::nan("");
      finishPoint(p, ts[i], true, i < pairSigmas.size() ? pairSigmas[i] : NAN);
    } else if (hs) {
      p = Point{};
      finishPoint(p, ts[i], true, given_.sigma[i]);
    } else if (cleanEnd && i + 1 == ts.size()) {
      p = pointAtSigma(0);
    } else {
      p = sigmaGrid ? pointAtSigma(ts[i]) : pointAt(ts[i]);
    }
    if (kind == "given" && i < given_.tmodel.size())
      p[DFS_POINT_TMODEL] = given_.tmodel[i];
    pts.push_back(p);
  }

  std::vector<Step> out;
  // With target = prev (diffusers DDIM), a given grid lists only the
  // timesteps, each the start of a step that goes to t - train_steps / steps;
  // otherwise every step goes to the next listed time.
  bool prev = m.str("grid.target") == "prev";
  size_t nsteps = prev && kind == "given" ? ts.size() : ts.size() - 1;
  long stride = trainSteps / (long)nsteps;
  for (size_t i = 0; i < nsteps; ++i) {
    if (prev) {
      double target = ts[i] - (double)stride;
      out.push_back({pts[i], pointAt(target < 0 ? -1 : target)});
    } else {
      out.push_back({pts[i], pts[i + 1]});
    }
  }
  // img2img (diffusers' strength): only the last int(steps * strength)
  // steps, starting from the data noised to the first of them.
  if (m.has("grid.strength")) {
    size_t keep = (size_t)((double)out.size() * m.num("grid.strength"));
    if (keep == 0) {
      err = "strength " + m.str("grid.strength") + " keeps no step of " +
            std::to_string(out.size()) + "; raise it or add steps";
      return {};
    }
    out.erase(out.begin(), out.end() - (long)keep);
  }
  // RePaint's resampling jumps (Lugmayr et al. 2022; diffusers'
  // RePaintScheduler.set_timesteps): walking down the N steps, after the
  // step at level k (counted from the clean end, 0 the last) for k = 0, L,
  // 2L, ... < N - L, go back up L levels, jump_n_sample - 1 times per k.
  // Going up is each step's own pair reversed (the compiled `select` sends
  // it to the forward transition).
  if (m.has("grid.jump_length")) {
    long L = (long)m.num("grid.jump_length"), n = (long)out.size();
    std::map<long, long> jumps;
    for (long j = 0; j < n - L; j += L)
      jumps[j] = (long)m.num("grid.jump_n_sample") - 1;
    std::vector<Step> walk;
    for (long k = n; k >= 1;) {
      --k;
      walk.push_back(out[(size_t)(n - 1 - k)]);
      if (auto it = jumps.find(k); it != jumps.end() && it->second > 0) {
        --it->second;
        for (long u = 0; u < L; ++u) {
          const Step &down = out[(size_t)(n - 1 - (k + u))];
          walk.push_back({down.t, down.s});
        }
        k += L;
      }
    }
    out = std::move(walk);
  }
  // repeat = T (annealed Langevin): T steps at each step's start level, the
  // first T - 1 from s to s, the last from s to t.
  if (long repeat = (long)m.num("grid.repeat", 1); repeat > 1) {
    std::vector<Step> rep;
    for (const Step &st : out) {
      for (long k = 1; k < repeat; ++k)
        rep.push_back({st.s, st.s});
      rep.push_back(st);
    }
    out = std::move(rep);
  }
  return out;
}

} // namespace diffuse::rt
