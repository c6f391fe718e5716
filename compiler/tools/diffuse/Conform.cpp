//===- Conform.cpp - `diffuse conform DIR` --------------------------------===//
//
// Runs every reference case in a directory (the ../shared/golden format):
// each case's peer configuration becomes the spec `diffuse compat` prints
// for it (CompatDiffusers.cpp, CompatPeers.cpp: names and settings, never C++
// arithmetic), compiled through the full pipeline, run with the analytic
// Gaussian-mixture network the case describes, and compared with the
// peer's result. `--set` applies to that spec (its sampler is `peer`).
//
// A case whose configuration the stdlib cannot express yet is reported as
// skipped with the reason. The last line is `N passed, M failed, K skipped`.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Compat.h"
#include "compiler/tools/diffuse/Driver.h"
#include "diffuse/models.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace diffuse {
namespace {

using compat::skipped;

/// Every case runs the spec `diffuse compat` writes for the peer's own
/// configuration, grid included.
Mapping mapCase(const json &c) {
  const json &peer = c["peer"];
  std::string name = peer.value("name", "");
  const json &cfg = c.contains("peer_config") ? c["peer_config"] : json::object();
  const json &call = c.contains("peer_call") ? c["peer_call"] : json::object();
  std::optional<double> guidance;
  if (c.contains("guidance_scale") && !c["guidance_scale"].is_null())
    guidance = c["guidance_scale"].get<double>();

  if (name == "diffusers") {
    const json &sk = call.contains("step_kwargs") ? call["step_kwargs"] : json::object();
    long steps = call.contains("set_timesteps")
                     ? call["set_timesteps"].value("num_inference_steps", 0L)
                     : 0L;
    return mapDiffusers(peer.value("class", ""), cfg, sk, steps, guidance, "peer");
  }
  if (name == "k-diffusion") {
    json args = cfg.contains("sampler_kwargs") ? cfg["sampler_kwargs"] : json::object();
    long n = 0;
    if (cfg.contains("sigmas_args"))
      for (auto &[k, v] : cfg["sigmas_args"].items()) {
        if (k == "n")
          n = v.get<long>();
        else
          args[k] = v;
      }
    for (auto &[k, v] : args.items()) // the case writes inf as a string
      if (v == "inf")
        v = INFINITY;
    // The cases replace k-diffusion's Brownian tree by recorded independent
    // draws, one per noise_sampler call.
    if (cfg.contains("noise_sampler") &&
        kdiffusionDefaults(peer.value("function", ""), peer.value("sigmas_function", ""))
            .contains("noise_sampler"))
      args["noise_sampler"] = "gaussian";
    return mapKDiffusion(peer.value("function", ""), peer.value("sigmas_function", ""), args, n,
                         guidance, "peer");
  }
  if (name == "flow_matching") {
    json args = json::object(); // the keys of ODESolver.sample the case lists
    for (auto &[k, v] : cfg.items())
      if (flowMatchingDefaults().contains(k))
        args[k] = v;
    return mapFlowMatching(args, guidance, "peer");
  }
  if (name == "dpm-solver") {
    // The case's nested configuration, flattened to the keys of
    // `diffuse compat dpm-solver`.
    json args = json::object();
    for (const char *section : {"NoiseScheduleVP", "model_wrapper", "DPM_Solver", "sample"})
      if (cfg.contains(section))
        for (auto &[k, v] : cfg[section].items())
          if (dpmSolverDefaults().contains(k))
            args[k] = v;
    long steps = cfg.contains("sample") ? cfg["sample"].value("steps", 0L) : 0L;
    if (args.value("schedule", "") == "discrete") {
      // The betas the case lists (numpy's linspace); a table that is not a
      // linear one cannot be named.
      const std::string src = c["process"].value("betas_source", "");
      if (src.find("linspace(1e-4, 0.02, 1000)") == std::string::npos)
        return skipped("DPM-Solver discrete betas '" + src + "' are not a linear table");
    }
    return mapDpmSolver(args, steps, guidance, "peer");
  }
  return skipped("unknown peer '" + name + "'");
}

std::vector<double> flat(const json &j) {
  std::vector<double> out;
  if (j.is_array()) {
    for (const auto &e : j) {
      auto sub = flat(e);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  } else if (j.is_number()) {
    out.push_back(j.get<double>());
  }
  return out;
}

rt::Mixture mixtureOf(const json &j) {
  rt::Mixture m;
  m.dim = j["dim"].get<int>();
  m.weights = j["weights"].get<std::vector<double>>();
  for (const auto &mu : j["means"])
    m.means.push_back(mu.get<std::vector<double>>());
  m.stds = flat(j["stds"]);
  if (j.contains("classes"))
    m.classes = j["classes"].get<std::vector<int>>();
  else
    m.classes.assign(m.weights.size(), 0);
  return m;
}

/// The analytic network of the case, decoding time as the peer's network does.
std::function<rt::TimeDecode(double)> decoderOf(const json &c, const std::vector<double> &acp) {
  std::string peer = c["peer"].value("name", "");
  std::string cls = c["peer"].value("class", "");
  if (peer == "diffusers" && cls == "FlowMatchEulerDiscreteScheduler")
    return [](double t) {
      double s = t / 1000.0;
      return rt::TimeDecode{1 - s, s, -1, 1};
    };
  if (peer == "k-diffusion")
    return [](double sg) { return rt::TimeDecode{1, sg, 0, 1}; };
  if (peer == "flow_matching")
    return [](double t) { return rt::TimeDecode{t, 1 - t, 1, -1}; };
  if (peer == "dpm-solver" && c["process"].contains("log_alpha_array")) {
    // t_input = (t - 1/N) * 1000; log alpha interpolated at position t_input * N / 1000.
    std::vector<double> la = c["process"]["log_alpha_array"].get<std::vector<double>>();
    return [la](double tin) {
      double l = rt::interpolateLogAlpha(la, tin * (double)la.size() / 1000.0);
      return rt::TimeDecode{std::exp(l), std::sqrt(-std::expm1(2 * l)), 0, 0};
    };
  }
  if (peer == "dpm-solver") {
    const json &ns = c["peer_config"]["NoiseScheduleVP"];
    double b0 = ns.value("continuous_beta_0", 0.1), b1 = ns.value("continuous_beta_1", 20.0);
    return [b0, b1](double t) {
      double la = -0.25 * t * t * (b1 - b0) - 0.5 * t * b0;
      return rt::TimeDecode{std::exp(la), std::sqrt(-std::expm1(2 * la)), 0, 0};
    };
  }
  // diffusers discrete VP.
  return [acp](double t) { return rt::decodeDiscreteTimestep(acp, t); };
}

rt::Output outputOf(const json &c) {
  std::string o = c["model"].value("output", "");
  if (o.rfind("epsilon", 0) == 0)
    return rt::Output::Eps;
  if (o.rfind("v_prediction", 0) == 0)
    return rt::Output::V;
  if (o.rfind("x0", 0) == 0)
    return rt::Output::X0;
  return rt::Output::Velocity;
}

/// max |x - want| / max |want|; NaN counts as infinitely far.
double relError(const std::vector<double> &x, const std::vector<double> &want) {
  double maxAbs = 0, maxDiff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    maxAbs = std::max(maxAbs, std::fabs(want[i]));
    double d = i < x.size() ? std::fabs(x[i] - want[i]) : INFINITY;
    if (std::isnan(d))
      d = INFINITY;
    maxDiff = std::max(maxDiff, d);
  }
  return maxDiff / maxAbs;
}

struct Result {
  enum { Pass, Fail, Skip } kind;
  double err = 0;
  std::string why;
  double bound = 0; // the bound the error was held to
};

/// `-v`: the spec a case ran, after its result.
void printMapping(const Mapping &m) {
  std::cout << "  via diffuse compat:";
  for (size_t i = 0; i < m.items.size(); ++i)
    std::cout << (i ? "; " : " ") << m.items[i];
  for (const auto &set : m.sets)
    std::cout << "; --set " << set;
}

Result runCase(const json &c, const Mapping &m, const std::string &stdlib,
               std::map<std::string, std::unique_ptr<rt::CompiledSampler>> &cache, double tol,
               bool eager, const std::string &dtype) {
  // tol may be widened below for a case whose reference cannot be replayed exactly.
  std::vector<double> acp;
  if (c["process"].contains("alphas_cumprod"))
    acp = c["process"]["alphas_cumprod"].get<std::vector<double>>();
  // The grid may read the table.
  std::string key = m.text + "|" + m.sampler + "|" + dtype + "|" +
                    std::string((const char *)acp.data(), acp.size() * sizeof(double));
  for (const auto &s : m.sets)
    key += "|" + s;
  auto it = cache.find(key);
  if (it == cache.end()) {
    // The spec `diffuse compat` prints for the case's configuration, its
    // grid read from the case's own table (the golden README: the float32
    // tables from the file, not recomputed ones).
    CompileOptions o;
    static int serial = 0;
    fs::path p = fs::temp_directory_path() / ("diffuse-conform-" + std::to_string(getpid()) +
                                              "-" + std::to_string(serial++) + ".dfs");
    std::ofstream(p) << m.text;
    o.specPath = p.string();
    o.alphasCumprod = acp;
    o.samplerName = m.sampler;
    o.overrides = m.sets;
    o.importPaths = {stdlib};
    o.eager = eager;
    o.dtype = dtype;
    std::ostringstream diagText;
    DiagEngine diag(diagText);
    auto s = compileAndLoad(o, diag);
    fs::remove(o.specPath);
    if (!s)
      return {Result::Fail, 0, "does not compile:\n" + diagText.str() + m.text};
    it = cache.emplace(key, std::move(s)).first;
  }
  const rt::CompiledSampler &sampler = *it->second;

  rt::Mixture mix = mixtureOf(c["mixture"]);
  rt::GaussianMixtureNetwork net(mix, decoderOf(c, acp), outputOf(c));
  int64_t batch = c["batch"].get<int64_t>(), dim = c["dim"].get<int64_t>();
  rt::Runner runner(sampler, net, batch, dim);
  if (!acp.empty())
    runner.setAlphasCumprod(acp);
  if (c["process"].contains("log_alpha_array"))
    runner.setLogAlphaTable(c["process"]["log_alpha_array"].get<std::vector<double>>());
  if (c.contains("class_labels") && !c["class_labels"].is_null())
    runner.setLabels(c["class_labels"].get<std::vector<int32_t>>());

  if (c.value("stochastic", false)) {
    // The peer's own draws, replayed through noise() in order.
    std::vector<std::vector<double>> draws;
    for (const auto &d : c["noise_draws"])
      draws.push_back(flat(d["data"]));
    runner.setNoise(std::make_shared<rt::ReplayNoise>(std::move(draws)));
  }

  const json *ref = &c["final"];
  const json *init = &c["x_init"];
  std::string note;
  bool f32Noise = false;
  if (c.value("stochastic", false))
    for (const auto &d : c["noise_draws"])
      f32Noise |= d.value("dtype", "") == "float32";
  if (dtype == "f32") {
    // Float32 against the peer's float32 run (x_T, model outputs and noise
    // in float32). Diffuse keeps tensors in float32 and computes each step
    // in float64 (docs/design.md, "Precision"). The bound, fixed before
    // running: the peer's own float32-vs-float64 discrepancy (twice), its
    // float32 schedule coefficients (diffusers' f64_neutralized
    // discrepancy; Diffuse computes them in float64), and a rounding budget
    // of 4 u per network call (u = 2^-24: the state and the network's
    // output rounded once each, on either side).
    const json &v = c["variants"]["float32_run"];
    ref = &v["final"];
    double own = v["diff_vs_final"].value("max_rel_to_maxabs", 0.0), sched = 0;
    if (c.contains("variants") && c["variants"].contains("f64_neutralized"))
      sched = c["variants"]["f64_neutralized"]["diff_vs_final"].value("max_rel_to_maxabs", 0.0);
    double budget = 4 * std::ldexp(1.0, -24) * (double)c.value("nfe", (int64_t)0);
    tol = 2 * own + sched + budget;
    char buf[160];
    snprintf(buf, sizeof buf, "vs float32_run, bound %.1e = 2 x %.1e + %.1e + %.1e", tol, own,
             sched, budget);
    note = buf;
  } else if (c.contains("variants") && c["variants"].contains("f64_neutralized")) {
    const json &v = c["variants"]["f64_neutralized"];
    if (!m.float32Schedule.empty() && v.contains("diff_vs_final")) {
      // The float64 variant upcast the peer's float32 schedule, part of
      // which the case does not store; Diffuse computes it in float32
      // (f32) too, but with a correctly rounded log/exp where torch's
      // SLEEF may round the other way: at most the peer's own float32
      // discrepancy.
      tol = std::max(tol, v["diff_vs_final"].value("max_rel_to_maxabs", 0.0));
      ref = &v["final"];
      init = &v["x_init"];
      char buf[128];
      snprintf(buf, sizeof buf, "%s: vs f64_neutralized, bound %.1e", m.float32Schedule.c_str(),
               tol);
      note = buf;
    } else if (f32Noise && v.contains("diff_vs_final")) {
      // The float64 variant drew float64 noise that the case records only
      // rounded to float32, so it cannot be replayed; compare with the run
      // that used exactly the recorded draws, at that run's own float32
      // discrepancy (twice diff_vs_final).
      tol = std::max(tol, 2 * v["diff_vs_final"].value("max_rel_to_maxabs", 0.0));
      char buf[96];
      snprintf(buf, sizeof buf, "float32 noise: vs final, bound %.1e", tol);
      note = buf;
    } else {
      ref = &v["final"];
      init = &v["x_init"];
    }
  }
  std::vector<double> x = flat(*init), want = flat(*ref);
  if (dtype == "f32")
    for (double &e : x)
      e = (float)e;
  std::string err;
  if (!runner.run(x, err))
    return {Result::Fail, 0, err};
  double rel = relError(x, want);
  if (dtype == "f32") {
    // How far float32 took Diffuse from the peer's float64 result (for
    // diffusers, the f64_neutralized one Diffuse reproduces in float64).
    const json &f64 = c.contains("variants") && c["variants"].contains("f64_neutralized")
                          ? c["variants"]["f64_neutralized"]["final"]
                          : c["final"];
    char buf[64];
    snprintf(buf, sizeof buf, "; vs float64 %.1e", relError(x, flat(f64)));
    note += buf;
  }
  int64_t nfe = c.value("nfe", (int64_t)-1);
  int64_t nd = c.value("n_noise_draws", (int64_t)0);
  if (runner.noiseDraws() != nd)
    return {Result::Fail, rel,
            "drew noise " + std::to_string(runner.noiseDraws()) + " times, the peer " +
                std::to_string(nd),
            tol};
  // An adaptive solver picks its steps from error estimates that float32
  // changes; the case records the NFE of the float64 run only.
  bool nfeComparable = !(dtype == "f32" && runner.adaptive());
  if (dtype == "f32" && !nfeComparable)
    note += "; adaptive: " + std::to_string(runner.networkCalls()) +
            " network calls in float32, the peer's float64 run " + std::to_string(nfe);
  if (nfeComparable && nfe >= 0 && runner.networkCalls() != nfe)
    return {Result::Fail, rel,
            "made " + std::to_string(runner.networkCalls()) + " network calls, the peer " +
                std::to_string(nfe),
            tol};
  return {rel <= tol ? Result::Pass : Result::Fail, rel, note, tol};
}

} // namespace

int runConform(int argc, char **argv) {
  std::string dir, filter;
  std::vector<std::string> userSets; // applied after each case's own settings
  bool verbose = false, eager = false;
  std::string dtype = "f64";
  double tol = 1e-9;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--filter" && i + 1 < argc)
      filter = argv[++i];
    else if (a == "--tol" && i + 1 < argc)
      tol = std::strtod(argv[++i], nullptr);
    else if (a == "--set" && i + 1 < argc)
      userSets.push_back(argv[++i]);
    else if (a == "--dtype" && i + 1 < argc) {
      dtype = argv[++i];
      if (dtype != "f64" && dtype != "f32") {
        std::cerr << "error: unknown element type '" << dtype << "' for --dtype (f64 or f32)\n";
        return 2;
      }
    } else if (a == "-v")
      verbose = true;
    else if (a == "--eager")
      eager = true;
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "error: unknown option '" << a << "'\n";
      return 2;
    } else
      dir = a;
  }
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) {
    std::cerr << "error: conform needs a directory of cases"
              << (dir.empty() ? "" : ", and '" + dir + "' is not one") << "\n";
    return 2;
  }
  std::vector<fs::path> files;
  for (auto &e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file() || e.path().extension() != ".json")
      continue;
    std::string name = e.path().filename().string();
    if (name == "index.json" || e.path().parent_path().filename() == "truth")
      continue;
    if (!filter.empty() && name.find(filter) == std::string::npos)
      continue;
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string stdlib = stdlibDir();
  std::map<std::string, std::unique_ptr<rt::CompiledSampler>> cache;
  int pass = 0, fail = 0, skip = 0;
  for (const auto &f : files) {
    json c;
    try {
      std::ifstream in(f);
      c = json::parse(in);
    } catch (const std::exception &e) {
      std::cout << "FAIL " << f.filename().string() << ": not a readable case (" << e.what()
                << ")\n";
      ++fail;
      continue;
    }
    std::string id = c.value("case_id", f.stem().string());
    Mapping m = mapCase(c);
    if (!m.skip.empty()) {
      std::cout << "SKIP " << id << ": " << m.skip << "\n";
      ++skip;
      continue;
    }
    m.sets.insert(m.sets.end(), userSets.begin(), userSets.end());
    Result r;
    try {
      r = runCase(c, m, stdlib, cache, tol, eager, dtype);
    } catch (const std::exception &e) {
      r = {Result::Fail, 0, std::string("malformed case: ") + e.what()};
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.3e", r.err);
    if (r.kind == Result::Pass) {
      ++pass;
      std::cout << "PASS " << id << "  max_rel_err=" << buf;
      if (!r.why.empty())
        std::cout << "  (" << r.why << ")";
      if (verbose) {
        printMapping(m);
      }
      std::cout << "\n";
    } else {
      ++fail;
      std::cout << "FAIL " << id << "  max_rel_err=" << buf << " (bound "
                << (r.bound > 0 ? r.bound : tol) << ")" << (r.why.empty() ? "" : ": " + r.why);
      if (verbose) {
        printMapping(m);
      }
      std::cout << "\n";
    }
  }
  std::cout << pass << " passed, " << fail << " failed, " << skip << " skipped\n";
  return fail ? 1 : 0;
}

} // namespace diffuse
