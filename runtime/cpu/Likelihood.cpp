//===- Likelihood.cpp - PF-ODE log-likelihood -----------------------------===//
#include "diffuse/likelihood.h"
#include "diffuse/demo.h"

#include "diffuse/models.h"
#include "diffuse/random.h"

#include <cmath>
#include <cstdio>

namespace diffuse::rt {

namespace {

/// The ODE in a time variable u (lambda, or t where lambda is infinite):
/// dx/du and d(log-density change)/du at one u for all rows.
struct Field {
  Runner &runner;
  const CompiledSampler &sampler;
  Network &net;
  const LikelihoodOptions &o;
  int64_t rows;
  int dim;
  bool inLambda;
  DivergenceKind how;
  std::vector<double> f, fp, fm, xp, xm, tm, tr, z;
  int64_t evals = 0;
  bool divergenceFailed = false; // the network's own trace failed at some call

  void call(const std::vector<double> &x, double tmodel, std::vector<double> &out) {
    tm.assign(rows, tmodel);
    // A model with learned variance returns its variance channels after
    // each row's prediction; the ODE uses the prediction alone.
    bool variance = sampler.manifest.str("model.variance") == "learned_range";
    out.resize(x.size() * (variance ? 2 : 1));
    dfs_net_call c{rows, dim, DFS_F64, x.data(), tm.data(), nullptr, out.data(), 0, rows};
    net.evaluate(c);
    if (variance) {
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(out.begin() + r * 2 * dim, dim, out.begin() + r * dim);
      out.resize(x.size());
    }
  }

  void operator()(double u, const std::vector<double> &x, std::vector<double> &dx,
                  std::vector<double> &dl) {
    double t = inLambda ? runner.timeAtLambda(u) : u;
    Point p = runner.pointAt(t);
    double a = p[DFS_POINT_A], s = p[DFS_POINT_S];
    // du/dt: lambda' = a'/a - s'/s, or 1 in t.
    double dudt = inLambda ? p[DFS_POINT_DA] / a - p[DFS_POINT_DS] / s : 1.0;
    double A = sampler.odeCoefX(t), B = sampler.odeCoefNet(t);
    // The network's input z = K x (an edm model's scaled input; else x).
    double K = sampler.odeCoefIn ? sampler.odeCoefIn(t) : 1.0;
    z.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      z[i] = K * x[i];
    call(z, p[DFS_POINT_TMODEL], f);
    tr.assign(rows, 0.0);
    dfs_net_call c{rows, dim, DFS_F64, z.data(), tm.data(), nullptr, nullptr, 0, rows};
    if (how == DivergenceKind::Network) {
      divergenceFailed |= !net.divergence(c, tr.data());
    } else if (how == DivergenceKind::Basis) {
      // tr J = sum_j dF_j/dz_j, each by a central difference along axis j.
      xp = z;
      for (int j = 0; j < dim; ++j) {
        std::vector<double> hj(rows);
        for (int64_t r = 0; r < rows; ++r) {
          size_t i = (size_t)r * dim + j;
          hj[r] = 1e-5 * (1 + std::fabs(z[i]));
          xp[i] = z[i] + hj[r];
        }
        call(xp, p[DFS_POINT_TMODEL], fp);
        for (int64_t r = 0; r < rows; ++r)
          xp[(size_t)r * dim + j] = z[(size_t)r * dim + j] - hj[r];
        call(xp, p[DFS_POINT_TMODEL], fm);
        for (int64_t r = 0; r < rows; ++r) {
          size_t i = (size_t)r * dim + j;
          tr[r] += (fp[i] - fm[i]) / (2 * hj[r]);
          xp[i] = z[i];
        }
      }
    } else {
      // Hutchinson: E[p^T J p] = tr J with Rademacher p; J p by central differences.
      xp.resize(x.size());
      xm.resize(x.size());
      std::vector<double> pr(x.size());
      for (int k = 0; k < o.probes; ++k) {
        for (size_t i = 0; i < x.size(); ++i) {
          pr[i] = uniformProbe(k, i) < 0.5 ? -1.0 : 1.0;
          double h = 1e-4 * (1 + std::fabs(z[i]));
          xp[i] = z[i] + h * pr[i];
          xm[i] = z[i] - h * pr[i];
        }
        call(xp, p[DFS_POINT_TMODEL], fp);
        call(xm, p[DFS_POINT_TMODEL], fm);
        for (int64_t r = 0; r < rows; ++r)
          for (int d = 0; d < dim; ++d) {
            size_t i = (size_t)r * dim + d;
            double h = 1e-4 * (1 + std::fabs(z[i]));
            tr[r] += pr[i] * (fp[i] - fm[i]) / (2 * h) / o.probes;
          }
      }
    }
    dx.resize(x.size());
    dl.resize(rows);
    for (size_t i = 0; i < x.size(); ++i)
      dx[i] = (A * x[i] + B * f[i]) / dudt;
    for (int64_t r = 0; r < rows; ++r)
      dl[r] = (dim * A + B * K * tr[r]) / dudt;
    ++evals;
  }

  double uniformProbe(int k, size_t i) {
    return uniformDraw(o.seed, (uint64_t)i, (uint32_t)(evals * o.probes + k));
  }
};

} // namespace

bool logLikelihood(Runner &runner, const CompiledSampler &sampler, Network &net,
                   const std::vector<double> &x, int64_t rows, int dim,
                   const LikelihoodOptions &o, std::vector<double> &out, std::string &err,
                   DivergenceKind *how) {
  if (!sampler.odeCoefX || !sampler.odeCoefNet) {
    err = "the log-likelihood needs a Gaussian path (a beta table's PF-ODE has no derivatives)";
    return false;
  }
  if (o.steps < 1 || o.probes < 0) {
    err = "the log-likelihood needs steps >= 1 and probes >= 0";
    return false;
  }
  auto [t0, t1] = runner.timeRange();
  auto lam = [&](double t) {
    Point p = runner.pointAt(t);
    return std::log(p[DFS_POINT_A] / p[DFS_POINT_S]);
  };
  double l0 = lam(t0), l1 = lam(t1);
  DivergenceKind kind = DivergenceKind::Hutchinson;
  if (o.probes == 0) {
    double probe = 0;
    dfs_net_call c{1, dim, DFS_F64, x.data(), &probe, nullptr, nullptr, 0, 1};
    kind = net.divergence(c, &probe) ? DivergenceKind::Network : DivergenceKind::Basis;
    if (kind == DivergenceKind::Basis && dim > LikelihoodOptions::kMaxBasisDim) {
      err = "the network gives no exact divergence, and with " + std::to_string(dim) +
            " dimensions (more than " + std::to_string(LikelihoodOptions::kMaxBasisDim) +
            ") its Jacobian's trace by differences along each axis is too costly; use "
            "Hutchinson probes (--probes K)";
      return false;
    }
  }
  if (how)
    *how = kind;
  Field field{runner, sampler, net, o, rows, dim, std::isfinite(l0) && std::isfinite(l1), kind,
              {}, {}, {}, {}, {}, {}, {}, {}, 0};
  double u0 = field.inLambda ? l0 : t0, u1 = field.inLambda ? l1 : t1;
  // Classical RK4 on (x, accumulated divergence).
  std::vector<double> y = x, k1, k2, k3, k4, l1v, l2v, l3v, l4v, tmp(x.size());
  std::vector<double> acc(rows, 0.0);
  double h = (u1 - u0) / o.steps;
  for (int n = 0; n < o.steps; ++n) {
    double u = u0 + n * h;
    auto axpy = [&](const std::vector<double> &k, double c) {
      for (size_t i = 0; i < y.size(); ++i)
        tmp[i] = y[i] + c * k[i];
      return tmp;
    };
    field(u, y, k1, l1v);
    field(u + h / 2, axpy(k1, h / 2), k2, l2v);
    field(u + h / 2, axpy(k2, h / 2), k3, l3v);
    field(u + h, axpy(k3, h), k4, l4v);
    for (size_t i = 0; i < y.size(); ++i)
      y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    for (int64_t r = 0; r < rows; ++r)
      acc[r] += h / 6 * (l1v[r] + 2 * l2v[r] + 2 * l3v[r] + l4v[r]);
  }
  if (field.divergenceFailed) {
    err = "the network's divergence failed during the integration (it succeeded at the first "
          "call); use Hutchinson probes (--probes K)";
    return false;
  }
  Point pT = runner.pointAt(t1);
  double var = pT[DFS_POINT_A] * pT[DFS_POINT_A] + pT[DFS_POINT_S] * pT[DFS_POINT_S];
  out.resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const double *xT = &y[(size_t)r * dim];
    double lp;
    if (o.logPrior) {
      lp = o.logPrior(xT);
    } else {
      double q = 0;
      for (int d = 0; d < dim; ++d)
        q += xT[d] * xT[d];
      lp = -0.5 * q / var - 0.5 * dim * std::log(2 * M_PI * var);
    }
    out[r] = lp + acc[r];
  }
  return true;
}

int runLikelihoodDemo(const CompiledSampler &sampler, const LikelihoodDemoOptions &o,
                      std::ostream &os) {
  const Manifest &m = sampler.manifest;
  if (m.str("process.kind") != "path") {
    os << "error: the log-likelihood needs a Gaussian path; '" << m.str("process.name")
       << "' is a beta table\n";
    return 1;
  }
  Mixture mix = Mixture::ring2d();
  const int D = mix.dim;
  std::string pred = m.str("model.predicts");
  Output out = outputFor(pred);
  Runner *self = nullptr;
  GaussianMixtureNetwork net(mix, analyticTimeDecoder(m, 0, self), out);
  net.setLearnedVariance(m.str("model.variance") == "learned_range");
  Runner runner(sampler, net, o.batch, D);
  self = &runner;
  // Samples of the marginal at the domain's start, whose density is exact.
  auto [t0, t1] = runner.timeRange();
  Point p0 = runner.pointAt(t0), pT = runner.pointAt(t1);
  std::vector<double> x, e(D);
  sampleMixture(mix, (long)o.batch, o.seed, 0, x);
  for (int64_t r = 0; r < o.batch; ++r) {
    normals(o.seed, (uint64_t)r, 4, D, e.data());
    for (int d = 0; d < D; ++d)
      x[r * D + d] = p0[DFS_POINT_A] * x[r * D + d] + p0[DFS_POINT_S] * e[d];
  }
  LikelihoodOptions lo;
  lo.steps = o.steps;
  lo.probes = o.probes;
  lo.seed = o.seed;
  // The exact marginal at T as the prior, so that only the ODE is measured.
  lo.logPrior = [&](const double *xT) {
    return marginalLogDensity(mix, xT, pT[DFS_POINT_A], pT[DFS_POINT_S]);
  };
  std::vector<double> ll;
  std::string err;
  std::unique_ptr<FunctionNetwork> plugin;
  if (!o.network.empty() && !(plugin = loadNetworkPlugin(o.network, err))) {
    os << "error: " << err << "\n";
    return 1;
  }
  DivergenceKind how;
  Network &used = plugin ? static_cast<Network &>(*plugin) : net;
  if (!logLikelihood(runner, sampler, used, x, o.batch, D, lo, ll, err, &how)) {
    os << "error: " << err << "\n";
    return 1;
  }
  if (plugin && !plugin->failure().empty()) {
    os << "error: " << plugin->failure() << " (" << o.network << ")\n";
    return 1;
  }
  double sum = 0, exactSum = 0, worst = 0;
  for (int64_t r = 0; r < o.batch; ++r) {
    double exact = marginalLogDensity(mix, &x[(size_t)r * D], p0[DFS_POINT_A], p0[DFS_POINT_S]);
    sum += ll[r];
    exactSum += exact;
    worst = std::max(worst, std::fabs(ll[r] - exact));
  }
  char line[256];
  os << "PF-ODE log-likelihood of " << o.batch << " samples of the 2-D ring mixture at t = " << t0
     << " (process " << m.str("process.name") << ", model predicts " << pred
     << (plugin ? ", network " + o.network : std::string()) << "), " << o.steps << " RK4 steps, "
     << (how == DivergenceKind::Hutchinson
             ? "Hutchinson with " + std::to_string(o.probes) + " probes"
         : how == DivergenceKind::Basis
             ? std::string("exact divergence (central differences along each axis)")
             : std::string("exact divergence"))
     << ":\n";
  std::snprintf(line, sizeof line,
                "mean %.6f, exact %.6f; mean error %.2e, max |error| %.2e\n", sum / o.batch,
                exactSum / o.batch, std::fabs(sum - exactSum) / o.batch, worst);
  os << line;
  return 0;
}

} // namespace diffuse::rt
