//===- Train.cpp - the data side of a compiled training step --------------===//
#include "diffuse/train.h"

#include "diffuse/models.h"
#include "diffuse/random.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace diffuse::rt {

std::unique_ptr<CompiledTrainer> CompiledTrainer::load(const std::string &path, std::string &err) {
  auto tr = std::make_unique<CompiledTrainer>();
  if (!tr->library.open(path, err))
    return nullptr;
  const SharedObject &lib = tr->library;
  auto train = [&](const char *name) { return (dfs_train_fn)lib.symbol(name); };
  tr->time = (dfs_draw_fn)lib.symbol("dfs_train_time");
  tr->modelTime = train("dfs_train_model_time");
  tr->coefX0 = train("dfs_train_coef_x0");
  tr->coefEps = train("dfs_train_coef_eps");
  tr->weight = train("dfs_train_weight");
  tr->inputScale = train("dfs_train_input_scale");
  static_cast<ProcessFunctions &>(*tr) = ProcessFunctions::load(lib);
  auto *manifest = (const char *)lib.symbol("dfs_manifest");
  if (!tr->time || !tr->modelTime || !tr->coefX0 || !tr->coefEps || !tr->weight ||
      !tr->inputScale || !manifest) {
    err = path + " is not a compiled Diffuse training spec (no dfs_train_* functions)";
    return nullptr;
  }
  tr->manifest = Manifest::parse(manifest);
  const Manifest &m = tr->manifest;
  if (m.str("process.kind") == "discrete") {
    auto t = alphasCumprod(m);
    tr->acp.assign(t.begin(), t.end());
  } else if (!tr->complete()) {
    err = path + " has no compiled process functions";
    return nullptr;
  }
  return tr;
}

std::array<double, 4> CompiledTrainer::at(double t) const {
  if (!acp.empty()) {
    double a2 = acp[std::clamp((size_t)t, (size_t)0, acp.size() - 1)];
    return {std::sqrt(a2), std::sqrt(1 - a2), NAN, NAN};
  }
  return {alpha(t), sigma(t), dalpha(t), dsigma(t)};
}

void makeTrainBatch(const CompiledTrainer &tr, const double *x0, long rows, int dim,
                    uint64_t seed, uint64_t step, TrainBatch &out) {
  out.xt.resize((size_t)rows * dim);
  out.input.resize((size_t)rows * dim);
  out.target.resize((size_t)rows * dim);
  out.t.resize(rows);
  out.tmodel.resize(rows);
  out.weight.resize(rows);
  std::vector<double> eps(dim);
  for (long r = 0; r < rows; ++r) {
    // Per row: draw 0 is the time's (uniform, normal) pair, draw 1 the noise.
    uint64_t sample = step * (uint64_t)rows + (uint64_t)r;
    double t = tr.time(uniformDraw(seed, sample, 0), normal(seed, sample, 0, 0));
    auto [a, s, da, ds] = tr.at(t);
    double cx = tr.coefX0(t, a, s, da, ds), ce = tr.coefEps(t, a, s, da, ds);
    double scale = tr.inputScale(t, a, s, da, ds);
    normals(seed, sample, 1, dim, eps.data());
    for (int d = 0; d < dim; ++d) {
      double x = x0[r * dim + d];
      out.xt[r * dim + d] = a * x + s * eps[d];
      out.input[r * dim + d] = scale * out.xt[r * dim + d];
      out.target[r * dim + d] = cx * x + ce * eps[d];
    }
    out.t[r] = t;
    out.tmodel[r] = tr.modelTime(t, a, s, da, ds);
    out.weight[r] = tr.weight(t, a, s, da, ds);
  }
}

namespace {

/// The standard normal quantile, by bisection on erfc.
double normalQuantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

/// A small model: F(x, t) = sum_k phi_k(l) (W_k c(t) x + b_k), hat functions
/// phi_k of the clipped log-SNR l, inputs scaled by c = 1/sqrt(alpha^2 + sigma^2).
struct SmallModel {
  static constexpr int K = 12;
  int D;
  std::vector<double> p; // K x D x (D + 1)
  explicit SmallModel(int D) : D(D), p((size_t)K * D * (D + 1), 0.0) {}

  void basis(double lam, int &k, double &w) const {
    double x = (std::clamp(lam, -8.0, 8.0) + 8.0) / 16.0 * (K - 1);
    k = std::min((int)x, K - 2);
    w = x - k;
  }
  double *at(int k, int d) { return &p[((size_t)k * D + d) * (D + 1)]; }
};

double weightedLoss(SmallModel &m, const TrainBatch &b, const std::vector<double> &lam,
                    const std::vector<double> &scale, std::vector<double> *grad) {
  int D = m.D;
  long rows = (long)b.t.size();
  double loss = 0;
  if (grad)
    grad->assign(m.p.size(), 0.0);
  for (long r = 0; r < rows; ++r) {
    int k;
    double w;
    m.basis(lam[r], k, w);
    for (int d = 0; d < D; ++d) {
      double out = 0;
      for (int j = 0; j < 2; ++j) {
        double phi = j ? w : 1 - w, *row = m.at(k + j, d), lin = row[D];
        for (int e = 0; e < D; ++e)
          lin += row[e] * scale[r] * b.xt[r * D + e];
        out += phi * lin;
      }
      double err = out - b.target[r * D + d];
      loss += b.weight[r] * err * err / D;
      if (grad) {
        double g = 2 * b.weight[r] * err / D / rows;
        for (int j = 0; j < 2; ++j) {
          double phi = j ? w : 1 - w;
          size_t base = ((size_t)(k + j) * D + d) * (D + 1);
          for (int e = 0; e < D; ++e)
            (*grad)[base + e] += g * phi * scale[r] * b.xt[r * D + e];
          (*grad)[base + D] += g * phi;
        }
      }
    }
  }
  return loss / rows;
}

} // namespace

int runTrainDemo(const CompiledTrainer &tr, const TrainDemoOptions &o, std::ostream &os) {
  const Manifest &m = tr.manifest;
  if (o.points > 0) {
    char line[512];
    std::snprintf(line, sizeof line, "%-24s %-24s %-24s %-24s %-24s %-24s %-24s %-24s %-24s %s\n",
                  "u", "n", "t", "t_model", "c_x0", "c_eps", "weight", "input_scale", "alpha",
                  "sigma");
    os << line;
    for (long k = 0; k < o.points; ++k) {
      double u = (k + 0.5) / (double)o.points, n = normalQuantile(u), t = tr.time(u, n);
      auto [a, s, da, ds] = tr.at(t);
      std::snprintf(line, sizeof line,
                    "%-24.17g %-24.17g %-24.17g %-24.17g %-24.17g %-24.17g %-24.17g %-24.17g "
                    "%-24.17g %.17g\n",
                    u, n, t, tr.modelTime(t, a, s, da, ds), tr.coefX0(t, a, s, da, ds),
                    tr.coefEps(t, a, s, da, ds), tr.weight(t, a, s, da, ds),
                    tr.inputScale(t, a, s, da, ds), a, s);
      os << line;
    }
    return 0;
  }
  Mixture mix = Mixture::ring2d();
  int D = mix.dim;
  os << "training spec '" << m.str("train") << "': process " << m.str("process.name")
     << ", model " << m.str("model.name") << " (predicts " << m.str("model.predicts")
     << "), time " << m.str("train.time") << ", weight " << m.str("train.weight") << "\n";
  auto features = [&](const TrainBatch &b, std::vector<double> &lam, std::vector<double> &scale) {
    lam.resize(b.t.size());
    scale.resize(b.t.size());
    for (size_t r = 0; r < b.t.size(); ++r) {
      std::array<double, 4> p = tr.at(b.t[r]);
      double a = p[0], s = p[1];
      lam[r] = std::log(a / s);
      scale[r] = 1 / std::sqrt(a * a + s * s);
    }
  };
  // A held-out batch, fixed for the whole run.
  const long held = 4096;
  std::vector<double> x0, hlam, hscale, lam, scale, grad;
  TrainBatch hb, b;
  sampleMixture(mix, held, o.seed + 1, 0, x0);
  makeTrainBatch(tr, x0.data(), held, D, o.seed + 1, 0, hb);
  features(hb, hlam, hscale);
  SmallModel model(D);
  double before = weightedLoss(model, hb, hlam, hscale, nullptr);
  // Adam.
  std::vector<double> mom(model.p.size(), 0.0), vel(model.p.size(), 0.0);
  const double b1 = 0.9, b2 = 0.999;
  for (long step = 0; step < o.steps; ++step) {
    sampleMixture(mix, o.batch, o.seed, (uint64_t)step * o.batch, x0);
    makeTrainBatch(tr, x0.data(), o.batch, D, o.seed, (uint64_t)step, b);
    features(b, lam, scale);
    weightedLoss(model, b, lam, scale, &grad);
    double c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
    for (size_t i = 0; i < model.p.size(); ++i) {
      mom[i] = b1 * mom[i] + (1 - b1) * grad[i];
      vel[i] = b2 * vel[i] + (1 - b2) * grad[i] * grad[i];
      model.p[i] -= o.learningRate * (mom[i] / c1) / (std::sqrt(vel[i] / c2) + 1e-12);
    }
  }
  double after = weightedLoss(model, hb, hlam, hscale, nullptr);
  char line[256];
  std::snprintf(line, sizeof line,
                "weighted loss on a held-out batch of %ld: before %.6g, after %.6g (%ld steps of "
                "Adam, batch %ld): %.1f%% of the start\n",
                held, before, after, o.steps, o.batch, 100 * after / before);
  os << line;
  return 0;
}

} // namespace diffuse::rt
