//===- train.h - the data side of a compiled training step ------*- C++ -*-===//
//
// A `train` spec compiles to scalar functions of the draw (see
// dialects/Diffuse/Transforms/DeriveTraining.cpp); this is what a C++
// training loop calls to turn a batch of data x0 into the network's input,
// time, regression target and loss weight:
//
//   x_t = alpha(t) x0 + sigma(t) eps,   target = c_x0(t) x0 + c_eps(t) eps,
//   loss = weight(t) * mean_over_elements (F(input, t_model) - target)^2
// with input = x_t, or c_in x_t / alpha for an EDM-preconditioned model.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_TRAIN_H
#define DIFFUSE_TRAIN_H

#include "diffuse/runtime.h"

#include <array>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace diffuse::rt {

using dfs_draw_fn = double (*)(double, double);
/// f(t, alpha, sigma, alpha', sigma') at the drawn time.
using dfs_train_fn = double (*)(double, double, double, double, double);

/// The entry points of one compiled training spec.
struct CompiledTrainer : ProcessFunctions {
  dfs_draw_fn time = nullptr; // t (or a beta table's timestep index) from (uniform u, normal n)
  dfs_train_fn modelTime = nullptr, coefX0 = nullptr, coefEps = nullptr, weight = nullptr;
  dfs_train_fn inputScale = nullptr; // the network's input is this times x_t
  std::vector<double> acp; // a beta table's alphas_cumprod (float32, as torch)
  Manifest manifest;
  SharedObject library;

  /// alpha, sigma, alpha', sigma' at t (NaN derivatives for a beta table).
  std::array<double, 4> at(double t) const;

  /// Loads a shared object made from a `train` spec.
  static std::unique_ptr<CompiledTrainer> load(const std::string &path, std::string &err);
};

/// One batch of training examples.
struct TrainBatch {
  std::vector<double> xt, input, target; // rows x dim (input: what the network is given)
  std::vector<double> t, tmodel, weight; // rows
};

/// Draws t (Philox keyed by (seed, step, row): a uniform and a normal per
/// row) and the noise, and fills `out` for the `rows` x `dim` data `x0`.
void makeTrainBatch(const CompiledTrainer &tr, const double *x0, long rows, int dim,
                    uint64_t seed, uint64_t step, TrainBatch &out);

struct TrainDemoOptions {
  long steps = 2000, batch = 256, points = 0;
  uint64_t seed = 0;
  double learningRate = 0.01;
};

/// `diffuse train`: with `points` > 0 prints the compiled functions at
/// `points` quantiles of the draw; otherwise trains a small time-dependent
/// linear model on the built-in 2-D ring mixture by Adam and reports the
/// weighted loss on a held-out batch before and after. Returns 0 on success.
int runTrainDemo(const CompiledTrainer &tr, const TrainDemoOptions &o, std::ostream &os);

} // namespace diffuse::rt

#endif
