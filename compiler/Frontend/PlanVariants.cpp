//===- PlanVariants.cpp - what a sampler changes about its solver --------===//
//
// The parts of planSampler that vary a solver's run rather than resolve a
// reference: an adaptive solver's controller settings (planAdaptive),
// inpainting and the grid's resampling jumps (planInpaint), and the final
// denoise (planFinish), which rewrites the solver's step.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <algorithm>
#include <functional>

namespace diffuse {

/// The controller settings of `adaptive = error_control(...)` (Sema checked
/// the names): constants over the solver's parameters, in range.
bool planAdaptive(const ast::Expr &e, SamplerPlan &plan, DiagEngine &diag) {
  SamplerPlan::Adaptive &a = plan.adaptive;
  a.on = true;
  std::vector<std::string> tensors;
  if (const ast::Item *st = plan.solver->find("state"))
    for (size_t k = 0; k < st->params.size(); ++k)
      if (st->types[k] == "tensor")
        tensors.push_back(st->params[k]);
  for (const auto &arg : e.args) {
    if (arg.name == "norm" && arg.value->kind == ast::Expr::Ident) {
      a.norm = arg.value->name == "sample_max" ? 1 : 0;
      continue;
    }
    if (arg.value->kind == ast::Expr::Ident &&
        (arg.name == "error" || arg.name == "slope" || arg.name == "mid" ||
         arg.name == "tolerance")) {
      int slot = int(std::find(tensors.begin(), tensors.end(), arg.value->name) - tensors.begin());
      (arg.name == "error"       ? a.error
       : arg.name == "slope"     ? a.slope
       : arg.name == "tolerance" ? a.tolerance
                                 : a.mid) = slot;
      continue;
    }
    double v = 0;
    if (!evalConstant(*arg.value, plan.solverParams, diag, v))
      return false;
    struct Range {
      const char *name;
      double *field, lo, hi;
      bool loOpen;
      const char *why;
      bool flag = false; // 0 or 1 only
    };
    const Range ranges[] = {
        {"order", &a.order, 1, 20, false, "the order of the solution the step keeps, 1 to 20"},
        {"rtol", &a.rtol, 0, 1, false, "a relative tolerance, 0 to 1"},
        {"atol", &a.atol, 0, 1e300, false, "an absolute tolerance, >= 0"},
        {"safety", &a.safety, 0, 1, true, "a factor in (0, 1] that keeps steps below the estimate"},
        {"grow", &a.grow, 1, 1e300, false, "the most a step may grow, >= 1"},
        {"shrink", &a.shrink, 0, 1, true, "the most a step may shrink, in (0, 1]"},
        {"max_steps", &a.maxSteps, 1, 1e9, false, "a step count, 1 to 1e9"},
        {"h0", &a.h0, 0, 1e300, true, "the first step size, > 0, in the solver's time"},
        {"limits", &a.limits, 0, 1, false, "1 (grow and shrink bound each step) or 0", true},
        {"end_tol", &a.endTol, 0, 1e300, false, "a distance in the process's time, >= 0"},
        {"factor_float32", &a.factorF32, 0, 1, false, "1 (round the factor to float32) or 0",
         true},
        {"end_coord", &a.endCoord, 0, 1, false, "1 (end_tol in the solver's time) or 0", true},
        {"pid", &a.pid, 0, 1, false, "1 (k-diffusion's PID controller) or 0", true},
        {"pcoeff", &a.pcoeff, -1e300, 1e300, false, "a PID coefficient"},
        {"icoeff", &a.icoeff, -1e300, 1e300, false, "a PID coefficient"},
        {"dcoeff", &a.dcoeff, -1e300, 1e300, false, "a PID coefficient"},
        {"accept_safety", &a.acceptSafety, 0, 1e300, false, "the least factor accepted, >= 0"},
        {"norm", &a.norm, 0, 1, false, "0 (rms) or 1 (sample_max)", true},
    };
    for (const Range &r : ranges) {
      if (arg.name != r.name)
        continue;
      if (!(v <= r.hi && (r.loOpen ? v > r.lo : v >= r.lo))) {
        diag.error(arg.value->loc, std::string(r.name) + " = " + fmtNum(v) + " is out of range",
                   std::string(r.name) + " is " + r.why);
        return false;
      }
      if (r.flag && v != 0 && v != 1) {
        diag.error(arg.value->loc, arg.name + " = " + fmtNum(v) + " is neither 0 nor 1",
                   arg.name == "norm" ? "write norm = rms (0) or norm = sample_max (1)"
                                      : "write " + arg.name + " = 0 or " + arg.name + " = 1");
        return false;
      }
      *r.field = v;
    }
  }
  if (a.tolerance < 0 && a.rtol == 0 && a.atol == 0) {
    diag.error(e.loc, "rtol and atol are both 0: no step would ever be accepted",
               "give rtol or atol a positive value");
    return false;
  }
  return true;
}

/// RePaint (Lugmayr et al. 2022): `inpaint = true` keeps the known data
/// where the mask is 1, and the grid's resampling jumps (jump_length,
/// jump_n_sample) take the state back up the noise levels. Both are
/// variants of any solver, with two limits: a jump would break a solver's
/// history, and an adaptive solver uses only the grid's end points.
bool planInpaint(const ast::Decl &sampler, SamplerPlan &plan, DiagEngine &diag) {
  if (const ast::Item *in = sampler.find("inpaint")) {
    const ast::Expr &v = *in->value;
    if (v.kind != ast::Expr::Ident ||
        (v.name != "true" && v.name != "false" && v.name != "diffusers")) {
      diag.error(v.loc, "inpaint must be true, false or diffusers",
                 "true keeps the run's data where its mask is 1 (diffuse run --x-data D.npy "
                 "--mask M.npy) and generates the rest; diffusers does it with "
                 "RePaintScheduler's arithmetic");
      return false;
    }
    plan.inpaint = v.name != "false";
    plan.inpaintDiffusers = v.name == "diffusers";
  }
  bool jumps = plan.grid.args.count("jump_length") != 0;
  if (plan.inpaintDiffusers) {
    // RePaintScheduler steps the integer timesteps of a beta table whose
    // chain ends at alpha = 1, and undo_step walks train_steps // steps
    // betas up from the jump's target.
    const ast::Expr &v = *sampler.find("inpaint")->value;
    const ast::Decl &proc = *plan.process;
    std::string why;
    if (plan.processKind != "discrete" || !plan.interpolate.empty())
      why = plan.processKind != "discrete" ? "'" + proc.name + "' is not a beta table"
                                           : "'" + proc.name + "' is a table in continuous time";
    else if (plan.finalAlpha != "one")
      why = "'" + proc.name + "' ends its chain at the first timestep (final_alpha = first)";
    else if (plan.coords != "native")
      why = "the sampler steps in " + plan.coords + " coordinates";
    if (!why.empty()) {
      diag.error(v.loc,
                 "inpaint = diffusers replays RePaintScheduler, which steps the integer "
                 "timesteps of a beta table ending at alpha = 1 in native coordinates, but " +
                     why,
                 "use a discrete process with final_alpha = one and a grid such as leading(steps "
                 "= 250, offset = 0, ...), or inpaint = true for the paper's algorithm");
      return false;
    }
    if (jumps) {
      // RePaintScheduler's timesteps are leading ones without offset; on
      // another grid undo_step could walk past the table's last beta.
      auto offset = plan.grid.args.find("offset");
      if (plan.grid.kind != "leading" || (offset != plan.grid.args.end() && offset->second != 0)) {
        diag.error(sampler.find("grid")->value->loc,
                   "inpaint = diffusers jumps as RePaintScheduler does, on its timesteps: a "
                   "leading grid without offset",
                   "write grid = leading(steps = N, offset = 0, jump_length = ..., "
                   "jump_n_sample = ...)");
        return false;
      }
      long steps = (long)plan.grid.args["steps"];
      plan.jumpBetas = plan.trainSteps / std::clamp(steps, 1L, plan.trainSteps);
    }
  }
  const ast::Item *state = plan.solver->find("state");
  if (jumps && state) {
    diag.error(sampler.find("grid")->value->loc,
               "resampling jumps need a solver without state, but '" + plan.solver->name +
                   "' carries " + joinNames(state->params) + " between steps",
               "after a jump its history would belong to other noise levels; use a one-step "
               "solver (ddim, ddpm, euler, heun, ...)");
    return false;
  }
  if ((jumps || plan.inpaint) && plan.adaptive.on) {
    diag.error(jumps ? sampler.find("grid")->value->loc : sampler.find("inpaint")->value->loc,
               std::string(jumps ? "resampling jumps" : "inpainting") + " cannot be used with '" +
                   plan.solver->name + "', which chooses its own steps",
               "an adaptive solver uses only the grid's end points; use a fixed-step solver");
    return false;
  }
  return true;
}

/// `finish = denoise`: the sample is the model's (guided) x0 prediction at
/// the grid's last point, one network call after the last step, as the
/// DPM-Solver repository's denoise_to_zero and NCSN's final denoising step
/// do. The plan's solver is a copy of the solver whose step, on the last
/// step, returns denoise(E, t) for each `return E`: every back end runs it
/// as one more branch of the step.
bool planFinish(const ast::Decl &sampler, SamplerPlan &plan, DiagEngine &diag) {
  const ast::Item *f = sampler.find("finish");
  if (!f)
    return true;
  const ast::Expr &v = *f->value;
  if (v.kind != ast::Expr::Ident || (v.name != "none" && v.name != "denoise")) {
    diag.error(v.loc, "finish must be none or denoise",
               "denoise: the sample is the model's x0 prediction at the grid's last point, "
               "one more network call after the last step");
    return false;
  }
  if (v.name == "none")
    return true;
  if (plan.adaptive.on) {
    diag.error(v.loc, "finish = denoise needs a fixed-step solver",
               "an adaptive solver's last step is known only once it is accepted; "
               "use a fixed-step solver or drop finish");
    return false;
  }
  if (plan.coords == "ve") {
    diag.error(v.loc, "finish = denoise is not available in ve coordinates",
               "their state is x/alpha, not x; sample in native or lambda coordinates "
               "(coords = native)");
    return false;
  }
  auto solver = std::make_shared<ast::Decl>(*plan.solver);
  for (ast::Item &it : solver->items) {
    if (it.name != "step" || it.kind != ast::Item::Proc || it.params.size() < 3)
      continue;
    auto ident = [&](const std::string &name) {
      auto e = std::make_shared<ast::Expr>();
      e->kind = ast::Expr::Ident;
      e->loc = v.loc;
      e->name = name;
      return e;
    };
    std::function<void(std::vector<ast::Stmt> &)> wrap = [&](std::vector<ast::Stmt> &body) {
      for (ast::Stmt &st : body) {
        if (st.kind == ast::Stmt::If) {
          wrap(st.thenBody);
          wrap(st.elseBody);
        } else if (st.kind == ast::Stmt::Return) {
          auto call = std::make_shared<ast::Expr>();
          call->kind = ast::Expr::Call;
          call->loc = v.loc;
          call->name = "denoise";
          call->args = {ast::Arg{"", st.value, v.loc}, ast::Arg{"", ident(it.params[2]), v.loc}};
          st.value = call;
        }
      }
    };
    ast::Stmt branch;
    branch.kind = ast::Stmt::If;
    branch.loc = v.loc;
    branch.value = ident("last");
    branch.thenBody = it.body;
    wrap(branch.thenBody);
    branch.elseBody = it.body;
    branch.hasElse = true;
    it.body = {branch};
  }
  plan.finishedSolver = solver;
  plan.solver = solver.get();
  return true;
}

} // namespace diffuse
