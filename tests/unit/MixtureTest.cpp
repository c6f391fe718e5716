//===- MixtureTest.cpp - the analytic Gaussian-mixture denoiser -----------===//
//
// The closed-form posterior mean against brute-force quadrature of
// E[x0 | x] = int x0 p(x0) N(x; a x0, s^2) dx0 / int p(x0) N(x; a x0, s^2) dx0.
//
//===----------------------------------------------------------------------===//
#include "diffuse/models.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace diffuse::rt;

namespace {

void bruteForce(const Mixture &m, const double *x, double a, double s, int label, double *x0) {
  const int G = 1200;
  const double lo = -3.5, hi = 3.5, h = (hi - lo) / G;
  double num[2] = {0, 0}, den = 0;
  for (int i = 0; i < G; ++i)
    for (int j = 0; j < G; ++j) {
      double p[2] = {lo + (i + 0.5) * h, lo + (j + 0.5) * h};
      double prior = 0;
      for (int k = 0; k < m.components(); ++k) {
        if (label >= 0 && m.classes[k] != label)
          continue;
        double v = m.stds[k] * m.stds[k];
        double d2 = (p[0] - m.means[k][0]) * (p[0] - m.means[k][0]) +
                    (p[1] - m.means[k][1]) * (p[1] - m.means[k][1]);
        prior += m.weights[k] * std::exp(-0.5 * d2 / v) / (2 * M_PI * v);
      }
      double r2 = (x[0] - a * p[0]) * (x[0] - a * p[0]) + (x[1] - a * p[1]) * (x[1] - a * p[1]);
      double w = prior * std::exp(-0.5 * r2 / (s * s));
      num[0] += w * p[0];
      num[1] += w * p[1];
      den += w;
    }
  x0[0] = num[0] / den;
  x0[1] = num[1] / den;
}

} // namespace

TEST(GaussianMixture, PosteriorMeanMatchesQuadrature) {
  Mixture m = Mixture::ring2d();
  struct Case { double x[2], a, s; int label; } cases[] = {
      {{0.3, -0.2}, 0.8, 0.6, -1}, {{1.5, 1.2}, 0.95, 0.3, -1}, {{-0.5, 2.0}, 0.5, 0.87, 1},
      {{2.0, 0.1}, 1.0, 0.2, 0},   {{0.0, 0.0}, 0.3, 0.95, -1}};
  for (const auto &c : cases) {
    double x0[2], eps[2], ref[2];
    posteriorMean(m, c.x, c.a, c.s, c.label, x0, eps);
    bruteForce(m, c.x, c.a, c.s, c.label, ref);
    EXPECT_NEAR(x0[0], ref[0], 1e-6);
    EXPECT_NEAR(x0[1], ref[1], 1e-6);
    // eps_hat is (x - a x0_hat) / s.
    EXPECT_NEAR(eps[0], (c.x[0] - c.a * x0[0]) / c.s, 1e-12);
    EXPECT_NEAR(eps[1], (c.x[1] - c.a * x0[1]) / c.s, 1e-12);
  }
}

TEST(GaussianMixture, FiniteAtBothEnds) {
  Mixture m = Mixture::ring2d();
  double x[2] = {1.9, 0.1}, x0[2], eps[2];
  posteriorMean(m, x, 1.0, 0.0, -1, x0, eps); // no noise: x0_hat = x
  EXPECT_DOUBLE_EQ(x0[0], 1.9);
  EXPECT_EQ(eps[0], 0.0);
  posteriorMean(m, x, 0.0, 1.0, -1, x0, eps); // pure noise: x0_hat = E[x0], eps = x
  EXPECT_NEAR(x0[0], 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(eps[0], 1.9);
}

TEST(GaussianMixture, NetworkOutputsFollowTheirDefinitions) {
  Mixture m = Mixture::ring2d();
  double x[2] = {0.7, -1.1};
  double x0[2], eps[2];
  posteriorMean(m, x, 0.6, 0.8, -1, x0, eps);
  auto decode = [](double) { return TimeDecode{0.6, 0.8, -1.0, 1.0}; };
  double t = 0.5, out[2];
  dfs_net_call call{1, 2, DFS_F64, x, &t, nullptr, out, 0};
  GaussianMixtureNetwork v(m, decode, Output::V);
  v.evaluate(call);
  EXPECT_DOUBLE_EQ(out[0], 0.6 * eps[0] - 0.8 * x0[0]);
  GaussianMixtureNetwork vel(m, decode, Output::Velocity);
  vel.evaluate(call);
  EXPECT_DOUBLE_EQ(out[1], -x0[1] + eps[1]);
}
