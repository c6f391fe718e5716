//===- CompatPeers.cpp - k-diffusion, DPM-Solver, flow_matching as specs --===//
//
// The other three peers of `diffuse compat`: a k-diffusion sampler function
// over one of its get_sigmas_* grids, DPM_Solver.sample over
// NoiseScheduleVP, and flow_matching's ODESolver.sample, each written as a
// spec over stdlib/compat with the peer's own grid derived (built-in grid
// families or the grid declarations of the compat files). As in
// CompatDiffusers.cpp, only names and settings are decided here; the arithmetic of
// every grid and step is in the stdlib and the compiler.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Compat.h"

#include <cmath>
#include <map>
#include <sstream>

using json = nlohmann::json;

namespace diffuse {

using namespace compat;

namespace {

/// "name = value" for each key of `keys` whose value in `args` is not the
/// stdlib solver's default `defaults` (so a printed call names only what
/// the user changed).
std::string callArgs(const json &args, const std::vector<std::pair<std::string, double>> &keys) {
  std::string out;
  for (const auto &[k, def] : keys) {
    double v = getNum(args, k.c_str(), def);
    if (v != def)
      out += (out.empty() ? "" : ", ") + k + " = " + shortNum(v);
  }
  return out;
}

std::string call(const std::string &fn, const std::string &args) {
  return args.empty() ? fn : fn + "(" + args + ")";
}

const json kSigmaFns = {
    {"get_sigmas_karras", {{"sigma_min", nullptr}, {"sigma_max", nullptr}, {"rho", 7.0}}},
    {"get_sigmas_exponential", {{"sigma_min", nullptr}, {"sigma_max", nullptr}}},
    {"get_sigmas_polyexponential",
     {{"sigma_min", nullptr}, {"sigma_max", nullptr}, {"rho", 1.0}}},
    {"get_sigmas_vp", {{"beta_d", 19.9}, {"beta_min", 0.1}, {"eps_s", 1e-3}}},
};

json churnArgs() {
  return {{"s_churn", 0.0}, {"s_tmin", 0.0}, {"s_tmax", INFINITY}, {"s_noise", 1.0}};
}

json ancestralArgs() { return {{"eta", 1.0}, {"s_noise", 1.0}}; }

/// k-diffusion's sampler functions (k_diffusion.sampling at the golden
/// commit, and what ComfyUI's fork of it adds) and their keyword arguments.
const std::map<std::string, json> &samplerFnTable() {
  const json ancestral = ancestralArgs();
  auto with = [](json a, const json &more) {
    a.update(more);
    return a;
  };
  static const std::map<std::string, json> kArgs = {
      {"sample_euler", churnArgs()},
      {"sample_heun", churnArgs()},
      {"sample_dpm_2", churnArgs()},
      {"sample_euler_ancestral", ancestral},
      {"sample_dpm_2_ancestral", ancestral},
      {"sample_dpmpp_2s_ancestral", ancestral},
      {"sample_dpmpp_3m_sde", ancestral},
      // BrownianTreeNoiseSampler (the default): the two stages' draws are
      // increments of one Brownian path; "gaussian": independent draws.
      {"sample_dpmpp_sde", with(ancestral, {{"r", 0.5}, {"noise_sampler", "brownian"}})},
      {"sample_dpmpp_2m_sde", with(ancestral, {{"solver_type", "midpoint"}})},
      {"sample_lms", {{"order", 4}}},
      {"sample_ipndm", {{"max_order", 4}}},
      {"sample_dpmpp_2m", json::object()},
      // ComfyUI's: RES multistep, deterministic (eta 0) or ancestral, each
      // with CFG++; SEEDS; the exponential Heun method in x0 and log-SNR
      // time; the gradient-estimation sampler.
      {"sample_res_multistep", {{"s_noise", 1.0}}},
      {"sample_res_multistep_cfg_pp", {{"s_noise", 1.0}}},
      {"sample_res_multistep_ancestral", ancestral},
      {"sample_res_multistep_ancestral_cfg_pp", ancestral},
      {"sample_seeds_2", with(ancestral, {{"r", 0.5}, {"solver_type", "phi_1"}})},
      {"sample_seeds_3", with(ancestral, {{"r_1", 1.0 / 3}, {"r_2", 2.0 / 3}})},
      {"sample_exp_heun_2_x0", {{"solver_type", "phi_2"}}},
      {"sample_exp_heun_2_x0_sde", with(ancestral, {{"solver_type", "phi_2"}})},
      {"sample_gradient_estimation", {{"ge_gamma", 2.0}}},
      {"sample_gradient_estimation_cfg_pp", {{"ge_gamma", 2.0}}},
  };
  return kArgs;
}

json samplerFnArgs(const std::string &fn) {
  auto it = samplerFnTable().find(fn);
  return it == samplerFnTable().end() ? json(nullptr) : it->second;
}

} // namespace

std::vector<std::string> kdiffusionSamplerFns() {
  std::vector<std::string> fns = {"sample_dpm_fast", "sample_dpm_adaptive"};
  for (const auto &[fn, _] : samplerFnTable())
    fns.push_back(fn);
  return fns;
}

json kdiffusionDefaults(const std::string &fn, const std::string &sigmasFn) {
  if (fn == "sample_dpm_fast") // its own noise levels: no get_sigmas_* function
    return {{"sigma_min", nullptr}, {"sigma_max", nullptr}, {"eta", 0.0}, {"s_noise", 1.0}};
  if (fn == "sample_dpm_adaptive")
    return {{"sigma_min", nullptr}, {"sigma_max", nullptr},  {"order", 3},    {"rtol", 0.05},
            {"atol", 0.0078},       {"h_init", 0.05},        {"pcoeff", 0.0}, {"icoeff", 1.0},
            {"dcoeff", 0.0},        {"accept_safety", 0.81}, {"eta", 0.0},    {"s_noise", 1.0}};
  json a = samplerFnArgs(fn);
  if (a.is_null() || !kSigmaFns.contains(sigmasFn))
    return json::object();
  for (auto &[k, v] : kSigmaFns[sigmasFn].items())
    a[k] = v;
  return a;
}

namespace {

/// sample_dpm_fast(model, x, sigma_min, sigma_max, n): DPM-Solver-fast, the
/// DPM-Solver repository's singlestep order schedule over floor(n / 3) + 1
/// steps uniform in log sigma, on the noise prediction; and
/// sample_dpm_adaptive(model, x, sigma_min, sigma_max, ...): DPM-Solver-12
/// or -23 under k-diffusion's PID controller (eta = 0 only, both).
Mapping mapDpmSolverFn(const std::string &fn, const json &args, long nfe,
                       std::optional<double> guidance, const std::string &name) {
  if (!args["sigma_min"].is_number() || !args["sigma_max"].is_number())
    return skipped(fn + " needs sigma_min and sigma_max (it has no defaults)");
  double lo = args["sigma_min"].get<double>(), hi = args["sigma_max"].get<double>();
  if (!(lo > 0) || !(hi > lo))
    return skipped(fn + " needs 0 < sigma_min < sigma_max, not sigma_min = " + shortNum(lo) +
                   ", sigma_max = " + shortNum(hi));
  if (getNum(args, "eta", 0) != 0)
    return skipped(fn + " with eta > 0 (its ancestral steps) is not in the compat specs yet");
  bool adaptive = fn == "sample_dpm_adaptive";
  double order = getNum(args, "order", 3);
  if (adaptive && order != 2 && order != 3)
    return skipped("sample_dpm_adaptive's order is 2 or 3, not " + shortNum(order));
  Mapping m;
  m.sampler = name;
  std::string process = hi > 80 ? "ve(sigma_max = " + shortNum(std::ceil(hi)) + ")" : "ve";
  std::string solver, grid;
  if (adaptive) {
    json a = args;
    a["pid"] = 1;
    solver = call("dpm_solver_adaptive", callArgs(a, {{"order", 2},
                                                      {"rtol", 0.05},
                                                      {"atol", 0.0078},
                                                      {"h_init", 0.05},
                                                      {"pid", 0},
                                                      {"pcoeff", 0},
                                                      {"icoeff", 1},
                                                      {"dcoeff", 0},
                                                      {"accept_safety", 0.81}}));
    grid = "[" + shortNum(hi) + ", " + shortNum(lo) + "]";
  } else {
    solver = "dpm_solver_singlestep(order = 3, rem = " + std::to_string(nfe % 3) + ")";
    grid = "dpm_fast(steps = " + std::to_string(nfe / 3 + 1) + ", sigma_min = " + shortNum(lo) +
           ", sigma_max = " + shortNum(hi) + ")";
  }
  std::ostringstream os;
  os << "// k-diffusion " << fn << "(sigma_min=" << shortNum(lo) << ", sigma_max=" << shortNum(hi)
     << (adaptive ? "" : ", n=" + std::to_string(nfe)) << ")";
  if (guidance)
    os << ", CFG scale " << shortNum(*guidance);
  os << ", written by `diffuse compat`.\n";
  os << "import \"compat/kdiffusion.dfs\"\n\n";
  m.items.push_back("process = " + process);
  writeSampler(m, os, process, "denoiser", solver, adaptive ? "" : "native", grid,
               guidance ? "cfg(w = " + shortNum(*guidance) + ")" : "");
  return m;
}

} // namespace

Mapping mapKDiffusion(const std::string &fn, const std::string &sigmasFn, const json &given,
                      long steps, std::optional<double> guidance, const std::string &name) {
  const json defaults = kdiffusionDefaults(fn, sigmasFn);
  if (fn == "sample_dpm_fast" || fn == "sample_dpm_adaptive")
    return mapDpmSolverFn(fn, merged(defaults, given), steps, guidance, name);
  if (defaults.empty())
    return skipped("k-diffusion " + (samplerFnArgs(fn).is_null() ? fn : sigmasFn) +
                   " is not in the compat specs");
  json args = merged(defaults, given);
  Mapping m;
  m.sampler = name;

  // The solver: the stdlib's, with the arguments that differ from its defaults.
  std::string solver, coords;
  // sample_euler, sample_heun and sample_dpm_2 with churn: Karras et al.'s
  // Algorithm 2 before the step (s_tmax = inf is the edm solvers' 1e30
  // default).
  auto churned = [&](const std::string &plain, const std::string &edm) {
    if (getNum(args, "s_churn", 0) == 0)
      return plain;
    json a = args;
    if (std::isinf(getNum(a, "s_tmax", INFINITY)))
      a.erase("s_tmax");
    return call(edm,
                callArgs(a, {{"s_churn", 0}, {"s_tmin", 0}, {"s_tmax", 1e30}, {"s_noise", 1}}));
  };
  if (fn == "sample_euler") {
    solver = churned("euler", "edm_euler");
    coords = "ve";
  } else if (fn == "sample_heun") {
    solver = churned("heun", "edm_heun");
  } else if (fn == "sample_dpm_2") {
    solver = churned("dpm_2", "edm_dpm_2");
  } else if (fn == "sample_lms") {
    solver = call("lms", callArgs(args, {{"order", 4}}));
  } else if (fn == "sample_ipndm") {
    solver = call("ipndm", callArgs(args, {{"max_order", 4}}));
    coords = "ve";
  } else if (fn == "sample_dpmpp_2m") {
    solver = "dpmpp_2m";
  } else if (fn == "sample_dpmpp_sde") {
    std::string noise = getStr(args, "noise_sampler", "brownian");
    if (noise != "brownian" && noise != "gaussian")
      return skipped("sample_dpmpp_sde's noise_sampler is 'brownian' (k-diffusion's "
                     "BrownianTreeNoiseSampler) or 'gaussian' (independent draws), not '" +
                     noise + "'");
    json a = args;
    a["brownian"] = noise == "brownian" ? 1 : 0;
    solver =
        call("dpmpp_sde", callArgs(a, {{"eta", 1}, {"s_noise", 1}, {"r", 0.5}, {"brownian", 1}}));
  } else if (fn == "sample_dpmpp_2m_sde") {
    std::string type = getStr(args, "solver_type", "midpoint");
    if (type != "midpoint" && type != "heun")
      return skipped("sample_dpmpp_2m_sde's solver_type is 'midpoint' or 'heun', not '" + type +
                     "'");
    json a = args;
    a["heun"] = type == "heun" ? 1 : 0;
    solver = call("dpmpp_2m_sde", callArgs(a, {{"eta", 1}, {"s_noise", 1}, {"heun", 0}}));
  } else if (fn == "sample_seeds_2" || fn.rfind("sample_exp_heun_2_x0", 0) == 0) {
    std::string type = getStr(args, "solver_type", "phi_1");
    if (type != "phi_1" && type != "phi_2")
      return skipped(fn + "'s solver_type is 'phi_1' or 'phi_2', not '" + type + "'");
    json a = args;
    a["phi2"] = type == "phi_2" ? 1 : 0;
    if (fn == "sample_exp_heun_2_x0") { // seeds_2 at r = 1 without noise
      a["eta"] = 0;
      a["s_noise"] = 0;
    }
    if (fn != "sample_seeds_2")
      a["r"] = 1;
    solver = call("seeds_2", callArgs(a, {{"eta", 1}, {"s_noise", 1}, {"r", 0.5}, {"phi2", 0}}));
  } else if (fn == "sample_seeds_3") {
    solver = call("seeds_3",
                  callArgs(args, {{"eta", 1}, {"s_noise", 1}, {"r_1", 1.0 / 3}, {"r_2", 2.0 / 3}}));
  } else if (fn.rfind("sample_gradient_estimation", 0) == 0 ||
             fn.rfind("sample_res_multistep", 0) == 0) {
    // The _cfg_pp variants are the same solver with cfg_pp = 1: they read
    // the unconditional prediction, so they need guidance.
    json a = args;
    if (fn.find("_cfg_pp") != std::string::npos) {
      if (!guidance)
        return skipped(fn + " is CFG++: give the guidance scale with --guidance W");
      a["cfg_pp"] = 1;
    }
    solver = fn.rfind("sample_gradient_estimation", 0) == 0
                 ? call("gradient_estimation", callArgs(a, {{"ge_gamma", 2}, {"cfg_pp", 0}}))
                 : call("res_multistep", callArgs(a, {{"eta", 0}, {"s_noise", 1}, {"cfg_pp", 0}}));
  } else {
    // The ancestral samplers: fn without "sample_" is the stdlib solver.
    solver = call(fn.substr(7), callArgs(args, {{"eta", 1}, {"s_noise", 1}}));
  }

  // The grid: get_sigmas_X(n, ...) is the built-in family X.
  std::string N = std::to_string(steps), grid, family = sigmasFn.substr(11);
  double top = 0; // the largest noise level, for the process's domain
  if (sigmasFn == "get_sigmas_vp") {
    double bd = getNum(args, "beta_d", 19.9), bm = getNum(args, "beta_min", 0.1);
    std::string a = callArgs(args, {{"beta_d", 19.9}, {"beta_min", 0.1}, {"eps_s", 1e-3}});
    grid = "vp(steps = " + N + (a.empty() ? "" : ", " + a) + ")";
    top = std::sqrt(std::expm1(0.5 * bd + bm));
  } else {
    if (!args["sigma_min"].is_number() || !args["sigma_max"].is_number())
      return skipped(sigmasFn + " needs sigma_min and sigma_max (it has no defaults)");
    double lo = args["sigma_min"].get<double>(), hi = args["sigma_max"].get<double>();
    if (!(lo > 0) || !(hi > lo))
      return skipped(sigmasFn + " needs 0 < sigma_min < sigma_max, not sigma_min = " +
                     shortNum(lo) + ", sigma_max = " + shortNum(hi));
    grid = family + "(steps = " + N + ", sigma_min = " + shortNum(lo) +
           ", sigma_max = " + shortNum(hi);
    if (args.contains("rho"))
      grid += ", rho = " + shortNum(getNum(args, "rho", 7));
    grid += ")";
    top = hi;
  }
  // stdlib's ve spans noise levels 0 to 80 (EDM's sigma_max); a wider grid
  // widens it.
  std::string process = top > 80 ? "ve(sigma_max = " + shortNum(std::ceil(top)) + ")" : "ve";

  std::ostringstream os;
  std::string sigArgs;
  for (const char *k : {"sigma_min", "sigma_max", "rho", "beta_d", "beta_min", "eps_s"})
    if (kSigmaFns[sigmasFn].contains(k))
      sigArgs += std::string(", ") + k + "=" + shortNum(getNum(args, k, NAN));
  json samplerOnly = args;
  for (auto &[k, v] : kSigmaFns[sigmasFn].items())
    samplerOnly.erase(k);
  os << "// k-diffusion " << fn << "(" << changedArgs(samplerOnly, defaults) << ") over "
     << sigmasFn << "(n=" << steps << sigArgs << ")";
  if (guidance)
    os << ", CFG scale " << shortNum(*guidance);
  os << ", written by `diffuse compat`.\n";
  os << "import \"compat/kdiffusion.dfs\"\n\n";
  m.items.push_back("process = " + process);
  writeSampler(m, os, process, "denoiser", solver, coords, grid,
               guidance ? "cfg(w = " + shortNum(*guidance) + ")" : "");
  return m;
}

json dpmSolverDefaults() {
  return {{"schedule", "discrete"},     {"beta_start", 0.0001},
          {"beta_end", 0.02},           {"continuous_beta_0", 0.1},
          {"continuous_beta_1", 20.0},  {"model_type", "noise"},
          {"algorithm_type", "dpmsolver++"},
          {"order", 2},                 {"skip_type", "time_uniform"},
          {"method", "multistep"},      {"lower_order_final", true},
          {"t_start", nullptr},         {"t_end", nullptr},
          {"denoise_to_zero", false},   {"solver_type", "dpmsolver"},
          {"atol", 0.0078},             {"rtol", 0.05}};
}

Mapping mapDpmSolver(const json &given, long steps, std::optional<double> guidance,
                     const std::string &name) {
  json cfg = merged(dpmSolverDefaults(), given);
  Mapping m;
  m.sampler = name;
  std::string schedule = getStr(cfg, "schedule", "discrete");
  if (schedule != "linear" && schedule != "discrete")
    return skipped("NoiseScheduleVP schedule '" + schedule +
                   "' is not in the compat specs (linear and discrete are)");
  // model_wrapper's model_type: what the network predicts.
  std::string modelType = getStr(cfg, "model_type", "noise");
  const std::map<std::string, std::string> kPredicts = {
      {"noise", "eps"}, {"x_start", "x0"}, {"v", "v"}, {"score", "score"}};
  if (!kPredicts.count(modelType))
    return skipped("model_wrapper model_type is 'noise', 'x_start', 'v' or 'score', not '" +
                   modelType + "'");
  std::string algo = getStr(cfg, "algorithm_type", "dpmsolver++");
  std::string method = getStr(cfg, "method", "multistep");
  std::string skip = getStr(cfg, "skip_type", "time_uniform");
  int order = (int)getNum(cfg, "order", 2);
  if (algo != "dpmsolver++" && algo != "dpmsolver")
    return skipped("algorithm_type is 'dpmsolver++' or 'dpmsolver', not '" + algo + "'");
  std::string type = getStr(cfg, "solver_type", "dpmsolver");
  if (type != "dpmsolver" && type != "taylor")
    return skipped("solver_type is 'dpmsolver' or 'taylor', not '" + type + "'");
  const bool taylor = type == "taylor";
  // denoise_to_zero: the sample is the data prediction at t_end, one more
  // network call (the sampler's finish = denoise).
  const bool denoiseToZero = getBool(cfg, "denoise_to_zero", false);
  if (denoiseToZero && method == "adaptive")
    return skipped("denoise_to_zero with method 'adaptive' is not in the compat specs (a "
                   "sampler's finish = denoise needs a fixed-step solver)");
  if (skip != "time_uniform" && skip != "logSNR" && skip != "time_quadratic")
    return skipped("skip_type is 'time_uniform', 'logSNR' or 'time_quadratic', not '" + skip +
                   "'");
  const bool linear = schedule == "linear";
  // NoiseScheduleVP's time range: T = 1; the default end is 1/N (N = 1000
  // for both schedules).
  double tStart = getNum(cfg, "t_start", 1), tEnd = getNum(cfg, "t_end", 1e-3);
  if (!(tEnd > 0) || !(tStart > tEnd) || tStart > 1)
    return skipped("t_start and t_end need 0 < t_end < t_start <= 1, not t_start = " +
                   shortNum(tStart) + ", t_end = " + shortNum(tEnd));
  std::string lof = getBool(cfg, "lower_order_final", true) ? "1" : "0";
  std::string solver, grid, N = std::to_string(steps);
  std::string range;
  if (tStart != 1)
    range += ", from = " + shortNum(tStart);
  if (tEnd != 1e-3)
    range += ", to = " + shortNum(tEnd);
  // The repository's grid of n steps for skip_type: `order` > 1 takes every
  // order-th point of the N-step time grids (`calls` = N) at the steps'
  // cumulative orders; `lastTwo` when they end in orders 2, 1.
  auto times = [&](long n, int every, bool lastTwo) {
    std::string from = (tStart != 1 ? ", t_start = " + shortNum(tStart) : "") +
                       (tEnd != 1e-3 ? ", t_end = " + shortNum(tEnd) : "");
    if (skip == "logSNR")
      return "logsnr(steps = " + std::to_string(n) + range + ")";
    if (skip == "time_uniform" && every == 1)
      return "uniform(steps = " + std::to_string(n) + range + ")";
    std::string g = "dpms_times(steps = " + std::to_string(n);
    if (skip == "time_quadratic")
      g += ", power = 2";
    if (every > 1)
      g += ", order = " + std::to_string(every) + ", calls = " + N;
    else
      g += ", calls = " + std::to_string(n);
    if (lastTwo)
      g += ", short = 1";
    return g + from + ")";
  };
  std::string family = algo == "dpmsolver" ? "dpm_solver" : "dpmpp";
  if (order < 1 || order > 3)
    return skipped("DPM-Solver order is 1, 2 or 3, not " + std::to_string(order));
  if (method == "multistep") {
    if (steps < order)
      return skipped("multistep order " + std::to_string(order) + " needs steps >= " +
                     std::to_string(order) + " (DPM_Solver.sample asserts it)");
    if (order == 1)
      // DPM-Solver-1 (DDIM), the same update as the singlestep solvers' first order.
      solver = family + "_singlestep(order = 1)";
    else // the repository lowers the final orders for grids of fewer than 10 steps
      solver = family + (order == 2 ? "_2m" : "_3m") + "(lower_order_final = " + lof +
               ", lower_order_below = 10" + (taylor && order == 2 ? ", taylor = 1" : "") + ")";
    grid = times(steps, 1, false);
  } else if (method == "singlestep" || method == "singlestep_fixed") {
    const bool fixed = method == "singlestep_fixed";
    // 'singlestep': K steps of orders (3) 3, ..., 3 then 2, 1 (N mod 3 = 0),
    // 1 (= 1) or 2 (= 2); (2) 2, ..., 2 then 1 for odd N; (1) N steps of 1.
    // 'singlestep_fixed': N / order steps of `order`.
    long K = fixed ? steps / order
             : order == 3 ? steps / 3 + 1
             : order == 2 ? (steps + 1) / 2
                          : steps;
    if (K < 1)
      return skipped("singlestep_fixed order " + std::to_string(order) + " needs steps >= " +
                     std::to_string(order));
    solver = family + "_singlestep(order = " + std::to_string(order) +
             ", rem = " + std::to_string(steps % order) + ", spacing = " +
             (skip == "logSNR" ? "0" : skip == "time_uniform" ? "1" : "2") +
             (taylor ? ", taylor = 1" : "") + (fixed ? ", fixed = 1" : "") + ")";
    // logSNR grids and singlestep_fixed: K even steps; otherwise the N-step
    // grid at the cumulative orders.
    if (skip == "logSNR" || fixed || order == 1)
      grid = times(K, 1, false);
    else
      grid = times(K, order, order == 3 && steps % 3 == 0);
  } else if (method == "adaptive") {
    // dpm_solver_adaptive: DPM-Solver-12 or -23 from t_T to t_0; `steps`
    // and lower_order_final are unused, as in the repository.
    if (order != 2 && order != 3)
      return skipped("method 'adaptive' has order 2 or 3 (DPM-Solver-12 and -23), not " +
                     std::to_string(order));
    double atol = getNum(cfg, "atol", 0.0078), rtol = getNum(cfg, "rtol", 0.05);
    if (!(atol > 0) || !(rtol >= 0) || rtol > 1)
      return skipped("method 'adaptive' needs atol > 0 and 0 <= rtol <= 1, not atol = " +
                     shortNum(atol) + ", rtol = " + shortNum(rtol));
    solver = family + "_adaptive(order = " + std::to_string(order) +
             (rtol != 0.05 ? ", rtol = " + shortNum(rtol) : "") +
             (atol != 0.0078 ? ", atol = " + shortNum(atol) : "") + (taylor ? ", taylor = 1" : "") +
             ")";
    grid = "[" + shortNum(tStart) + ", " + shortNum(tEnd) + "]";
  } else {
    return skipped("method '" + method + "' is not in the compat specs (multistep, singlestep, "
                   "singlestep_fixed and adaptive are)");
  }
  std::string process;
  if (linear) {
    std::string a = callArgs(json{{"beta_0", getNum(cfg, "continuous_beta_0", 0.1)},
                                  {"beta_1", getNum(cfg, "continuous_beta_1", 20)}},
                             {{"beta_0", 0.1}, {"beta_1", 20}});
    process = call("vp_linear", a);
  } else {
    std::string a = callArgs(json{{"beta_start", getNum(cfg, "beta_start", 0.0001)},
                                  {"beta_end", getNum(cfg, "beta_end", 0.02)}},
                             {{"beta_start", 0.0001}, {"beta_end", 0.02}});
    process = call("vp_discrete", a);
  }
  std::ostringstream os;
  os << "// DPM-Solver DPM_Solver.sample(steps=" << steps;
  std::string changed = changedArgs(cfg, dpmSolverDefaults());
  if (!changed.empty())
    os << ", " << changed;
  os << ")";
  if (guidance)
    os << ", classifier-free guidance_scale " << shortNum(*guidance);
  os << ", written by `diffuse compat`.\n";
  os << "import \"compat/dpm_solver.dfs\"\n\n";
  m.items.push_back("process = " + process);
  std::string model = linear ? "noise_model" : "discrete_noise_model";
  if (modelType != "noise") {
    // The stdlib's models predict the noise; another prediction is declared here.
    model = "peer_model";
    os << "model peer_model {\n  predicts = " << kPredicts.at(modelType)
       << "\n  time = " << (linear ? "t" : "scaled(1000, -1)") << "\n  cond = class\n}\n\n";
    m.items.push_back("predicts = " + kPredicts.at(modelType));
  }
  writeSampler(m, os, process, model, solver, method == "adaptive" ? "" : "native", grid,
               guidance ? "cfg(w = " + shortNum(*guidance) + ")" : "",
               denoiseToZero ? "denoise" : "");
  return m;
}

json flowMatchingDefaults() {
  return {{"method", "euler"},
          {"step_size", nullptr},
          {"atol", 1e-5},
          {"rtol", 1e-5},
          {"time_grid", json::array({0.0, 1.0})}};
}

Mapping mapFlowMatching(const json &given, std::optional<double> guidance,
                        const std::string &name) {
  json cfg = merged(flowMatchingDefaults(), given);
  Mapping m;
  m.sampler = name;
  // time_grid: a JSON array, or "0,1" from the command line.
  std::vector<double> tg;
  const json &g = cfg["time_grid"];
  if (g.is_array()) {
    for (const auto &e : g)
      if (e.is_number())
        tg.push_back(e.get<double>());
      else
        return skipped("time_grid holds numbers, not " + e.dump());
  } else if (g.is_string()) {
    std::stringstream ss(g.get<std::string>());
    std::string item;
    while (std::getline(ss, item, ',')) {
      char *end = nullptr;
      double x = std::strtod(item.c_str(), &end);
      if (item.empty() || *end)
        return skipped("time_grid is a list of numbers like 0,1, not '" +
                       g.get<std::string>() + "'");
      tg.push_back(x);
    }
  } else if (g.is_number()) {
    tg.push_back(g.get<double>());
  }
  if (tg.size() < 2)
    return skipped("time_grid needs at least two times (it is [0, 1] by default)");
  for (size_t i = 1; i < tg.size(); ++i)
    if (!(tg[i] > tg[i - 1]) || tg.front() < 0 || tg.back() > 1)
      return skipped("time_grid must rise from noise (0) towards data (1) within [0, 1]; "
                     "sampling backwards (likelihoods) is not in the compat specs");
  std::string method = getStr(cfg, "method", "euler");
  std::string solver;
  bool adaptive = false;
  if (method == "euler" || method == "midpoint") {
    solver = method;
  } else if (method == "rk4") {
    solver = "rk4_38"; // torchdiffeq's rk4 is the 3/8 rule
  } else if (method == "heun3") {
    solver = "heun3";
  } else if (method == "dopri5" || method == "bosh3" || method == "fehlberg2" ||
             method == "adaptive_heun") {
    adaptive = true;
    solver = call(method, callArgs(cfg, {{"rtol", 1e-5}, {"atol", 1e-5}}));
  } else {
    return skipped("torchdiffeq method '" + method +
                   "' is not in the compat specs (euler, midpoint, rk4, heun3, dopri5, bosh3, "
                   "fehlberg2 and adaptive_heun are)");
  }
  std::string list = "[";
  for (size_t i = 0; i < tg.size(); ++i)
    list += (i ? ", " : "") + shortNum(tg[i]);
  list += "]";
  std::string grid;
  bool hasStep = cfg["step_size"].is_number();
  if (adaptive || !hasStep) {
    // dopri5 picks its own steps between the requested times; a fixed
    // method without step_size steps from each requested time to the next.
    if (adaptive && tg.size() != 2)
      return skipped(method + " over more than two times (intermediate outputs) is not in "
                     "the compat specs");
    grid = list;
  } else {
    // torchdiffeq's grid from step_size: t0 + k h up to t1, then t1 exactly;
    // the requested times in between only select outputs.
    double h = cfg["step_size"].get<double>();
    if (!(h > 0))
      return skipped("step_size must be positive, not " + shortNum(h));
    double t0 = tg.front(), t1 = tg.back();
    double n = std::ceil((t1 - t0) / h + 1); // torchdiffeq's niters
    if (n > 100001)
      return skipped("step_size " + shortNum(h) + " makes more than 100000 steps");
    grid = "torchdiffeq_fixed(steps = " + std::to_string((long)n - 1) +
           ", step_size = " + shortNum(h) + (t0 != 0 ? ", t0 = " + shortNum(t0) : "") +
           (t1 != 1 ? ", t1 = " + shortNum(t1) : "") + ")";
  }
  std::ostringstream os;
  os << "// flow_matching ODESolver.sample(" << changedArgs(cfg, flowMatchingDefaults())
     << ")";
  if (guidance)
    os << ", CFG scale " << shortNum(*guidance) << " on the velocity";
  os << ", written by `diffuse compat`.\n";
  os << "import \"compat/flow_matching.dfs\"\n\n";
  m.items.push_back("process = cond_ot");
  writeSampler(m, os, "cond_ot", "velocity_net", solver, "", grid,
         guidance ? "cfg(w = " + shortNum(*guidance) + ")" : "");
  return m;
}

} // namespace diffuse
