//===- PlanModels.cpp - the models a sampler calls besides its own -------===//
//
// A guidance's evaluations (`NAME = MODEL(COND)`, Note [Evaluations]) and a
// solver's model parameters (cold diffusion's degradation operator, Note
// [Solver models]): each model bound through the sampler's arguments,
// planned like the sampler's model, and checked to be callable on the same
// input and time point.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <algorithm>

namespace diffuse {

/// The model declaration that the argument `args[p]` of a guidance's or a
/// solver's model parameter `p` names (`guide = small`), or null after an
/// error located at the argument (or at `at`, the call, when it is missing).
static const ast::Decl *boundModel(const ast::Module &m, const ast::Decl &owner,
                                   const std::string &p,
                                   const std::map<std::string, const ast::Expr *> &args,
                                   const ast::Expr &at, DiagEngine &diag) {
  auto a = args.find(p);
  if (a == args.end()) {
    diag.error(at.loc, owner.kind + " '" + owner.name + "' needs a model for '" + p + "'",
               "write " + owner.kind + " = " + owner.name + "(" + p + " = <name of a model>)");
    return nullptr;
  }
  const ast::Expr &e = *a->second;
  const ast::Decl *d = e.kind == ast::Expr::Ident ? findDecl(m, e.name) : nullptr;
  if (!d || d->kind != "model") {
    std::vector<std::string> cands;
    for (const auto &x : m.decls)
      if (x.kind == "model")
        cands.push_back(x.name);
    std::string hint = didYouMean(e.kind == ast::Expr::Ident ? e.name : "", cands);
    diag.error(e.loc, "'" + p + "' of " + owner.kind + " '" + owner.name + "' must name a model",
               hint.empty() ? "known models: " + joinNames(cands) : hint);
    return nullptr;
  }
  return d;
}

/// Why model `mp` cannot be called on the input the sampler's model is
/// called on, or "". Each model takes its time in its own encoding (the
/// runtime makes it from the grid point) and its own input scaling (Derive
/// scales an edm model's input by its own c_in).
static std::string differentCall(const ModelPlan &mp, const SamplerPlan &plan) {
  const ModelPlan &main = plan.modelPlan;
  const std::string &name = main.decl->name;
  if (mp.dtype != main.dtype || mp.shape != main.shape)
    return "has another input shape or element type than the sampler's model '" + name + "'";
  // The caller gives conditioning inputs by name, once for every model.
  for (const InputPlan &in : mp.inputs)
    for (const InputPlan &other : main.inputs)
      if (in.name == other.name && !(in == other))
        return "declares its input '" + in.name +
               "' with another element type or shape than the sampler's model '" + name + "'";
  return "";
}

/// The models a solver takes as parameters (`D: model`, bound by the
/// sampler's `solver = cold(D = blur)`): degradation operators the step
/// calls on a tensor and a time point, unconverted (cold diffusion).
bool planSolverModels(const ast::Module &m, SamplerPlan &plan,
                      const std::map<std::string, const ast::Expr *> &args,
                      const ast::Expr &at, DiagEngine &diag) {
  const ast::Decl &sv = *plan.solver;
  for (const auto &p : sv.params) {
    if (p.type != "model")
      continue;
    const ast::Decl *d = boundModel(m, sv, p.name, args, at, diag);
    if (!d)
      return false;
    const ast::Expr &e = *args.at(p.name);
    ModelPlan mp;
    if (!planModel(*d, plan, diag, mp))
      return false;
    std::string why = mp.predicts != "degradation"
                          ? "predicts " + mp.predicts + "; a solver calls only degradation "
                            "operators (predicts = degradation)"
                          : differentCall(mp, plan);
    if (!why.empty()) {
      diag.error(e.loc, "model '" + d->name + "' " + why,
                 mp.predicts != "degradation"
                     ? "give the solver a model declared with predicts = degradation"
                     : "a solver's models take the sampler's tensors; declare them with its "
                       "element type and shape");
      return false;
    }
    plan.solverModels[p.name] = mp;
  }
  return true;
}

/// The guidance's evaluations (Sema checked their form), their models
/// resolved through the sampler's model and the guidance's model arguments,
/// and checked to be callable together. See Note [Evaluations] in
/// docs/design.md.
bool planEvaluations(const ast::Module &m, SamplerPlan &plan,
                     const std::map<std::string, const ast::Expr *> &args,
                     const ast::Expr &at, DiagEngine &diag) {
  const ast::Decl &g = *plan.guidance;
  const ast::Decl &main = *plan.model;
  std::vector<const ast::Item *> items = guidanceEvaluations(g);
  if (const ast::Item *sp = g.find("space"))
    plan.guidanceSpace = sp->value->name;
  if (items.empty()) {
    if (!plan.modelPlan.conditional) {
      diag.error(at.loc, "guidance needs a conditional model, but model '" + main.name +
                             "' has no cond",
                 "add cond = class to model '" + main.name + "'");
      return false;
    }
    plan.evaluations = {{"uncond", &main, -1}, {"cond", &main, 0}};
    return true;
  }
  // The model each model parameter names.
  std::map<std::string, const ast::Decl *> bound;
  for (const auto &p : g.params) {
    if (p.type != "model")
      continue;
    const ast::Decl *d = boundModel(m, g, p.name, args, at, diag);
    if (!d)
      return false;
    bound[p.name] = d;
  }
  for (const ast::Item *it : items) {
    const ast::Expr &call = *it->value;
    EvalPlan ev{it->name, call.name == "model" ? &main : bound.at(call.name), -1};
    const ast::Expr &c = *call.args[0].value;
    if (c.kind == ast::Expr::Ident && c.name == "cond")
      ev.cond = 0;
    else if (c.kind == ast::Expr::Call)
      ev.cond = (int)c.args[0].value->number;
    plan.evaluations.push_back(ev);
  }
  // Every model evaluated, with what it predicts and how it takes time.
  std::map<const ast::Decl *, ModelPlan> plans;
  const ModelPlan &mainPlan = plan.modelPlan;
  plans[&main] = mainPlan;
  auto where = [&](const EvalPlan &ev) -> const ast::Expr & {
    for (const ast::Item *it : items)
      if (it->name == ev.name)
        return *it->value;
    return at;
  };
  for (const EvalPlan &ev : plan.evaluations) {
    if (!plans.count(ev.model)) {
      ModelPlan mp;
      if (!planModel(*ev.model, plan, diag, mp))
        return false;
      plans[ev.model] = mp;
      plan.guideModels.push_back(mp);
    }
    const ModelPlan &mp = plans[ev.model];
    if (ev.cond >= 0 && !mp.conditional) {
      diag.error(where(ev).loc,
                 "evaluation '" + ev.name + "' conditions model '" + ev.model->name +
                     "', which has no cond",
                 "add cond = class to model '" + ev.model->name + "', or evaluate it with none");
      return false;
    }
    if (ev.model == &main)
      continue;
    if (mp.predicts == "degradation") {
      diag.error(where(ev).loc,
                 "model '" + ev.model->name + "' is a degradation operator; a guidance rule "
                 "combines predictions",
                 "call it from a solver that takes it as a parameter (stdlib/solvers/cold.dfs)");
      return false;
    }
    // One input tensor for every model (Note [Evaluations]).
    std::string why = differentCall(mp, plan);
    if (!why.empty()) {
      diag.error(where(ev).loc, "model '" + ev.model->name + "' " + why,
                 "the models of one guidance rule are called on the same input tensor; "
                 "declare them alike");
      return false;
    }
    if (plan.guidanceSpace == "output" && mp.predicts == "edm" && plan.modelPlan.predicts == "edm" &&
        mp.sigmaData != mainPlan.sigmaData) {
      diag.error(where(ev).loc,
                 "model '" + ev.model->name + "' is preconditioned with sigma_data = " +
                     fmtNum(mp.sigmaData) + ", the sampler's model '" + main.name + "' with " +
                     fmtNum(mainPlan.sigmaData) + ": their raw outputs cannot be combined",
                 "combine them as x0 or eps: add space = x0 (or eps) to guidance '" + g.name +
                     "'");
      return false;
    }
    if (plan.guidanceSpace == "output" && mp.predicts != "class_grad" &&
        mp.predicts != plan.modelPlan.predicts) {
      diag.error(where(ev).loc,
                 "model '" + ev.model->name + "' predicts " + mp.predicts +
                     ", the sampler's model '" + main.name + "' " + plan.modelPlan.predicts +
                     ": their outputs cannot be combined as they are",
                 "combine them as x0 or eps: add space = x0 (or eps) to guidance '" + g.name +
                     "'");
      return false;
    }
    // Outside active(t) another model is not called: model(cond)'s raw
    // output stands in for its evaluations, so it must be the same quantity.
    if (g.find("active") &&
        (mp.predicts != mainPlan.predicts || mp.predicts == "class_grad" ||
         (mp.predicts == "edm" && mp.sigmaData != mainPlan.sigmaData) || mp.learnedVariance)) {
      std::string what =
          mp.learnedVariance ? "has learned variance"
          : mp.predicts == "class_grad"
              ? "is a classifier's gradient"
              : "predicts " + mp.predicts +
                    (mp.predicts == "edm" ? " with sigma_data = " + fmtNum(mp.sigmaData) : "") +
                    ", model '" + main.name + "' " + mainPlan.predicts +
                    (mainPlan.predicts == "edm" ? " with sigma_data = " + fmtNum(mainPlan.sigmaData)
                                                : "");
      diag.error(where(ev).loc,
                 "guidance '" + g.name + "' has active(t): outside it model '" + ev.model->name +
                     "' is not called and model(cond)'s output stands in for it, but it " + what,
                 mp.predicts == "class_grad"
                     ? "guide with it at every time (no active): a gradient cannot stand in "
                       "for a prediction"
                     : "guide with it at every time (no active), or declare it to predict "
                       "what '" +
                           main.name + "' predicts");
      return false;
    }
  }
  if (g.find("active") &&
      std::none_of(plan.evaluations.begin(), plan.evaluations.end(),
                   [&](const EvalPlan &ev) { return ev.model == &main && ev.cond == 0; })) {
    diag.error(g.find("active")->loc,
               "active(t) needs an evaluation model(cond): what the sampler sees outside "
               "the interval",
               "add an evaluation such as c = model(cond) to guidance '" + g.name + "'");
    return false;
  }
  return true;
}

} // namespace diffuse
