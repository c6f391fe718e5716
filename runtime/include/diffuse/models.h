//===- models.h - built-in analytic networks --------------------*- C++ -*-===//
//
// The exact posterior mean of a Gaussian mixture: with it the exact answer
// is known, so a solver's error can be measured rather than guessed.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_MODELS_H
#define DIFFUSE_MODELS_H

#include "diffuse/network.h"

#include <functional>
#include <string>
#include <vector>

namespace diffuse::rt {

struct Mixture {
  int dim = 0;
  std::vector<double> weights;             // K
  std::vector<std::vector<double>> means;  // K x D
  std::vector<double> stds;                // K (isotropic)
  std::vector<int> classes;                // K (class label of each component)

  int components() const { return (int)weights.size(); }
  /// log p(x) of the data distribution.
  double logDensity(const double *x) const;
  /// The built-in 2-D demo mixture: 8 components on a ring, 2 classes.
  static Mixture ring2d();
};

/// Reads a mixture from JSON: {"dim", "weights", "means", "stds", "classes"},
/// or an object with one under "mixture" (a golden case).
bool loadMixture(const std::string &path, Mixture &out, std::string &err);

/// Gaussian-path coefficients of a network time value.
struct TimeDecode {
  double a, s, da, ds; // alpha, sigma and their time derivatives
};

/// diffusers' discrete network time: an integral t reads alphas_cumprod,
/// a fractional t interpolates log sigma linearly (the inverse of _sigma_to_t).
TimeDecode decodeDiscreteTimestep(const std::vector<double> &acp, double t);

/// A log-alpha table at a fractional index, linear between entries and
/// extrapolated from the end intervals (DPM-Solver's interpolate_fn).
double interpolateLogAlpha(const std::vector<double> &logAlpha, double pos);

/// `rows` draws from the mixture (its dim values each), keyed by (seed,
/// first + row): draw 2 picks the component, draw 3 its normal.
void sampleMixture(const Mixture &m, long rows, uint64_t seed, uint64_t first,
                   std::vector<double> &x);

/// log p_t(x) of the marginal x = a x0 + s eps, x0 ~ m (exact: a mixture).
double marginalLogDensity(const Mixture &m, const double *x, double a, double s);

/// What the analytic network returns (Edm: Karras et al.'s preconditioned F,
/// whose input is c_in x/alpha and x0 = c_skip x/alpha + c_out F; ClassGrad:
/// the exact noisy classifier's grad_x log p_t(label | x)).
/// Degradation: not the mixture's, the demo's degradation operator
/// x -> alpha(t) x (the process's mean: a fade to 0, for cold diffusion).
enum class Output { Eps, X0, V, Velocity, Score, Edm, ClassGrad, Degradation };

/// The output of a model that `predicts` (eps, x0, v, velocity, score, edm,
/// class_grad, degradation).
Output outputFor(const std::string &predicts);

/// Posterior mean of x0 and eps for x = a*x0 + s*eps, x0 ~ mixture,
/// restricted to components of class `label` (>= 0), per row; with
/// `prompt` (K values), component k's weight is multiplied by prompt[k]
/// (those <= 0 are left out).
void posteriorMean(const Mixture &m, const double *x, double a, double s, int label, double *x0,
                   double *eps, const double *prompt = nullptr);

/// The exact network of a mixture. A named conditioning input with one
/// value per component is a "prompt": it reweights the components (zeros:
/// the mixture as it is), so sampling conditioned on a tensor has an exact
/// answer too.
class GaussianMixtureNetwork : public Network {
public:
  GaussianMixtureNetwork(Mixture m, std::function<TimeDecode(double)> decode, Output out)
      : m_(std::move(m)), decode_(std::move(decode)), out_(out) {}
  void evaluate(const dfs_net_call &call) override;
  bool acceptsRepeatedRows() const override { return true; }
  bool divergence(const dfs_net_call &call, double *trace) override;
  const Mixture &mixture() const { return m_; }
  /// The data standard deviation of an Edm network's preconditioning.
  void setSigmaData(double d) { sigmaData_ = d; }
  /// Outputs twice the channels, as a model with variance = learned_range:
  /// the prediction, then variance channels v = 0 (the log variance halfway
  /// between beta and beta-tilde; the mixture has no variance to learn that
  /// is independent of the step).
  void setLearnedVariance(bool on) { learnedVariance_ = on; }

private:
  Mixture m_;
  bool learnedVariance_ = false;
  double sigmaData_ = 0.5;
  std::function<TimeDecode(double)> decode_;
  Output out_;
};

} // namespace diffuse::rt

#endif
