//===- Demo.cpp - sampling a built-in analytic model ----------------------===//
#include "diffuse/demo.h"

#include "diffuse/io.h"
#include "diffuse/random.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <sstream>

namespace diffuse::rt {

std::vector<double> exactSolution(const Mixture &m, const std::vector<double> &x, int64_t batch,
                                  const Point &from, const Point &to, bool ve,
                                  const std::vector<int32_t> &labels) {
  const int D = m.dim;
  double a0 = from[DFS_POINT_A], s0 = from[DFS_POINT_S];
  double a1 = to[DFS_POINT_A], s1 = to[DFS_POINT_S];
  double tau0 = s0 / a0, tau1 = s1 / a1;
  bool toZero = tau1 <= 0;
  double u0 = std::log(tau0), u1 = std::log(toZero ? tau0 * 1e-7 : tau1);
  const int N = 4000;
  double h = (u1 - u0) / N;
  std::vector<double> out(x.size());
  std::vector<double> y(D), k1(D), k2(D), k3(D), k4(D), tmp(D), x0(D), eps(D);
  int label = -1; // the row's class, for a class-conditional model
  // dy/du = y - D(y, e^u), u = log tau.
  auto f = [&](const std::vector<double> &yy, double u, std::vector<double> &k) {
    posteriorMean(m, yy.data(), 1.0, std::exp(u), label, x0.data(), eps.data());
    for (int j = 0; j < D; ++j)
      k[j] = yy[j] - x0[j];
  };
  for (int64_t i = 0; i < batch; ++i) {
    label = labels.empty() ? -1 : labels[(size_t)i];
    for (int j = 0; j < D; ++j)
      y[j] = ve ? x[i * D + j] : x[i * D + j] / a0;
    for (int n = 0; n < N; ++n) {
      double u = u0 + n * h;
      f(y, u, k1);
      for (int j = 0; j < D; ++j) tmp[j] = y[j] + 0.5 * h * k1[j];
      f(tmp, u + 0.5 * h, k2);
      for (int j = 0; j < D; ++j) tmp[j] = y[j] + 0.5 * h * k2[j];
      f(tmp, u + 0.5 * h, k3);
      for (int j = 0; j < D; ++j) tmp[j] = y[j] + h * k3[j];
      f(tmp, u + h, k4);
      for (int j = 0; j < D; ++j)
        y[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
    if (toZero) {
      posteriorMean(m, y.data(), 1.0, std::exp(u1), label, x0.data(), eps.data());
      y = x0;
    }
    for (int j = 0; j < D; ++j)
      out[i * D + j] = ve ? y[j] : y[j] * a1;
  }
  return out;
}

bool parseConditionOption(const std::string &arg, DemoOptions::Condition &out,
                          std::string &err) {
  size_t eq = arg.find('=');
  std::string key = arg.substr(0, eq);
  size_t dot = key.find('.');
  out.name = key.substr(0, dot);
  out.set = 0;
  out.file = eq == std::string::npos ? "" : arg.substr(eq + 1);
  bool ok = eq != std::string::npos && !out.name.empty() && !out.file.empty();
  if (ok && dot != std::string::npos) {
    std::string set = key.substr(dot + 1);
    char *end = nullptr;
    long k = std::strtol(set.c_str(), &end, 10);
    if (set == "none")
      out.set = -1;
    else if (!set.empty() && !*end && std::isdigit((unsigned char)set[0]) && k <= 1000000)
      out.set = (int)k;
    else
      ok = false;
  }
  if (!ok)
    err = "--cond takes NAME=FILE.npy (condition set 0), NAME.K=FILE.npy (set K, cond(K)) or "
          "NAME.none=FILE.npy (the unconditional value), got '" + arg + "'";
  return ok;
}

std::function<TimeDecode(double)> analyticTimeDecoder(const Manifest &m, int model,
                                                      Runner *const &runner) {
  std::string enc = m.str(Manifest::modelKey(model, "time"));
  if (m.str("process.kind") == "discrete" && m.str("process.interpolate").empty() &&
      (enc == "index" || enc == "t")) {
    auto t = alphasCumprod(m);
    std::vector<double> acp(t.begin(), t.end());
    return [acp](double tm) { return decodeDiscreteTimestep(acp, tm); };
  }
  // The inverse may be a bisection: decode each time once.
  auto last = std::make_shared<std::pair<double, TimeDecode>>(NAN, TimeDecode{});
  return [&runner, model, last](double tm) {
    if (tm != last->first) {
      Point p = runner->pointAtModelTime(tm, model);
      last->second = TimeDecode{p[DFS_POINT_A], p[DFS_POINT_S], p[DFS_POINT_DA], p[DFS_POINT_DS]};
      last->first = tm;
    }
    return last->second;
  };
}

int runDemo(const CompiledSampler &sampler, const DemoOptions &o, std::ostream &os) {
  // The output directory first, so that a bad --out fails before sampling.
  std::string dir = o.outDir.empty() ? "." : o.outDir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir, ec)) {
    os << "error: cannot create the output directory '" << dir << "'\n";
    return 1;
  }
  Mixture mix = Mixture::ring2d();
  std::string what = "the 2-D ring mixture";
  if (!o.mixture.empty()) {
    std::string err;
    if (!loadMixture(o.mixture, mix, err)) {
      os << "error: " << err << "\n";
      return 1;
    }
    what = "the " + std::to_string(mix.dim) + "-D mixture of " + o.mixture;
  }
  const int D = mix.dim;
  std::string pred = sampler.manifest.str("model.predicts");
  Output out = outputFor(pred);
  // The analytic networks are "trained" on the spec's own process.
  Runner *self = nullptr;
  const Manifest &mf = sampler.manifest;
  GaussianMixtureNetwork net(mix, analyticTimeDecoder(mf, 0, self), out);
  net.setSigmaData(sampler.manifest.num("model.sigma_data", 0.5));
  net.setLearnedVariance(sampler.manifest.str("model.variance") == "learned_range");
  std::unique_ptr<FunctionNetwork> plugin;
  if (!o.network.empty()) {
    std::string err;
    if (!(plugin = loadNetworkPlugin(o.network, err))) {
      os << "error: " << err << "\n";
      return 1;
    }
    what += ", network " + o.network;
  }
  Runner runner(sampler, plugin ? static_cast<Network &>(*plugin) : net, o.batch, D);
  self = &runner;
  if (o.device)
    runner.setDevice(o.device);
  // The guidance's other models: analytic networks of the same mixture, or
  // of the one --mixture-for names.
  std::vector<std::unique_ptr<GaussianMixtureNetwork>> others;
  std::vector<std::string> called;
  for (long k = 1; k < (long)mf.num("models", 1); ++k) {
    std::string pre = Manifest::modelKey((int)k, ""), name = mf.str(pre + "name");
    called.push_back(name);
    Mixture mk = mix;
    if (auto it = o.mixtureFor.find(name); it != o.mixtureFor.end()) {
      std::string err;
      if (!loadMixture(it->second, mk, err)) {
        os << "error: " << err << "\n";
        return 1;
      }
      if (mk.dim != D) {
        os << "error: the mixture of model '" << name << "' (" << it->second << ") has "
           << mk.dim << " dimensions, the data " << D << "\n";
        return 1;
      }
    }
    others.push_back(std::make_unique<GaussianMixtureNetwork>(
        mk, analyticTimeDecoder(mf, (int)k, self), outputFor(mf.str(pre + "predicts"))));
    others.back()->setSigmaData(mf.num(pre + "sigma_data", 0.5));
    others.back()->setLearnedVariance(mf.str(pre + "variance") == "learned_range");
    runner.setNetwork((int)k, *others.back());
  }
  for (const auto &[name, file] : o.mixtureFor)
    if (std::find(called.begin(), called.end(), name) == called.end()) {
      os << "error: --mixture-for names model '" << name << "', which the sampler's guidance "
         << "does not call" << (called.empty() ? "" : " (it calls: ");
      for (size_t i = 0; i < called.size(); ++i)
        os << (i ? ", " : "") << called[i];
      os << (called.empty() ? "" : ")") << "\n";
      return 1;
    }
  // Label sets: as many as the guidance evaluates (cond(k)), at least one.
  size_t sets = std::max<size_t>(1, o.labels.size());
  for (double c : mf.nums("guidance.eval_conds"))
    sets = std::max(sets, (size_t)std::max(0.0, c + 1));
  std::vector<int32_t> firstLabels; // condition set 0: what an unguided model sees
  for (size_t k = 0; k < sets; ++k) {
    std::vector<int32_t> labels((size_t)o.batch);
    for (int64_t i = 0; i < o.batch; ++i)
      labels[(size_t)i] = k < o.labels.size()
                              ? o.labels[k][(size_t)i % o.labels[k].size()]
                              : (int32_t)((i + (int64_t)k) % 2);
    if (k == 0)
      firstLabels = labels;
    runner.setLabels(labels, (int)k);
  }
  std::string err;
  // Named conditioning inputs, each [batch, shape...] or [shape...].
  for (const DemoOptions::Condition &c : o.conditions) {
    NpyArray arr;
    if (!readNpy(c.file, arr, err)) {
      os << "error: " << err << "\n";
      return 1;
    }
    if (!runner.setCondition(c.name, c.set, arr.data, err)) {
      os << "error: --cond " << c.name << ": " << err << "\n";
      return 1;
    }
  }
  runner.setNoise(std::make_shared<PhiloxNoise>(o.seed));
  const int64_t n = o.batch * D;
  size_t replayed = 0; // draws given by --noise
  if (!o.noise.empty()) {
    // Replayed draws (a peer's own noise): [draws, batch, D] or [draws, batch x D].
    NpyArray z;
    if (!readNpy(o.noise, z, err) || z.shape.empty() || z.data.size() % (size_t)n != 0) {
      os << "error: "
         << (err.empty() ? o.noise + " must hold draws x batch x " + std::to_string(D) +
                               " values (batch " + std::to_string(o.batch) + ")"
                         : err)
         << "\n";
      return 1;
    }
    std::vector<std::vector<double>> draws;
    replayed = z.data.size() / (size_t)n;
    for (size_t k = 0; k < z.data.size(); k += (size_t)n)
      draws.emplace_back(z.data.begin() + (long)k, z.data.begin() + (long)k + n);
    runner.setNoise(std::make_shared<ReplayNoise>(std::move(draws)));
  }
  // Inpainting (inpaint = true): the known data and its mask.
  const std::string name = sampler.manifest.str("sampler");
  bool inpaint = sampler.manifest.num("inpaint") != 0;
  if (!inpaint && !o.mask.empty()) {
    os << "error: --mask is for a sampler that inpaints (inpaint = true), and '" << name
       << "' does not\n";
    return 1;
  }
  if (!inpaint && !o.xInit.empty() && !o.xData.empty()) {
    os << "error: --x-init gives the initial state and --x-data the data to noise; use one of "
          "them\n";
    return 1;
  }
  std::vector<double> mask;
  if (inpaint) {
    if (o.xData.empty() || o.mask.empty()) {
      os << "error: sampler '" << name << "' inpaints: give --x-data D.npy (the known data) "
         << "and --mask M.npy (1 where the data is kept, 0 where it is generated)\n";
      return 1;
    }
    NpyArray d, mk;
    if (!readNpy(o.xData, d, err) || !runner.setInput(DFS_INPUT_DATA, d.data, err) ||
        !readNpy(o.mask, mk, err) || !runner.setInput(DFS_INPUT_MASK, mk.data, err)) {
      os << "error: " << err << "\n";
      return 1;
    }
    mask = mk.data;
  }
  auto grid = runner.buildGrid(err);
  if (grid.empty()) {
    os << "error: " << err << "\n";
    return 1;
  }
  bool ve = sampler.manifest.str("coords") == "ve";
  // The initial state, in the solver's coordinates: given (--x-init), or
  // alpha x0 + sigma z at the first grid point with x0 = 0 (pure noise) or
  // the data of --x-data (img2img; in ve coordinates x0 + tau z).
  std::vector<double> x((size_t)(o.batch * D));
  // A state of batch x D values (the data may also be D values every sample shares).
  auto readState = [&](const std::string &path, std::vector<double> &out, bool shared) {
    NpyArray arr;
    if (!readNpy(path, arr, err) || (arr.data.size() != x.size() &&
                                      !(shared && arr.data.size() == (size_t)D))) {
      os << "error: "
         << (err.empty() ? path + " must hold batch x " + std::to_string(D) + " values" +
                               (shared ? " (or " + std::to_string(D) + ")" : "")
                         : err)
         << "\n";
      return false;
    }
    out.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      out[i] = arr.data[i % arr.data.size()];
    return true;
  };
  if (!o.xInit.empty()) {
    if (!readState(o.xInit, x, false))
      return 1;
  } else {
    std::vector<double> data(x.size(), 0.0);
    if (!o.xData.empty() && !readState(o.xData, data, true))
      return 1;
    // An inpainting run knows the data only where its mask is 1.
    for (size_t i = 0; i < mask.size(); ++i)
      for (size_t j = i; j < data.size(); j += mask.size())
        data[j] *= mask[i];
    const Point &p0 = grid.front().s;
    double a = ve ? 1.0 : p0[DFS_POINT_A], s = ve ? p0[DFS_POINT_TAU] : p0[DFS_POINT_S];
    for (int64_t i = 0; i < o.batch; ++i) {
      double *row = &x[(size_t)(i * D)];
      normals(o.seed, (uint64_t)i, 0, D, row);
      for (int j = 0; j < D; ++j)
        row[j] = a * data[(size_t)(i * D + j)] + s * row[j];
    }
  }
  std::vector<double> x0 = x;
  auto t0 = std::chrono::steady_clock::now();
  if (!runner.run(x, err)) {
    os << "error: " << err;
    if (replayed && err.rfind("the noise source has no draw", 0) == 0)
      os << ": " << o.noise << " holds " << replayed << " draws of batch x " << D
         << "; the run needs more";
    os << "\n";
    return 1;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (plugin && !plugin->failure().empty()) {
    os << "error: " << plugin->failure() << " (" << o.network << ")\n";
    return 1;
  }
  bool guided = sampler.manifest.has("guidance.name");
  std::string steps = runner.adaptive()
                          ? std::to_string(runner.adaptiveAccepted()) + " adaptive steps (" +
                                std::to_string(runner.adaptiveRejected()) + " redone)"
                          : std::to_string(grid.size()) + " steps";
  os << "sampler '" << sampler.manifest.str("sampler") << "': " << steps << ", "
     << runner.networkCalls() << " network calls, "
     << (runner.noiseDraws() ? std::to_string(runner.noiseDraws()) + " noise draws, " : "")
     << o.batch << " samples of " << what << " in " << ms << " ms"
     << (o.device ? " on " + o.device->name() : "") << "\n";
  double logp = 0;
  for (int64_t i = 0; i < o.batch; ++i)
    logp += mix.logDensity(&x[(size_t)(i * D)]);
  os << "mean log-density of the samples under the data: " << logp / o.batch << "\n";
  std::vector<double> exact;
  bool degrades = false; // a solver with a degradation operator (cold diffusion)
  for (long k = 1; k < (long)mf.num("models", 1); ++k)
    degrades |= mf.str(Manifest::modelKey((int)k, "predicts")) == "degradation";
  if (degrades) {
    os << "(cold diffusion: the steps invert a degradation operator, not the probability-flow "
          "ODE)\n";
  } else if (runner.noiseDraws() > 0) {
    os << "(the sampler draws noise: there is no single exact solution to compare with)\n";
  } else if (!guided && !(grid.front().s[DFS_POINT_A] > 0)) {
    // The exact solution is integrated in x/alpha, which does not exist there.
    os << "(the run starts at alpha = 0, pure noise: the exact solution is not computed)\n";
  } else if (!guided) {
    // A class-conditional model samples each row's class (set 0's labels).
    bool conditional = mf.num(Manifest::modelKey(0, "labels")) != 0;
    exact = exactSolution(mix, x0, o.batch, grid.front().s, grid.back().t, ve,
                          conditional ? firstLabels : std::vector<int32_t>{});
    double maxAbs = 0, sq = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double d = std::fabs(x[i] - exact[i]);
      maxAbs = std::max(maxAbs, d);
      sq += d * d;
    }
    os << "error against the exact ODE solution from the same noise: max " << maxAbs << ", rms "
       << std::sqrt(sq / x.size()) << "\n";
  } else {
    os << "(guided: the exact solution of the guided ODE is not computed)\n";
  }
  if (!writeNpy(dir + "/samples.npy", {(long)o.batch, D}, x, err) ||
      (!exact.empty() && !writeNpy(dir + "/exact.npy", {(long)o.batch, D}, exact, err)) ||
      (D == 2 && !writeScatterPng(dir + "/samples.png", mix, x, 480, 480, err))) {
    os << "error: " << err << "\n";
    return 1;
  }
  os << "wrote " << dir << "/samples.npy" << (exact.empty() ? "" : ", exact.npy")
     << (D == 2 ? " and " + dir + "/samples.png" : " (no plot: the data is not 2-D)") << "\n";
  return 0;
}

} // namespace diffuse::rt
