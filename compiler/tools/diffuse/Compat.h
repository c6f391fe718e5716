//===- Compat.h - peer configurations as Diffuse specs ----------*- C++ -*-===//
//
// What `diffuse compat` prints and `diffuse conform` runs: a peer's own
// configuration (a diffusers scheduler's class and config keys, with
// diffusers' defaults for the missing ones) turned into a Diffuse spec
// that imports stdlib/compat and says the same thing in the language:
// process, model, solver, guidance, and the grid diffusers' set_timesteps
// makes (docs/conformance.md, "Peer configurations").
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_TOOLS_COMPAT_H
#define DIFFUSE_TOOLS_COMPAT_H

#include <nlohmann/json.hpp>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace diffuse {

struct Mapping {
  std::string text;    // the whole spec, written out
  std::string sampler; // sampler name in it
  std::vector<std::string> sets;
  std::string skip; // non-empty: why the configuration cannot be expressed
  /// Non-empty: the peer computes part of its schedule in float32 with its
  /// own libm, so a conformance case is held to the peer's own float32
  /// discrepancy (variants.f64_neutralized.diff_vs_final) instead of 1e-9;
  /// this says why.
  std::string float32Schedule;
  /// The text's settings, one line each ("solver = ddim(eta = 0)", "grid =
  /// ..."), for `diffuse conform -v`.
  std::vector<std::string> items;
};

/// A diffusers scheduler `cls` with configuration `cfg` (its config keys;
/// diffusers' defaults fill the missing ones) and step() keyword arguments
/// `stepKwargs` (eta, s_churn), at `steps` inference steps, with CFG at
/// `guidance` when given, as a spec whose sampler is `name`.
Mapping mapDiffusers(const std::string &cls, const nlohmann::json &cfg,
                     const nlohmann::json &stepKwargs, long steps,
                     std::optional<double> guidance, const std::string &name);

/// diffusers' defaults of scheduler `cls` for the keys the mapping reads;
/// an empty object for a class it does not know.
nlohmann::json diffusersDefaults(const std::string &cls);

/// The shortest decimal that reads back as v.
std::string shortNum(double v);

/// The keyword arguments of k-diffusion's sampler function `fn` and sigma
/// function `sigmasFn` (get_sigmas_karras, ...) with k-diffusion's defaults
/// (null: required, no default); an empty object when either is unknown.
nlohmann::json kdiffusionDefaults(const std::string &fn, const std::string &sigmasFn);

/// The k-diffusion sampler functions compat knows (with ComfyUI's additions).
std::vector<std::string> kdiffusionSamplerFns();

/// k-diffusion's `fn(model, x, get_sigmas_X(steps, ...), **kwargs)`, `args`
/// holding both functions' keyword arguments (kdiffusionDefaults fills the
/// missing ones).
Mapping mapKDiffusion(const std::string &fn, const std::string &sigmasFn,
                      const nlohmann::json &args, long steps, std::optional<double> guidance,
                      const std::string &name);

/// The DPM-Solver repository's configuration keys, flattened from
/// NoiseScheduleVP (schedule, continuous_beta_0/1, beta_start/end),
/// model_wrapper (model_type), DPM_Solver (algorithm_type) and sample
/// (order, skip_type, method, lower_order_final, t_start, t_end, ...),
/// with its defaults.
nlohmann::json dpmSolverDefaults();

/// DPM_Solver(...).sample(x, steps = steps, ...) on NoiseScheduleVP(...).
Mapping mapDpmSolver(const nlohmann::json &cfg, long steps, std::optional<double> guidance,
                     const std::string &name);

/// flow_matching's ODESolver.sample keys (method, step_size, atol, rtol,
/// time_grid) with its defaults.
nlohmann::json flowMatchingDefaults();

/// ODESolver(velocity_model).sample(x_init, **cfg) on the CondOT path.
Mapping mapFlowMatching(const nlohmann::json &cfg, std::optional<double> guidance,
                        const std::string &name);

namespace compat {
double getNum(const nlohmann::json &j, const char *key, double def);
bool getBool(const nlohmann::json &j, const char *key, bool def);
std::string getStr(const nlohmann::json &j, const char *key, const std::string &def);
Mapping skipped(std::string why);
/// `defaults` with the keys of `given` replacing them.
nlohmann::json merged(nlohmann::json defaults, const nlohmann::json &given);
/// "k=v, ..." of the keys of `args` that `defaults` has with another value,
/// for the header line of a printed spec.
std::string changedArgs(const nlohmann::json &args, const nlohmann::json &defaults);
/// Appends the sampler block (process, model, solver, coords, grid,
/// guidance, finish; empty coords, guidance and finish left out) to `os`,
/// records its settings in m.items and sets m.text to all of `os`.
void writeSampler(Mapping &m, std::ostringstream &os, const std::string &process,
                  const std::string &model, const std::string &solver, const std::string &coords,
                  const std::string &grid, const std::string &guide,
                  const std::string &finish = "");
} // namespace compat

/// `diffuse compat PEER ...`: diffusers CLASS [KEY=VALUE ...] --steps N, or
/// --config scheduler_config.json; k-diffusion SAMPLE_FN SIGMAS_FN
/// [KEY=VALUE ...] --steps N; dpm-solver [KEY=VALUE ...] --steps N;
/// flow_matching [KEY=VALUE ...]; each with [--guidance W] [--name S].
int runCompat(int argc, char **argv);

} // namespace diffuse

#endif
