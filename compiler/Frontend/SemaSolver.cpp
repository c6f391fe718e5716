//===- SemaSolver.cpp - checks of solvers and their statements -----------===//
//
// A solver's settings, state, functions, adaptive step control and step
// bodies (assignments, returns, conditions known before the step runs).
// See SemaChecker.h.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/SemaChecker.h"

namespace diffuse::sema {

void Checker::checkSolver(const ast::Decl &d) {
  checkKeys(d, {"coords", "adaptive"}, {"step"}, /*anyFunc=*/true);
  // Parameters typed `model` are modules the step calls on a tensor and a
  // time point (a cold-diffusion degradation operator).
  std::vector<std::string> models = modelParams(d);
  solverModels_ = std::set<std::string>(models.begin(), models.end());
  // Helper functions of scalars: name(a, b) = expression.
  solverFuncs_.clear();
  for (const auto &it : d.items)
    if (it.kind == ast::Item::Func) {
      if (it.name == "step") {
        diag.error(it.loc, "step must be a block", "write step(x, s, t) { ... }");
        continue;
      }
      solverFuncs_[it.name] = &it;
    }
  for (const auto &[name, it] : solverFuncs_) {
    std::map<std::string, Ty> fenv;
    for (auto &p : d.params)
      if (p.type != "model")
        fenv[p.name] = paramType(p);
    for (const auto &p : it->params)
      fenv[p] = Ty::Scalar;
    funcStack_ = {name};
    Ty t = typeOf(*it->value, fenv);
    if (t != Ty::Scalar && t != Ty::Error)
      diag.error(it->value->loc,
                 "a solver function must give a scalar, not " + std::string(tyName(t)));
  }
  funcStack_.clear();
  // Calls between helper functions must not form a cycle (they are inlined).
  std::map<std::string, std::set<std::string>> graph;
  for (const auto &[name, it] : solverFuncs_)
    ast::anyOf(*it->value, [&, &out = graph[name]](const ast::Expr &e) {
      if (e.kind == ast::Expr::Call && solverFuncs_.count(e.name))
        out.insert(e.name);
      return false; // visit everything
    });
  std::set<std::string> done, onPath;
  std::function<bool(const std::string &)> cyclic = [&](const std::string &n) {
    if (onPath.count(n))
      return true;
    if (done.count(n))
      return false;
    onPath.insert(n);
    for (const auto &m : graph[n])
      if (cyclic(m))
        return true;
    onPath.erase(n);
    done.insert(n);
    return false;
  };
  for (const auto &[name, it] : solverFuncs_)
    if (!done.count(name) && cyclic(name)) {
      diag.error(it->loc, "solver function '" + name + "' calls itself through other functions",
                 "solver functions are inlined and cannot recurse");
      return;
    }
  const ast::Item *step = d.find("step");
  if (!step || step->kind != ast::Item::Proc) {
    diag.error(d.nameLoc, "solver '" + d.name + "' has no step",
               "add step(x, s, t) { ... return <next state> }");
    return;
  }
  if (step->params.size() != 3) {
    diag.error(step->loc,
               "step takes 3 arguments (state, current time, next time), got " +
                   std::to_string(step->params.size()),
               "write step(x, s, t)");
    return;
  }
  if (const ast::Item *c = d.find("coords"))
    checkCoords(*c->value, diag);
  std::map<std::string, Ty> env = {{step->params[0], Ty::Field}, {step->params[1], Ty::Time},
                                   {step->params[2], Ty::Time},  {"first", Ty::Bool},
                                   {"last", Ty::Bool},           {"index", Ty::Scalar},
                                   {"steps", Ty::Scalar}};
  for (auto &p : d.params)
    if (p.type != "model")
      env[p.name] = paramType(p);
  std::set<std::string> fixed = {step->params[0], step->params[1], step->params[2], "first",
                                 "last",          "index",         "steps"};
  stateTypes_.clear();
  tainted_.clear();
  if (const ast::Item *st = d.find("state")) {
    for (size_t i = 0; i < st->params.size(); ++i) {
      const std::string &n = st->params[i], &ty = st->types[i];
      if (ty != "tensor" && ty != "scalar") {
        std::string hint = didYouMean(ty, {"tensor", "scalar"});
        diag.error(st->paramLocs[i], "unknown state type '" + ty + "'",
                   hint.empty() ? "a state variable is a tensor or a scalar" : hint);
        continue;
      }
      if (env.count(n) || stateTypes_.count(n)) {
        diag.error(st->loc, "state variable '" + n + "' clashes with another name", "rename it");
        continue;
      }
      stateTypes_[n] = ty == "tensor" ? Ty::Field : Ty::Scalar;
      env[n] = stateTypes_[n];
    }
  }
  bool returned = checkStmts(step->body, env, fixed);
  if (!returned)
    diag.error(step->loc, "step of solver '" + d.name + "' never returns",
               "end it with return <next state>");
  if (const ast::Item *a = d.find("adaptive"))
    checkAdaptive(*a->value);
}

/// adaptive = error_control(order = ..., error = STATE, ...): the step
/// size controller's settings and the state tensors it reads.
void Checker::checkAdaptive(const ast::Expr &e) {
  const std::string usage = "write adaptive = error_control(order = 5, rtol = 1e-5, "
                            "atol = 1e-5, error = <state tensor>)";
  if (e.kind != ast::Expr::Call || e.name != "error_control") {
    std::string hint = e.kind == ast::Expr::Call ? didYouMean(e.name, {"error_control"}) : "";
    diag.error(e.loc, "an adaptive solver's controller is error_control(...)",
               hint.empty() ? usage : hint);
    return;
  }
  const std::vector<std::string> numeric = {
      "order",     "rtol",   "atol",   "safety",  "grow",           "shrink",
      "max_steps", "h0",     "limits", "end_tol", "factor_float32", "end_coord",
      "pid",       "pcoeff", "icoeff", "dcoeff",  "accept_safety"};
  const std::vector<std::string> tensors = {"error", "slope", "mid", "tolerance"};
  const std::vector<std::string> norms = {"rms", "sample_max"};
  std::vector<std::string> all = numeric;
  all.insert(all.end(), tensors.begin(), tensors.end());
  all.push_back("norm");
  std::set<std::string> given;
  for (const auto &a : e.args) {
    if (a.name.empty()) {
      diag.error(a.value->loc, "error_control takes named arguments", usage);
      continue;
    }
    if (!contains(all, a.name)) {
      std::string hint = didYouMean(a.name, all);
      diag.error(a.nameLoc, "error_control has no argument '" + a.name + "'",
                 hint.empty() ? "it takes: " + joinNames(all) : hint);
      continue;
    }
    if (!given.insert(a.name).second) {
      diag.error(a.nameLoc, "'" + a.name + "' is given twice", "remove one of them");
      continue;
    }
    if (a.name == "norm") {
      // rms or sample_max, or a number a parameter chooses (0: rms, 1: sample_max)
      if (a.value->kind == ast::Expr::Ident && !contains(norms, a.value->name)) {
        std::string hint =
            a.value->kind == ast::Expr::Ident ? didYouMean(a.value->name, norms) : "";
        diag.error(a.value->loc, "norm is rms or sample_max",
                   hint.empty() ? "rms: over every element of the batch; sample_max: the "
                                  "largest of the samples' own RMS norms"
                                : hint);
      }
      continue;
    }
    if (contains(tensors, a.name)) {
      auto it =
          a.value->kind == ast::Expr::Ident ? stateTypes_.find(a.value->name) : stateTypes_.end();
      if (it == stateTypes_.end() || it->second != Ty::Field)
        diag.error(a.value->loc, "'" + a.name + "' must name a state tensor of the solver",
                   "declare it with state NAME: tensor and assign it in the step");
    }
  }
  if (!given.count("order"))
    diag.error(e.loc, "error_control needs the order of the solution it keeps",
               "add order = 5 (the exponent of the step size update is 1/order)");
  if (!given.count("error"))
    diag.error(e.loc, "error_control needs the step's error estimate",
               "add error = <state tensor the step assigns its local error to>");
  if (given.count("tolerance") && (given.count("rtol") || given.count("atol")))
    diag.error(e.loc, "rtol and atol are unused when the step computes its own tolerance",
               "fold them into the tolerance state, or drop tolerance = ...");
  if (given.count("mid") && !given.count("slope"))
    diag.error(e.loc, "dense output (mid) also needs the slope at both ends of a step",
               "add slope = <state tensor holding pf_ode at the step's start>");
}

/// Whether `e` depends on solver state (directly or through a name
/// computed from it) or on a point between grid points: neither is known
/// before the step runs, so no condition may use them.
bool Checker::dependsOnStep(const ast::Expr &e) {
  return ast::anyOf(e, [&](const ast::Expr &x) {
    if (x.kind == ast::Expr::Ident)
      return tainted_.count(x.name) > 0 || stateTypes_.count(x.name) > 0;
    return x.kind == ast::Expr::Call && (x.name == "at" || x.name == "at_lambda");
  });
}

/// Checks a statement list; returns whether every path through it returns.
bool Checker::checkStmts(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> &env,
                         const std::set<std::string> &fixed) {
  bool returned = false;
  for (const auto &s : body) {
    if (returned) {
      diag.error(s.loc, "statement after return is never run", "remove it");
      break;
    }
    Ty t = typeOf(*s.value, env);
    bool fromState = dependsOnStep(*s.value);
    if (s.kind == ast::Stmt::Assign) {
      if (stateTypes_.count(s.name)) {
        if (t != Ty::Error && t != stateTypes_[s.name])
          diag.error(s.value->loc, "state '" + s.name + "' is " + tyName(stateTypes_[s.name]) +
                                       ", not " + tyName(t));
        continue; // the new value is for the next step; reads still see the old one
      }
      if (fromState)
        tainted_.insert(s.name);
      else
        tainted_.erase(s.name);
      if (fixed.count(s.name))
        diag.error(s.loc, "cannot assign to '" + s.name + "', an argument or the step context",
                   "use a new name");
      else if (t == Ty::Bool)
        diag.error(s.value->loc, "a condition cannot be stored in a variable",
                   "write the comparison in the if");
      else if (t == Ty::List)
        diag.error(s.value->loc, "a list cannot be stored in a variable",
                   "read the parameter with contains(LIST, x) where it is needed");
      env[s.name] = t;
    } else if (s.kind == ast::Stmt::Return) {
      returned = true;
      if (t != Ty::Field && t != Ty::Error)
        diag.error(s.value->loc,
                   "step must return the next state (a tensor), not " + std::string(tyName(t)));
    } else {
      if (fromState)
        diag.error(s.value->loc, "the condition of 'if' depends on solver state",
                   "conditions depend on time and the step context only, so each step's "
                   "branch is chosen once, on the host");
      else if (t != Ty::Bool && t != Ty::Error)
        diag.error(s.value->loc,
                   "the condition of 'if' must be a comparison, first or last, "
                   "not " +
                       std::string(tyName(t)),
                   "conditions depend on time and the step context only, so each step's "
                   "branch is chosen once, on the host");
      auto envThen = env, envElse = env;
      bool rThen = checkStmts(s.thenBody, envThen, fixed);
      bool rElse = checkStmts(s.elseBody, envElse, fixed);
      if (rThen && rElse && s.hasElse) {
        returned = true;
      } else if (rThen) {
        env = envElse;
      } else if (rElse) {
        env = envThen;
      } else {
        // A name assigned in only one branch is not defined after the if.
        std::map<std::string, Ty> merged;
        for (auto &[n, ty] : envThen) {
          auto it = envElse.find(n);
          if (it != envElse.end() && it->second == ty)
            merged[n] = ty;
        }
        env = merged;
      }
    }
  }
  return returned;
}

} // namespace diffuse::sema
