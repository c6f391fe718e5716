//===- SemaUtil.h - helpers shared by the checks and the planning -*- C++ -*-===//
#ifndef DIFFUSE_FRONTEND_SEMAUTIL_H
#define DIFFUSE_FRONTEND_SEMAUTIL_H

#include "compiler/Frontend/AST.h"
#include "compiler/Frontend/Sema.h"
#include "diffuse/schedule.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace diffuse {

inline bool contains(const std::vector<std::string> &v, const std::string &s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

inline std::string didYouMean(const std::string &name, const std::vector<std::string> &cands) {
  std::string near = closestMatch(name, cands);
  return near.empty() ? "" : "did you mean '" + near + "'?";
}

inline std::string joinNames(const std::vector<std::string> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + v[i];
  return s;
}

inline const ast::Decl *findDecl(const ast::Module &m, const std::string &name) {
  for (const auto &d : m.decls)
    if (d.name == name)
      return &d;
  return nullptr;
}

/// A guidance's declared evaluations, `NAME = MODEL(COND)`: its settings
/// other than combine and space, in order.
inline std::vector<const ast::Item *> guidanceEvaluations(const ast::Decl &g) {
  std::vector<const ast::Item *> out;
  for (const auto &it : g.items)
    if (it.kind == ast::Item::Set && it.name != "combine" && it.name != "space")
      out.push_back(&it);
  return out;
}

/// The solver's `adaptive = error_control(...)` as plan.adaptive
/// (PlanVariants.cpp); false after reporting an error.
bool planAdaptive(const ast::Expr &e, SamplerPlan &plan, DiagEngine &diag);
/// The sampler's `inpaint = ...` and the grid's jumps (PlanVariants.cpp).
bool planInpaint(const ast::Decl &sampler, SamplerPlan &plan, DiagEngine &diag);
/// The sampler's `finish = ...` (PlanVariants.cpp): `denoise` replaces
/// plan.solver by a copy whose last step returns denoise(E, t).
bool planFinish(const ast::Decl &sampler, SamplerPlan &plan, DiagEngine &diag);

/// The sampler's `grid = ...` as a GridPlan (PlanGrid.cpp); false after
/// reporting an error.
bool planGrid(const ast::Module &m, const ast::Expr &e, const SamplerPlan &plan,
              DiagEngine &diag, GridPlan &g);

/// A scalar function body of declaration `p` at the values of `env` (Plan.cpp);
/// NaN for what it cannot evaluate, or once `budget` (expression nodes) runs out.
/// `table`: a discrete process's noise levels, which a grid declaration's
/// table_sigma(t) and table_t(sigma) read (NaN without one).
double evalDeclExpr(const ast::Decl &p, const ast::Expr &e,
                    const std::map<std::string, double> &env, long &budget, int depth = 0,
                    const rt::TableSigmas *table = nullptr);

/// Reports anything but `native` or `ve` as coordinates.
void checkCoords(const ast::Expr &e, DiagEngine &diag);

/// The plan's process (its declaration and parameters resolved): kind,
/// beta table or domain, checked numerically (PlanProcess.cpp).
bool planProcess(SamplerPlan &plan, DiagEngine &diag);

/// A model declaration resolved for the process `plan` has resolved (Plan.cpp).
bool planModel(const ast::Decl &md, const SamplerPlan &plan, DiagEngine &diag, ModelPlan &mp);

/// The guidance's evaluations and the models they call, and the solver's
/// model parameters, bound through the sampler's arguments `args`
/// (PlanModels.cpp); `at` locates a missing argument. False after an error.
bool planEvaluations(const ast::Module &m, SamplerPlan &plan,
                     const std::map<std::string, const ast::Expr *> &args, const ast::Expr &at,
                     DiagEngine &diag);
bool planSolverModels(const ast::Module &m, SamplerPlan &plan,
                      const std::map<std::string, const ast::Expr *> &args, const ast::Expr &at,
                      DiagEngine &diag);

/// A number as a message shows it (6 significant digits).
std::string fmtNum(double v);

} // namespace diffuse

#endif
