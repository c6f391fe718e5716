//===- BetaTable.cpp - discrete processes' beta tables, as diffusers ------===//
//
// The betas and alphas_cumprod of a discrete process, in float32 and in the
// order of operations of diffusers' torch code, so that a sampler sees the
// table a diffusers scheduler sees (tests/Derivation/beta-tables.test).
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include <algorithm>
#include <cmath>

namespace diffuse::rt {

BetaTable betaTable(const Manifest &m) {
  const std::string schedule = m.str("process.schedule");
  const double betaStart = m.num("process.beta_start"), betaEnd = m.num("process.beta_end");
  const long n = (long)m.num("process.train_steps", 1000);
  // torch.linspace(start, end, n, dtype=float32): step in float32, the
  // first half counted from start and the second half from end.
  auto linspace = [&](float a, float b) {
    std::vector<float> v(n);
    float step = (b - a) / (float)(n - 1);
    long half = n / 2;
    for (long i = 0; i < n; ++i)
      v[i] = i < half ? a + step * (float)i : b - step * (float)(n - 1 - i);
    return v;
  };
  BetaTable t;
  std::vector<float> &betas = t.betas;
  if (schedule == "scaled_linear") {
    // beta_start ** 0.5 in Python (float64), then a float32 linspace.
    betas = linspace((float)std::sqrt(betaStart), (float)std::sqrt(betaEnd));
    for (float &b : betas)
      b = b * b;
  } else if (schedule == "squaredcos_cap_v2") {
    // diffusers' betas_for_alpha_bar (cosine, max_beta 0.999), in float64
    // and then made a float32 tensor.
    auto alphaBar = [](double u) {
      double c = std::cos((u + 0.008) / 1.008 * M_PI / 2);
      return c * c;
    };
    for (long i = 0; i < n; ++i)
      betas.push_back((float)std::min(
          1 - alphaBar((double)(i + 1) / (double)n) / alphaBar((double)i / (double)n), 0.999));
  } else if (schedule == "sigmoid") {
    // sigmoid(linspace(-6, 6)) * (end - start) + start, in float32.
    betas = linspace(-6.0f, 6.0f);
    for (float &b : betas)
      b = 1.0f / (1.0f + std::exp(-b)) * (float)(betaEnd - betaStart) + (float)betaStart;
  } else if (schedule == "table") {
    for (double b : m.nums("process.betas"))
      betas.push_back((float)b);
  } else {
    betas = linspace((float)betaStart, (float)betaEnd);
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
  if (m.num("process.zero_terminal_snr") != 0) {
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

} // namespace diffuse::rt
