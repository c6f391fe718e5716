//===- Sema.h - semantic checks and resolution ------------------*- C++ -*-===//
//
// Checks a parsed module and resolves one sampler into a SamplerPlan: the
// declarations it ties together and every parameter as a number.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_FRONTEND_SEMA_H
#define DIFFUSE_FRONTEND_SEMA_H

#include "compiler/Frontend/AST.h"

#include <map>

namespace diffuse {

struct GridPlan {
  // A family of gridFamilies() (PlanGrid.cpp), or a grid declaration's
  // points: "list" (times), "sigmas" (noise levels) or "pairs" (both).
  std::string kind;
  std::map<std::string, double> args;
  std::vector<double> times; // list, pairs: the process times, in sampling order
  std::vector<double> sigmas; // pairs: each time's noise level sigma/alpha
  std::string target = "next"; // next | prev (diffusers DDIM/PNDM: t - train_steps/steps)
};

/// A named conditioning input of a model (a parameter after x): one tensor
/// per sample, given by the caller per condition set.
struct InputPlan {
  std::string name;
  std::string dtype; // f32 | f64
  std::vector<long> shape;
  bool operator==(const InputPlan &o) const {
    return name == o.name && dtype == o.dtype && shape == o.shape;
  }
};

/// A model declaration resolved: what it predicts and how it takes time.
struct ModelPlan {
  const ast::Decl *decl = nullptr;
  std::string predicts;     // eps | x0 | v | velocity | score | edm | class_grad | degradation
  double sigmaData = 0.5;   // edm: c_skip, c_out, c_in use it
  std::string timeEncoding; // t | index | sigma | scaled | c_noise
  double timeScale = 1;
  double timeOffset = 0;
  bool timeF32 = false;     // time_dtype = f32: the network's time rounded to float32
  bool learnedVariance = false; // variance = learned_range: 2x the output channels
  bool labels = false;      // cond = class: a class label per sample
  std::vector<InputPlan> inputs;
  bool conditional = false; // labels or inputs: a call can be conditioned
  std::vector<long> shape;  // per-sample shape of x, if declared
  std::string dtype = "f64";
};

/// One network evaluation a guidance rule combines: `name = MODEL(COND)`.
struct EvalPlan {
  std::string name;
  const ast::Decl *model = nullptr;
  int cond = -1; // -1: none; k: the k-th label set (cond = cond(0))
};

struct SamplerPlan {
  const ast::Decl *sampler = nullptr;
  const ast::Decl *process = nullptr;
  const ast::Decl *model = nullptr;
  const ast::Decl *solver = nullptr;
  const ast::Decl *guidance = nullptr; // null: unguided

  std::map<std::string, double> processParams, solverParams, guidanceParams;
  /// The solver's list parameters (`disable = [0, 3]`), read by contains().
  std::map<std::string, std::vector<double>> solverLists;
  std::string coords = "native";
  GridPlan grid;
  bool inpaint = false; // keep the run's data where its mask is 1 (RePaint)
  /// finish = denoise: the solver with its last step's returns wrapped in
  /// denoise(..., t); `solver` points at it.
  std::shared_ptr<ast::Decl> finishedSolver;
  // inpaint = diffusers: RePaintScheduler's own arithmetic (Note [RePaint]):
  // the known part reuses the step's draw, and a jump up is undo_step's
  // jumpBetas single-beta transitions.
  bool inpaintDiffusers = false;
  long jumpBetas = 0;

  // Process.
  std::string processKind; // path | sde | discrete
  std::string schedule;    // discrete: linear | scaled_linear | squaredcos_cap_v2 | sigmoid | table
  double betaStart = 0, betaEnd = 0;
  long trainSteps = 1000;
  std::vector<double> betas;    // table: the betas themselves
  bool zeroTerminalSnr = false; // discrete: rescaled so that alpha = 0 at the last timestep
  std::string finalAlpha = "first"; // discrete: alpha^2 at t < 0: first (acp[0]) | one
  double tMin = 0, tMax = 1;        // path domain
  std::string interpolate; // discrete: "" (integer timesteps) or "log_alpha" (continuous t)
  /// A peer's own alphas_cumprod (CompileOptions::alphasCumprod), which
  /// grid declarations read instead of the table made from the process.
  std::vector<double> peerTable;

  // Models and guidance.
  std::string guidanceSpace = "output";
  /// The guidance's evaluations in the combine rule's argument order
  /// (without declared ones: uncond = model(none), cond = model(cond)), and
  /// the models other than the sampler's that they call.
  std::vector<EvalPlan> evaluations;
  std::vector<ModelPlan> guideModels;
  ModelPlan modelPlan; // the sampler's model
  /// The solver's model parameters (degradation operators), by parameter name.
  std::map<std::string, ModelPlan> solverModels;

  // Adaptive step size (the solver's `adaptive = error_control(...)`).
  struct Adaptive {
    bool on = false;
    double order = 0, rtol = 1e-6, atol = 1e-6, safety = 0.9, grow = 10, shrink = 0.2;
    double maxSteps = 100000;
    double h0 = 0;           // the first step size; 0: estimated (Hairer, Norsett, Wanner)
    double limits = 1;       // 0: no grow/shrink bounds, every attempt sizes the next
    double endTol = 0;       // stop within this distance of the end, in the process's time
    double factorF32 = 0;    // round ratio^(-1/order) to float32 (the DPM-Solver repository)
    double norm = 0;         // 0: RMS over the batch; 1: max over samples of their RMS
    double endCoord = 0;     // 1: end_tol in the solver's own time (coords), not the process's
    // k-diffusion's PIDStepSizeController (pid = 1): the factor
    // 1 + atan(E^b1 E_1^b2 E_2^b3 - 1) of the inverse errors, accepted at
    // accept_safety or above.
    double pid = 0, pcoeff = 0, icoeff = 1, dcoeff = 0, acceptSafety = 0.81;
    int error = -1, slope = -1, mid = -1, tolerance = -1; // state tensor slots; -1: none
  } adaptive;

  // Training (a `train` declaration; sampler, solver and grid are unset).
  const ast::Decl *train = nullptr;
  std::string trainTime = "uniform"; // uniform | logit_normal | log_normal | importance
  double timeMean = 0, timeStd = 1;
  std::string trainWeight = "uniform"; // uniform | snr | min_snr | truncated_snr | edm | likelihood
  double weightParam = 0;              // min_snr: gamma; edm: sigma_data
};

/// Checks every declaration of `m`; returns false after reporting errors.
bool checkModule(const ast::Module &m, DiagEngine &diag);

/// Resolves the sampler named `name` (or the last sampler when empty).
bool planSampler(const ast::Module &m, const std::string &name, DiagEngine &diag,
                 SamplerPlan &plan);

/// Resolves the training spec named `name` (or the last one when empty).
bool planTrain(const ast::Module &m, const std::string &name, DiagEngine &diag,
               SamplerPlan &plan);

/// Evaluates a constant expression (numbers, + - * / ^, parameters in `env`).
bool evalConstant(const ast::Expr &e, const std::map<std::string, double> &env,
                  DiagEngine &diag, double &out);

} // namespace diffuse

#endif
