//===- PlanGrid.cpp - resolving a sampler's time grid ---------------------===//
//
// planGrid: a sampler's `grid = FAMILY(ARGS)`, `grid = [t0, t1, ...]` or
// `grid = NAME(ARGS)` of a grid declaration, checked against its family's
// arguments and the process (a family of integer timesteps needs a discrete
// one) and folded into a GridPlan, which the runtime turns into grid points
// (runtime/cpu/Grid.cpp). A declared grid is evaluated here, at compile
// time, into the list of its times or noise levels.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <cmath>
#include <optional>

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

/// The first call of table_sigma, table_t or table_index in `e`, or null.
const ast::Expr *findTableCall(const ast::Expr &e) {
  if (e.kind == ast::Expr::Call &&
      (e.name == "table_sigma" || e.name == "table_t" || e.name == "table_index"))
    return &e;
  for (const auto &o : e.ops)
    if (const ast::Expr *c = findTableCall(*o))
      return c;
  for (const auto &a : e.args)
    if (const ast::Expr *c = findTableCall(*a.value))
      return c;
  return nullptr;
}

/// The points of grid declaration `d` (`grid kl(steps = 20) { sigma(i) = ...
/// }`), its parameters bound in `g.args`: t(i) or sigma(i) at i = 0, ...,
/// steps, or at i < steps and then noise level 0 (append_zero): finite,
/// monotone (a repeated point is a step that stays), noise levels >= 0.
/// With both, each point is a discrete process's timestep t(i) (where the
/// network is called) at noise level sigma(i), and append_zero ends the
/// grid at timestep -1, noise level 0: diffusers' (timesteps, sigmas).
bool evaluateUserGrid(const ast::Decl &d, const ast::Expr &e, const SamplerPlan &plan,
                      DiagEngine &diag, GridPlan &g) {
  const ast::Item *tfn = d.find("t"), *sfn = d.find("sigma");
  if (tfn && tfn->kind != ast::Item::Func)
    tfn = nullptr;
  if (sfn && sfn->kind != ast::Item::Func)
    sfn = nullptr;
  const bool pairs = tfn && sfn;
  const ast::Item *fn = sfn ? sfn : tfn; // the function checked for direction
  const bool sigmaForm = fn == sfn;
  std::map<std::string, double> env;
  for (const auto &p : d.params)
    env[p.name] = g.args.at(p.name);
  bool appendZero = sigmaForm;
  if (const ast::Item *z = d.find("append_zero")) {
    double v = z->value->kind == ast::Expr::Ident ? env[z->value->name] : z->value->number;
    if (v != 0 && v != 1) {
      diag.error(e.loc, "append_zero of grid '" + d.name + "' is " + fmtNum(v) + ", not 0 or 1",
                 "pass " + z->value->name + " = 0 or 1");
      return false;
    }
    appendZero = v != 0;
  }
  // A discrete process's noise levels, for table_sigma, table_t and table_index.
  std::optional<rt::TableSigmas> table;
  if (plan.processKind == "discrete" && plan.interpolate.empty()) {
    rt::TableSpec spec;
    spec.schedule = plan.schedule;
    spec.betaStart = plan.betaStart;
    spec.betaEnd = plan.betaEnd;
    spec.trainSteps = plan.trainSteps;
    spec.betas = plan.betas;
    spec.zeroTerminalSnr = plan.zeroTerminalSnr;
    std::vector<float> acp = rt::computeBetaTable(spec).alphasCumprod;
    if (!plan.peerTable.empty())
      acp.assign(plan.peerTable.begin(), plan.peerTable.end());
    table.emplace(acp);
  } else {
    for (const auto &it : d.items)
      if (it.kind == ast::Item::Func)
        if (const ast::Expr *c = findTableCall(*it.value)) {
          diag.error(c->loc,
                     c->name + " reads a discrete process's table of noise levels, but process '" +
                         plan.process->name + "' has " +
                         (plan.processKind == "discrete" ? "continuous time" : "no table"),
                     "use it with a discrete = ... process in integer timesteps");
          return false;
        }
  }
  const rt::TableSigmas *tp = table ? &*table : nullptr;
  long budget = 20000000; // expression nodes, a fraction of a second
  // count = EXPR: the number of steps when it is not the parameter steps
  // (ComfyUI's ddim_uniform takes a stride from it).
  long steps = (long)g.args.at("steps");
  if (const ast::Item *c = d.find("count"); c && c->kind != ast::Item::Func) {
    double n = evalDeclExpr(d, *c->value, env, budget, 0, tp);
    if (!(n >= 1 && n <= 1e6 && n == std::floor(n))) {
      diag.error(c->value->loc,
                 "count of grid '" + d.name + "' is " + fmtNum(n) + ", not a whole number of steps",
                 "count is the number of steps, from 1 to 1000000");
      return false;
    }
    steps = (long)n;
  }
  const bool distinct = d.find("distinct") && d.find("distinct")->value->number != 0;
  std::vector<double> v, times;
  int dir = 0; // 1: rising, -1: falling
  auto eval = [&](const ast::Item *f, long i, double &x) {
    env[f->params[0]] = (double)i;
    x = evalDeclExpr(d, *f->value, env, budget, 0, tp);
    if (budget < 0) {
      diag.error(e.loc, "grid '" + d.name + "' takes too long to evaluate at " +
                            fmtNum((double)steps) + " steps",
                 "simplify its functions or take fewer steps");
      return false;
    }
    const std::string name = f->name + "(" + f->params[0] + ")";
    bool noise = f == sfn;
    if (!std::isfinite(x) || (noise && x < 0)) {
      diag.error(f->loc,
                 name + " is " + (std::isfinite(x) ? "negative" : "not finite") + " at " +
                     f->params[0] + " = " + fmtNum((double)i) + " (" + fmtNum(x) + ")",
                 noise ? "a noise level sigma/alpha is finite and >= 0 at every point, "
                         "i = 0 to steps" + std::string(appendZero ? " - 1" : "")
                       : "a process time is finite at every point, i = 0 to steps");
      return false;
    }
    return true;
  };
  const std::string f = fn->name + "(" + fn->params[0] + ")";
  for (long i = 0; i <= steps; ++i) {
    double x = 0; // the appended noise level
    if (i < steps || !appendZero) {
      if (!eval(fn, i, x))
        return false;
      if (pairs) {
        double t;
        if (!eval(tfn, i, t))
          return false;
        times.push_back(t);
      }
    } else if (pairs) {
      times.push_back(-1); // the end of the chain
    }
    // distinct = 1 drops a repeated point (ComfyUI's beta scheduler).
    if (distinct && !v.empty() && x == v.back()) {
      if (pairs)
        times.pop_back();
      continue;
    }
    // Monotone: a repeated point is a step from s to s (as with repeat =
    // T), a reversal an error.
    int sign = v.empty() || x == v.back() ? 0 : x > v.back() ? 1 : -1;
    if (sign != 0 && dir != 0 && sign != dir) {
      bool last = appendZero && i == steps;
      diag.error(fn->loc,
                 "the grid's points must not change direction, but " +
                     (last ? "noise level 0 follows " : f + " = " + fmtNum(x) + " at " +
                                                            fn->params[0] + " = " +
                                                            fmtNum((double)i) + " follows ") +
                     fmtNum(v.back()) + " after " + (dir < 0 ? "falling" : "rising"),
                 last ? "append_zero ends the grid at noise level 0, so sigma(i) must fall "
                        "(or write append_zero = 0)"
                      : "check the formula for every point, i = 0 to steps");
      return false;
    }
    if (sign != 0)
      dir = sign;
    v.push_back(x);
  }
  if (dir == 0) {
    diag.error(fn->loc, "all the points of grid '" + d.name + "' are " + fmtNum(v[0]),
               "a grid must move from the noise to the data");
    return false;
  }
  if (pairs) {
    g.kind = "pairs";
    g.times = times;
    g.sigmas = v;
  } else {
    if (appendZero)
      v.pop_back(); // the runtime appends the clean end
    g.kind = sigmaForm ? "sigmas" : "list";
    g.times = v;
  }
  g.args["append_zero"] = appendZero ? 1 : 0;
  // The steps the grid has: count's, less the points distinct dropped.
  g.args["steps"] = (double)(v.size() - (pairs || !appendZero ? 1 : 0));
  return true;
}

} // namespace

bool planGrid(const ast::Module &m, const ast::Expr &e, const SamplerPlan &plan,
              DiagEngine &diag, GridPlan &g) {
  if (e.kind == ast::Expr::List)
    return planGridList(e, diag, g);
  std::vector<std::string> kinds;
  const GridFamily *family = nullptr;
  for (const auto &f : gridFamilies()) {
    kinds.push_back(f.name);
    if (e.name == f.name)
      family = &f;
  }
  // A grid declaration (which takes precedence over a family of its name):
  // its parameters are its arguments, their defaults bound first.
  const ast::Decl *user = nullptr;
  GridFamily declared{"", {}, GridFamily::Any};
  if (e.kind == ast::Expr::Ident || e.kind == ast::Expr::Call)
    if (const ast::Decl *d = findDecl(m, e.name); d && d->kind == "grid") {
      user = d;
      declared.name = d->name.c_str();
      // sigma(i) alone: noise levels mapped to continuous time; t(i) and
      // sigma(i): a discrete process's (timestep, noise level) pairs.
      declared.time = !d->find("sigma") ? GridFamily::Any
                      : d->find("t")    ? GridFamily::Discrete
                                        : GridFamily::Continuous;
      for (const auto &p : d->params) {
        declared.args.push_back(p.name);
        double v;
        if (p.defaultValue) {
          if (!evalConstant(*p.defaultValue, g.args, diag, v))
            return false;
          g.args[p.name] = v;
        }
      }
      family = &declared;
    }
  for (const auto &x : m.decls)
    if (x.kind == "grid")
      kinds.push_back(x.name);
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
               user ? "give its timesteps, t(i) = ..., instead of sigma(i) (or interpolate = "
                      "log_alpha in the process)"
                    : "use leading, trailing or linspace (or interpolate = log_alpha in the "
                      "process)");
    return false;
  }
  if (family->time == GridFamily::Discrete && !discrete) {
    diag.error(e.loc, "grid '" + g.kind + "' spaces the timesteps of a discrete process",
               user ? "its points pair a timestep t(i) with a noise level sigma(i); for a "
                      "continuous-time process keep one of them"
                    : "use uniform, karras or exponential for a continuous-time process");
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
  if (user)
    for (const auto &p : user->params)
      if (!g.args.count(p.name)) {
        diag.error(e.loc, "parameter '" + p.name + "' of grid '" + user->name + "' has no value",
                   "give it a default in the declaration or pass " + p.name + " = ...");
        return false;
      }
  if (user && !evaluateUserGrid(*user, e, plan, diag, g))
    return false;
  if (g.args.count("shift") && g.args.count("seq_len")) {
    diag.error(e.loc, "give either shift or seq_len, not both",
               "seq_len derives the shift from the image size (resolution-dependent shift)");
    return false;
  }
  return true;
}

} // namespace diffuse
