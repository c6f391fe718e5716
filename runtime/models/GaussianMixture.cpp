//===- GaussianMixture.cpp - the exact denoiser of a Gaussian mixture -----===//
//
// For x = a*x0 + s*eps with x0 ~ sum_k w_k N(mu_k, s_k^2 I) and v_k = a^2 s_k^2 + s^2:
//   r_k    = softmax_k(log w_k - |x - a mu_k|^2 / (2 v_k) - D/2 log(2 pi v_k))
//   x0_hat = sum_k r_k (mu_k + a s_k^2 / v_k (x - a mu_k))
//   eps_hat= s sum_k r_k (x - a mu_k) / v_k        (finite as s -> 0 and a -> 0)
// evaluated in float64 and cast to the dtype of the call.
//
//===----------------------------------------------------------------------===//
#include "diffuse/models.h"
#include "diffuse/random.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace diffuse::rt {

namespace {

/// The responsibilities r_k (normalized; 0 for components of another class
/// than `label` >= 0) and the variances v_k = a^2 s_k^2 + s^2 of the
/// components of the marginal at x = a x0 + s eps.
void responsibilities(const Mixture &m, const double *x, double a, double s, int label,
                      const double *prompt, double *r, double *v) {
  const int D = m.dim, K = m.components();
  double best = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < K; ++k) {
    v[k] = a * a * m.stds[k] * m.stds[k] + s * s;
    if ((label >= 0 && m.classes[k] != label) || (prompt && !(prompt[k] > 0))) {
      r[k] = -std::numeric_limits<double>::infinity();
      continue;
    }
    double d2 = 0;
    for (int j = 0; j < D; ++j) {
      double res = x[j] - a * m.means[k][j];
      d2 += res * res;
    }
    double w = prompt ? m.weights[k] * prompt[k] : m.weights[k];
    r[k] = std::log(w) - 0.5 * d2 / v[k] - 0.5 * D * std::log(2 * M_PI * v[k]);
    best = std::max(best, r[k]);
  }
  double total = 0;
  for (int k = 0; k < K; ++k)
    total += r[k] = std::isinf(r[k]) ? 0 : std::exp(r[k] - best);
  for (int k = 0; k < K; ++k)
    r[k] /= total;
}

/// Row i of a call's input, in float64 (rows repeat past call.x_rows).
void readRow(const dfs_net_call &call, int64_t i, double *out) {
  int64_t r = call.x_rows > 0 ? i % call.x_rows : i, D = call.dim;
  for (int64_t j = 0; j < D; ++j)
    out[j] = call.dtype == DFS_F32 ? ((const float *)call.x)[r * D + j]
                                   : ((const double *)call.x)[r * D + j];
}

} // namespace

void posteriorMean(const Mixture &m, const double *x, double a, double s, int label, double *x0,
                   double *eps, const double *prompt) {
  const int D = m.dim, K = m.components();
  double r[64], v[64];
  responsibilities(m, x, a, s, label, prompt, r, v);
  for (int j = 0; j < D; ++j)
    x0[j] = eps[j] = 0;
  for (int k = 0; k < K; ++k) {
    if (r[k] == 0)
      continue;
    for (int j = 0; j < D; ++j) {
      double res = x[j] - a * m.means[k][j];
      x0[j] += r[k] * (m.means[k][j] + a * m.stds[k] * m.stds[k] / v[k] * res);
      eps[j] += r[k] * res / v[k];
    }
  }
  for (int j = 0; j < D; ++j)
    eps[j] *= s;
}

double Mixture::logDensity(const double *x) const {
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> l(weights.size());
  for (int k = 0; k < components(); ++k) {
    double v = stds[k] * stds[k], d2 = 0;
    for (int j = 0; j < dim; ++j)
      d2 += (x[j] - means[k][j]) * (x[j] - means[k][j]);
    l[k] = std::log(weights[k]) - 0.5 * d2 / v - 0.5 * dim * std::log(2 * M_PI * v);
    best = std::max(best, l[k]);
  }
  double t = 0;
  for (double v : l)
    t += std::exp(v - best);
  return best + std::log(t);
}

Mixture Mixture::ring2d() {
  Mixture m;
  m.dim = 2;
  for (int k = 0; k < 8; ++k) {
    double th = 2 * M_PI * k / 8;
    m.weights.push_back(1.0 / 8);
    m.means.push_back({2.0 * std::cos(th), 2.0 * std::sin(th)});
    m.stds.push_back(0.15);
    m.classes.push_back(k % 2);
  }
  return m;
}

Output outputFor(const std::string &predicts) {
  if (predicts == "x0") return Output::X0;
  if (predicts == "v") return Output::V;
  if (predicts == "velocity") return Output::Velocity;
  if (predicts == "edm") return Output::Edm;
  if (predicts == "score") return Output::Score;
  if (predicts == "class_grad") return Output::ClassGrad;
  if (predicts == "degradation") return Output::Degradation;
  return Output::Eps;
}

void GaussianMixtureNetwork::evaluate(const dfs_net_call &call) {
  const int D = (int)call.dim, K = m_.components();
  std::vector<double> xr(D), x0(D), eps(D), prompt(K);
  // A conditioning input of one value per component reweights them (a
  // "prompt"); a row of zeros leaves the mixture as it is.
  const dfs_net_input *weights = nullptr;
  for (int64_t k = 0; k < call.n_inputs; ++k)
    if (call.inputs[k].dim == K && !weights)
      weights = &call.inputs[k];
  for (int64_t i = 0; i < call.batch; ++i) {
    TimeDecode td = decode_(call.t[i]);
    int label = call.labels ? call.labels[i] : -1;
    const double *pw = nullptr;
    if (weights) {
      double total = 0;
      for (int k = 0; k < K; ++k)
        total += std::abs(prompt[k] = weights->dtype == DFS_F32
                                          ? ((const float *)weights->data)[i * K + k]
                                          : ((const double *)weights->data)[i * K + k]);
      pw = total > 0 ? prompt.data() : nullptr;
    }
    readRow(call, i, xr.data());
    // EDM: the input is c_in y with y = x/a and c_in = 1/sqrt(u^2 + d^2), u = s/a.
    double u = td.s / td.a, d = sigmaData_, norm = std::sqrt(u * u + d * d);
    if (out_ == Output::Edm)
      for (int j = 0; j < D; ++j)
        xr[j] *= td.a * norm;
    if (out_ == Output::Degradation)
      std::fill(x0.begin(), x0.end(), 0.0); // the fade below needs no posterior
    else
      posteriorMean(m_, xr.data(), td.a, td.s, label, x0.data(), eps.data(), pw);
    if (out_ == Output::ClassGrad) {
      // grad log p_t(y | x) = grad log p_t(x | y) - grad log p_t(x)
      //                     = (eps_uncond - eps_y) / s; 0 without a label.
      std::vector<double> x0u(D), epsU(D);
      posteriorMean(m_, xr.data(), td.a, td.s, -1, x0u.data(), epsU.data());
      for (int j = 0; j < D; ++j)
        x0[j] = label < 0 ? 0.0 : (epsU[j] - eps[j]) / td.s;
    }
    for (int j = 0; j < D; ++j) {
      double o;
      switch (out_) {
      case Output::Eps: o = eps[j]; break;
      case Output::X0:
      case Output::ClassGrad: o = x0[j]; break;
      case Output::V: o = td.a * eps[j] - td.s * x0[j]; break;
      case Output::Score: o = -eps[j] / td.s; break;
      case Output::Degradation: o = td.a * xr[j]; break;
      case Output::Edm: // (x0 - c_skip y) / c_out
        o = (x0[j] - d * d / (norm * norm) * xr[j] / td.a) / (u * d / norm);
        break;
      default: o = td.da * x0[j] + td.ds * eps[j]; break;
      }
      // With learned variance a row is the prediction, then the variance
      // channels (0: halfway between log beta and log beta-tilde).
      int64_t at = learnedVariance_ ? i * 2 * D + j : i * D + j;
      for (int64_t k = 0; k < (learnedVariance_ ? 2 : 1); ++k) {
        double value = k == 0 ? o : 0.0;
        if (call.dtype == DFS_F32)
          ((float *)call.out)[at + k * D] = (float)value;
        else
          ((double *)call.out)[at + k * D] = value;
      }
    }
  }
}

void sampleMixture(const Mixture &m, long rows, uint64_t seed, uint64_t first,
                   std::vector<double> &x) {
  int D = m.dim;
  x.resize((size_t)rows * D);
  std::vector<double> z(D);
  for (long r = 0; r < rows; ++r) {
    double u = uniformDraw(seed, first + r, 2), acc = 0;
    int k = 0;
    for (; k + 1 < m.components(); ++k)
      if ((acc += m.weights[k]) > u)
        break;
    normals(seed, first + r, 3, D, z.data());
    for (int d = 0; d < D; ++d)
      x[r * D + d] = m.means[k][d] + m.stds[k] * z[d];
  }
}

double marginalLogDensity(const Mixture &m, const double *x, double a, double s) {
  Mixture mt = m;
  for (int k = 0; k < m.components(); ++k) {
    for (double &v : mt.means[k])
      v *= a;
    mt.stds[k] = std::sqrt(a * a * m.stds[k] * m.stds[k] + s * s);
  }
  return mt.logDensity(x);
}

// The output is c1 x + c2 g with g = grad log p_t(x) = -sum_k r_k d_k / v_k
// (d_k = x - a mu_k), so its Jacobian's trace is c1 D + c2 tr H with
//   tr H = sum_k r_k (|d_k|^2 / v_k^2 - D / v_k) - |g|^2;
// an Edm network's is with respect to its scaled input.
bool GaussianMixtureNetwork::divergence(const dfs_net_call &call, double *trace) {
  const int D = (int)call.dim, K = m_.components();
  std::vector<double> xr(D), g(D), r(K), v(K);
  for (int64_t i = 0; i < call.batch; ++i) {
    TimeDecode td = decode_(call.t[i]);
    int label = call.labels ? call.labels[i] : -1;
    readRow(call, i, xr.data());
    // EDM: the input is z = c_in y (see evaluate); x = z a norm.
    double u = td.s / td.a, dd = sigmaData_, norm = std::sqrt(u * u + dd * dd);
    if (out_ == Output::Edm)
      for (int j = 0; j < D; ++j)
        xr[j] *= td.a * norm;
    responsibilities(m_, xr.data(), td.a, td.s, label, nullptr, r.data(), v.data());
    double trH = 0;
    std::fill(g.begin(), g.end(), 0.0);
    for (int k = 0; k < K; ++k) {
      if (r[k] == 0)
        continue;
      double d2 = 0;
      for (int j = 0; j < D; ++j) {
        double d = xr[j] - td.a * m_.means[k][j];
        d2 += d * d;
        g[j] -= r[k] * d / v[k];
      }
      trH += r[k] * (d2 / (v[k] * v[k]) - D / v[k]);
    }
    for (int j = 0; j < D; ++j)
      trH -= g[j] * g[j];
    double a = td.a, s = td.s, c1, c2;
    switch (out_) {
    case Output::Eps: c1 = 0, c2 = -s; break;                          // -s g
    case Output::X0: c1 = 1 / a, c2 = s * s / a; break;                // (x + s^2 g) / a
    case Output::V: c1 = -s / a, c2 = -(a * s + s * s * s / a); break; // a eps - s x0
    case Output::Score: c1 = 0, c2 = 1; break;                          // g
    case Output::Edm: {
      // F = (x0 - c_skip x / a) / c_out with x0 = (x + s^2 g) / a and
      // dx/dz = a norm: tr dF/dz = (D (1 - c_skip) + s^2 tr H) norm / c_out.
      double cskip = dd * dd / (norm * norm), cout = u * dd / norm;
      trace[i] = (D * (1 - cskip) + s * s * trH) * norm / cout;
      continue;
    }
    case Output::ClassGrad: return false;
    default: c1 = td.da / a, c2 = td.da * s * s / a - td.ds * s; break; // a' x0 + s' eps
    }
    trace[i] = c1 * D + c2 * trH;
  }
  return true;
}

} // namespace diffuse::rt
