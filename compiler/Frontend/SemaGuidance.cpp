//===- SemaGuidance.cpp - checks of guidance rules ------------------------===//
//
// A guidance's settings, its declared evaluations NAME = MODEL(COND) and its
// combine rule (an expression or a block). See SemaChecker.h.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/SemaChecker.h"

namespace diffuse::sema {

void Checker::checkGuidance(const ast::Decl &d) {
  checkKeys(d, {"combine", "space"}, {"combine", "active"}, false);
  const ast::Item *c = d.find("combine");
  if (!c) {
    diag.error(d.nameLoc, "guidance '" + d.name + "' has no combine rule",
               "add combine = uncond + w * (cond - uncond)");
    return;
  }
  std::vector<std::string> evals = checkEvaluations(d);
  inGuidance_ = true;
  std::map<std::string, Ty> env;
  for (auto &p : d.params)
    if (p.type != "model")
      env[p.name] = Ty::Scalar;
  size_t n = evals.empty() ? 2 : evals.size();
  if (c->kind == ast::Item::Set) {
    for (const std::string &e : evals.empty() ? std::vector<std::string>{"uncond", "cond"} : evals)
      env[e] = Ty::Field;
    env["t"] = Ty::Time;
  } else if (c->params.size() < n || c->params.size() > n + 1) {
    std::string what = evals.empty()
                           ? "the unconditional and the conditional output"
                           : "the " + std::to_string(n) + " evaluations (" + joinNames(evals) + ")";
    diag.error(c->loc,
               "combine takes " + what + ", and optionally the time, got " +
                   std::to_string(c->params.size()) + " argument" +
                   (c->params.size() != 1 ? "s" : ""),
               evals.empty() ? "write combine(uncond, cond, t) { ... }"
                             : "write combine(" + joinNames(evals) + ", t) { ... }");
    inGuidance_ = false;
    return;
  } else {
    for (size_t i = 0; i < n; ++i)
      env[c->params[i]] = Ty::Field;
    if (c->params.size() == n + 1)
      env[c->params[n]] = Ty::Time;
  }
  // State carried from one network call to the next (APG's momentum):
  // tensors only, read as they were before the call.
  guidanceState_.clear();
  if (const ast::Item *st = d.find("state")) {
    for (size_t i = 0; i < st->params.size(); ++i) {
      const std::string &n = st->params[i], &ty = st->types[i];
      if (ty != "tensor") {
        diag.error(st->paramLocs[i],
                   ty == "scalar" ? "a guidance's state is a tensor, not a scalar"
                                  : "unknown state type '" + ty + "'",
                   "write state " + n + ": tensor");
        continue;
      }
      if (env.count(n) || guidanceState_.count(n)) {
        diag.error(st->loc, "state variable '" + n + "' clashes with another name", "rename it");
        continue;
      }
      if (c->kind != ast::Item::Proc) {
        diag.error(st->loc, "the state of guidance '" + d.name + "' is never assigned",
                   "write combine as a block that assigns it: combine(uncond, cond) { " + n +
                       " = ...  return ... }");
        break;
      }
      guidanceState_.insert(n);
      env[n] = Ty::Field;
    }
  }
  auto checkResult = [&](const ast::Expr &e, Ty t) {
    if (t != Ty::Field && t != Ty::Error)
      diag.error(e.loc, "the combine rule must give a tensor, not " + std::string(tyName(t)),
                 "combine the model evaluations 'uncond' and 'cond'");
  };
  if (c->kind != ast::Item::Proc) {
    checkResult(*c->value, typeOf(*c->value, env));
  } else if (!checkCombine(c->body, env, *c, d)) {
    diag.error(c->loc, "combine of guidance '" + d.name + "' never returns",
               "end it with return <guided output>");
  }
  if (const ast::Item *a = d.find("active")) {
    std::map<std::string, Ty> aenv;
    for (auto &p : d.params)
      if (p.type != "model")
        aenv[p.name] = Ty::Scalar;
    if (a->params.size() != 1) {
      diag.error(a->loc,
                 "active takes the time of the network call, got " +
                     std::to_string(a->params.size()) + " arguments",
                 "write active(t) = <condition on t>");
    } else {
      aenv[a->params[0]] = Ty::Time;
      Ty t = typeOf(*a->value, aenv);
      if (t != Ty::Bool && t != Ty::Error)
        diag.error(a->value->loc, "active must be a condition, not " + std::string(tyName(t)),
                   "compare the time, e.g. active(t) = sigma(t) / alpha(t) < 5");
    }
  }
  inGuidance_ = false;
  if (const ast::Item *s = d.find("space"))
    if (s->value->kind != ast::Expr::Ident ||
        (s->value->name != "output" && s->value->name != "x0" && s->value->name != "eps"))
      diag.error(s->value->loc, "unknown guidance space",
                 "use space = output (what the model predicts), x0 or eps");
}

/// A guidance's evaluations `NAME = MODEL(COND)`: MODEL is `model` (the
/// sampler's) or a parameter declared `NAME: model`; COND is none, cond or
/// cond(K). Returns their names.
std::vector<std::string> Checker::checkEvaluations(const ast::Decl &d) {
  std::vector<std::string> slots = {"model"}, names;
  for (const std::string &p : modelParams(d))
    slots.push_back(p);
  for (const ast::Item *it : guidanceEvaluations(d)) {
    const ast::Expr &e = *it->value;
    if (e.kind != ast::Expr::Call)
      continue; // reported as an unknown setting
    names.push_back(it->name);
    if (!contains(slots, e.name)) {
      std::string hint = didYouMean(e.name, slots);
      diag.error(e.loc, "'" + e.name + "' is not a model of guidance '" + d.name + "'",
                 hint.empty() ? "evaluate model (the sampler's) or a parameter declared "
                                "NAME: model"
                              : hint);
      continue;
    }
    auto isCond = [](const ast::Expr &c) {
      if (c.kind == ast::Expr::Ident)
        return c.name == "none" || c.name == "cond";
      return c.kind == ast::Expr::Call && c.name == "cond" && c.args.size() == 1 &&
             c.args[0].name.empty() && c.args[0].value->kind == ast::Expr::Number &&
             c.args[0].value->isInt && c.args[0].value->number < 1000;
    };
    if (e.args.size() != 1 || !e.args[0].name.empty() || !isCond(*e.args[0].value))
      diag.error(e.args.empty() ? e.loc : e.args[0].value->loc, "an evaluation takes one condition",
                 "write " + e.name + "(none) (unconditional), " + e.name +
                     "(cond) (the class labels) or " + e.name + "(cond(1)) (label set 1)");
  }
  for (const std::string &n : names)
    if (n == "t" || std::any_of(d.params.begin(), d.params.end(),
                                [&](const ast::Param &p) { return p.name == n; }))
      diag.error(d.find(n)->loc, "evaluation '" + n + "' hides a name of guidance '" + d.name + "'",
                 "rename the evaluation");
  return names;
}

/// The statements of a combine block: assignments, return, and `if` on
/// the guidance's parameters (decided at compile time). Returns whether
/// every path returns.
bool Checker::checkCombine(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> env,
                           const ast::Item &c, const ast::Decl &d) {
  for (const auto &st : body) {
    Ty t = typeOf(*st.value, env);
    if (st.kind == ast::Stmt::Return) {
      if (t != Ty::Field && t != Ty::Error)
        diag.error(st.value->loc,
                   "the combine rule must give a tensor, not " + std::string(tyName(t)),
                   "combine the model evaluations 'uncond' and 'cond'");
      if (&st != &body.back())
        diag.error((&st + 1)->loc, "statement after return is never run", "remove it");
      return true;
    }
    if (st.kind == ast::Stmt::If) {
      bool onParams = !ast::anyOf(*st.value, [&](const ast::Expr &x) {
        return x.kind == ast::Expr::Ident &&
               std::none_of(d.params.begin(), d.params.end(),
                            [&](const ast::Param &p) { return p.name == x.name; });
      });
      if (t != Ty::Bool && t != Ty::Error)
        diag.error(st.value->loc,
                   "the condition of 'if' must be a comparison, not " + std::string(tyName(t)));
      else if (t == Ty::Bool && !onParams)
        diag.error(st.value->loc, "a combine rule branches on its parameters only",
                   "to guide only at some times, add active(t) = <condition on t>");
      bool rThen = checkCombine(st.thenBody, env, c, d);
      bool rElse = checkCombine(st.elseBody, env, c, d);
      if (rThen && rElse && st.hasElse)
        return true;
      // Names assigned in a branch keep their type after it (a parameter
      // condition picks one branch, and both must type the name alike).
      continue;
    }
    if (t == Ty::Bool)
      diag.error(st.value->loc, "a condition cannot be stored in a variable");
    else if (std::find(c.params.begin(), c.params.end(), st.name) != c.params.end())
      diag.error(st.loc, "cannot assign to '" + st.name + "', an argument", "use a new name");
    else if (guidanceState_.count(st.name) && t != Ty::Field && t != Ty::Error)
      diag.error(st.value->loc,
                 "state '" + st.name + "' is a tensor, but this is " + std::string(tyName(t)),
                 "assign it a tensor (the state keeps one value per element)");
    else if (!guidanceState_.count(st.name))
      env[st.name] = t;
  }
  return false;
}

} // namespace diffuse::sema
