//===- CompatDiffusers.cpp - diffusers schedulers as Diffuse specs --------===//
//
// mapDiffusers: a scheduler class and its config keys -> a spec over
// stdlib/compat/diffusers.dfs, the grid included (its k_*, dpm_*,
// flowmatch* and lcm grid declarations redo set_timesteps on the process's
// own float32 table). Only names and settings are decided here: the
// mathematics lives in the stdlib.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Compat.h"
#include "diffuse/schedule.h"

#include <cmath>
#include <sstream>

using json = nlohmann::json;

namespace diffuse {

using namespace compat;

namespace {

const char *kKStyle[] = {"EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                         "HeunDiscreteScheduler", "LMSDiscreteScheduler",
                         "DPMSolverSDEScheduler",
                         "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler"};
const char *kMultistep[] = {"DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler",
                            "UniPCMultistepScheduler", "DEISMultistepScheduler"};

template <size_t N> bool among(const std::string &s, const char *(&list)[N]) {
  for (const char *x : list)
    if (s == x)
      return true;
  return false;
}

} // namespace

json diffusersDefaults(const std::string &cls) {
  json d = {{"num_train_timesteps", 1000},   {"beta_start", 0.0001},
            {"beta_end", 0.02},              {"beta_schedule", "linear"},
            {"trained_betas", nullptr},      {"prediction_type", "epsilon"},
            {"steps_offset", 0},             {"rescale_betas_zero_snr", false},
            {"timestep_spacing", "linspace"}};
  auto sigmas = [&] {
    d["use_karras_sigmas"] = false;
    d["use_exponential_sigmas"] = false;
    d["use_beta_sigmas"] = false;
  };
  auto thresholding = [&] {
    d["thresholding"] = false;
    d["dynamic_thresholding_ratio"] = 0.995;
    d["sample_max_value"] = 1.0;
  };
  if (cls == "DDIMScheduler") {
    thresholding();
    d.update({{"clip_sample", true}, {"clip_sample_range", 1.0}, {"set_alpha_to_one", true},
              {"timestep_spacing", "leading"}});
  } else if (cls == "DDPMScheduler") {
    thresholding();
    d.update({{"clip_sample", true}, {"clip_sample_range", 1.0},
              {"variance_type", "fixed_small"}, {"timestep_spacing", "leading"}});
  } else if (cls == "PNDMScheduler") {
    d.update({{"skip_prk_steps", false}, {"set_alpha_to_one", false},
              {"timestep_spacing", "leading"}});
  } else if (among(cls, kKStyle)) {
    sigmas();
    if (cls == "EulerDiscreteScheduler")
      d.update({{"interpolation_type", "linear"}, {"timestep_type", "discrete"},
                {"final_sigmas_type", "zero"}, {"sigma_min", nullptr}, {"sigma_max", nullptr}});
    if (cls == "DPMSolverSDEScheduler")
      d.update({{"noise_sampler_seed", nullptr}});
  } else if (among(cls, kMultistep)) {
    sigmas();
    thresholding();
    d.update({{"solver_order", 2}, {"lower_order_final", true}});
    if (cls == "UniPCMultistepScheduler")
      d.update({{"solver_type", "bh2"}, {"predict_x0", true}, {"disable_corrector", json::array()},
                {"final_sigmas_type", "zero"}});
    else if (cls == "DEISMultistepScheduler")
      d.update({{"algorithm_type", "deis"}, {"solver_type", "logrho"}});
    else
      d.update({{"algorithm_type", "dpmsolver++"}, {"solver_type", "midpoint"},
                {"final_sigmas_type", "zero"}, {"lambda_min_clipped", "-inf"},
                {"use_lu_lambdas", false}, {"euler_at_final", false}});
  } else if (cls == "LCMScheduler" || cls == "TCDScheduler") {
    thresholding();
    d.update({{"beta_start", 0.00085},
              {"beta_end", 0.012},
              {"beta_schedule", "scaled_linear"},
              {"original_inference_steps", 50},
              {"clip_sample", false},
              {"clip_sample_range", 1.0},
              {"set_alpha_to_one", true},
              {"timestep_spacing", "leading"},
              {"timestep_scaling", 10.0}});
  } else if (cls == "FlowMatchHeunDiscreteScheduler") {
    d = {{"num_train_timesteps", 1000}, {"shift", 1.0}};
  } else if (cls == "FlowMatchEulerDiscreteScheduler") {
    d = {{"num_train_timesteps", 1000}, {"shift", 1.0},
         {"use_dynamic_shifting", false}, {"stochastic_sampling", false},
         {"invert_sigmas", false},        {"shift_terminal", nullptr},
         {"use_karras_sigmas", false},    {"use_exponential_sigmas", false},
         {"use_beta_sigmas", false},      {"base_shift", 0.5},
         {"max_shift", 1.15},             {"base_image_seq_len", 256},
         {"max_image_seq_len", 4096},     {"time_shift_type", "exponential"}};
  } else {
    return json::object();
  }
  return d;
}

/// The number of timesteps whose float32 log-SNR (torch.log(sqrt(acp)) -
/// torch.log(sqrt(1 - acp))) is below `clip`: what the DPM-Solver
/// schedulers' lambda_min_clipped cuts off the end of the table
/// (torch.searchsorted over the flipped lambda_t); 0 for -inf.
static long lambdaClipped(const json &cfg, long T, double clip) {
  if (!std::isfinite(clip))
    return 0;
  rt::TableSpec spec;
  spec.schedule = getStr(cfg, "beta_schedule", "linear");
  spec.betaStart = getNum(cfg, "beta_start", 0.0001);
  spec.betaEnd = getNum(cfg, "beta_end", 0.02);
  spec.trainSteps = T;
  spec.zeroTerminalSnr = getBool(cfg, "rescale_betas_zero_snr", false);
  const float bound = (float)clip;
  long clipped = 0;
  for (float a : rt::computeBetaTable(spec).alphasCumprod) {
    float logAlpha = (float)std::log((double)std::sqrt(a));
    float logSigma = (float)std::log((double)std::sqrt(1.0f - a));
    clipped += logAlpha - logSigma < bound;
  }
  return clipped;
}

/// FlowMatchEulerDiscreteScheduler's set_timesteps with use_dynamic_shifting
/// as the opening of `grid` (flowMatchGrid adds the rest): mu given, or the pipelines'
/// calculate_shift of image_seq_len over the configuration's base and max shift, and the pipeline's
/// sigmas (FluxPipeline's) or the scheduler's. A skipped Mapping when the arguments cannot be
/// expressed; an empty one otherwise.
static Mapping flowMatchDynamicGrid(const json &cfg, const json &sk, long steps, long T,
                                    std::string &grid) {
  // set_timesteps(mu = ...): mu given, or the pipelines' calculate_shift
  // of image_seq_len over the configuration's base and max shift.
  std::string type = getStr(cfg, "time_shift_type", "exponential");
  if (type != "exponential" && type != "linear")
    return skipped("time_shift_type is 'exponential' or 'linear', not '" + type + "'");
  double mu;
  if (sk.contains("mu") && sk["mu"].is_number()) {
    if (sk.contains("image_seq_len"))
      return skipped("give mu or image_seq_len, not both");
    mu = sk["mu"].get<double>();
  } else if (sk.contains("image_seq_len") && sk["image_seq_len"].is_number()) {
    double L = sk["image_seq_len"].get<double>(), b0 = getNum(cfg, "base_image_seq_len", 256),
           b1 = getNum(cfg, "max_image_seq_len", 4096), s0 = getNum(cfg, "base_shift", 0.5),
           s1 = getNum(cfg, "max_shift", 1.15);
    if (b1 == b0)
      return skipped("base_image_seq_len and max_image_seq_len are equal: no shift to "
                     "interpolate");
    double slope = (s1 - s0) / (b1 - b0);
    mu = L * slope + (s0 - slope * b0);
  } else {
    return skipped("use_dynamic_shifting needs set_timesteps' mu: give mu=M, or "
                   "image_seq_len=L (the pipeline's calculate_shift)");
  }
  if (type == "linear" && !(mu > 0))
    return skipped("time_shift_type 'linear' needs mu > 0, not " + shortNum(mu));
  std::string sig = !sk.contains("sigmas")    ? "flux"
                    : sk["sigmas"].is_null() ? "none"
                                             : getStr(sk, "sigmas", "");
  if (sig != "flux" && sig != "none")
    return skipped("sigmas is 'flux' (FluxPipeline's np.linspace(1, 1/N, N), the default) "
                   "or 'none' (the scheduler's own), not '" + sig + "'");
  grid = "flowmatch(steps = " + std::to_string(steps) + ", dynamic = 1, mu = " + shortNum(mu) +
         (type == "linear" ? ", linear = 1" : "") + (sig == "none" ? ", pipeline_sigmas = 0" : "") +
         (T != 1000 ? ", train_steps = " + std::to_string(T) : "");
  return Mapping{};
}

/// The FlowMatch schedulers' whole set_timesteps as the `flowmatch` grid,
/// in its order: the static shift or the dynamic one (above), then
/// shift_terminal, Karras, exponential or Beta sigmas, and invert_sigmas
/// (the times 1 - sigma, ending at time 1).
static Mapping flowMatchGrid(const json &cfg, const json &sk, long steps, long T,
                             std::string &grid) {
  if (getBool(cfg, "use_dynamic_shifting", false)) {
    Mapping bad = flowMatchDynamicGrid(cfg, sk, steps, T, grid);
    if (!bad.skip.empty())
      return bad;
  } else {
    double shift = getNum(cfg, "shift", 1);
    if (!(shift > 0))
      return skipped("shift must be positive, not " + shortNum(shift));
    grid = "flowmatch(steps = " + std::to_string(steps) +
           (shift != 1 ? ", shift = " + shortNum(shift) : "") +
           (T != 1000 ? ", train_steps = " + std::to_string(T) : "");
  }
  const json &term = cfg.contains("shift_terminal") ? cfg["shift_terminal"] : json(nullptr);
  if (!term.is_null() && !(term.is_number() && term.get<double>() >= 0 && term.get<double>() < 1))
    return skipped("shift_terminal is a sigma in [0, 1) or null, not " + term.dump());
  if (term.is_number() && term.get<double>() > 0)
    grid += ", shift_terminal = " + shortNum(term.get<double>());
  int families = 0;
  for (const char *f : {"karras", "exponential", "beta"})
    if (getBool(cfg, (std::string("use_") + f + "_sigmas").c_str(), false)) {
      grid += std::string(", ") + f + " = 1";
      ++families;
    }
  if (families > 1)
    return skipped("only one of use_karras_sigmas, use_exponential_sigmas and use_beta_sigmas "
                   "can be set (diffusers refuses the others)");
  if (getBool(cfg, "invert_sigmas", false))
    grid += ", invert = 1, final_zero = 0";
  grid += ")";
  return Mapping{};
}

Mapping mapDiffusers(const std::string &cls, const json &given, const json &sk, long steps,
                     std::optional<double> guidance, const std::string &name) {
  const json defaults = diffusersDefaults(cls);
  if (defaults.empty())
    return skipped("diffusers " + cls + " is not in stdlib yet");
  json cfg = merged(defaults, given);
  Mapping m;
  m.sampler = name;
  const long T = (long)getNum(cfg, "num_train_timesteps", 1000);
  const std::string N = std::to_string(steps);
  auto thresholdArgs = [&] {
    return "ratio = " + shortNum(getNum(cfg, "dynamic_thresholding_ratio", 0.995)) +
           ", max_value = " + shortNum(getNum(cfg, "sample_max_value", 1));
  };
  const bool kstyle = among(cls, kKStyle), multistep = among(cls, kMultistep);
  const bool thresholding = getBool(cfg, "thresholding", false);
  const bool clip = getBool(cfg, "clip_sample", false);
  bool threshold = false; // thresholding as the guidance rule (multistep schedulers)
  std::string solver, coords, lcmGrid;
  bool prevTarget = false;

  if (cls == "DDIMScheduler") {
    std::string eta = shortNum(getNum(sk, "eta", 0));
    if (thresholding)
      solver = "ddim_threshold(eta = " + eta + ", " + thresholdArgs() + ")";
    else if (clip)
      solver = "ddim_clip(eta = " + eta + ", range = " +
               shortNum(getNum(cfg, "clip_sample_range", 1)) + ")";
    else
      solver = "ddim(eta = " + eta + ")";
    prevTarget = true;
  } else if (cls == "DDPMScheduler") {
    // fixed_small_log is fixed_small's standard deviation through exp(log / 2).
    std::string vt = getStr(cfg, "variance_type", "fixed_small");
    if (vt != "fixed_small" && vt != "fixed_small_log" && vt != "fixed_large" &&
        vt != "learned_range")
      return skipped("DDPM variance_type " + vt + " is not in stdlib yet (fixed_small, "
                     "fixed_small_log, fixed_large and learned_range are)");
    const std::string large = vt == "fixed_large" ? "large = 1" : "";
    if (vt == "learned_range" && (thresholding || clip))
      return skipped("DDPM variance_type learned_range with clip_sample or thresholding is not "
                     "in stdlib yet: set clip_sample=false");
    if (vt == "learned_range")
      solver = "ddpm_learned"; // the model declares the variance channels below
    else if (thresholding)
      solver = "ddpm_threshold(" + thresholdArgs() + (large.empty() ? "" : ", " + large) + ")";
    else if (clip)
      solver = "ddpm_clip(range = " + shortNum(getNum(cfg, "clip_sample_range", 1)) +
               (large.empty() ? "" : ", " + large) + ")";
    else
      solver = large.empty() ? "ddpm" : "ddpm(" + large + ")";
    prevTarget = true;
  } else if (cls == "EulerAncestralDiscreteScheduler") {
    solver = "euler_ancestral(final_noise = 1)";
  } else if (cls == "EulerDiscreteScheduler") {
    // step()'s churn: the network before it (diffusers_euler).
    const double churn = getNum(sk, "s_churn", 0);
    if (churn != 0 && getStr(cfg, "prediction_type", "epsilon") != "epsilon")
      return skipped("Euler with s_churn > 0 is in the compat specs for prediction_type "
                     "'epsilon' only");
    std::string tt = getStr(cfg, "timestep_type", "discrete");
    if (tt != "discrete" && tt != "continuous")
      return skipped("timestep_type is 'discrete' or 'continuous', not '" + tt + "'");
    std::string it = getStr(cfg, "interpolation_type", "linear");
    if (it == "log_linear")
      return skipped("Euler's interpolation_type 'log_linear' (sigmas from torch's float32 "
                     "linspace and exp, one more than the timesteps) is not in the compat grids "
                     "yet");
    if (it != "linear")
      return skipped("interpolation_type is 'linear' or 'log_linear', not '" + it + "'");
    std::string fst = getStr(cfg, "final_sigmas_type", "zero");
    if (fst != "zero" && fst != "sigma_min")
      return skipped("final_sigmas_type is 'zero' or 'sigma_min', not '" + fst + "'");
    for (const char *k : {"sigma_min", "sigma_max"})
      if (!cfg[k].is_null() && !(cfg[k].is_number() && cfg[k].get<double>() >= 0))
        return skipped(std::string(k) + " is a noise level >= 0 or null, not " + cfg[k].dump());
    if (churn != 0) {
      std::string a = "s_churn = " + shortNum(churn);
      for (auto [k, def] : {std::pair<const char *, double>{"s_tmin", 0}, {"s_tmax", INFINITY},
                            {"s_noise", 1}})
        if (getNum(sk, k, def) != def && std::isfinite(getNum(sk, k, def)))
          a += std::string(", ") + k + " = " + shortNum(getNum(sk, k, def));
      solver = "diffusers_euler(" + a + ")";
    } else {
      solver = "euler";
    }
    coords = "ve";
  } else if (cls == "HeunDiscreteScheduler") {
    solver = "heun";
  } else if (cls == "DPMSolverSDEScheduler") {
    // k-diffusion's sample_dpmpp_sde (eta 1, r 1/2) on Heun's timesteps: the
    // midpoint's network time is _sigma_to_t of its sigma, as at(sm) takes
    // it on a table. The two stages' draws are increments of one Brownian
    // path (brownian = 1), as its BrownianTreeNoiseSampler's are; the path
    // is Diffuse's own (--seed), not torchsde's of noise_sampler_seed.
    double sn = getNum(sk, "s_noise", 1);
    solver = sn == 1 ? "dpmpp_sde" : "dpmpp_sde(s_noise = " + shortNum(sn) + ")";
  } else if (cls == "KDPM2DiscreteScheduler") {
    solver = "kdpm2";
    m.float32Schedule = "float32 midpoints";
  } else if (cls == "KDPM2AncestralDiscreteScheduler") {
    solver = "kdpm2_ancestral";
    m.float32Schedule = "float32 midpoints, sigma_up and sigma_down";
  } else if (cls == "LMSDiscreteScheduler") {
    solver = "lms";
    coords = "ve";
  } else if (cls == "PNDMScheduler") {
    if (!getBool(cfg, "skip_prk_steps", false)) {
      // F-PNDM: three pseudo Runge-Kutta steps before the multistep ones.
      if (getStr(cfg, "timestep_spacing", "leading") != "leading")
        return skipped("PNDM's Runge-Kutta warm-up (skip_prk_steps=False) is in the compat specs "
                       "with timestep_spacing leading only");
      if (steps < 4)
        return skipped("PNDM's Runge-Kutta warm-up (skip_prk_steps=False) needs steps >= 4");
      solver = "pndm(prk = 1)";
    }
  } else if (cls == "DPMSolverSinglestepScheduler") {
    if (getBool(cfg, "use_lu_lambdas", false))
      return skipped("use_lu_lambdas is an option of DPMSolverMultistepScheduler, not of " + cls);
    int order = (int)getNum(cfg, "solver_order", 2);
    std::string algo = getStr(cfg, "algorithm_type", "dpmsolver++");
    if (algo == "dpmsolver" && getStr(cfg, "final_sigmas_type", "zero") == "zero")
      return skipped(cls + " refuses final_sigmas_type 'zero' with algorithm_type 'dpmsolver' "
                     "(its update would multiply 0 by inf): set final_sigmas_type=sigma_min");
    std::string type = getStr(cfg, "solver_type", "midpoint");
    if (algo != "dpmsolver++" && algo != "dpmsolver")
      return skipped("DPMSolverSinglestep algorithm_type " + algo + " is not in stdlib yet");
    if ((type != "midpoint" && type != "heun") || order < 1 || order > 3)
      return skipped("this DPMSolverSinglestep configuration is not in stdlib yet");
    threshold = thresholding;
    // set_timesteps turns lower_order_final on when the steps do not fill
    // whole blocks or the final sigma is zero.
    bool lof = getBool(cfg, "lower_order_final", true) || steps % order != 0 ||
               getStr(cfg, "final_sigmas_type", "zero") == "zero";
    solver = std::string(algo == "dpmsolver" ? "dpm_solver" : "dpmpp") + "_singlestep_grid" +
             "(order = " + std::to_string(order) + (type == "heun" ? ", heun = 1" : "") +
             (lof ? "" : ", lower_order_final = 0") + ")";
  } else if (cls == "DEISMultistepScheduler") {
    int order = (int)getNum(cfg, "solver_order", 2);
    if (getStr(cfg, "algorithm_type", "deis") != "deis" ||
        getStr(cfg, "solver_type", "logrho") != "logrho" || order < 1 || order > 3)
      return skipped("this DEIS configuration is not in stdlib yet");
    threshold = thresholding;
    solver = "deis(order = " + std::to_string(order) + ", lower_order_final = " +
             (getBool(cfg, "lower_order_final", true) ? "1" : "0") + ")";
  } else if (cls == "UniPCMultistepScheduler") {
    int order = (int)getNum(cfg, "solver_order", 2);
    std::string type = getStr(cfg, "solver_type", "bh2");
    if (order != 2 && order != 3)
      return skipped("UniPC solver_order " + std::to_string(order) + " is not in stdlib yet");
    if (!getBool(cfg, "predict_x0", true))
      return skipped("UniPC with predict_x0 = false (the noise-prediction form) is not in "
                     "stdlib yet");
    if (type != "bh1" && type != "bh2")
      return skipped("UniPC solver_type is 'bh1' or 'bh2', not '" + type + "'");
    // disable_corrector: step indices whose result is not corrected.
    std::string disabled;
    const json &dc = cfg["disable_corrector"];
    if (!dc.is_null() && !dc.is_array())
      return skipped("disable_corrector is a list of step indices, not " + dc.dump());
    for (const json &k : dc.is_array() ? dc : json::array()) {
      if (!k.is_number_integer())
        return skipped("disable_corrector is a list of step indices, not " + dc.dump());
      disabled += (disabled.empty() ? "" : ", ") + std::to_string(k.get<long>());
    }
    threshold = thresholding;
    solver = std::string(order == 3 ? "unipc3" : "unipc") + "(bh = " + type.substr(2) +
             ", lower_order_final = " + (getBool(cfg, "lower_order_final", true) ? "1" : "0") +
             (disabled.empty() ? "" : ", disable_corrector = [" + disabled + "]") + ")";
  } else if (cls == "DPMSolverMultistepScheduler") {
    std::string algo = getStr(cfg, "algorithm_type", "dpmsolver++");
    if ((algo == "dpmsolver" || algo == "sde-dpmsolver") &&
        getStr(cfg, "final_sigmas_type", "zero") == "zero")
      return skipped(cls + " refuses final_sigmas_type 'zero' with algorithm_type '" + algo +
                     "' (its update would multiply 0 by inf): set final_sigmas_type=sigma_min");
    std::string type = getStr(cfg, "solver_type", "midpoint");
    int order = (int)getNum(cfg, "solver_order", 2);
    const bool sde = algo == "sde-dpmsolver++" || algo == "sde-dpmsolver";
    if (algo != "dpmsolver++" && algo != "dpmsolver" && !sde)
      return skipped("DPMSolverMultistep algorithm_type " + algo + " is not in stdlib yet");
    if (order != 2 && !(order == 3 && algo != "sde-dpmsolver"))
      return skipped("DPMSolverMultistep solver_order " + std::to_string(order) + " with " + algo +
                     " is not in stdlib yet" +
                     (order == 3 ? " (diffusers has no third-order update for it)" : ""));
    const bool eulerAtFinal = getBool(cfg, "euler_at_final", false);
    if (type != "midpoint" && type != "heun")
      return skipped("DPMSolverMultistep solver_type is 'midpoint' or 'heun', not '" + type + "'");
    if (eulerAtFinal && sde)
      return skipped("euler_at_final with algorithm_type " + algo +
                     " is not in the compat specs yet");
    threshold = thresholding;
    std::string lof = getBool(cfg, "lower_order_final", true) ? "1" : "0";
    const std::string eaf = eulerAtFinal ? ", euler_at_final = 1" : "";
    // solver_type "heun" is the DPM-Solver repository's 'taylor' weighting of
    // the second-order step; the third-order update has only one form.
    if (order == 3 && sde)
      // diffusers' third-order SDE update, its D2 weight included.
      solver = "dpmpp_3m_sde(lower_order_final = " + lof +
               ", final_noise = 1, midpoint = " + (type == "heun" ? "0" : "1") +
               ", diffusers_d2 = 1)";
    else if (order == 3)
      solver = std::string(algo == "dpmsolver" ? "dpm_solver_3m" : "dpmpp_3m") +
               "(lower_order_final = " + lof + ", lower_order_below = 15" + eaf + ")";
    else if (algo == "sde-dpmsolver++")
      solver = "dpmpp_2m_sde(lower_order_final = " + lof + ", final_noise = 1, heun = " +
               (type == "heun" ? "1" : "0") + ")";
    else if (algo == "sde-dpmsolver")
      solver = "dpm_solver_2m_sde(lower_order_final = " + lof + ", heun = " +
               (type == "heun" ? "1" : "0") + ")";
    else
      solver = std::string(algo == "dpmsolver" ? "dpm_solver_2m" : "dpmpp_2m") +
               "(lower_order_final = " + lof + (type == "heun" ? ", taylor = 1" : "") + eaf +
               ")";
    coords = "native";
  } else if (cls == "LCMScheduler" || cls == "TCDScheduler") {
    // Their own timesteps (timestep_spacing is unused). LCM: the consistency
    // boundary condition at each discrete timestep, the chain's end last;
    // TCD: its DDIM step to floor((1 - eta) t) and forward noise to t
    // (step()'s eta, gamma in the paper), timestep 0 last.
    long orig = (long)getNum(cfg, "original_inference_steps", 50);
    if (orig < 1 || orig > T)
      return skipped("original_inference_steps is 1 to num_train_timesteps, not " +
                     std::to_string(orig));
    if (steps > orig)
      return skipped(cls + " needs num_inference_steps <= original_inference_steps (" +
                     std::to_string(orig) + "), as diffusers requires");
    const bool tcd = cls == "TCDScheduler";
    if (tcd) {
      double eta = getNum(sk, "eta", 0.3);
      if (!(eta >= 0 && eta <= 1))
        return skipped("TCD's eta (gamma) is in [0, 1], not " + shortNum(eta));
      solver = eta == 0.3 ? "tcd" : "tcd(eta = " + shortNum(eta) + ")";
    } else {
      double scaling = getNum(cfg, "timestep_scaling", 10);
      solver = scaling == 10 ? "lcm" : "lcm(timestep_scaling = " + shortNum(scaling) + ")";
    }
    lcmGrid = "lcm_timesteps(steps = " + N + (orig != 50 ? ", original_steps = " +
              std::to_string(orig) : "") + (T != 1000 ? ", train_steps = " +
              std::to_string(T) : "") + (tcd ? ", final = 0" : "") + ")";
  } else if (cls == "FlowMatchEulerDiscreteScheduler") {
    if (getBool(cfg, "invert_sigmas", false) && getBool(cfg, "stochastic_sampling", false))
      return skipped("FlowMatch's invert_sigmas with stochastic_sampling is not in the compat "
                     "specs yet");
    // stochastic_sampling: the clean estimate x - sigma v re-noised to the
    // next sigma with fresh noise, multistep consistency sampling.
    solver = getBool(cfg, "stochastic_sampling", false) ? "consistency" : "euler";
  } else if (cls == "FlowMatchHeunDiscreteScheduler") {
    // Heun's method in sigma on the velocity (its second evaluation at the
    // step's end), Euler into sigma = 0.
    if (getNum(sk, "s_churn", 0) != 0)
      return skipped("FlowMatchHeun with s_churn > 0 is not in the compat specs yet");
    solver = "heun";
    coords = "native";
  } else {
    return skipped("diffusers " + cls + " is not in stdlib yet");
  }
  if (clip && cls != "DDIMScheduler" && cls != "DDPMScheduler" && cfg.contains("clip_sample"))
    return skipped("clip_sample in " + cls + " is not in the stdlib compat specs yet");
  if (thresholding && cls != "DDIMScheduler" && cls != "DDPMScheduler" && !threshold)
    return skipped("thresholding in " + cls + " is not in the stdlib compat specs yet");

  for (const char *k : {"mu", "image_seq_len", "sigmas"})
    if (sk.contains(k) && !(cls == "FlowMatchEulerDiscreteScheduler" &&
                            getBool(cfg, "use_dynamic_shifting", false)))
      return skipped(std::string(k) + " is an argument of set_timesteps for "
                     "FlowMatchEulerDiscreteScheduler with use_dynamic_shifting=true only");

  // The header names the settings that differ from the class's defaults.
  std::string changed = changedArgs(cfg, defaults);
  for (auto &[k, v] : sk.items())
    changed += (changed.empty() ? "" : ", ") + k + "=" + v.dump();
  std::ostringstream os;
  os << "// diffusers " << cls << "(" << changed << ") at " << steps << " steps";
  if (guidance)
    os << ", guidance_scale " << shortNum(*guidance);
  os << ", written by `diffuse compat`.\n";
  os << "import \"compat/diffusers.dfs\"\n\n";
  std::string process = "rectified_flow", model = "transformer", grid;

  const bool flowMatch = cls.rfind("FlowMatch", 0) == 0;
  if (!flowMatch) {
    // The process: the beta table and where the chain ends.
    std::string sched = getStr(cfg, "beta_schedule", "linear");
    if (!cfg["trained_betas"].is_null())
      return skipped("trained_betas is not in the compat specs yet");
    std::string start = shortNum(getNum(cfg, "beta_start", 0.0001));
    std::string end = shortNum(getNum(cfg, "beta_end", 0.02)), train = std::to_string(T);
    std::string table;
    if (sched == "linear" || sched == "scaled_linear" || sched == "sigmoid")
      table = sched + "(beta_start = " + start + ", beta_end = " + end + ", train_steps = " +
              train + ")";
    else if (sched == "squaredcos_cap_v2")
      table = "squaredcos_cap_v2(train_steps = " + train + ")";
    else
      return skipped("beta_schedule " + sched + " is not in the language yet");
    bool toOne = cls == "DDPMScheduler" || getBool(cfg, "set_alpha_to_one", false);
    process = "peer_process";
    os << "process peer_process {\n  discrete = " << table << "\n  final_alpha = "
       << (toOne ? "one" : "first") << "\n";
    m.items = {"discrete = " + table, std::string("final_alpha = ") + (toOne ? "one" : "first")};
    if (getBool(cfg, "rescale_betas_zero_snr", false)) {
      os << "  zero_terminal_snr = true\n";
      m.items.push_back("zero_terminal_snr = true");
    }
    os << "}\n\n";
    std::string pred = getStr(cfg, "prediction_type", "epsilon");
    if (pred != "epsilon" && pred != "v_prediction" && pred != "sample")
      return skipped("prediction_type " + pred + " is not supported");
    model = "peer_model";
    std::string predicts = pred == "v_prediction" ? "v" : pred == "sample" ? "x0" : "eps";
    // Euler's timestep_type "continuous" (with v_prediction only) calls the
    // network at 0.25 log sigma in float32: EDM's c_noise.
    const bool continuous = cls == "EulerDiscreteScheduler" && pred == "v_prediction" &&
                            getStr(cfg, "timestep_type", "discrete") == "continuous";
    // DDPM's learned_range: the network returns the variance channels too.
    const bool learned = cls == "DDPMScheduler" &&
                         getStr(cfg, "variance_type", "fixed_small") == "learned_range";
    // DPMSolverSDE keeps its midpoints' fractional timesteps in a float32
    // tensor: the network sees them rounded to float32. (KDPM2 does too, but
    // computes the midpoints themselves in float32 torch arithmetic, which
    // Diffuse does not reproduce; rounding only the time moves its karras
    // case further from diffusers, so it keeps float64 times.)
    const bool f32Times = cls == "DPMSolverSDEScheduler";
    os << "model peer_model {\n  predicts = " << predicts
       << (continuous ? "\n  time = c_noise\n  time_dtype = f32"
           : f32Times ? "\n  time = index\n  time_dtype = f32"
                      : "\n  time = index")
       << (learned ? "\n  variance = learned_range" : "") << "\n  cond = class\n}\n\n";
    if (learned)
      m.items.push_back("variance = learned_range");
    m.items.push_back("predicts = " + predicts);
    if (continuous)
      m.items.push_back("time = c_noise");

    // The grid: set_timesteps.
    std::string spacing = getStr(cfg, "timestep_spacing", "linspace");
    if (spacing != "linspace" && spacing != "leading" && spacing != "trailing")
      return skipped("timestep_spacing " + spacing + " is not one of diffusers' three");
    long offset = (long)getNum(cfg, "steps_offset", 0);
    bool karras = getBool(cfg, "use_karras_sigmas", false);
    bool exponential = getBool(cfg, "use_exponential_sigmas", false);
    if (karras + exponential + getBool(cfg, "use_beta_sigmas", false) > 1)
      return skipped("only one of use_karras_sigmas, use_exponential_sigmas and use_beta_sigmas "
                     "can be set (diffusers refuses the others)");
    bool betaSigmas = getBool(cfg, "use_beta_sigmas", false);
    if ((exponential || betaSigmas) && cls != "EulerDiscreteScheduler" &&
        cls != "HeunDiscreteScheduler" && cls != "LMSDiscreteScheduler" &&
        cls != "DPMSolverSDEScheduler" && cls != "DPMSolverMultistepScheduler")
      return skipped(std::string(exponential ? "use_exponential_sigmas" : "use_beta_sigmas") +
                     " is in the compat grids for Euler, Heun, LMS, DPMSolverSDE and "
                     "DPMSolverMultistep only, not " +
                     cls);
    std::string trainArg = T != 1000 ? ", train_steps = " + train : "";
    if (!lcmGrid.empty()) {
      grid = lcmGrid;
    } else if (kstyle) {
      // Euler's final_sigmas_type sigma_min ends at the sigma of timestep 0.
      const std::string finalZero =
          cls == "EulerDiscreteScheduler" && getStr(cfg, "final_sigmas_type", "zero") == "sigma_min"
              ? ", final_zero = 0"
              : "";
      if (karras || exponential || betaSigmas) {
        if (cls == "EulerAncestralDiscreteScheduler")
          return skipped("use_karras_sigmas in EulerAncestral is not in the compat specs yet");
        // Karras, exponential or beta between the spaced schedule's ends.
        long hi = T - 1, lo = 0;
        if (spacing == "leading") {
          hi = (steps - 1) * (T / steps) + offset;
          lo = offset;
        } else if (spacing == "trailing") {
          lo =
              (long)std::nearbyint(rt::arangeAt((double)T, -(double)T / (double)steps, steps - 1)) -
              1;
        }
        bool rounded = cls.rfind("KDPM2", 0) == 0; // KDPM2 rounds its Karras timesteps
        std::string family = exponential ? "exponential" : betaSigmas ? "beta" : "karras";
        // Euler's sigma_min and sigma_max replace the spaced schedule's ends.
        std::string ends;
        for (const char *k : {"sigma_min", "sigma_max"})
          if (cls == "EulerDiscreteScheduler" && cfg[k].is_number())
            ends += std::string(", ") + k + " = " + shortNum(cfg[k].get<double>());
        grid = "k_" + family + "(steps = " + N + ", t_max = " + std::to_string(hi) +
               ", t_min = " + std::to_string(lo) + (rounded ? ", rounded = 1" : "") + ends +
               finalZero + ")";
        if (!rounded)
          m.float32Schedule = "fractional " +
                              std::string(exponential  ? "exponential"
                                          : betaSigmas ? "beta"
                                                       : "Karras") +
                              " timesteps from numpy's float32 log";
      } else {
        grid = "k_" + spacing + "(steps = " + N +
               (spacing == "leading" ? ", offset = " + std::to_string(offset) : "") + trainArg +
               finalZero + ")";
      }
    } else if (multistep) {
      std::string fst = getStr(cfg, "final_sigmas_type", "zero");
      if (fst != "zero" && fst != "sigma_min")
        return skipped("final_sigmas_type " + fst + " is not one of diffusers' two");
      if (cls == "DEISMultistepScheduler")
        fst = "sigma_min"; // DEIS always ends at the sigma of timestep 0
      if (cls == "DPMSolverSinglestepScheduler")
        spacing = "linspace"; // it has no timestep_spacing
      std::string spacedTrain = trainArg;
      long clipped = 0;
      // use_lu_lambdas comes after use_karras_sigmas in set_timesteps and
      // before the other two.
      const bool lu = !karras && getBool(cfg, "use_lu_lambdas", false);
      if (lu)
        exponential = betaSigmas = false;
      if (!karras && !lu && !exponential && !betaSigmas) { // these ignore lambda_min_clipped
        const json &clip = cfg["lambda_min_clipped"];
        if (!clip.is_null() && !(clip == "-inf") && !clip.is_number())
          return skipped("lambda_min_clipped is a number or -inf, not " + clip.dump());
        clipped = clip.is_number() ? lambdaClipped(cfg, T, clip.get<double>()) : 0;
        if (clipped > 0 && spacing != "trailing")
          spacedTrain = ", train_steps = " + std::to_string(T - clipped);
      }
      std::string fz = fst == "zero" ? "" : ", final_zero = 0";
      // DPMSolverMultistep truncates the fractional timesteps of its Karras
      // and Lu grids on the cosine table instead of rounding them.
      std::string rounded = cls == "DPMSolverMultistepScheduler" &&
                                    getStr(cfg, "beta_schedule", "linear") == "squaredcos_cap_v2"
                                ? ", rounded = 0"
                                : "";
      if (karras)
        grid = "dpm_karras(steps = " + N + trainArg + fz + rounded + ")";
      else if (lu)
        grid = "dpm_lu(steps = " + N + trainArg + fz + rounded + ")";
      else if (exponential || betaSigmas)
        grid = std::string(exponential ? "dpm_exponential" : "dpm_beta") + "(steps = " + N +
               trainArg + fz + ")";
      else if (clipped > 0 && spacing == "trailing")
        // np.arange(T - clipped, 0, -T / N): fewer than N timesteps, still
        // T / N apart; the scheduler then runs that many steps.
        grid = "dpm_trailing(steps = " +
               std::to_string(
                   (long)std::ceil((0.0 - (double)(T - clipped)) / -((double)T / (double)steps))) +
               trainArg + fz + ", clipped = " + std::to_string(clipped) + ", requested = " + N +
               ")";
      else
        grid = "dpm_" + spacing + "(steps = " + N +
               (spacing == "leading" ? ", offset = " + std::to_string(offset) : "") +
               spacedTrain + fz + ")";
    } else {
      // DDIM, DDPM, PNDM: the built-in spacings.
      if (karras)
        return skipped("use_karras_sigmas in " + cls + " is not in the compat specs yet");
      grid = spacing + "(steps = " + N +
             (spacing == "leading" ? ", offset = " + std::to_string(offset) : "") +
             (prevTarget ? ", target = prev" : "") + ")";
    }
  } else {
    Mapping bad = flowMatchGrid(cfg, sk, steps, T, grid);
    if (!bad.skip.empty())
      return bad;
    // invert_sigmas: the times 1 - sigma on the path written in them.
    process = getBool(cfg, "invert_sigmas", false) ? "inverted_flow" : "rectified_flow";
    m.items = {"process = " + process, "time_dtype = f32"};
  }
  if (solver.empty())
    solver = "pndm";

  std::string guide;
  std::string w = guidance ? shortNum(*guidance) : "";
  if (threshold)
    // diffusers thresholds the x0 of its multistep update after the
    // pipeline's CFG: in x0 space, where CFG on an affine prediction is the same.
    guide = (guidance ? "cfg_threshold(w = " + w + ", " : "threshold(") + thresholdArgs() + ")";
  else if (guidance)
    guide = "cfg(w = " + w + ")";

  writeSampler(m, os, process, model, solver, coords, grid, guide);
  return m;
}

} // namespace diffuse
