//===- Compat.cpp - diffusers scheduler configurations as Diffuse specs ---===//
//
// mapDiffusers: a scheduler class and its config keys -> a spec over
// stdlib/compat/diffusers.dfs, the grid included (its k_* and dpm_* grid
// declarations redo set_timesteps on the process's own float32 table).
// Only names and settings are decided here: the mathematics lives in the
// stdlib. runCompat is `diffuse compat`.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Compat.h"
#include "compiler/Frontend/SemaUtil.h"
#include "diffuse/schedule.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

using json = nlohmann::json;

namespace diffuse {

std::string shortNum(double v) {
  // Plain decimals (80, not 8e+01) where a short one reads back exactly.
  bool plain = std::fabs(v) >= 1e-5 && std::fabs(v) < 1e15;
  for (int pass = plain ? 0 : 1; pass < 2; ++pass)
    for (int p = 1; p <= 17; ++p) {
      std::ostringstream os;
      os.precision(p);
      os << v;
      if (pass == 0 && os.str().find('e') != std::string::npos)
        continue;
      if (std::strtod(os.str().c_str(), nullptr) == v)
        return os.str();
    }
  return std::to_string(v);
}

namespace compat {

Mapping skipped(std::string why) {
  Mapping m;
  m.skip = std::move(why);
  return m;
}

double getNum(const json &j, const char *key, double def) {
  if (!j.contains(key) || j[key].is_null() || !j[key].is_number())
    return def;
  return j[key].get<double>();
}

bool getBool(const json &j, const char *key, bool def) {
  if (!j.contains(key) || !j[key].is_boolean())
    return def;
  return j[key].get<bool>();
}

std::string getStr(const json &j, const char *key, const std::string &def) {
  if (!j.contains(key) || !j[key].is_string())
    return def;
  return j[key].get<std::string>();
}

json merged(json defaults, const json &given) {
  for (auto &[k, v] : given.items())
    defaults[k] = v;
  return defaults;
}

std::string changedArgs(const json &args, const json &defaults) {
  std::string out;
  for (auto &[k, v] : args.items()) {
    if (!defaults.contains(k))
      continue;
    const json &d = defaults[k];
    bool same = d == v || (v.is_number() && d.is_number() && v.get<double>() == d.get<double>());
    if (!same)
      out += (out.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

void writeSampler(Mapping &m, std::ostringstream &os, const std::string &process,
                  const std::string &model, const std::string &solver, const std::string &coords,
                  const std::string &grid, const std::string &guide, const std::string &finish) {
  os << "sampler " << m.sampler << " {\n  process = " << process << "\n  model = " << model
     << "\n  solver = " << solver << "\n";
  m.items.push_back("solver = " + solver);
  if (!coords.empty()) {
    os << "  coords = " << coords << "\n";
    m.items.push_back("coords = " + coords);
  }
  os << "  grid = " << grid << "\n";
  m.items.push_back("grid = " + grid);
  if (!guide.empty()) {
    os << "  guidance = " << guide << "\n";
    m.items.push_back("guidance = " + guide);
  }
  if (!finish.empty()) {
    os << "  finish = " << finish << "\n";
    m.items.push_back("finish = " + finish);
  }
  os << "}\n";
  m.text = os.str();
}

} // namespace compat

using namespace compat;

namespace {

const char *kKStyle[] = {"EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                         "HeunDiscreteScheduler", "LMSDiscreteScheduler",
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
  } else if (cls == "LCMScheduler") {
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
    if (getNum(sk, "s_churn", 0) != 0)
      return skipped("Euler with s_churn > 0 is not in the compat specs yet");
    std::string tt = getStr(cfg, "timestep_type", "discrete");
    if (tt != "discrete" && tt != "continuous")
      return skipped("timestep_type is 'discrete' or 'continuous', not '" + tt + "'");
    if (getStr(cfg, "interpolation_type", "linear") != "linear" ||
        getStr(cfg, "final_sigmas_type", "zero") != "zero" || !cfg["sigma_min"].is_null() ||
        !cfg["sigma_max"].is_null())
      return skipped("this EulerDiscrete configuration (interpolation_type, final_sigmas_type, "
                     "sigma_min/max) is not in the compat specs yet");
    solver = "euler";
    coords = "ve";
  } else if (cls == "HeunDiscreteScheduler") {
    solver = "heun";
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
    if (!getBool(cfg, "predict_x0", true) ||
        (cfg.contains("disable_corrector") && !cfg["disable_corrector"].empty()) ||
        (type != "bh1" && type != "bh2"))
      return skipped("this UniPC configuration is not in stdlib yet");
    threshold = thresholding;
    solver = std::string(order == 3 ? "unipc3" : "unipc") + "(bh = " + type.substr(2) +
             ", lower_order_final = " + (getBool(cfg, "lower_order_final", true) ? "1" : "0") +
             ")";
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
    if (order != 2 && !(order == 3 && !sde))
      return skipped("DPMSolverMultistep solver_order " + std::to_string(order) + " with " +
                     algo + " is not in stdlib yet");
    const bool eulerAtFinal = getBool(cfg, "euler_at_final", false);
    if ((type != "midpoint" && type != "heun") || getBool(cfg, "use_lu_lambdas", false))
      return skipped("this DPMSolverMultistep configuration is not in stdlib yet");
    if (eulerAtFinal && sde)
      return skipped("euler_at_final with algorithm_type " + algo +
                     " is not in the compat specs yet");
    threshold = thresholding;
    std::string lof = getBool(cfg, "lower_order_final", true) ? "1" : "0";
    if (eulerAtFinal)
      lof += ", euler_at_final = 1";
    // solver_type "heun" is the DPM-Solver repository's 'taylor' weighting of
    // the second-order step; the third-order update has only one form.
    if (order == 3)
      solver = std::string(algo == "dpmsolver" ? "dpm_solver_3m" : "dpmpp_3m") +
               "(lower_order_final = " + lof + ", lower_order_below = 15)";
    else if (algo == "sde-dpmsolver++")
      solver = "dpmpp_2m_sde(lower_order_final = " + lof + ", final_noise = 1, heun = " +
               (type == "heun" ? "1" : "0") + ")";
    else if (algo == "sde-dpmsolver")
      solver = "dpm_solver_2m_sde(lower_order_final = " + lof + ", heun = " +
               (type == "heun" ? "1" : "0") + ")";
    else
      solver = std::string(algo == "dpmsolver" ? "dpm_solver_2m" : "dpmpp_2m") +
               "(lower_order_final = " + lof + (type == "heun" ? ", taylor = 1" : "") + ")";
    coords = "native";
  } else if (cls == "LCMScheduler") {
    // Its own timesteps (timestep_spacing is unused) and the consistency
    // boundary condition at each discrete timestep.
    long orig = (long)getNum(cfg, "original_inference_steps", 50);
    if (orig < 1 || orig > T)
      return skipped("original_inference_steps is 1 to num_train_timesteps, not " +
                     std::to_string(orig));
    if (steps > orig)
      return skipped("LCMScheduler needs num_inference_steps <= original_inference_steps (" +
                     std::to_string(orig) + "), as diffusers requires");
    double scaling = getNum(cfg, "timestep_scaling", 10);
    solver = scaling == 10 ? "lcm" : "lcm(timestep_scaling = " + shortNum(scaling) + ")";
    lcmGrid = "lcm_timesteps(steps = " + N + (orig != 50 ? ", original_steps = " +
              std::to_string(orig) : "") + (T != 1000 ? ", train_steps = " +
              std::to_string(T) : "") + ")";
  } else if (cls == "FlowMatchEulerDiscreteScheduler") {
    if (getBool(cfg, "stochastic_sampling", false))
      return skipped("stochastic FlowMatch sampling is not in the compat specs yet");
    if (getBool(cfg, "invert_sigmas", false) || !cfg["shift_terminal"].is_null() ||
        getBool(cfg, "use_karras_sigmas", false) || getBool(cfg, "use_exponential_sigmas", false) ||
        getBool(cfg, "use_beta_sigmas", false))
      return skipped("FlowMatch's invert_sigmas, shift_terminal and karras/exponential/beta "
                     "sigmas are not in the compat grids yet");
    solver = "euler";
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

  if (cls != "FlowMatchEulerDiscreteScheduler") {
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
    os << "model peer_model {\n  predicts = " << predicts
       << (continuous ? "\n  time = c_noise\n  time_dtype = f32" : "\n  time = index")
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
    if (getBool(cfg, "use_beta_sigmas", false))
      return skipped("use_beta_sigmas is not in the compat grids yet");
    if (exponential && cls != "EulerDiscreteScheduler" && cls != "HeunDiscreteScheduler" &&
        cls != "LMSDiscreteScheduler")
      return skipped("use_exponential_sigmas is in the compat grids for Euler, Heun and LMS "
                     "only, not " + cls);
    std::string trainArg = T != 1000 ? ", train_steps = " + train : "";
    if (!lcmGrid.empty()) {
      grid = lcmGrid;
    } else if (kstyle) {
      if (karras || exponential) {
        if (cls == "EulerAncestralDiscreteScheduler")
          return skipped("use_karras_sigmas in EulerAncestral is not in the compat specs yet");
        // Karras or exponential between the spaced schedule's ends.
        long hi = T - 1, lo = 0;
        if (spacing == "leading") {
          hi = (steps - 1) * (T / steps) + offset;
          lo = offset;
        } else if (spacing == "trailing") {
          lo = (long)std::nearbyint((double)T - (double)(steps - 1) * ((double)T / steps)) - 1;
        }
        bool rounded = cls.rfind("KDPM2", 0) == 0; // KDPM2 rounds its Karras timesteps
        grid = std::string(exponential ? "k_exponential" : "k_karras") + "(steps = " + N +
               ", t_max = " + std::to_string(hi) + ", t_min = " + std::to_string(lo) +
               (rounded ? ", rounded = 1" : "") + ")";
        if (!rounded)
          m.float32Schedule = std::string("fractional ") + (exponential ? "exponential" : "Karras") +
                              " timesteps from numpy's float32 log";
      } else {
        grid = "k_" + spacing + "(steps = " + N +
               (spacing == "leading" ? ", offset = " + std::to_string(offset) : "") + trainArg +
               ")";
      }
    } else if (multistep) {
      std::string fst = getStr(cfg, "final_sigmas_type", "zero");
      if (fst != "zero" && fst != "sigma_min")
        return skipped("final_sigmas_type " + fst + " is not one of diffusers' two");
      if (cls == "DEISMultistepScheduler")
        fst = "sigma_min"; // DEIS always ends at the sigma of timestep 0
      if (cls == "DPMSolverSinglestepScheduler")
        spacing = "linspace"; // it has no timestep_spacing
      // lambda_min_clipped: the spaced timesteps end below the first one
      // whose float32 log-SNR is under the clip (torch.searchsorted over
      // the flipped lambda_t); Karras sigmas ignore it, as diffusers does.
      std::string spacedTrain = trainArg;
      const json &clip = cfg["lambda_min_clipped"];
      if (!karras && clip.is_number() && std::isfinite(clip.get<double>())) {
        rt::TableSpec spec;
        spec.schedule = getStr(cfg, "beta_schedule", "linear");
        spec.betaStart = getNum(cfg, "beta_start", 0.0001);
        spec.betaEnd = getNum(cfg, "beta_end", 0.02);
        spec.trainSteps = T;
        spec.zeroTerminalSnr = getBool(cfg, "rescale_betas_zero_snr", false);
        const float bound = (float)clip.get<double>();
        long clipped = 0;
        for (float a : rt::computeBetaTable(spec).alphasCumprod) {
          float logAlpha = (float)std::log((double)std::sqrt(a));
          float logSigma = (float)std::log((double)std::sqrt(1.0f - a));
          clipped += logAlpha - logSigma < bound;
        }
        if (clipped > 0 && spacing == "trailing")
          return skipped("lambda_min_clipped with timestep_spacing trailing is not in the compat "
                         "grids yet");
        if (clipped > 0)
          spacedTrain = ", train_steps = " + std::to_string(T - clipped);
      } else if (!karras && !clip.is_null() && !(clip == "-inf") &&
                 !(clip.is_number() && std::isinf(clip.get<double>()))) {
        return skipped("lambda_min_clipped is a number or -inf, not " + clip.dump());
      }
      std::string fz = fst == "zero" ? "" : ", final_zero = 0";
      if (karras)
        grid = "dpm_karras(steps = " + N + trainArg + fz + ")";
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
  } else if (getBool(cfg, "use_dynamic_shifting", false)) {
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
    grid = "flowmatch_dynamic(steps = " + N + ", mu = " + shortNum(mu) +
           (type == "linear" ? ", linear = 1" : "") +
           (sig == "none" ? ", pipeline_sigmas = 0" : "") +
           (T != 1000 ? ", train_steps = " + std::to_string(T) : "") + ")";
    m.items = {"process = rectified_flow", "time_dtype = f32"};
  } else {
    // set_timesteps with a static shift.
    double shift = getNum(cfg, "shift", 1);
    if (!(shift > 0))
      return skipped("shift must be positive, not " + shortNum(shift));
    grid = "flowmatch(steps = " + N + (shift != 1 ? ", shift = " + shortNum(shift) : "") +
           (T != 1000 ? ", train_steps = " + std::to_string(T) : "") + ")";
    m.items = {"process = rectified_flow", "time_dtype = f32"};
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

namespace {

/// The peers `diffuse compat` knows, by their own names (and the spellings
/// people write: dpm_solver, kdiffusion, flow-matching).
std::string peerName(std::string p) {
  for (char &c : p)
    c = (char)std::tolower((unsigned char)c);
  if (p == "diffusers")
    return p;
  if (p == "k-diffusion" || p == "kdiffusion" || p == "k_diffusion")
    return "k-diffusion";
  if (p == "dpm-solver" || p == "dpm_solver" || p == "dpmsolver")
    return "dpm-solver";
  if (p == "flow_matching" || p == "flow-matching" || p == "flowmatching")
    return "flow_matching";
  return "";
}

const char *kUsage =
    "diffuse compat diffusers CLASS [KEY=VALUE ...] --steps N (or --config "
    "scheduler_config.json); k-diffusion SAMPLE_FN GET_SIGMAS_FN [KEY=VALUE ...] --steps N; "
    "dpm-solver [KEY=VALUE ...] --steps N; flow_matching [KEY=VALUE ...]; each with "
    "[--guidance W] [--name SAMPLER]";

} // namespace

int runCompat(int argc, char **argv) {
  auto fail = [](const std::string &msg, const std::string &hint = "") {
    std::cerr << "error: " << msg << "\n";
    if (!hint.empty())
      std::cerr << "  help: " << hint << "\n";
    return 2;
  };
  std::string peer = argc >= 3 ? peerName(argv[2]) : "";
  if (peer.empty())
    return fail(std::string("compat needs a peer: diffusers, k-diffusion, dpm-solver or "
                            "flow_matching") +
                    (argc >= 3 ? ", not '" + std::string(argv[2]) + "'" : ""),
                kUsage);
  std::vector<std::string> names; // diffusers: the class; k-diffusion: the two functions
  std::string configPath, name = "scheduler";
  json cfg = json::object(), sk = json::object();
  long steps = 0;
  std::optional<double> guidance;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc)
        return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "--steps" || a == "--guidance" || a == "--config" || a == "--name") {
      auto v = value();
      if (!v)
        return fail(a + " needs a value");
      if (a == "--config") {
        configPath = *v;
      } else if (a == "--name") {
        name = *v;
      } else {
        char *end = nullptr;
        double x = std::strtod(v->c_str(), &end);
        if (end == v->c_str() || *end || !std::isfinite(x))
          return fail(a + " takes a number, not '" + *v + "'");
        if (a == "--steps") {
          if (x < 1 || x > 100000 || x != std::floor(x))
            return fail("--steps is a whole number from 1 to 100000, not '" + *v + "'");
          steps = (long)x;
        } else {
          guidance = x;
        }
      }
    } else if (a.find('=') != std::string::npos) {
      std::string k = a.substr(0, a.find('=')), v = a.substr(a.find('=') + 1);
      json val;
      char *end = nullptr;
      double x = std::strtod(v.c_str(), &end);
      if (v == "true" || v == "True")
        val = true;
      else if (v == "false" || v == "False")
        val = false;
      else if (v == "none" || v == "None")
        val = nullptr;
      else if (v == "inf" || v == "float('inf')")
        val = INFINITY;
      else if (!v.empty() && end && !*end)
        val = x == std::floor(x) && std::fabs(x) < 1e15 ? json((long)x) : json(x);
      else
        val = v;
      // set_timesteps' and step()'s arguments (and the pipeline's image_seq_len)
      // are not configuration keys.
      const bool stepArg = k == "eta" || k == "s_churn" || k == "mu" || k == "image_seq_len" ||
                           k == "sigmas";
      (peer == "diffusers" && stepArg ? sk : cfg)[k] = val;
    } else if (!a.empty() && a[0] == '-') {
      return fail("unknown option '" + a + "'", kUsage);
    } else if ((peer == "diffusers" && names.empty()) || (peer == "k-diffusion" && names.size() < 2)) {
      names.push_back(a);
    } else {
      return fail("unexpected argument '" + a + "'", "configuration keys are KEY=VALUE");
    }
  }
  if (!configPath.empty()) {
    std::ifstream in(configPath);
    if (!in)
      return fail("cannot read '" + configPath + "'");
    json file;
    try {
      file = json::parse(in);
    } catch (const std::exception &e) {
      return fail("'" + configPath + "' is not JSON: " + e.what());
    }
    if (!file.is_object())
      return fail("'" + configPath + "' is not a configuration (a JSON object)");
    if (peer == "diffusers" && names.empty() && !getStr(file, "_class_name", "").empty())
      names.push_back(getStr(file, "_class_name", ""));
    for (auto &[k, v] : file.items())
      if (k.empty() || k[0] != '_')
        if (!cfg.contains(k)) // KEY=VALUE on the command line wins
          cfg[k] = v;
  }
  // A key the function does not read is a typo or a setting the mapping
  // would silently drop: an error on the command line. A diffusers config
  // file has many keys the mapping does not read; those keep diffusers'
  // meaning only if they are at their defaults, which the mapping checks.
  auto unknownKey = [&](const json &defaults, const std::string &what) -> std::optional<int> {
    if (peer == "diffusers" && !configPath.empty())
      return std::nullopt;
    for (auto &[k, v] : cfg.items())
      if (!defaults.contains(k)) {
        std::vector<std::string> keys;
        for (auto &[d, _] : defaults.items())
          keys.push_back(d);
        std::string hint = didYouMean(k, keys);
        if (k == "steps" || k == "n" || k == "num_inference_steps")
          hint = "the number of steps is --steps N";
        return fail("'" + k + "' is not a configuration key of " + what + " that Diffuse reads",
                    hint.empty() ? "its keys: " + joinNames(keys) : hint);
      }
    return std::nullopt;
  };
  auto needSteps = [&](const char *what) -> std::optional<int> {
    if (steps == 0)
      return fail("--steps N is missing", what);
    return std::nullopt;
  };
  Mapping m;
  if (peer == "diffusers") {
    if (names.empty())
      return fail("which scheduler? give its class (e.g. EulerDiscreteScheduler) or "
                  "--config with a _class_name");
    const std::string &cls = names[0];
    if (auto r = needSteps("the num_inference_steps of set_timesteps"))
      return *r;
    json defaults = diffusersDefaults(cls);
    if (defaults.empty())
      return fail("diffusers " + cls + " is not in the compat specs",
                  "known: DDIM, DDPM, PNDM, Euler, EulerAncestral, Heun, LMS, KDPM2, "
                  "KDPM2Ancestral, DPMSolverMultistep, DPMSolverSinglestep, UniPCMultistep, "
                  "DEISMultistep and FlowMatchEulerDiscrete (each ...Scheduler)");
    if (auto r = unknownKey(defaults, cls))
      return *r;
    m = mapDiffusers(cls, cfg, sk, steps, guidance, name);
  } else if (peer == "k-diffusion") {
    if (names.size() < 2)
      return fail("k-diffusion needs a sampler function and a sigma function, e.g. "
                  "sample_dpmpp_2m get_sigmas_karras");
    std::vector<std::string> fns = {"sample_euler",           "sample_euler_ancestral",
                                    "sample_heun",            "sample_dpm_2",
                                    "sample_dpm_2_ancestral", "sample_lms",
                                    "sample_ipndm",           "sample_dpmpp_2s_ancestral",
                                    "sample_dpmpp_sde",       "sample_dpmpp_2m",
                                    "sample_dpmpp_2m_sde",    "sample_dpmpp_3m_sde"};
    std::vector<std::string> sigmaFns = {"get_sigmas_karras", "get_sigmas_exponential",
                                         "get_sigmas_polyexponential", "get_sigmas_vp"};
    std::string fn = names[0], sfn = names[1];
    if (std::find(fns.begin(), fns.end(), fn) == fns.end()) {
      std::string hint = didYouMean(fn, fns);
      return fail("k-diffusion sampler function '" + fn + "' is not in the compat specs",
                  hint.empty() ? "known: " + joinNames(fns) : hint);
    }
    if (std::find(sigmaFns.begin(), sigmaFns.end(), sfn) == sigmaFns.end()) {
      std::string hint = didYouMean(sfn, sigmaFns);
      return fail("k-diffusion sigma function '" + sfn + "' is not in the compat specs",
                  hint.empty() ? "known: " + joinNames(sigmaFns) : hint);
    }
    if (auto r = unknownKey(kdiffusionDefaults(fn, sfn), fn + " or " + sfn))
      return *r;
    if (auto r = needSteps("n, the number of noise levels get_sigmas_* makes"))
      return *r;
    m = mapKDiffusion(fn, sfn, cfg, steps, guidance, name);
  } else if (peer == "dpm-solver") {
    if (auto r = unknownKey(dpmSolverDefaults(), "DPM-Solver"))
      return *r;
    if (auto r = needSteps("the steps of DPM_Solver.sample"))
      return *r;
    m = mapDpmSolver(cfg, steps, guidance, name);
  } else {
    if (steps != 0)
      return fail("flow_matching takes step_size=H (ODESolver.sample's own key), not --steps");
    if (auto r = unknownKey(flowMatchingDefaults(), "ODESolver.sample"))
      return *r;
    m = mapFlowMatching(cfg, guidance, name);
  }
  if (!m.skip.empty())
    return fail(m.skip);
  std::cout << m.text;
  return 0;
}

} // namespace diffuse
