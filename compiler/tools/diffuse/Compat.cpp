//===- Compat.cpp - `diffuse compat`: peer configurations as Diffuse specs -===//
//
// runCompat is `diffuse compat PEER ...`: it reads a peer's configuration
// keys (or a diffusers scheduler_config.json) and prints the spec that the
// peer's mapping (CompatDiffusers.cpp, CompatPeers.cpp) writes. The helpers
// the mappings share (configuration lookups, the sampler block) are here.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Compat.h"
#include "compiler/Frontend/SemaUtil.h"

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
      else if (!v.empty() && v[0] == '[') // a list, as JSON: disable_corrector=[0,3]
        val = json::parse(v, nullptr, /*allow_exceptions=*/false);
      else
        val = v;
      if (val.is_discarded())
        return fail("the value of " + k + " is not a list of numbers: " + v,
                    "write it as JSON, e.g. " + k + "=[0,3]");
      // set_timesteps' and step()'s arguments (and the pipeline's image_seq_len)
      // are not configuration keys.
      const bool stepArg = k == "eta" || k == "s_churn" || k == "s_tmin" || k == "s_tmax" ||
                           k == "s_noise" || k == "mu" || k == "image_seq_len" || k == "sigmas";
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
  } else if (peer == "k-diffusion" && !names.empty() &&
             (names[0] == "sample_dpm_fast" || names[0] == "sample_dpm_adaptive")) {
    if (names.size() > 1)
      return fail(names[0] +
                  " makes its own noise levels: give sigma_min and sigma_max, "
                  "not '" +
                  names[1] + "'");
    if (auto r = unknownKey(kdiffusionDefaults(names[0], ""), names[0]))
      return *r;
    if (names[0] == "sample_dpm_adaptive" && steps != 0)
      return fail("sample_dpm_adaptive chooses its own steps: drop --steps",
                  "rtol, atol and h_init set how it steps");
    if (names[0] == "sample_dpm_fast")
      if (auto r = needSteps("n, the network evaluations of sample_dpm_fast"))
        return *r;
    m = mapKDiffusion(names[0], "", cfg, steps, guidance, name);
  } else if (peer == "k-diffusion") {
    if (names.size() < 2)
      return fail("k-diffusion needs a sampler function and a sigma function, e.g. "
                  "sample_dpmpp_2m get_sigmas_karras");
    std::vector<std::string> fns = kdiffusionSamplerFns();
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
