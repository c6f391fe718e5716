//===- Plan.cpp - resolving a sampler -------------------------------------===//
//
// planSampler: a checked sampler's references are resolved and every
// parameter is folded to a number (evalConstant), giving the SamplerPlan
// that MLIRGen lowers.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"
#include "diffuse/special.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <sstream>

namespace diffuse {

bool evalConstant(const ast::Expr &e, const std::map<std::string, double> &env, DiagEngine &diag,
                  double &out) {
  switch (e.kind) {
  case ast::Expr::Number:
    out = e.number;
    return true;
  case ast::Expr::Ident: {
    auto it = env.find(e.name);
    if (it == env.end()) {
      diag.error(e.loc, "'" + e.name + "' is not a known constant", "write a number");
      return false;
    }
    out = it->second;
    return true;
  }
  case ast::Expr::Neg:
    if (!evalConstant(*e.ops[0], env, diag, out))
      return false;
    out = -out;
    return true;
  case ast::Expr::Binary: {
    double a, b;
    if (!evalConstant(*e.ops[0], env, diag, a) || !evalConstant(*e.ops[1], env, diag, b))
      return false;
    switch (e.op) {
    case '+': out = a + b; break;
    case '-': out = a - b; break;
    case '*': out = a * b; break;
    case '/': out = a / b; break;
    case '^': out = std::pow(a, b); break;
    default:
      diag.error(e.loc, "expected a number, not a condition");
      return false;
    }
    return true;
  }
  default:
    diag.error(e.loc, "expected a number");
    return false;
  }
}

std::string fmtNum(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

/// Evaluates a scalar function body of declaration `p` (a process's alpha(t),
/// a grid's t(i)): numbers, parameters, the argument, arithmetic, math
/// functions and the declaration's own functions.
/// NaN for anything else (Sema has rejected it already).
/// `budget` bounds the work (helper functions calling each other twice at
/// each of many levels would take exponential time): at 0 it gives NaN.
double evalDeclExpr(const ast::Decl &p, const ast::Expr &e,
                    const std::map<std::string, double> &env, long &budget, int depth,
                    const rt::TableSigmas *table) {
  if (depth > 64 || --budget < 0)
    return NAN;
  auto ev = [&](const ast::Expr &x) { return evalDeclExpr(p, x, env, budget, depth, table); };
  switch (e.kind) {
  case ast::Expr::Number: return e.number;
  case ast::Expr::Ident: {
    auto it = env.find(e.name);
    return it == env.end() ? NAN : it->second;
  }
  case ast::Expr::Neg: return -ev(*e.ops[0]);
  case ast::Expr::Not: { // a where's condition: 1 or 0
    double a = ev(*e.ops[0]);
    return std::isnan(a) ? NAN : a == 0;
  }
  case ast::Expr::Binary: {
    double a = ev(*e.ops[0]), b = ev(*e.ops[1]);
    if (std::string("<>lgen&|").find(e.op) != std::string::npos && (std::isnan(a) || std::isnan(b)))
      return NAN; // a condition on NaN is an error at the grid point, not a branch
    switch (e.op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return a / b;
    case '^': return std::pow(a, b);
    case '<':
      return a < b;
    case '>':
      return a > b;
    case 'l':
      return a <= b;
    case 'g':
      return a >= b;
    case 'e':
      return a == b;
    case 'n':
      return a != b;
    case '&':
      return a != 0 && b != 0;
    case '|':
      return a != 0 || b != 0;
    default: return NAN;
    }
  }
  case ast::Expr::Call: {
    const std::string &f = e.name;
    if (f == "where" && e.args.size() == 3) { // only the branch it picks
      double c = ev(*e.args[0].value);
      return std::isnan(c) ? NAN : ev(*e.args[c != 0 ? 1 : 2].value);
    }
    std::vector<double> args;
    for (const auto &a : e.args)
      args.push_back(ev(*a.value));
    if (args.size() == 1) {
      double x = args[0];
      if (f == "exp") return std::exp(x);
      if (f == "log") return std::log(x);
      if (f == "sqrt") return std::sqrt(x);
      if (f == "sin") return std::sin(x);
      if (f == "cos") return std::cos(x);
      if (f == "tan") return std::tan(x);
      if (f == "tanh") return std::tanh(x);
      if (f == "atan") return std::atan(x);
      if (f == "expm1") return std::expm1(x);
      if (f == "log1p") return std::log1p(x);
      if (f == "abs") return std::fabs(x);
      if (f == "floor") return std::floor(x);
      if (f == "f32") return (double)(float)x;
      // numpy's and torch's round: to the nearest integer, ties to even.
      if (f == "round") return std::nearbyint(x);
      if (f == "table_sigma") return table ? table->sigmaAt(x) : NAN;
      if (f == "table_t") return table ? table->timeAt(x) : NAN;
      if (f == "table_index")
        return table ? (double)table->nearestAt(x) : NAN;
    }
    if (args.size() == 2 && f == "min") return std::min(args[0], args[1]);
    if (args.size() == 2 && f == "max") return std::max(args[0], args[1]);
    if (args.size() == 3 && f == "beta_ppf")
      return rt::betaQuantile(args[0], args[1], args[2]);
    const ast::Item *fn = p.find(f);
    if (!fn || fn->kind != ast::Item::Func || fn->params.size() != args.size())
      return NAN;
    std::map<std::string, double> inner = env;
    for (size_t i = 0; i < args.size(); ++i)
      inner[fn->params[i]] = args[i];
    return evalDeclExpr(p, *fn->value, inner, budget, depth + 1, table);
  }
  default: return NAN;
  }
}

namespace {

/// Binds a declaration's parameters: defaults, then the call's arguments.
/// A parameter typed `model` (a guidance's) takes a model's name: into
/// `models` when given.
bool bindParams(const ast::Decl &d, const ast::Expr *call, DiagEngine &diag,
                std::map<std::string, double> &out,
                std::map<std::string, const ast::Expr *> *models = nullptr,
                std::map<std::string, std::vector<double>> *lists = nullptr) {
  // A list parameter (a solver's, `disable = [0, 3]`): its constant values.
  auto bindList = [&](const ast::Param &p, const ast::Expr &e) {
    if (!lists) {
      diag.error(e.loc, "a list parameter belongs to a solver; " + d.kind + " '" + d.name +
                            "' takes numbers");
      return false;
    }
    std::vector<double> vals;
    for (const auto &op : e.ops) {
      double v;
      if (!evalConstant(*op, out, diag, v))
        return false;
      vals.push_back(v);
    }
    (*lists)[p.name] = std::move(vals);
    return true;
  };
  for (const auto &p : d.params)
    if (p.defaultValue && p.type != "model") {
      if (p.defaultValue->kind == ast::Expr::List) {
        if (!bindList(p, *p.defaultValue))
          return false;
        continue;
      }
      double v;
      if (!evalConstant(*p.defaultValue, out, diag, v))
        return false;
      out[p.name] = v;
    }
  if (call && call->kind == ast::Expr::Call) {
    size_t pos = 0;
    for (const auto &a : call->args) {
      std::string name = a.name;
      if (name.empty()) {
        if (pos >= d.params.size()) {
          diag.error(a.value->loc, "too many arguments for " + d.kind + " '" + d.name + "'");
          return false;
        }
        name = d.params[pos++].name;
      }
      bool known = false;
      std::vector<std::string> names;
      for (const auto &p : d.params) {
        known |= p.name == name;
        names.push_back(p.name);
      }
      if (!known) {
        diag.error(a.value->loc, d.kind + " '" + d.name + "' has no parameter '" + name + "'",
                   didYouMean(name, names));
        return false;
      }
      auto prm = std::find_if(d.params.begin(), d.params.end(),
                              [&](const ast::Param &p) { return p.name == name; });
      if (prm->type == "model" && models) {
        (*models)[name] = a.value.get();
        continue;
      }
      const bool listParam = prm->defaultValue && prm->defaultValue->kind == ast::Expr::List;
      if (listParam != (a.value->kind == ast::Expr::List)) {
        diag.error(a.value->loc,
                   listParam
                       ? "parameter '" + name + "' of " + d.kind + " '" + d.name + "' is a list"
                       : "parameter '" + name + "' of " + d.kind + " '" + d.name +
                             "' is a number, not a list",
                   listParam ? "write " + name + " = [...], e.g. [] or [0, 3]"
                             : "write " + name + " = <number>");
        return false;
      }
      if (listParam) {
        if (!bindList(*prm, *a.value))
          return false;
        continue;
      }
      double v;
      if (!evalConstant(*a.value, {}, diag, v))
        return false;
      out[name] = v;
    }
  }
  for (const auto &p : d.params)
    if (!out.count(p.name) && p.type.empty() && !(lists && lists->count(p.name))) {
      diag.error(call ? call->loc : d.nameLoc,
                 "parameter '" + p.name + "' of " + d.kind + " '" + d.name + "' has no value",
                 "give it a default in the declaration or pass " + p.name + " = ...");
      return false;
    }
  return true;
}

/// The declaration a sampler setting names, checked for its kind.
const ast::Decl *refDecl(const ast::Module &m, const ast::Decl &sampler, const std::string &key,
                         const std::string &kind, DiagEngine &diag, const ast::Expr **callOut) {
  const ast::Item *it = sampler.find(key);
  if (!it) {
    diag.error(sampler.nameLoc, sampler.kind + " '" + sampler.name + "' names no " + key,
               "add " + key + " = <name of a " + kind + ">");
    return nullptr;
  }
  const ast::Expr &e = *it->value;
  if (e.kind != ast::Expr::Ident && e.kind != ast::Expr::Call) {
    diag.error(e.loc, key + " must name a " + kind);
    return nullptr;
  }
  const ast::Decl *d = findDecl(m, e.name);
  if (!d || d->kind != kind) {
    std::vector<std::string> cands;
    for (const auto &x : m.decls)
      if (x.kind == kind)
        cands.push_back(x.name);
    std::string msg = d ? "'" + e.name + "' is a " + d->kind + ", not a " + kind
                        : "unknown " + kind + " '" + e.name + "'";
    std::string hint = didYouMean(e.name, cands);
    diag.error(e.loc, msg, hint.empty() && !cands.empty() ? "known: " + joinNames(cands) : hint);
    return nullptr;
  }
  if (callOut)
    *callOut = &e;
  return d;
}

} // namespace

/// Whether any statement or helper function of `solver` calls one of `names`.
static bool solverCalls(const ast::Decl &solver, const std::vector<std::string> &names) {
  auto calls = [&](const ast::Expr &e) {
    return ast::anyOf(e, [&](const ast::Expr &x) {
      return x.kind == ast::Expr::Call && contains(names, x.name);
    });
  };
  std::function<bool(const std::vector<ast::Stmt> &)> inBody =
      [&](const std::vector<ast::Stmt> &body) {
        for (const auto &s : body)
          if ((s.value && calls(*s.value)) || inBody(s.thenBody) || inBody(s.elseBody))
            return true;
        return false;
      };
  for (const auto &it : solver.items)
    if ((it.value && calls(*it.value)) || inBody(it.body))
      return true;
  return false;
}

/// Sampling starts where the grid does. Where alpha = 0 there (a flow's
/// t = 1, zero terminal SNR), ve coordinates (x/alpha, sigma/alpha), lambda
/// coordinates (time log(alpha/sigma)) and x0
/// from an eps, score or edm model are infinite: an error here instead of
/// NaN samples.
static bool checkStart(const SamplerPlan &plan, DiagEngine &diag) {
  const ast::Decl &p = *plan.process;
  const ast::Item *a = p.find("alpha"), *s = p.find("sigma");
  if (plan.processKind != "path" || !a || !s || a->params.size() != 1 || s->params.size() != 1)
    return true;
  long budget = 100000;
  auto eval = [&](const ast::Item *f, double t) {
    std::map<std::string, double> env = plan.processParams;
    env[f->params[0]] = t;
    return evalDeclExpr(p, *f->value, env, budget);
  };
  double start;
  if (plan.grid.kind == "list" && !plan.grid.times.empty())
    start = plan.grid.times.front();
  else if (plan.grid.args.count("from"))
    start = plan.grid.args.at("from");
  else // the noisier end of the domain
    start = eval(s, plan.tMax) * eval(a, plan.tMin) >= eval(s, plan.tMin) * eval(a, plan.tMax)
                ? plan.tMax
                : plan.tMin;
  if (eval(a, start) != 0 || budget < 0)
    return true;
  const ast::Item *grid = plan.sampler->find("grid");
  std::string where = "alpha(t) = 0 at t = " + fmtNum(start) + ", where sampling starts";
  std::string startEarlier = "start the grid before alpha reaches 0 (e.g. uniform(steps = 20, "
                             "from = " + fmtNum(start > plan.tMin ? 0.999 * start : 0.001) + "))";
  if (plan.coords == "ve") {
    diag.error(grid->value->loc, "ve coordinates need alpha > 0, but " + where,
               "the solver's state x/alpha and time sigma/alpha are infinite there; use coords "
               "= native with a v or velocity model, or " + startEarlier);
    return false;
  }
  if (plan.coords == "lambda") {
    diag.error(grid->value->loc, "lambda coordinates need alpha > 0, but " + where,
               "the solver's time log(alpha/sigma) is -infinity there; use coords = native "
               "with a v or velocity model, or " + startEarlier);
    return false;
  }
  const std::string &pred = plan.modelPlan.predicts;
  if ((pred == "eps" || pred == "score" || pred == "edm") &&
      solverCalls(*plan.solver, {"denoise", "pf_ode"})) {
    const ast::Item *pi = plan.model->find("predicts");
    diag.error(pi->value->loc,
               "model '" + plan.model->name + "' predicts " + pred + ", but " + where +
                   ": the solver's x0 (and the probability-flow ODE) divide by alpha there",
               "use a model that predicts v or velocity (finite where alpha = 0, as "
               "zero-terminal-SNR models are trained), or " + startEarlier);
    return false;
  }
  return true;
}

/// The declaration of `kind` named `name` (the last one when empty), or an
/// error located at the command-line option that names it.
static const ast::Decl *findNamed(const ast::Module &m, const std::string &kind,
                                  const std::string &name, const std::string &what,
                                  const std::string &option, const std::string &addHint,
                                  DiagEngine &diag) {
  const ast::Decl *found = nullptr;
  std::vector<std::string> names;
  for (const auto &d : m.decls)
    if (d.kind == kind) {
      names.push_back(d.name);
      if (name.empty() || d.name == name)
        found = &d;
    }
  if (found)
    return found;
  if (names.empty())
    diag.error(Loc{"<spec>", 0, 0}, "the spec declares no " + what, addHint);
  else
    diag.error(Loc{option, 0, 0}, "no " + what + " named '" + name + "'",
               didYouMean(name, names).empty() ? "known: " + joinNames(names)
                                               : didYouMean(name, names));
  return nullptr;
}

/// A model declaration, for the process `plan` has resolved.
bool planModel(const ast::Decl &md, const SamplerPlan &plan, DiagEngine &diag,
               ModelPlan &mp) {
  const ast::Decl &p = *plan.process;
  mp.decl = &md;
  const ast::Expr &pred = *md.find("predicts")->value;
  mp.predicts = pred.name;
  mp.timeEncoding = plan.processKind == "discrete" ? "index" : "t";
  if (mp.predicts == "edm") {
    for (const auto &a : pred.args)
      if (a.name == "sigma_data" && !evalConstant(*a.value, {}, diag, mp.sigmaData))
        return false;
    if (!(mp.sigmaData > 0)) {
      diag.error(pred.loc, "sigma_data must be > 0 (here " + fmtNum(mp.sigmaData) + ")",
                 "sigma_data is the data's standard deviation (0.5 in EDM)");
      return false;
    }
    mp.timeEncoding = "c_noise";
  }
  if (const ast::Item *t = md.find("time")) {
    mp.timeEncoding = t->value->name;
    if (t->value->kind == ast::Expr::Call &&
        (!evalConstant(*t->value->args[0].value, {}, diag, mp.timeScale) ||
         (t->value->args.size() > 1 &&
          !evalConstant(*t->value->args[1].value, {}, diag, mp.timeOffset))))
      return false;
  }
  if (const ast::Item *td = md.find("time_dtype"))
    mp.timeF32 = td->value->name == "f32";
  if (const ast::Item *c = md.find("cond"))
    mp.labels = c->value->name == "class";
  if (const ast::Item *v = md.find("variance"))
    mp.learnedVariance = v->value->name == "learned_range";
  for (const auto &prm : md.params)
    if (prm.name == "x") {
      mp.shape = prm.shape;
      if (!prm.type.empty())
        mp.dtype = prm.type;
    } else {
      mp.inputs.push_back({prm.name, prm.type, prm.shape});
    }
  mp.conditional = mp.labels || !mp.inputs.empty();
  if (mp.dtype != "f64" && mp.dtype != "f32") {
    diag.error(md.nameLoc, "unknown element type '" + mp.dtype + "'", "use f64 or f32");
    return false;
  }
  if (mp.timeEncoding == "index" && !plan.interpolate.empty()) {
    diag.error(md.find("time") ? md.find("time")->value->loc : md.nameLoc,
               "time = index needs integer timesteps, but '" + p.name +
                   "' interpolates in continuous time",
               "use time = scaled(1000, -1) (DPM-Solver's discrete model wrapper)");
    return false;
  }
  if (mp.timeEncoding == "index" && plan.processKind != "discrete") {
    diag.error(md.find("time")->value->loc,
               "time = index needs a discrete process, but '" + p.name + "' is a Gaussian path",
               "use time = t or time = scaled(1000)");
    return false;
  }
  return true;
}

/// The process and the model of a sampler or training spec (resolved and
/// their parameters bound): their kinds, domain, checks and time encoding.
static bool planProcessAndModel(SamplerPlan &plan, DiagEngine &diag) {
  if (!planProcess(plan, diag))
    return false;
  const ast::Decl &p = *plan.process;

  // Model.
  ModelPlan mp;
  if (!planModel(*plan.model, plan, diag, mp))
    return false;
  plan.modelPlan = mp;
  if (plan.zeroTerminalSnr &&
      (plan.modelPlan.predicts == "eps" || plan.modelPlan.predicts == "score" || plan.modelPlan.predicts == "edm")) {
    diag.error(plan.model->find("predicts")->value->loc,
               "model '" + plan.model->name + "' predicts " + plan.modelPlan.predicts + ", but '" + p.name +
                   "' has zero terminal SNR: at its last timestep alpha = 0 and x0 cannot be "
                   "recovered from " + plan.modelPlan.predicts,
               "use a model that predicts v (as Lin et al. 2024 train them) or x0");
    return false;
  }
  if (plan.modelPlan.predicts == "degradation") {
    diag.error(plan.model->find("predicts")->value->loc,
               "model '" + plan.model->name +
                   "' is a degradation operator: a solver can call it, but it cannot be a "
                   "sampler's model",
               "give it to a solver that takes a model parameter (solver = cold(D = " +
                   plan.model->name + ")) and give the sampler a restoration model");
    return false;
  }
  if (plan.modelPlan.predicts == "class_grad") {
    diag.error(plan.model->find("predicts")->value->loc,
               "model '" + plan.model->name +
                   "' predicts a classifier's gradient: it can guide a sampler, not be its "
                   "model",
               "use it in a guidance rule (a parameter `classifier: model`) and give the "
               "sampler a model of the data");
    return false;
  }
  return true;
}

bool planSampler(const ast::Module &m, const std::string &name, DiagEngine &diag,
                 SamplerPlan &plan) {
  const ast::Decl *s = findNamed(m, "sampler", name, "sampler", "--sampler",
                                 "add sampler NAME { process = ... model = ... solver = ... "
                                 "grid = ... }",
                                 diag);
  if (!s)
    return false;
  plan.sampler = s;
  for (const auto &it : s->items) {
    const std::vector<std::string> keys = {"process", "model",  "solver",  "guidance",
                                           "grid",    "coords", "inpaint", "finish"};
    if (!contains(keys, it.name) || it.kind != ast::Item::Set)
      diag.error(it.loc, "'" + it.name + "' is not a setting of a sampler",
                 didYouMean(it.name, keys).empty() ? "a sampler takes: " + joinNames(keys)
                                                   : didYouMean(it.name, keys));
  }
  if (diag.errorCount())
    return false;
  const ast::Expr *pcall = nullptr, *scall = nullptr, *gcall = nullptr;
  std::map<std::string, const ast::Expr *> guideArgs; // model parameters of the guidance
  plan.process = refDecl(m, *s, "process", "process", diag, &pcall);
  plan.model = refDecl(m, *s, "model", "model", diag, nullptr);
  plan.solver = refDecl(m, *s, "solver", "solver", diag, &scall);
  if (const ast::Item *g = s->find("guidance");
      g && !(g->value->kind == ast::Expr::Ident && g->value->name == "none"))
    plan.guidance = refDecl(m, *s, "guidance", "guidance", diag, &gcall);
  if (!plan.process || !plan.model || !plan.solver || diag.errorCount())
    return false;

  std::map<std::string, const ast::Expr *> solverModelArgs; // model parameters of the solver
  if (!bindParams(*plan.process, pcall, diag, plan.processParams) ||
      !bindParams(*plan.solver, scall, diag, plan.solverParams, &solverModelArgs,
                  &plan.solverLists) ||
      (plan.guidance && !bindParams(*plan.guidance, gcall, diag, plan.guidanceParams, &guideArgs)))
    return false;

  if (!planProcessAndModel(plan, diag))
    return false;
  if (plan.guidance && !planEvaluations(m, plan, guideArgs, *s->find("guidance")->value, diag))
    return false;
  if (!planSolverModels(m, plan, solverModelArgs, *s->find("solver")->value, diag))
    return false;
  if (!plan.modelPlan.learnedVariance && solverCalls(*plan.solver, {"log_variance"})) {
    diag.error(s->find("solver")->value->loc,
               "solver '" + plan.solver->name + "' calls log_variance, but model '" +
                   plan.model->name + "' has no learned variance",
               "add variance = learned_range to model '" + plan.model->name +
                   "' (its network returns the variance channels after the prediction's), "
                   "or use a solver with a fixed variance (ddpm)");
    return false;
  }

  // Solver coordinates (the sampler may override the solver's).
  if (const ast::Item *c = plan.solver->find("coords"))
    plan.coords = c->value->name;
  if (const ast::Item *c = s->find("coords")) {
    checkCoords(*c->value, diag);
    plan.coords = c->value->name;
  }
  if (diag.errorCount())
    return false;

  if (const ast::Item *a = plan.solver->find("adaptive"))
    if (!planAdaptive(*a->value, plan, diag))
      return false;

  // Grid.
  const ast::Item *g = s->find("grid");
  if (!g) {
    diag.error(s->nameLoc, "sampler '" + s->name + "' has no time grid",
               "add grid = uniform(steps = 20) (or karras, leading, trailing, given ...)");
    return false;
  }
  if (!planGrid(m, *g->value, plan, diag, plan.grid))
    return false;
  if (!planInpaint(*s, plan, diag) || !planFinish(*s, plan, diag))
    return false;
  return checkStart(plan, diag);
}

bool planTrain(const ast::Module &m, const std::string &name, DiagEngine &diag,
               SamplerPlan &plan) {
  const ast::Decl *tr = findNamed(m, "train", name, "training spec", "--train",
                                  "add train NAME { process = ... model = ... time = uniform "
                                  "weight = uniform }",
                                  diag);
  if (!tr)
    return false;
  plan.train = tr;
  const ast::Expr *pcall = nullptr;
  plan.process = refDecl(m, *tr, "process", "process", diag, &pcall);
  plan.model = refDecl(m, *tr, "model", "model", diag, nullptr);
  if (!plan.process || !plan.model || diag.errorCount())
    return false;
  if (!bindParams(*plan.process, pcall, diag, plan.processParams))
    return false;
  if (!planProcessAndModel(plan, diag))
    return false;
  if (plan.modelPlan.learnedVariance) {
    diag.error(plan.model->find("variance")->value->loc,
               "training a learned variance is not supported: model '" + plan.model->name +
                   "' has variance = learned_range",
               "train the prediction with a model without it (the variance's L_vlb term of "
               "Nichol & Dhariwal's hybrid loss is not compiled)");
    return false;
  }

  // The named arguments of time = ... and weight = ... (Sema checked names).
  auto argOf = [&](const ast::Expr &e, const std::string &arg, double def, double &out) {
    out = def;
    for (const auto &a : e.args)
      if (a.name == arg && !evalConstant(*a.value, {}, diag, out))
        return false;
    return true;
  };
  if (const ast::Item *t = tr->find("time")) {
    const ast::Expr &e = *t->value;
    plan.trainTime = e.name;
    double defMean = e.name == "log_normal" ? -1.2 : 0, defStd = e.name == "log_normal" ? 1.2 : 1;
    if (!argOf(e, "mean", defMean, plan.timeMean) || !argOf(e, "std", defStd, plan.timeStd))
      return false;
    if (!(plan.timeStd > 0)) {
      diag.error(e.loc, "the time distribution's std must be > 0 (here " + fmtNum(plan.timeStd) +
                            ")",
                 "t is drawn through mean + std n with n standard normal");
      return false;
    }
  }
  if (const ast::Item *w = tr->find("weight")) {
    const ast::Expr &e = *w->value;
    plan.trainWeight = e.name;
    const char *arg = e.name == "min_snr" ? "gamma" : "sigma_data";
    if (!argOf(e, arg, e.name == "min_snr" ? 5 : 0.5, plan.weightParam))
      return false;
    if ((e.name == "min_snr" || e.name == "edm") && !(plan.weightParam > 0)) {
      diag.error(e.loc, std::string(arg) + " must be > 0 (here " + fmtNum(plan.weightParam) + ")",
                 e.name == "min_snr" ? "the weight is min(SNR, gamma); 5 is the paper's choice"
                                     : "sigma_data is the data's standard deviation (0.5 in EDM)");
      return false;
    }
  }
  if (plan.processKind == "discrete") {
    // A beta table: a uniform timestep index (DDPM), no derivatives.
    const ast::Item *t = tr->find("time");
    std::string why;
    const ast::Item *at = nullptr;
    if (plan.trainTime != "uniform")
      why = "time = " + plan.trainTime + " draws a continuous time", at = t;
    else if (plan.modelPlan.predicts == "velocity")
      why = "a velocity model's target needs alpha' and sigma'", at = plan.model->find("predicts");
    else if (plan.trainWeight == "likelihood")
      why = "the likelihood weighting needs alpha' and sigma'", at = tr->find("weight");
    if (at) {
      diag.error(at->value->loc, why + ", and '" + plan.process->name + "' is a beta table",
                 "a beta table trains on a uniform timestep (time = uniform) with eps, x0, v, "
                 "score or edm models; declare the process by alpha(t) and sigma(t) otherwise");
      return false;
    }
  }
  if (plan.trainTime == "importance" && plan.trainWeight != "likelihood") {
    diag.error(tr->find("time")->value->loc,
               "time = importance needs weight = likelihood",
               "importance sampling of t is derived for the likelihood weighting (t drawn "
               "uniformly in lambda); use time = uniform with other weightings");
    return false;
  }
  return true;
}

} // namespace diffuse
