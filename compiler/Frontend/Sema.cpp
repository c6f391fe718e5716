//===- Sema.cpp - semantic checks ------------------------------------------===//
//
// checkModule: every declaration's kind, keys, names and expression types
// (scalar, tensor, time point or condition) are checked; each error says
// what to do. Resolving a sampler into a SamplerPlan is Plan.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <cmath>
#include <functional>
#include <set>

namespace diffuse {
namespace {

const std::vector<std::string> kKinds = {"process", "model", "guidance", "solver", "sampler",
                                         "train"};
const std::vector<std::string> kMathFns = {"exp",  "log",   "sqrt",  "sin", "cos", "tan",  "tanh",
                                           "expm1", "log1p", "abs", "min", "max", "floor",
                                           "f32"};
const std::vector<std::string> kPrimitives = {"denoise", "eps",   "pf_ode", "score",
                                              "alpha",   "sigma",  "lambda", "dlambda", "drift",
                                              "diffusion2", "noise", "at",   "at_lambda",
                                              "posterior_mean", "posterior_std",
                                              "log_variance", "eps_uncond", "denoise_uncond"};
/// Reductions over each sample's elements: one value per sample.
const std::vector<std::string> kReductions = {"sum", "mean", "std", "norm", "dot", "quantile",
                                              "batch_mean"};

enum class Ty { Scalar, Field, Sample, Time, Bool, Error };

const char *tyName(Ty t) {
  switch (t) {
  case Ty::Scalar: return "a scalar";
  case Ty::Field: return "a tensor";
  case Ty::Sample: return "a per-sample scalar";
  case Ty::Time: return "a time point";
  case Ty::Bool: return "a condition";
  default: return "an error";
  }
}

class Checker {
public:
  Checker(const ast::Module &m, DiagEngine &diag) : m(m), diag(diag) {}

  bool run() {
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
        diag.error(d.nameLoc, "'" + d.name + "' is declared twice",
                   "rename one of the declarations");
        diag.note(it->second->nameLoc, "first declared here");
        continue;
      }
      if (d.kind == "process") checkProcess(d);
      else if (d.kind == "model") checkModel(d);
      else if (d.kind == "guidance") checkGuidance(d);
      else if (d.kind == "solver") checkSolver(d);
      else if (d.kind == "train") checkTrain(d);
      solverModels_.clear();
    }
    return diag.errorCount() == 0;
  }

private:
  void checkKeys(const ast::Decl &d, const std::vector<std::string> &keys,
                 const std::vector<std::string> &funcs, bool anyFunc) {
    std::set<std::string> seen;
    for (const auto &it : d.items) {
      if (!seen.insert(it.name).second) {
        diag.error(it.loc, "'" + it.name + "' is given twice in " + d.kind + " '" + d.name + "'",
                   "remove one of them");
        continue;
      }
      // A guidance's other settings are its evaluations, NAME = MODEL(COND).
      bool ok = it.kind == ast::Item::Set     ? contains(keys, it.name) ||
                                                (d.kind == "guidance" &&
                                                 it.value->kind == ast::Expr::Call)
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

  void checkProcess(const ast::Decl &d) {
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
        diag.error((alpha ? alpha : sigma ? sigma : drift ? drift : diffusion)->loc,
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
      diag.error(z->loc, "zero_terminal_snr rescales a beta table, but '" + d.name +
                             "' has none",
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
        diag.error(d.nameLoc, "process '" + d.name + "' defines no " +
                                  std::string(!drift ? "drift(t)" : "diffusion(t)"),
                   "an SDE dx = drift(t) x dt + diffusion(t) dW needs both; write drift(t) = 0 "
                   "for a variance-exploding one");
        return;
      }
    } else if (!alpha || !sigma) {
      diag.error(d.nameLoc, "process '" + d.name + "' defines no " +
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
    for (const auto &[name, it] : funcs) {
      if (it->params.size() != 1) {
        diag.error(it->loc, "'" + name + "' must take exactly one argument, the time",
                   "write " + name + "(t) = ...");
        continue;
      }
      std::vector<std::string> stack{name};
      checkScalarExpr(*it->value, it->params[0], params, funcs, stack);
    }
  }

  void checkScalarExpr(const ast::Expr &e, const std::string &tvar,
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
        cands.push_back(tvar);
        diag.error(e.loc, "unknown name '" + e.name + "'",
                   didYouMean(e.name, cands).empty() ? "a time function may use its argument '" +
                                                           tvar + "' and the process parameters"
                                                     : didYouMean(e.name, cands));
      }
      return;
    case ast::Expr::Not:
      diag.error(e.loc, "conditions are not allowed in a time function");
      return;
    case ast::Expr::Neg:
    case ast::Expr::Binary:
      if (e.kind == ast::Expr::Binary && std::string("<>lgen&|").find(e.op) != std::string::npos) {
        diag.error(e.loc, "conditions are not allowed in a time function",
                   "write alpha(t) and sigma(t) as one formula over the domain");
        return;
      }
      for (auto &o : e.ops)
        checkScalarExpr(*o, tvar, params, funcs, stack);
      return;
    case ast::Expr::List:
      diag.error(e.loc, "a list is not a number", "write a scalar expression");
      return;
    case ast::Expr::Call: {
      for (auto &a : e.args)
        checkScalarExpr(*a.value, tvar, params, funcs, stack);
      if (contains(kMathFns, e.name)) {
        size_t want = (e.name == "min" || e.name == "max") ? 2 : 1;
        if (e.args.size() != want)
          diag.error(e.loc, "'" + e.name + "' takes " + std::to_string(want) + " argument" +
                                (want > 1 ? "s" : "") + ", got " + std::to_string(e.args.size()));
        return;
      }
      auto it = funcs.find(e.name);
      if (it == funcs.end()) {
        std::vector<std::string> cands = kMathFns;
        for (auto &[n, _] : funcs)
          cands.push_back(n);
        diag.error(e.loc, "unknown function '" + e.name + "'", didYouMean(e.name, cands));
        return;
      }
      if (e.args.size() != 1) {
        diag.error(e.loc, "'" + e.name + "' takes 1 argument, got " +
                              std::to_string(e.args.size()));
        return;
      }
      if (contains(stack, e.name)) {
        if (reportedCycles.count(e.name))
          return;
        for (auto it = std::find(stack.begin(), stack.end(), e.name); it != stack.end(); ++it)
          reportedCycles.insert(*it);
        diag.error(e.loc, "'" + e.name + "' is defined in terms of itself (" +
                              joinNames(stack) + " -> " + e.name + ")",
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

  void checkModel(const ast::Decl &d) {
    checkKeys(d, {"predicts", "time", "cond", "variance"}, {}, false);
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
    if (const ast::Item *c = d.find("cond")) {
      const ast::Expr &e = *c->value;
      if (e.kind != ast::Expr::Ident || (e.name != "class" && e.name != "none"))
        diag.error(e.loc, "unknown conditioning", "use cond = class (a class label per sample)"
                                                  " or cond = none");
    }
    if (const ast::Item *v = d.find("variance")) {
      const ast::Expr &e = *v->value;
      if (e.kind != ast::Expr::Ident || (e.name != "learned_range" && e.name != "fixed"))
        diag.error(e.loc, "unknown variance",
                   "use variance = learned_range (the network also returns v in [-1, 1], "
                   "interpolating the step's log variance, Nichol & Dhariwal 2021) or fixed");
      else if (e.name == "learned_range" && p && p->value->kind == ast::Expr::Ident &&
               (p->value->name == "class_grad" || p->value->name == "degradation"))
        diag.error(e.loc, "a " + p->value->name + " model has no variance",
                   "learned variance belongs to a model of the data (eps, x0, v, ...)");
    }
    // The parameters after x are named conditioning inputs: a tensor per
    // sample, such as a text embedding (Note [Conditioning inputs]).
    for (const auto &prm : d.params) {
      if (prm.name == "x")
        continue;
      if (prm.defaultValue)
        diag.error(prm.loc, "conditioning input '" + prm.name + "' has a default",
                   "remove '= ...'; the caller gives each input (diffuse run --cond " +
                       prm.name + "=FILE.npy)");
      else if ((prm.type != "f32" && prm.type != "f64") || prm.shape.empty())
        diag.error(prm.loc,
                   "conditioning input '" + prm.name + "' needs an element type and a shape",
                   "write " + prm.name + ": f32[77, 768] (f32 or f64, the shape of one "
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
  void checkTrain(const ast::Decl &d) {
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
                     form->args.empty() ? std::string(form->name) + " takes no arguments"
                                        : std::string(form->name) + " takes " +
                                              joinNames(form->args));
    };
    checkForm(d.find("time"),
              {{"uniform", {}}, {"logit_normal", {"mean", "std"}},
               {"log_normal", {"mean", "std"}}, {"importance", {}}},
              "time distribution",
              "use uniform, logit_normal(mean = 0, std = 1), log_normal(mean = -1.2, std = 1.2) "
              "or importance");
    checkForm(d.find("weight"),
              {{"uniform", {}}, {"snr", {}}, {"min_snr", {"gamma"}}, {"truncated_snr", {}},
               {"edm", {"sigma_data"}}, {"likelihood", {}}},
              "loss weighting",
              "use uniform, snr, min_snr(gamma = 5), truncated_snr, edm(sigma_data = 0.5) or "
              "likelihood");
  }

  /// The parameters of a guidance or solver declared `NAME: model` (the
  /// sampler binds them to model declarations); reports a default on one, or
  /// a parameter of any other type.
  std::vector<std::string> modelParams(const ast::Decl &d) {
    std::vector<std::string> out;
    for (const auto &p : d.params) {
      if (p.type == "model") {
        if (p.defaultValue)
          diag.error(p.defaultValue->loc, "a model parameter has no default",
                     "remove '= ...'; the sampler names the model: " + d.name + "(" + p.name +
                         " = <model>)");
        out.push_back(p.name);
      } else if (!p.type.empty()) {
        diag.error(p.loc, "a " + d.kind + " parameter is a number or a model, not '" + p.type +
                              "'",
                   "write " + p.name + " = <default> or " + p.name + ": model");
      }
    }
    return out;
  }

  void checkGuidance(const ast::Decl &d) {
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
      for (const std::string &e : evals.empty() ? std::vector<std::string>{"uncond", "cond"}
                                                : evals)
        env[e] = Ty::Field;
      env["t"] = Ty::Time;
    } else if (c->params.size() < n || c->params.size() > n + 1) {
      std::string what = evals.empty()
                             ? "the unconditional and the conditional output"
                             : "the " + std::to_string(n) + " evaluations (" + joinNames(evals) + ")";
      diag.error(c->loc, "combine takes " + what + ", and optionally the time, got " +
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
          diag.error(st->loc, "state variable '" + n + "' clashes with another name",
                     "rename it");
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
        diag.error(a->loc, "active takes the time of the network call, got " +
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
  std::vector<std::string> checkEvaluations(const ast::Decl &d) {
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
        diag.error(e.args.empty() ? e.loc : e.args[0].value->loc,
                   "an evaluation takes one condition",
                   "write " + e.name + "(none) (unconditional), " + e.name +
                       "(cond) (the class labels) or " + e.name + "(cond(1)) (label set 1)");
    }
    for (const std::string &n : names)
      if (n == "t" || std::any_of(d.params.begin(), d.params.end(),
                                  [&](const ast::Param &p) { return p.name == n; }))
        diag.error(d.find(n)->loc, "evaluation '" + n + "' hides a name of guidance '" +
                                       d.name + "'",
                   "rename the evaluation");
    return names;
  }

  /// The statements of a combine block: assignments, return, and `if` on
  /// the guidance's parameters (decided at compile time). Returns whether
  /// every path returns.
  bool checkCombine(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> env,
                    const ast::Item &c, const ast::Decl &d) {
    for (const auto &st : body) {
      Ty t = typeOf(*st.value, env);
      if (st.kind == ast::Stmt::Return) {
        if (t != Ty::Field && t != Ty::Error)
          diag.error(st.value->loc, "the combine rule must give a tensor, not " +
                                        std::string(tyName(t)),
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
          diag.error(st.value->loc, "the condition of 'if' must be a comparison, not " +
                                        std::string(tyName(t)));
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
        diag.error(st.value->loc, "state '" + st.name + "' is a tensor, but this is " +
                                      std::string(tyName(t)),
                   "assign it a tensor (the state keeps one value per element)");
      else if (!guidanceState_.count(st.name))
        env[st.name] = t;
    }
    return false;
  }

  void checkSolver(const ast::Decl &d) {
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
          fenv[p.name] = Ty::Scalar;
      for (const auto &p : it->params)
        fenv[p] = Ty::Scalar;
      funcStack_ = {name};
      Ty t = typeOf(*it->value, fenv);
      if (t != Ty::Scalar && t != Ty::Error)
        diag.error(it->value->loc, "a solver function must give a scalar, not " +
                                       std::string(tyName(t)));
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
      diag.error(step->loc, "step takes 3 arguments (state, current time, next time), got " +
                                std::to_string(step->params.size()),
                 "write step(x, s, t)");
      return;
    }
    if (const ast::Item *c = d.find("coords"))
      checkCoords(*c->value, diag);
    std::map<std::string, Ty> env = {{step->params[0], Ty::Field},
                                     {step->params[1], Ty::Time},
                                     {step->params[2], Ty::Time},
                                     {"first", Ty::Bool},
                                     {"last", Ty::Bool},
                                     {"index", Ty::Scalar},
                                     {"steps", Ty::Scalar}};
    for (auto &p : d.params)
      if (p.type != "model")
        env[p.name] = Ty::Scalar;
    std::set<std::string> fixed = {step->params[0], step->params[1], step->params[2],
                                   "first", "last", "index", "steps"};
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
          diag.error(st->loc, "state variable '" + n + "' clashes with another name",
                     "rename it");
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
  void checkAdaptive(const ast::Expr &e) {
    const std::string usage = "write adaptive = error_control(order = 5, rtol = 1e-5, "
                              "atol = 1e-5, error = <state tensor>)";
    if (e.kind != ast::Expr::Call || e.name != "error_control") {
      std::string hint = e.kind == ast::Expr::Call ? didYouMean(e.name, {"error_control"}) : "";
      diag.error(e.loc, "an adaptive solver's controller is error_control(...)",
                 hint.empty() ? usage : hint);
      return;
    }
    const std::vector<std::string> numeric = {"order", "rtol",   "atol",     "safety",
                                              "grow",  "shrink", "max_steps"};
    const std::vector<std::string> tensors = {"error", "slope", "mid"};
    std::vector<std::string> all = numeric;
    all.insert(all.end(), tensors.begin(), tensors.end());
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
      if (contains(tensors, a.name)) {
        auto it = a.value->kind == ast::Expr::Ident ? stateTypes_.find(a.value->name)
                                                    : stateTypes_.end();
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
    if (given.count("mid") && !given.count("slope"))
      diag.error(e.loc, "dense output (mid) also needs the slope at both ends of a step",
                 "add slope = <state tensor holding pf_ode at the step's start>");
  }

  /// Whether `e` depends on solver state (directly or through a name
  /// computed from it) or on a point between grid points: neither is known
  /// before the step runs, so no condition may use them.
  bool dependsOnStep(const ast::Expr &e) {
    return ast::anyOf(e, [&](const ast::Expr &x) {
      if (x.kind == ast::Expr::Ident)
        return tainted_.count(x.name) > 0 || stateTypes_.count(x.name) > 0;
      return x.kind == ast::Expr::Call && (x.name == "at" || x.name == "at_lambda");
    });
  }

  /// Checks a statement list; returns whether every path through it returns.
  bool checkStmts(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> &env,
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
        env[s.name] = t;
      } else if (s.kind == ast::Stmt::Return) {
        returned = true;
        if (t != Ty::Field && t != Ty::Error)
          diag.error(s.value->loc, "step must return the next state (a tensor), not " +
                                       std::string(tyName(t)));
      } else {
        if (fromState)
          diag.error(s.value->loc, "the condition of 'if' depends on solver state",
                     "conditions depend on time and the step context only, so each step's "
                     "branch is chosen once, on the host");
        else if (t != Ty::Bool && t != Ty::Error)
          diag.error(s.value->loc, "the condition of 'if' must be a comparison, first or last, "
                                   "not " + std::string(tyName(t)),
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

  Ty typeOf(const ast::Expr &e, const std::map<std::string, Ty> &env) {
    switch (e.kind) {
    case ast::Expr::Number:
      return Ty::Scalar;
    case ast::Expr::Ident: {
      auto it = env.find(e.name);
      if (it != env.end())
        return it->second;
      std::vector<std::string> cands;
      for (auto &[n, _] : env)
        cands.push_back(n);
      std::string hint = didYouMean(e.name, cands);
      if (contains(kPrimitives, e.name))
        hint = "'" + e.name + "' is a function: write " + e.name + "(...)";
      diag.error(e.loc, "unknown name '" + e.name + "'", hint);
      return Ty::Error;
    }
    case ast::Expr::Neg: {
      Ty t = typeOf(*e.ops[0], env);
      if (t == Ty::Bool) {
        diag.error(e.loc, "'-' of a condition", "use 'not'");
        return Ty::Error;
      }
      return t == Ty::Time ? Ty::Scalar : t;
    }
    case ast::Expr::Not: {
      Ty t = typeOf(*e.ops[0], env);
      if (t != Ty::Bool && t != Ty::Error) {
        diag.error(e.loc, "'not' takes a condition, not " + std::string(tyName(t)));
        return Ty::Error;
      }
      return t;
    }
    case ast::Expr::Binary: {
      Ty a = typeOf(*e.ops[0], env), b = typeOf(*e.ops[1], env);
      if (a == Ty::Error || b == Ty::Error)
        return Ty::Error;
      bool logical = e.op == '&' || e.op == '|';
      bool compare = std::string("<>lgen").find(e.op) != std::string::npos;
      if (logical) {
        if (a != Ty::Bool || b != Ty::Bool) {
          diag.error(e.loc, std::string("'") + ast::opSpelling(e.op) + "' takes conditions, not " +
                                tyName(a != Ty::Bool ? a : b));
          return Ty::Error;
        }
        return Ty::Bool;
      }
      if (a == Ty::Bool || b == Ty::Bool) {
        diag.error(e.loc, std::string("'") + ast::opSpelling(e.op) + "' takes numbers, not conditions",
                   "combine conditions with 'and', 'or' and 'not'");
        return Ty::Error;
      }
      if (compare) {
        if (a == Ty::Field || b == Ty::Field || a == Ty::Sample || b == Ty::Sample) {
          diag.error(e.loc, std::string("comparisons take scalars or times, not ") +
                                (a == Ty::Field || b == Ty::Field ? "tensors"
                                                                  : "per-sample scalars"),
                     "a step's branch is chosen once per step, so it cannot depend on the state");
          return Ty::Error;
        }
        return Ty::Bool;
      }
      bool field = a == Ty::Field || b == Ty::Field;
      bool sample = a == Ty::Sample || b == Ty::Sample;
      if (e.op == '^' && (field || sample)) {
        diag.error(e.loc, std::string("'^' takes scalars, not ") +
                              (field ? "tensors" : "per-sample scalars"),
                   field ? "multiply the tensor by itself" : "multiply the value by itself");
        return Ty::Error;
      }
      // scalar / field is allowed (elementwise reciprocal scaling)
      return field ? Ty::Field : sample ? Ty::Sample : Ty::Scalar;
    }
    case ast::Expr::List:
      diag.error(e.loc, "a list cannot be used here");
      return Ty::Error;
    case ast::Expr::Call: {
      std::vector<Ty> args;
      for (auto &a : e.args) {
        if (!a.name.empty()) {
          diag.error(a.value->loc, "'" + e.name + "' takes no named arguments");
          return Ty::Error;
        }
        args.push_back(typeOf(*a.value, env));
      }
      for (Ty t : args)
        if (t == Ty::Error)
          return Ty::Error;
      auto expect = [&](std::vector<Ty> want, Ty result) -> Ty {
        if (args.size() != want.size()) {
          diag.error(e.loc, "'" + e.name + "' takes " + std::to_string(want.size()) +
                                " argument" + (want.size() != 1 ? "s" : "") + ", got " +
                                std::to_string(args.size()));
          return Ty::Error;
        }
        for (size_t i = 0; i < want.size(); ++i) {
          bool ok = args[i] == want[i] || (want[i] == Ty::Scalar && args[i] == Ty::Time);
          if (!ok) {
            diag.error(e.args[i].value->loc,
                       "argument " + std::to_string(i + 1) + " of '" + e.name + "' must be " +
                           tyName(want[i]) + ", not " + tyName(args[i]),
                       want[i] == Ty::Time ? "pass one of the step's time arguments" : "");
            return Ty::Error;
          }
        }
        return result;
      };
      static const std::vector<std::string> kStepOnly = {
          "denoise", "eps",           "pf_ode",        "score",         "noise",
          "at",      "at_lambda",     "posterior_mean", "posterior_std", "eps_uncond",
          "denoise_uncond", "log_variance"};
      if (inGuidance_ && contains(kStepOnly, e.name)) {
        diag.error(e.loc, "'" + e.name + "' cannot be used in a guidance rule",
                   "a guidance rule combines the two network outputs it is given");
        return Ty::Error;
      }
      if (e.name == "denoise" || e.name == "eps" || e.name == "pf_ode" || e.name == "score" ||
          e.name == "eps_uncond" || e.name == "denoise_uncond")
        return expect({Ty::Field, Ty::Time}, Ty::Field);
      if (e.name == "batch_mean")
        return expect({Ty::Sample}, Ty::Sample);
      if (contains(kReductions, e.name)) {
        std::vector<Ty> want = {Ty::Field};
        if (e.name == "dot") want.push_back(Ty::Field);
        if (e.name == "quantile") want.push_back(Ty::Scalar);
        return expect(want, Ty::Sample);
      }
      if (e.name == "alpha" || e.name == "sigma" || e.name == "lambda" || e.name == "dlambda" ||
          e.name == "drift" ||
          e.name == "diffusion2")
        return expect({Ty::Time}, Ty::Scalar);
      if (e.name == "noise")
        return expect({}, Ty::Field);
      if (e.name == "posterior_mean")
        return expect({Ty::Field, Ty::Field, Ty::Time, Ty::Time}, Ty::Field);
      if (e.name == "posterior_std")
        return expect({Ty::Time, Ty::Time}, Ty::Scalar);
      if (e.name == "log_variance")
        return expect({Ty::Field, Ty::Time, Ty::Time}, Ty::Field);
      if (e.name == "at" || e.name == "at_lambda")
        return expect({Ty::Scalar}, Ty::Time);
      // min, max and abs also work elementwise on tensors (x0 clamping).
      bool anyField = std::find(args.begin(), args.end(), Ty::Field) != args.end();
      bool anySample = std::find(args.begin(), args.end(), Ty::Sample) != args.end();
      if ((e.name == "min" || e.name == "max" || e.name == "abs") && (anyField || anySample)) {
        size_t n = e.name == "abs" ? 1 : 2;
        if (args.size() != n) {
          diag.error(e.loc, "'" + e.name + "' takes " + std::to_string(n) + " argument" +
                                (n != 1 ? "s" : "") + ", got " + std::to_string(args.size()));
          return Ty::Error;
        }
        for (size_t i = 0; i < n; ++i)
          if (args[i] == Ty::Bool) {
            diag.error(e.args[i].value->loc, "argument " + std::to_string(i + 1) + " of '" +
                                                 e.name + "' must be a tensor or a scalar, not " +
                                                 tyName(args[i]));
            return Ty::Error;
          }
        return anyField ? Ty::Field : Ty::Sample;
      }
      // The one-argument functions other than f32 also apply elementwise to
      // a tensor (diffuse.math; min, max and abs above).
      if (contains(kMathFns, e.name) && e.name != "f32" && anyField && args.size() == 1)
        return Ty::Field;
      if (contains(kMathFns, e.name)) {
        bool two = e.name == "min" || e.name == "max";
        Ty r = expect(two ? std::vector<Ty>{Ty::Scalar, Ty::Scalar} : std::vector<Ty>{Ty::Scalar},
                      Ty::Scalar);
        return r;
      }
      if (auto f = solverFuncs_.find(e.name); f != solverFuncs_.end()) {
        if (std::find(funcStack_.begin(), funcStack_.end(), e.name) != funcStack_.end()) {
          diag.error(e.loc, "'" + e.name + "' calls itself", "solver functions cannot recurse");
          return Ty::Error;
        }
        std::vector<Ty> want(f->second->params.size(), Ty::Scalar);
        return expect(want, Ty::Scalar);
      }
      // A model parameter of the solver: its network on a tensor at a time point.
      if (solverModels_.count(e.name))
        return expect({Ty::Field, Ty::Time}, Ty::Field);
      std::vector<std::string> cands = kPrimitives;
      cands.insert(cands.end(), kReductions.begin(), kReductions.end());
      for (auto &[n, _] : solverFuncs_)
        cands.push_back(n);
      cands.insert(cands.end(), solverModels_.begin(), solverModels_.end());
      cands.insert(cands.end(), kMathFns.begin(), kMathFns.end());
      std::string hint = didYouMean(e.name, cands);
      diag.error(e.loc, "unknown function '" + e.name + "'",
                 hint.empty() ? "a step may call: " + joinNames(cands) : hint);
      return Ty::Error;
    }
    }
    return Ty::Error;
  }

  const ast::Module &m;
  DiagEngine &diag;
  std::set<std::string> reportedCycles;
  std::map<std::string, Ty> stateTypes_;
  std::set<std::string> tainted_;
  std::map<std::string, const ast::Item *> solverFuncs_;
  std::set<std::string> solverModels_; // the solver's parameters typed `model`
  std::vector<std::string> funcStack_;
  bool inGuidance_ = false; // no network calls, noise or solver times in a combine rule
  std::set<std::string> guidanceState_; // the guidance's state tensors
};

} // namespace

void checkCoords(const ast::Expr &e, DiagEngine &diag) {
  if (e.kind != ast::Expr::Ident || (e.name != "ve" && e.name != "native" && e.name != "lambda"))
    diag.error(e.loc, "unknown coordinates",
               "use coords = native (x, t), coords = ve (x/alpha, sigma/alpha) or coords = "
               "lambda (x, log(alpha/sigma))");
}

bool checkModule(const ast::Module &m, DiagEngine &diag) { return Checker(m, diag).run(); }

} // namespace diffuse
