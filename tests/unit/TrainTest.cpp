//===- TrainTest.cpp - a compiled training spec from C++ ------------------===//
//
// Compiles a `train` spec in process and uses it the way a C++ training loop
// does (diffuse/train.h): every example of a batch is the declared one --
// x_t = alpha x0 + sigma eps and the target c_x0 x0 + c_eps eps with the same
// eps, the weight and network time of its t -- the draws have the declared
// distributions, and a batch is a function of (seed, step).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Diagnostics.h"
#include "compiler/tools/diffuse/Driver.h"
#include "diffuse/train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>

using namespace diffuse;

namespace {

std::unique_ptr<rt::CompiledTrainer> compileTrainer(const std::string &text) {
  std::string path = testing::TempDir() + "/train.dfs";
  std::ofstream(path) << text;
  CompileOptions o;
  o.specPath = path;
  o.trainName = "t";
  o.importPaths = {stdlibDir()};
  DiagEngine diag(std::cerr);
  return compileAndLoadTrainer(o, diag);
}

TEST(Trainer, EveryExampleIsTheDeclaredOne) {
  auto tr = compileTrainer(R"(
process rf {
  alpha(t) = 1 - t
  sigma(t) = t
  domain = [0.001, 0.999]
}
model m { predicts = v  time = scaled(1000) }
train t { process = rf  model = m  time = logit_normal(mean = 0.5, std = 0.8)  weight = min_snr(gamma = 5) }
)");
  ASSERT_TRUE(tr);
  const long rows = 4000;
  const int dim = 3;
  std::vector<double> x0(rows * dim);
  for (size_t i = 0; i < x0.size(); ++i)
    x0[i] = std::sin(0.37 * (double)i) * 2;
  rt::TrainBatch b;
  rt::makeTrainBatch(*tr, x0.data(), rows, dim, /*seed=*/7, /*step=*/3, b);
  double epsSum = 0, epsSq = 0, zSum = 0, zSq = 0;
  for (long r = 0; r < rows; ++r) {
    double t = b.t[r];
    ASSERT_GT(t, 0.001);
    ASSERT_LT(t, 0.999);
    double a = 1 - t, s = t;
    EXPECT_NEAR(b.tmodel[r], 1000 * t, 1e-9);
    double snr = a * a / (s * s);
    // v on a path with alpha^2 + sigma^2 != 1: b = -sigma / (alpha^2 + sigma^2).
    double bb = s / (a * a + s * s);
    EXPECT_NEAR(b.weight[r], std::min(snr, 5.0) * bb * bb, 1e-12 * b.weight[r]);
    for (int d = 0; d < dim; ++d) {
      double x = x0[r * dim + d], eps = (b.xt[r * dim + d] - a * x) / s;
      EXPECT_NEAR(b.target[r * dim + d], a * eps - s * x, 1e-9);
      epsSum += eps;
      epsSq += eps * eps;
    }
    double f = (t - 0.001) / 0.998, z = std::log(f / (1 - f));
    zSum += z;
    zSq += z * z;
  }
  double n = rows * dim;
  EXPECT_NEAR(epsSum / n, 0.0, 0.03);
  EXPECT_NEAR(epsSq / n, 1.0, 0.05);
  double zMean = zSum / rows;
  EXPECT_NEAR(zMean, 0.5, 0.04);                          // logit(t) ~ N(0.5, 0.8^2)
  EXPECT_NEAR(std::sqrt(zSq / rows - zMean * zMean), 0.8, 0.04);

  // A batch is a function of (seed, step).
  rt::TrainBatch same, next;
  rt::makeTrainBatch(*tr, x0.data(), rows, dim, 7, 3, same);
  rt::makeTrainBatch(*tr, x0.data(), rows, dim, 7, 4, next);
  EXPECT_EQ(same.xt, b.xt);
  EXPECT_EQ(same.t, b.t);
  EXPECT_NE(next.t, b.t);
}

} // namespace
