//===- PlanProcess.cpp - resolving a process -------------------------------===//
//
// planProcess: a sampler's or training spec's process (parameters already
// bound) becomes its kind, beta table or domain in the SamplerPlan, after
// the numeric checks the mathematics needs (checkPath, checkSde).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <cmath>

namespace diffuse {
namespace {

/// What the mathematics needs of a Gaussian path over its domain, checked
/// at 257 points: alpha and sigma finite and >= 0, never both 0, and the
/// noise level sigma/alpha strictly monotone (grids, inverses and every
/// solver assume one direction of time).
bool checkPath(const ast::Decl &p, const SamplerPlan &plan, DiagEngine &diag) {
  const ast::Item *a = p.find("alpha"), *s = p.find("sigma");
  if (!a || !s || a->kind != ast::Item::Func || s->kind != ast::Item::Func ||
      a->params.size() != 1 || s->params.size() != 1)
    return true; // Sema reports these
  const int N = 256;
  long budget = 4000000; // about 15 ms; past it the check is skipped, not failed
  std::vector<double> ts, ratio;
  for (int i = 0; i <= N; ++i) {
    double t = plan.tMin + (plan.tMax - plan.tMin) * i / N;
    std::map<std::string, double> env = plan.processParams;
    env[a->params[0]] = t;
    double av = evalDeclExpr(p, *a->value, env, budget);
    env.erase(a->params[0]);
    env[s->params[0]] = t;
    double sv = evalDeclExpr(p, *s->value, env, budget);
    if (budget < 0)
      return true;
    for (auto [item, v, name] : {std::tuple{a, av, "alpha"}, std::tuple{s, sv, "sigma"}}) {
      if (!std::isfinite(v) || v < 0) {
        diag.error(item->loc,
                   std::string(name) + "(t) is " + (std::isfinite(v) ? "negative" : "not finite") +
                       " at t = " + fmtNum(t) + " (" + fmtNum(v) + ")",
                   "alpha and sigma must be finite and >= 0 over the whole domain; check the "
                   "formula or narrow the domain");
        return false;
      }
    }
    if (av == 0 && sv == 0) {
      diag.error(a->loc, "alpha(t) and sigma(t) are both 0 at t = " + fmtNum(t),
                 "x_t = alpha x0 + sigma eps must keep the data or the noise");
      return false;
    }
    ts.push_back(t);
    ratio.push_back(av == 0 ? INFINITY : sv / av);
  }
  int dir = 0;
  for (int i = 1; i <= N; ++i) {
    int d = ratio[i] > ratio[i - 1] ? 1 : ratio[i] < ratio[i - 1] ? -1 : 0;
    if (d == 0 || (dir != 0 && d != dir)) {
      diag.error(s->loc,
                 "the noise level sigma/alpha is not strictly monotone over the domain: it " +
                     std::string(d == 0 ? "stays at " + fmtNum(ratio[i])
                                        : (d > 0 ? "rises" : "falls")) +
                     " between t = " + fmtNum(ts[i - 1]) + " and t = " + fmtNum(ts[i]),
                 "time must move the noise level in one direction; check the formulas or "
                 "narrow the domain");
      return false;
    }
    dir = d;
  }
  return true;
}

/// What an SDE dx = drift(t) x dt + diffusion(t) dW needs to have Gaussian
/// marginals with a strictly rising noise level: drift and diffusion finite,
/// diffusion > 0 (then (sigma/alpha)^2 = int g^2/alpha^2 rises strictly), and
/// time starting at the data, t = 0.
bool checkSde(const ast::Decl &p, const SamplerPlan &plan, DiagEngine &diag) {
  const ast::Item *f = p.find("drift"), *g = p.find("diffusion");
  if (f->kind != ast::Item::Func || g->kind != ast::Item::Func || f->params.size() != 1 ||
      g->params.size() != 1)
    return true; // Sema reports these
  if (plan.tMin < 0) {
    const ast::Item *dom = p.find("domain");
    diag.error(dom ? dom->value->loc : p.nameLoc,
               "an SDE's domain must start at t >= 0 (here " + fmtNum(plan.tMin) + ")",
               "the forward SDE starts from the data at t = 0; its marginals are integrated "
               "from there");
    return false;
  }
  const int N = 256;
  long budget = 4000000;
  for (int i = 0; i <= N; ++i) {
    double t = plan.tMin + (plan.tMax - plan.tMin) * i / N;
    for (auto [item, name] : {std::pair{f, "drift"}, std::pair{g, "diffusion"}}) {
      std::map<std::string, double> env = plan.processParams;
      env[item->params[0]] = t;
      double v = evalDeclExpr(p, *item->value, env, budget);
      if (budget < 0)
        return true;
      if (!std::isfinite(v)) {
        diag.error(item->loc,
                   std::string(name) + "(t) is not finite at t = " + fmtNum(t) + " (" +
                       fmtNum(v) + ")",
                   "drift and diffusion must be finite over the whole domain; check the "
                   "formula or narrow the domain");
        return false;
      }
      if (item == g && !(v > 0) && t > 0) {
        diag.error(item->loc,
                   "diffusion(t) is " + std::string(v < 0 ? "negative" : "0") + " at t = " +
                       fmtNum(t) + " (" + fmtNum(v) + ")",
                   "the noise level rises only where diffusion(t) > 0; write g(t) itself, not "
                   "g^2, and keep it positive over the domain");
        return false;
      }
    }
  }
  return true;
}

} // namespace

bool planProcess(SamplerPlan &plan, DiagEngine &diag) {
  const ast::Decl &p = *plan.process;
  if (const ast::Item *disc = p.find("discrete")) {
    plan.processKind = "discrete";
    plan.schedule = disc->value->name;
    const bool table = plan.schedule == "table", cosine = plan.schedule == "squaredcos_cap_v2";
    std::map<std::string, double> a = {{"train_steps", 1000}};
    if (!table && !cosine)
      a["beta_start"] = a["beta_end"] = 0;
    for (const auto &arg : disc->value->args) {
      if (table && arg.name == "betas" && arg.value->kind == ast::Expr::List) {
        for (const auto &v : arg.value->ops) {
          double beta = 0;
          if (!evalConstant(*v, plan.processParams, diag, beta))
            return false;
          if (!(beta > 0 && beta < 1)) {
            diag.error(v->loc, "a beta must be in (0, 1) (here " + fmtNum(beta) + ")",
                       "beta_n is the variance added at step n");
            return false;
          }
          plan.betas.push_back(beta);
        }
        continue;
      }
      if (!a.count(arg.name) || (table && arg.name == "train_steps")) {
        std::vector<std::string> names = {"train_steps"};
        if (a.count("beta_start"))
          names = {"beta_start", "beta_end", "train_steps"};
        diag.error(arg.value->loc, "unknown beta-table argument '" + arg.name + "'",
                   table ? "write table(betas = [beta_0, beta_1, ...])"
                         : "use " + joinNames(names));
        return false;
      }
      if (!evalConstant(*arg.value, plan.processParams, diag, a[arg.name]))
        return false;
    }
    if (table) {
      if (plan.betas.size() < 2 || plan.betas.size() > 100000) {
        diag.error(disc->value->loc, "a beta table needs 2 to 100000 betas (here " +
                                         std::to_string(plan.betas.size()) + ")",
                   "write table(betas = [beta_0, beta_1, ...])");
        return false;
      }
      a["train_steps"] = (double)plan.betas.size();
    }
    plan.betaStart = a.count("beta_start") ? a["beta_start"] : 0;
    plan.betaEnd = a.count("beta_end") ? a["beta_end"] : 0;
    plan.trainSteps = (long)a["train_steps"];
    if (!table && !cosine &&
        !(plan.betaStart > 0 && plan.betaEnd > plan.betaStart && plan.betaEnd < 1)) {
      diag.error(disc->value->loc, "beta_start and beta_end must satisfy 0 < beta_start < "
                                   "beta_end < 1");
      return false;
    }
    if (plan.trainSteps < 2 || plan.trainSteps > 100000) {
      diag.error(disc->value->loc, "train_steps must be between 2 and 100000");
      return false;
    }
    if (const ast::Item *z = p.find("zero_terminal_snr"))
      plan.zeroTerminalSnr = z->value->name == "true";
    if (const ast::Item *ip = p.find("interpolate")) {
      plan.interpolate = ip->value->name;
      if ((plan.schedule != "linear" && plan.schedule != "scaled_linear") ||
          plan.zeroTerminalSnr) {
        diag.error(ip->value->loc,
                   "interpolate = log_alpha takes a linear or scaled_linear table, not " +
                       std::string(plan.zeroTerminalSnr ? "a zero-terminal-SNR one"
                                                        : plan.schedule),
                   "DPM-Solver's continuous-time table is defined for those two; remove "
                   "interpolate to use integer timesteps");
        return false;
      }
    }
    if (const ast::Item *fa = p.find("final_alpha")) {
      if (fa->value->kind != ast::Expr::Ident ||
          (fa->value->name != "first" && fa->value->name != "one")) {
        diag.error(fa->value->loc, "final_alpha must be 'first' or 'one'",
                   "first: the last step ends at the first training timestep (diffusers "
                   "set_alpha_to_one=False); one: it ends at clean data");
        return false;
      }
      plan.finalAlpha = fa->value->name;
    }
  } else {
    plan.processKind = p.find("alpha") || p.find("sigma") ? "path" : "sde";
    if (const ast::Item *dom = p.find("domain")) {
      if (dom->value->kind != ast::Expr::List || dom->value->ops.size() != 2) {
        diag.error(dom->value->loc, "domain must be a list [t_min, t_max]");
        return false;
      }
      if (!evalConstant(*dom->value->ops[0], plan.processParams, diag, plan.tMin) ||
          !evalConstant(*dom->value->ops[1], plan.processParams, diag, plan.tMax))
        return false;
      if (!(plan.tMin < plan.tMax)) {
        diag.error(dom->value->loc, "domain must have t_min < t_max");
        return false;
      }
    }
    if (plan.processKind == "path" ? !checkPath(p, plan, diag) : !checkSde(p, plan, diag))
      return false;
  }
  return true;
}

} // namespace diffuse
