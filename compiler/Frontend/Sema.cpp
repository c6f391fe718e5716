//===- Sema.cpp - semantic checks ------------------------------------------===//
//
// checkModule: every declaration's kind, keys, names and expression types
// (scalar, tensor, time point or condition) are checked; each error says
// what to do. This file has the declarations, processes, models and
// training specs; guidance rules, solvers and expression types are checked
// in SemaGuidance.cpp, SemaSolver.cpp and SemaTypes.cpp (one class,
// SemaChecker.h). Resolving a sampler into a SamplerPlan is Plan.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaChecker.h"

#include <cmath>
#include <functional>
#include <set>

namespace diffuse {
namespace sema {

bool Checker::run() {
  std::map<std::string, const ast::Decl *> seen;
  for (const auto &d : m.decls) {
    if (!contains(kKinds, d.kind)) {
      diag.error(d.loc, "unknown declaration kind '" + d.kind + "'",
                 didYouMean(d.kind, kKinds).empty()
                     ? "a declaration is one of: " + joinNames(kKinds)
                     : didYouMean(d.kind, kKinds));
      continue;
    }
    auto [it, fresh] = seen.emplace(d.name, &d);
    if (!fresh) {
      diag.error(d.nameLoc, "'" + d.name + "' is declared twice", "rename one of the declarations");
      diag.note(it->second->nameLoc, "first declared here");
      continue;
    }
    if (d.kind == "process")
      checkProcess(d);
    else if (d.kind == "model")
      checkModel(d);
    else if (d.kind == "guidance")
      checkGuidance(d);
    else if (d.kind == "solver")
      checkSolver(d);
    else if (d.kind == "grid")
      checkGrid(d);
    else if (d.kind == "train")
      checkTrain(d);
    solverModels_.clear();
  }
  return diag.errorCount() == 0;
}

void Checker::checkKeys(const ast::Decl &d, const std::vector<std::string> &keys,
                        const std::vector<std::string> &funcs, bool anyFunc) {
  std::set<std::string> seen;
  for (const auto &it : d.items) {
    if (!seen.insert(it.name).second) {
      diag.error(it.loc, "'" + it.name + "' is given twice in " + d.kind + " '" + d.name + "'",
                 "remove one of them");
      continue;
    }
    // A guidance's other settings are its evaluations, NAME = MODEL(COND).
    bool ok =
        it.kind == ast::Item::Set
            ? contains(keys, it.name) || (d.kind == "guidance" && it.value->kind == ast::Expr::Call)
        : it.kind == ast::Item::State ? d.kind == "solver" || d.kind == "guidance"
                                      : (anyFunc || contains(funcs, it.name));
    if (it.kind == ast::Item::Proc && d.kind != "solver" &&
        !(d.kind == "guidance" && it.name == "combine"))
      ok = false;
    if (!ok) {
      std::vector<std::string> all = keys;
      all.insert(all.end(), funcs.begin(), funcs.end());
      std::string hint = didYouMean(it.name, all);
      if (hint.empty())
        hint = "a " + d.kind + " takes: " + joinNames(all) +
               (d.kind == "guidance" ? ", and evaluations NAME = model(cond)" : "");
      diag.error(it.loc, "'" + it.name + "' is not a setting of a " + d.kind, hint);
    }
  }
}

void Checker::checkProcess(const ast::Decl &d) {
  checkKeys(d, {"discrete", "final_alpha", "domain", "interpolate", "zero_terminal_snr"},
            {"alpha", "sigma", "drift", "diffusion"}, /*anyFunc=*/true);
  if (const ast::Item *ip = d.find("interpolate"))
    if (ip->value->kind != ast::Expr::Ident || ip->value->name != "log_alpha")
      diag.error(ip->value->loc, "unknown interpolation",
                 "interpolate = log_alpha makes time continuous in (0, 1], log alpha "
                 "piecewise linear through t_n = (n + 1) / train_steps (DPM-Solver)");
  const ast::Item *disc = d.find("discrete");
  const ast::Item *alpha = d.find("alpha");
  const ast::Item *sigma = d.find("sigma");
  const ast::Item *drift = d.find("drift");
  const ast::Item *diffusion = d.find("diffusion");
  if (disc) {
    if (alpha || sigma || drift || diffusion)
      diag.error((alpha   ? alpha
                  : sigma ? sigma
                  : drift ? drift
                          : diffusion)
                     ->loc,
                 "a discrete process takes its alpha and sigma from the beta table",
                 "remove alpha(t)/sigma(t) and drift(t)/diffusion(t), or remove 'discrete' "
                 "for a Gaussian path or an SDE");
    const ast::Expr &e = *disc->value;
    const std::vector<std::string> kinds = {"linear", "scaled_linear", "squaredcos_cap_v2",
                                            "sigmoid", "table"};
    if (e.kind != ast::Expr::Call || !contains(kinds, e.name))
      diag.error(e.loc, "unknown beta schedule",
                 "write discrete = linear(beta_start = ..., beta_end = ..., train_steps = ...), "
                 "scaled_linear(...), sigmoid(...), squaredcos_cap_v2(train_steps = ...) or "
                 "table(betas = [...])");
    if (const ast::Item *z = d.find("zero_terminal_snr"))
      if (z->value->kind != ast::Expr::Ident ||
          (z->value->name != "true" && z->value->name != "false"))
        diag.error(z->value->loc, "zero_terminal_snr must be true or false",
                   "true rescales the table so that alpha is 0 at the last timestep (Lin et "
                   "al. 2024, diffusers' rescale_betas_zero_snr)");
    return;
  }
  if (const ast::Item *z = d.find("zero_terminal_snr")) {
    diag.error(z->loc, "zero_terminal_snr rescales a beta table, but '" + d.name + "' has none",
               "declare the process with discrete = ..., or give a path whose alpha(t) "
               "reaches 0");
    return;
  }
  // An SDE dx = drift(t) x dt + diffusion(t) dW: the compiler derives its
  // marginals (diffuse-integrate-sde); alpha and sigma are not given.
  if ((drift || diffusion) && (alpha || sigma)) {
    diag.error((drift ? drift : diffusion)->loc,
               "process '" + d.name + "' is declared both as a Gaussian path and as an SDE",
               "keep alpha(t) and sigma(t), or drift(t) and diffusion(t): the compiler "
               "derives the other pair");
    return;
  }
  if (drift || diffusion) {
    if (!drift || !diffusion) {
      diag.error(d.nameLoc,
                 "process '" + d.name + "' defines no " +
                     std::string(!drift ? "drift(t)" : "diffusion(t)"),
                 "an SDE dx = drift(t) x dt + diffusion(t) dW needs both; write drift(t) = 0 "
                 "for a variance-exploding one");
      return;
    }
  } else if (!alpha || !sigma) {
    diag.error(d.nameLoc,
               "process '" + d.name + "' defines no " +
                   std::string(!alpha ? "alpha(t)" : "sigma(t)"),
               "a Gaussian path needs alpha(t) = ... and sigma(t) = ...; an SDE needs "
               "drift(t) and diffusion(t); a discrete one needs discrete = scaled_linear(...)");
    return;
  }
  // Scalar functions: check names and detect cycles between helpers.
  std::map<std::string, const ast::Item *> funcs;
  for (const auto &it : d.items)
    if (it.kind == ast::Item::Func)
      funcs[it.name] = &it;
  std::set<std::string> params;
  for (const auto &p : d.params)
    params.insert(p.name);
  checkScalarFunctions(funcs, params, "the time", "t");
}

void Checker::checkScalarFunctions(const std::map<std::string, const ast::Item *> &funcs,
                                   const std::set<std::string> &params, const std::string &what,
                                   const std::string &arg) {
  for (const auto &[name, it] : funcs) {
    if (it->params.size() != 1) {
      diag.error(it->loc, "'" + name + "' must take exactly one argument, " + what,
                 "write " + name + "(" + arg + ") = ...");
      continue;
    }
    std::vector<std::string> stack{name};
    checkScalarExpr(*it->value, it->params[0], params, funcs, stack);
  }
}

void Checker::checkScalarCondition(const ast::Expr &e, const std::string &tvar,
                                   const std::set<std::string> &params,
                                   const std::map<std::string, const ast::Item *> &funcs,
                                   std::vector<std::string> &stack) {
  if (e.kind == ast::Expr::Not)
    return checkScalarCondition(*e.ops[0], tvar, params, funcs, stack);
  if (e.kind == ast::Expr::Binary && (e.op == '&' || e.op == '|')) {
    for (auto &o : e.ops)
      checkScalarCondition(*o, tvar, params, funcs, stack);
    return;
  }
  if (e.kind == ast::Expr::Binary && std::string("<>lgen").find(e.op) != std::string::npos) {
    for (auto &o : e.ops)
      checkScalarExpr(*o, tvar, params, funcs, stack);
    return;
  }
  diag.error(e.loc, "the first argument of 'where' must be a condition",
             "compare two numbers, e.g. where(i == steps, a, b)");
}

void Checker::checkScalarExpr(const ast::Expr &e, const std::string &tvar,
                              const std::set<std::string> &params,
                              const std::map<std::string, const ast::Item *> &funcs,
                              std::vector<std::string> &stack) {
  switch (e.kind) {
  case ast::Expr::Number:
    return;
  case ast::Expr::Ident:
    if (e.name == tvar || params.count(e.name))
      return;
    {
      std::vector<std::string> cands(params.begin(), params.end());
      if (!tvar.empty())
        cands.push_back(tvar);
      // An empty tvar: a grid's count, made from its parameters alone.
      diag.error(e.loc, "unknown name '" + e.name + "'",
                 !didYouMean(e.name, cands).empty() ? didYouMean(e.name, cands)
                 : tvar.empty() ? "count is made from the grid's parameters (and its functions "
                                  "at given points, such as f(0)), not from a point"
                                : "a function here may use its argument '" + tvar +
                                      "' and the parameters of its declaration");
    }
    return;
  case ast::Expr::Not:
    diag.error(e.loc, "conditions are not allowed in a time function",
               inGrid ? "a grid function picks between two values with where(CONDITION, a, b)"
                      : "write alpha(t) and sigma(t) as one formula over the domain");
    return;
  case ast::Expr::Neg:
  case ast::Expr::Binary:
    if (e.kind == ast::Expr::Binary && std::string("<>lgen&|").find(e.op) != std::string::npos) {
      diag.error(e.loc, "conditions are not allowed in a time function",
                 inGrid ? "a grid function picks between two values with where(CONDITION, a, b)"
                        : "write alpha(t) and sigma(t) as one formula over the domain");
      return;
    }
    for (auto &o : e.ops)
      checkScalarExpr(*o, tvar, params, funcs, stack);
    return;
  case ast::Expr::List:
    diag.error(e.loc, "a list is not a number", "write a scalar expression");
    return;
  case ast::Expr::Call: {
    // where(CONDITION, a, b): its first argument is a condition on numbers.
    const bool where = e.name == "where" && inGrid;
    for (size_t k = 0; k < e.args.size(); ++k)
      if (where && k == 0)
        checkScalarCondition(*e.args[0].value, tvar, params, funcs, stack);
      else
        checkScalarExpr(*e.args[k].value, tvar, params, funcs, stack);
    if (contains(kGridFns, e.name) && !inGrid) {
      diag.error(e.loc, "'" + e.name + "' is a function of grid declarations only",
                 "it is evaluated once, when the grid is made; compute the grid in a grid "
                 "declaration and use its points here");
      return;
    }
    if (contains(kMathFns, e.name) || contains(kGridFns, e.name)) {
      size_t want = (e.name == "min" || e.name == "max")          ? 2
                    : (e.name == "beta_ppf" || e.name == "where") ? 3
                                                                  : 1;
      if (e.args.size() != want)
        diag.error(e.loc, "'" + e.name + "' takes " + std::to_string(want) + " argument" +
                              (want > 1 ? "s" : "") + ", got " + std::to_string(e.args.size()));
      return;
    }
    auto it = funcs.find(e.name);
    if (it == funcs.end()) {
      std::vector<std::string> cands = kMathFns;
      if (inGrid)
        cands.insert(cands.end(), kGridFns.begin(), kGridFns.end());
      for (auto &[n, _] : funcs)
        cands.push_back(n);
      diag.error(e.loc, "unknown function '" + e.name + "'", didYouMean(e.name, cands));
      return;
    }
    if (e.args.size() != 1) {
      diag.error(e.loc, "'" + e.name + "' takes 1 argument, got " + std::to_string(e.args.size()));
      return;
    }
    if (contains(stack, e.name)) {
      if (reportedCycles.count(e.name))
        return;
      for (auto it = std::find(stack.begin(), stack.end(), e.name); it != stack.end(); ++it)
        reportedCycles.insert(*it);
      diag.error(e.loc,
                 "'" + e.name + "' is defined in terms of itself (" + joinNames(stack) + " -> " +
                     e.name + ")",
                 "a time function must not call itself, directly or through another");
      return;
    }
    stack.push_back(e.name);
    checkScalarExpr(*it->second->value, it->second->params[0], params, funcs, stack);
    stack.pop_back();
    return;
  }
  }
}

void Checker::checkModel(const ast::Decl &d) {
  checkKeys(d, {"predicts", "time", "time_dtype", "cond", "variance"}, {}, false);
  const ast::Item *p = d.find("predicts");
  const std::vector<std::string> preds = {"eps",   "x0",  "v",          "velocity",
                                          "score", "edm", "class_grad", "degradation"};
  if (!p) {
    diag.error(d.nameLoc, "model '" + d.name + "' does not say what it predicts",
               "add predicts = eps (or x0, v, velocity, score, edm(sigma_data = 0.5), "
               "class_grad, degradation)");
  } else if (p->value->kind == ast::Expr::Call && p->value->name == "edm") {
    // EDM's preconditioned network F: x0 = c_skip y + c_out F(c_in y, c_noise).
    for (const auto &a : p->value->args)
      if (a.name != "sigma_data")
        diag.error(a.value->loc,
                   a.name.empty() ? std::string("edm takes named arguments")
                                  : "'" + a.name + "' is not an argument of edm",
                   "edm takes sigma_data, the data's standard deviation (0.5 in EDM)");
  } else if (p->value->kind != ast::Expr::Ident || !contains(preds, p->value->name) ||
             p->value->name == "edm") {
    std::string got = p->value->kind == ast::Expr::Ident ? p->value->name : "";
    diag.error(p->value->loc, "unknown prediction type '" + got + "'",
               didYouMean(got, preds).empty()
                   ? "use one of: eps, x0, v, velocity, score, edm(sigma_data = 0.5), "
                     "class_grad, degradation"
                   : didYouMean(got, preds));
  }
  if (const ast::Item *t = d.find("time")) {
    const ast::Expr &e = *t->value;
    const std::vector<std::string> encs = {"t", "index", "sigma", "c_noise"};
    bool ok = (e.kind == ast::Expr::Ident && contains(encs, e.name)) ||
              (e.kind == ast::Expr::Call && e.name == "scaled" &&
               (e.args.size() == 1 || e.args.size() == 2));
    if (!ok)
      diag.error(e.loc, "unknown time encoding",
                 "use t, index (discrete timestep), sigma, c_noise (EDM's log(sigma) / 4), "
                 "scaled(1000) or scaled(1000, -1) (k t + offset)");
  }
  // `key = NAME` with NAME one of `names`: the value, or null (reporting
  // `what` and `fix` when it is something else).
  auto choice = [&](const char *key, const std::vector<std::string> &names, const char *what,
                    const char *fix) -> const ast::Expr * {
    const ast::Item *it = d.find(key);
    if (!it)
      return nullptr;
    if (it->value->kind == ast::Expr::Ident && contains(names, it->value->name))
      return it->value.get();
    diag.error(it->value->loc, what, fix);
    return nullptr;
  };
  choice("time_dtype", {"f32", "f64"}, "unknown time_dtype",
         "use time_dtype = f32 (the network takes its time as float32, as diffusers passes "
         "timesteps) or f64 (the default)");
  choice("cond", {"class", "none"}, "unknown conditioning",
         "use cond = class (a class label per sample) or cond = none");
  const ast::Expr *v = choice("variance", {"learned_range", "fixed"}, "unknown variance",
                              "use variance = learned_range (the network also returns v in "
                              "[-1, 1], interpolating the step's log variance, Nichol & "
                              "Dhariwal 2021) or fixed");
  if (v && v->name == "learned_range" && p && p->value->kind == ast::Expr::Ident &&
      (p->value->name == "class_grad" || p->value->name == "degradation"))
    diag.error(v->loc, "a " + p->value->name + " model has no variance",
               "learned variance belongs to a model of the data (eps, x0, v, ...)");
  // The parameters after x are named conditioning inputs: a tensor per
  // sample, such as a text embedding (Note [Conditioning inputs]).
  for (const auto &prm : d.params) {
    if (prm.name == "x")
      continue;
    if (prm.defaultValue)
      diag.error(prm.loc, "conditioning input '" + prm.name + "' has a default",
                 "remove '= ...'; the caller gives each input (diffuse run --cond " + prm.name +
                     "=FILE.npy)");
    else if ((prm.type != "f32" && prm.type != "f64") || prm.shape.empty())
      diag.error(prm.loc, "conditioning input '" + prm.name + "' needs an element type and a shape",
                 "write " + prm.name +
                     ": f32[77, 768] (f32 or f64, the shape of one "
                     "sample's input)");
    else {
      // At most 2^31 elements per sample (and no empty extent).
      double n = 1;
      for (long e : prm.shape)
        n *= e < 1 ? 0 : (double)e;
      if (!(n >= 1 && n <= 2147483648.0))
        diag.error(prm.loc,
                   "conditioning input '" + prm.name + "' has " +
                       (n < 1 ? std::string("an empty shape") : "too many elements"),
                   "every extent is at least 1, and a sample's input has at most 2^31 "
                   "elements");
    }
  }
}

/// A training spec: `time` and `weight` are a name or a call of one with
/// named constant arguments (Plan.cpp's planTrain evaluates them).
void Checker::checkGrid(const ast::Decl &d) {
  checkKeys(d, {"append_zero", "count", "distinct"}, {"t", "sigma"}, /*anyFunc=*/true);
  // The arguments every grid takes (PlanGrid.cpp's kAnyFamily) are not
  // parameters of one.
  static const std::vector<std::string> kReserved = {"target", "strength", "repeat", "jump_length",
                                                     "jump_n_sample"};
  std::set<std::string> params;
  for (const auto &p : d.params) {
    if (!p.type.empty())
      diag.error(p.loc, "a grid parameter is a number, not '" + p.type + "'",
                 "write " + p.name + " = <default>");
    else if (contains(kReserved, p.name))
      diag.error(p.loc, "'" + p.name + "' is an argument of every grid, not a parameter of one",
                 "rename the parameter; the sampler's grid = " + d.name + "(" + p.name +
                     " = ...) already means what it means for the built-in grids");
    params.insert(p.name);
  }
  if (!params.count("steps"))
    diag.error(d.nameLoc, "grid '" + d.name + "' has no parameter 'steps'",
               "declare it, e.g. grid " + d.name + "(steps = 20) { ... }: the number of steps");
  // t(i) or sigma(i), or both: a discrete process's timestep (the
  // network's time) and noise level of each point, diffusers' (timesteps,
  // sigmas) pair (PlanGrid.cpp checks the process).
  const ast::Item *t = d.find("t"), *sigma = d.find("sigma");
  const ast::Item *fn = t && t->kind == ast::Item::Func ? t : sigma;
  if (!fn || fn->kind != ast::Item::Func) {
    diag.error(d.nameLoc, "grid '" + d.name + "' defines no t(i) or sigma(i)",
               "write t(i) = ... (the process time of point i) or sigma(i) = ... (its noise "
               "level sigma/alpha), for i = 0, 1, ..., steps");
    return;
  }
  // append_zero: 0, 1, or a parameter (checked when the grid is made).
  if (const ast::Item *z = d.find("append_zero")) {
    const ast::Expr &v = *z->value;
    bool param = v.kind == ast::Expr::Ident && params.count(v.name);
    if (!param && (v.kind != ast::Expr::Number || (v.number != 0 && v.number != 1)))
      diag.error(v.loc, "append_zero is 0, 1 or a parameter of the grid",
                 "append_zero = 1 ends the grid at noise level 0 after points 0 to steps - 1");
  }
  if (const ast::Item *z = d.find("distinct")) {
    const ast::Expr &v = *z->value;
    if (v.kind != ast::Expr::Number || (v.number != 0 && v.number != 1))
      diag.error(v.loc, "distinct is 0 or 1",
                 "distinct = 1 drops a point equal to the one before it");
  }
  std::map<std::string, const ast::Item *> funcs;
  for (const auto &it : d.items)
    if (it.kind == ast::Item::Func)
      funcs[it.name] = &it;
  inGrid = true;
  checkScalarFunctions(funcs, params, "the point index", "i");
  // count = EXPR: the number of steps, from the parameters (not i).
  if (const ast::Item *c = d.find("count"); c && c->kind != ast::Item::Func) {
    std::vector<std::string> stack;
    checkScalarExpr(*c->value, "", params, funcs, stack);
  }
  inGrid = false;
}

void Checker::checkTrain(const ast::Decl &d) {
  checkKeys(d, {"process", "model", "time", "weight"}, {}, false);
  struct Form {
    const char *name;
    std::vector<std::string> args;
  };
  auto checkForm = [&](const ast::Item *it, const std::vector<Form> &forms, const char *what,
                       const char *hint) {
    if (!it)
      return;
    const ast::Expr &e = *it->value;
    std::vector<std::string> names;
    for (const Form &f : forms)
      names.push_back(f.name);
    const Form *form = nullptr;
    if (e.kind == ast::Expr::Ident || e.kind == ast::Expr::Call)
      for (const Form &f : forms)
        if (e.name == f.name)
          form = &f;
    if (!form) {
      std::string got = e.kind == ast::Expr::Ident || e.kind == ast::Expr::Call ? e.name : "";
      diag.error(e.loc, std::string("unknown ") + what + (got.empty() ? "" : " '" + got + "'"),
                 didYouMean(got, names).empty() ? hint : didYouMean(got, names));
      return;
    }
    for (const auto &a : e.args)
      if (!contains(form->args, a.name))
        diag.error(a.value->loc,
                   a.name.empty() ? std::string(form->name) + " takes named arguments"
                                  : "'" + a.name + "' is not an argument of " + form->name,
                   form->args.empty()
                       ? std::string(form->name) + " takes no arguments"
                       : std::string(form->name) + " takes " + joinNames(form->args));
  };
  checkForm(d.find("time"),
            {{"uniform", {}},
             {"logit_normal", {"mean", "std"}},
             {"log_normal", {"mean", "std"}},
             {"importance", {}}},
            "time distribution",
            "use uniform, logit_normal(mean = 0, std = 1), log_normal(mean = -1.2, std = 1.2) "
            "or importance");
  checkForm(d.find("weight"),
            {{"uniform", {}},
             {"snr", {}},
             {"min_snr", {"gamma"}},
             {"truncated_snr", {}},
             {"edm", {"sigma_data"}},
             {"likelihood", {}}},
            "loss weighting",
            "use uniform, snr, min_snr(gamma = 5), truncated_snr, edm(sigma_data = 0.5) or "
            "likelihood");
}

/// The parameters of a guidance or solver declared `NAME: model` (the
/// sampler binds them to model declarations); reports a default on one, or
/// a parameter of any other type.
std::vector<std::string> Checker::modelParams(const ast::Decl &d) {
  std::vector<std::string> out;
  for (const auto &p : d.params) {
    if (p.type == "model") {
      if (p.defaultValue)
        diag.error(p.defaultValue->loc, "a model parameter has no default",
                   "remove '= ...'; the sampler names the model: " + d.name + "(" + p.name +
                       " = <model>)");
      out.push_back(p.name);
    } else if (!p.type.empty()) {
      diag.error(p.loc, "a " + d.kind + " parameter is a number or a model, not '" + p.type + "'",
                 "write " + p.name + " = <default> or " + p.name + ": model");
    }
  }
  return out;
}
} // namespace sema

void checkCoords(const ast::Expr &e, DiagEngine &diag) {
  if (e.kind != ast::Expr::Ident || (e.name != "ve" && e.name != "native" && e.name != "lambda"))
    diag.error(e.loc, "unknown coordinates",
               "use coords = native (x, t), coords = ve (x/alpha, sigma/alpha) or coords = "
               "lambda (x, log(alpha/sigma))");
}

bool checkModule(const ast::Module &m, DiagEngine &diag) { return sema::Checker(m, diag).run(); }

} // namespace diffuse
