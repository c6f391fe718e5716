//===- likelihood.h - PF-ODE log-likelihood ---------------------*- C++ -*-===//
//
// log p_t0(x) = log p_T(x_T) + int_t0^T div f(x_t, t) dt along the
// probability-flow ODE dx/dt = f = A(t) x + B(t) F(K(t) x, t), whose affine
// form the compiler derives (diffuse-derive-likelihood; K = 1 except for an
// edm model's scaled input). The divergence is D A + B K tr(dF/dz): tr(dF/dz)
// from the network when it offers it exactly
// (Network::divergence), otherwise Hutchinson's estimate with Rademacher
// probes and central-difference Jacobian-vector products.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_LIKELIHOOD_H
#define DIFFUSE_LIKELIHOOD_H

#include "diffuse/network.h"
#include "diffuse/runtime.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace diffuse::rt {

struct LikelihoodOptions {
  int steps = 100;  // classical RK4 steps, uniform in lambda (in t where lambda is infinite)
  /// 0: the exact divergence, the network's own (Network::divergence) or,
  /// for a network without one of at most kMaxBasisDim dimensions, the
  /// trace of its Jacobian by central differences along each axis (2 dim
  /// network calls); K > 0: Hutchinson with K probes.
  int probes = 0;
  static constexpr int kMaxBasisDim = 64;
  uint64_t seed = 0; // of the probes
  /// log p_T(x_T); default: N(0, (alpha_T^2 + sigma_T^2) I), data of unit variance.
  std::function<double(const double *xT)> logPrior;
};

/// How logLikelihood computed the divergence.
enum class DivergenceKind { Network, Basis, Hutchinson };

/// The log-likelihood of each row of x (rows x dim, at the domain's start)
/// under the sampler's process and network. False with `err` on failure.
bool logLikelihood(Runner &runner, const CompiledSampler &sampler, Network &net,
                   const std::vector<double> &x, int64_t rows, int dim,
                   const LikelihoodOptions &o, std::vector<double> &out, std::string &err,
                   DivergenceKind *how = nullptr);

struct LikelihoodDemoOptions {
  int64_t batch = 256;
  int steps = 100, probes = 0;
  uint64_t seed = 0;
  /// A network plugin (.so, the C ABI of diffuse/network.h) instead of the
  /// exact analytic network; "" = the analytic one.
  std::string network;
};

/// `diffuse likelihood`: samples of the built-in 2-D mixture's marginal at
/// the domain's start, their PF-ODE log-likelihood under the exact analytic
/// network, against the exact log-density. Returns 0 on success.
int runLikelihoodDemo(const CompiledSampler &sampler, const LikelihoodDemoOptions &o,
                      std::ostream &os);

} // namespace diffuse::rt

#endif
