//===- SemaChecker.h - the checks of checkModule, one class -----*- C++ -*-===//
//
// Sema.cpp (declarations, processes, models, training specs),
// SemaGuidance.cpp (guidance rules and their evaluations), SemaSolver.cpp
// (solvers and their statements) and SemaTypes.cpp (expression types)
// define its members. Internal to the front end.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_FRONTEND_SEMACHECKER_H
#define DIFFUSE_FRONTEND_SEMACHECKER_H

#include "compiler/Frontend/Sema.h"
#include "compiler/Frontend/SemaUtil.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace diffuse::sema {

inline const std::vector<std::string> kKinds = {"process", "model",   "guidance", "solver",
                                                "grid",    "sampler", "train"};
inline const std::vector<std::string> kMathFns = {"exp", "log",  "sqrt",  "sin",   "cos",
                                                  "tan", "tanh", "expm1", "log1p", "atan",
                                                  "abs", "min",  "max",   "floor", "f32"};
inline const std::vector<std::string> kPrimitives = {
    "denoise",      "eps",        "pf_ode",        "score",          "alpha",
    "sigma",        "lambda",     "dlambda",       "drift",          "diffusion2",
    "noise",        "at",         "at_lambda",     "posterior_mean", "posterior_std",
    "log_variance", "eps_uncond", "denoise_uncond"};
/// Functions of a grid declaration only (evaluated at compile time): round
/// (ties to even, as numpy's), a discrete process's table read the way
/// diffusers and ComfyUI read it (diffuse/schedule.h), beta_ppf(q, a, b),
/// the Beta(a, b) quantile (scipy.stats.beta.ppf; diffuse/special.h), and
/// where(CONDITION, a, b), which evaluates only the branch it picks.
inline const std::vector<std::string> kGridFns = {"round",       "table_sigma", "table_t",
                                                  "table_index", "beta_ppf",    "where"};
/// Reductions over each sample's elements: one value per sample.
inline const std::vector<std::string> kReductions = {"sum", "mean",     "std",       "norm",
                                                     "dot", "quantile", "batch_mean"};

enum class Ty { Scalar, Field, Sample, Time, Bool, List, Error };

inline const char *tyName(Ty t) {
  switch (t) {
  case Ty::Scalar:
    return "a scalar";
  case Ty::Field:
    return "a tensor";
  case Ty::Sample:
    return "a per-sample scalar";
  case Ty::Time:
    return "a time point";
  case Ty::Bool:
    return "a condition";
  case Ty::List:
    return "a list";
  default:
    return "an error";
  }
}

/// A solver parameter's type: a list when its default is one (`disable =
/// [0, 3]`, read by contains(disable, x)), a scalar otherwise.
inline Ty paramType(const ast::Param &p) {
  return p.defaultValue && p.defaultValue->kind == ast::Expr::List ? Ty::List : Ty::Scalar;
}

class Checker {
public:
  Checker(const ast::Module &m, DiagEngine &diag) : m(m), diag(diag) {}

  bool run();

private:
  // Sema.cpp
  void checkKeys(const ast::Decl &d, const std::vector<std::string> &keys,
                 const std::vector<std::string> &funcs, bool anyFunc);
  void checkProcess(const ast::Decl &d);
  /// A process's or grid's scalar functions: one argument (`what`, written
  /// `arg` in the hint), known names, no cycles.
  void checkScalarFunctions(const std::map<std::string, const ast::Item *> &funcs,
                            const std::set<std::string> &params, const std::string &what,
                            const std::string &arg);
  void checkScalarExpr(const ast::Expr &e, const std::string &tvar,
                       const std::set<std::string> &params,
                       const std::map<std::string, const ast::Item *> &funcs,
                       std::vector<std::string> &stack);
  /// The condition of a grid function's where(CONDITION, a, b).
  void checkScalarCondition(const ast::Expr &e, const std::string &tvar,
                            const std::set<std::string> &params,
                            const std::map<std::string, const ast::Item *> &funcs,
                            std::vector<std::string> &stack);
  void checkModel(const ast::Decl &d);
  /// A user-written time grid: `t(i)` (process times) or `sigma(i)` (noise
  /// levels) of the point index, its parameters (`steps` among them) and
  /// helper functions; Plan evaluates it (PlanGrid.cpp).
  void checkGrid(const ast::Decl &d);
  /// A training spec: `time` and `weight` are a name or a call of one with
  /// named constant arguments (Plan.cpp's planTrain evaluates them).
  void checkTrain(const ast::Decl &d);
  /// The parameters of a guidance or solver declared `NAME: model` (the
  /// sampler binds them to model declarations); reports a default on one, or
  /// a parameter of any other type.
  std::vector<std::string> modelParams(const ast::Decl &d);

  // SemaGuidance.cpp
  void checkGuidance(const ast::Decl &d);
  /// A guidance's evaluations `NAME = MODEL(COND)`: MODEL is `model` (the
  /// sampler's) or a parameter declared `NAME: model`; COND is none, cond or
  /// cond(K). Returns their names.
  std::vector<std::string> checkEvaluations(const ast::Decl &d);
  /// The statements of a combine block: assignments, return, and `if` on
  /// the guidance's parameters (decided at compile time). Returns whether
  /// every path returns.
  bool checkCombine(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> env,
                    const ast::Item &c, const ast::Decl &d);

  // SemaSolver.cpp
  void checkSolver(const ast::Decl &d);
  /// adaptive = error_control(order = ..., error = STATE, ...): the step
  /// size controller's settings and the state tensors it reads.
  void checkAdaptive(const ast::Expr &e);
  /// Whether `e` depends on solver state (directly or through a name
  /// computed from it) or on a point between grid points: neither is known
  /// before the step runs, so no condition may use them.
  bool dependsOnStep(const ast::Expr &e);
  /// Checks a statement list; returns whether every path through it returns.
  bool checkStmts(const std::vector<ast::Stmt> &body, std::map<std::string, Ty> &env,
                  const std::set<std::string> &fixed);

  // SemaTypes.cpp
  Ty typeOf(const ast::Expr &e, const std::map<std::string, Ty> &env);

  const ast::Module &m;
  DiagEngine &diag;
  std::set<std::string> reportedCycles;
  /// Checking a grid declaration's functions, which may also call
  /// kGridFns.
  bool inGrid = false;
  std::map<std::string, Ty> stateTypes_;
  std::set<std::string> tainted_;
  std::map<std::string, const ast::Item *> solverFuncs_;
  std::set<std::string> solverModels_; // the solver's parameters typed `model`
  std::vector<std::string> funcStack_;
  bool inGuidance_ = false;             // no network calls, noise or solver times in a combine rule
  std::set<std::string> guidanceState_; // the guidance's state tensors
};

} // namespace diffuse::sema

#endif
