//===- PlanGrid.cpp - resolving a sampler's time grid ---------------------===//
//
// planGrid: a sampler's `grid = FAMILY(ARGS)` or `grid = [t0, t1, ...]`
// checked against its family's arguments and the process (a family of
// integer timesteps needs a discrete one) and folded into a GridPlan, which
// the runtime turns into grid points (runtime/cpu/Grid.cpp).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <cmath>

namespace diffuse {

namespace {

/// The grid families, their named arguments, and whether they space
/// continuous time (sigma families included) or a discrete process's
/// integer timesteps.
struct GridFamily {
  const char *name;
  std::vector<std::string> args;
  enum Time { Continuous, Discrete, Any } time;
};

const std::vector<GridFamily> &gridFamilies() {
  static const std::vector<GridFamily> families = {
      {"given", {}, GridFamily::Any},
      {"uniform",
       {"steps", "from", "to", "shift", "seq_len", "base_shift", "max_shift", "base_seq_len",
        "max_seq_len"},
       GridFamily::Continuous},
      {"logsnr", {"steps", "from", "to"}, GridFamily::Continuous},
      {"karras", {"steps", "sigma_min", "sigma_max", "rho", "append_zero"},
       GridFamily::Continuous},
      {"exponential", {"steps", "sigma_min", "sigma_max", "append_zero"}, GridFamily::Continuous},
      {"polyexponential", {"steps", "sigma_min", "sigma_max", "rho", "append_zero"},
       GridFamily::Continuous},
      {"vp", {"steps", "beta_d", "beta_min", "eps_s", "append_zero"}, GridFamily::Continuous},
      {"beta", {"steps", "sigma_min", "sigma_max", "alpha", "beta", "append_zero"},
       GridFamily::Continuous},
      {"leading", {"steps", "offset"}, GridFamily::Discrete},
      {"trailing", {"steps"}, GridFamily::Discrete},
      {"linspace", {"steps"}, GridFamily::Discrete},
  };
  return families;
}

/// `grid = [t0, t1, ...]`: the process times themselves, at least two,
/// finite and strictly monotone.
bool planGridList(const ast::Expr &e, DiagEngine &diag, GridPlan &g) {
  g.kind = "list";
  if (e.ops.size() < 2) {
    diag.error(e.loc, "a grid list needs at least two times", "write grid = [1.0, 0.5, 0.0]");
    return false;
  }
  for (const auto &op : e.ops) {
    double v;
    if (!evalConstant(*op, {}, diag, v))
      return false;
    if (!g.times.empty() && (v == g.times.back() ||
                             (g.times.size() >= 2 &&
                              (v > g.times.back()) != (g.times[1] > g.times[0])))) {
      diag.error(op->loc, "grid times must be strictly increasing or strictly decreasing",
                 "list each time once, in the order of sampling");
      return false;
    }
    g.times.push_back(v);
  }
  g.args["steps"] = (double)(g.times.size() - 1);
  return true;
}

} // namespace

bool planGrid(const ast::Expr &e, const SamplerPlan &plan, DiagEngine &diag, GridPlan &g) {
  if (e.kind == ast::Expr::List)
    return planGridList(e, diag, g);
  std::vector<std::string> kinds;
  const GridFamily *family = nullptr;
  for (const auto &f : gridFamilies()) {
    kinds.push_back(f.name);
    if (e.name == f.name)
      family = &f;
  }
  g.kind = e.name;
  if ((e.kind != ast::Expr::Ident && e.kind != ast::Expr::Call) || !family) {
    std::string hint = didYouMean(e.name, kinds);
    diag.error(e.loc, "unknown time grid '" + e.name + "'",
               hint.empty() ? "use one of: " + joinNames(kinds) + ", or a list of times" : hint);
    return false;
  }
  bool discrete = plan.processKind == "discrete";
  if (discrete && plan.interpolate.empty() && family->time == GridFamily::Continuous) {
    diag.error(e.loc, "grid '" + g.kind + "' needs continuous time, but the process has integer "
                      "timesteps",
               "use leading, trailing or linspace (or interpolate = log_alpha in the process)");
    return false;
  }
  if (family->time == GridFamily::Discrete && !discrete) {
    diag.error(e.loc, "grid '" + g.kind + "' spaces the timesteps of a discrete process",
               "use uniform, karras or exponential for a continuous-time process");
    return false;
  }
  for (const auto &a : e.args) {
    if (a.name.empty()) {
      diag.error(a.value->loc, "grid arguments are named", "write steps = 20");
      return false;
    }
    // target, strength, repeat and the resampling jumps: any family
    static const std::vector<std::string> kAnyFamily = {"target", "strength", "repeat",
                                                        "jump_length", "jump_n_sample"};
    if (!contains(kAnyFamily, a.name) && !contains(family->args, a.name)) {
      std::string hint = didYouMean(a.name, family->args);
      diag.error(a.nameLoc, "grid '" + g.kind + "' has no argument '" + a.name + "'",
                 !hint.empty()           ? hint
                 : family->args.empty() ? "it takes no arguments"
                                         : "its arguments: " + joinNames(family->args));
      return false;
    }
    if (a.name == "target") {
      if (a.value->kind != ast::Expr::Ident || (a.value->name != "next" && a.value->name != "prev")) {
        diag.error(a.value->loc, "unknown step target",
                   "use target = next (the next grid time) or target = prev "
                   "(diffusers: t - train_steps / steps)");
        return false;
      }
      g.target = a.value->name;
      continue;
    }
    double v;
    if (!evalConstant(*a.value, {}, diag, v))
      return false;
    if (a.name == "strength" && !(v > 0 && v <= 1)) {
      diag.error(a.value->loc, "strength is in (0, 1]",
                 "img2img: 1 starts from pure noise, smaller values from noised data");
      return false;
    }
    if (a.name == "repeat" && !(v >= 1 && v <= 10000 && v == std::floor(v))) {
      diag.error(a.value->loc, "repeat is a whole number of steps per level, 1 to 10000",
                 "annealed Langevin dynamics takes repeat = T steps at each noise level");
      return false;
    }
    if ((a.name == "jump_length" || a.name == "jump_n_sample") &&
        !(v >= 1 && v <= 1000 && v == std::floor(v))) {
      diag.error(a.value->loc, a.name + " is a whole number from 1 to 1000",
                 a.name == "jump_length"
                     ? "RePaint goes back jump_length steps at a time (10 in the paper)"
                     : "RePaint passes each jump jump_n_sample times (10 in the paper; 1: "
                       "no resampling)");
      return false;
    }
    if (a.name == "append_zero" && v != 0 && v != 1) {
      diag.error(a.value->loc, "append_zero is 0 or 1",
                 "append_zero = 0 ends the grid at sigma_min");
      return false;
    }
    if ((a.name == "shift" || a.name == "rho" || a.name == "sigma_min" ||
         a.name == "sigma_max" || (g.kind == "beta" && (a.name == "alpha" || a.name == "beta"))) &&
        !(v > 0)) {
      diag.error(a.value->loc, a.name + " must be positive");
      return false;
    }
    g.args[a.name] = v;
  }
  if (g.kind != "given" && !g.args.count("steps")) {
    diag.error(e.loc, "grid '" + g.kind + "' needs a number of steps", "add steps = N");
    return false;
  }
  if (g.args.count("steps") && (g.args["steps"] < 1 || g.args["steps"] > 1e6 ||
                                g.args["steps"] != std::floor(g.args["steps"]))) {
    diag.error(e.loc, "steps must be a whole number from 1 to 1000000");
    return false;
  }
  if (g.args.count("jump_length") != g.args.count("jump_n_sample")) {
    diag.error(e.loc, "resampling jumps need both jump_length and jump_n_sample",
               "e.g. jump_length = 10, jump_n_sample = 10 (RePaint's schedule)");
    return false;
  }
  if (g.args.count("jump_length") && g.args.count("steps") &&
      g.args["jump_length"] >= g.args["steps"]) {
    diag.error(e.loc, "jump_length " + fmtNum(g.args["jump_length"]) +
                          " leaves no room for a jump in " + fmtNum(g.args["steps"]) + " steps",
               "a jump goes back jump_length steps; make it smaller than steps");
    return false;
  }
  if (g.target == "prev" && !discrete) {
    diag.error(e.loc, "target = prev needs a discrete process");
    return false;
  }
  if (g.args.count("shift") && g.args.count("seq_len")) {
    diag.error(e.loc, "give either shift or seq_len, not both",
               "seq_len derives the shift from the image size (resolution-dependent shift)");
    return false;
  }
  return true;
}

} // namespace diffuse
