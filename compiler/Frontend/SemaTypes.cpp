//===- SemaTypes.cpp - the types of expressions ---------------------------===//
//
// Scalar, tensor, per-sample scalar, time point or condition: what each
// operator, primitive and function takes and gives. See SemaChecker.h.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/SemaChecker.h"

namespace diffuse::sema {

Ty Checker::typeOf(const ast::Expr &e, const std::map<std::string, Ty> &env) {
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
    if (t == Ty::List) {
      diag.error(e.loc, "'-' of a list",
                 "a list parameter is read by contains(LIST, x): whether x is one of its values");
      return Ty::Error;
    }
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
    if (a == Ty::List || b == Ty::List) {
      diag.error(e.ops[a == Ty::List ? 0 : 1]->loc,
                 std::string("'") + ast::opSpelling(e.op) + "' takes numbers, not a list",
                 "a list parameter is read by contains(LIST, x): whether x is one of its values");
      return Ty::Error;
    }
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
      diag.error(e.loc,
                 std::string("'") + ast::opSpelling(e.op) + "' takes numbers, not conditions",
                 "combine conditions with 'and', 'or' and 'not'");
      return Ty::Error;
    }
    if (compare) {
      if (a == Ty::Field || b == Ty::Field || a == Ty::Sample || b == Ty::Sample) {
        diag.error(e.loc,
                   std::string("comparisons take scalars or times, not ") +
                       (a == Ty::Field || b == Ty::Field ? "tensors" : "per-sample scalars"),
                   "a step's branch is chosen once per step, so it cannot depend on the state");
        return Ty::Error;
      }
      return Ty::Bool;
    }
    bool field = a == Ty::Field || b == Ty::Field;
    bool sample = a == Ty::Sample || b == Ty::Sample;
    if (e.op == '^' && (field || sample)) {
      diag.error(e.loc,
                 std::string("'^' takes scalars, not ") +
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
        diag.error(e.loc, "'" + e.name + "' takes " + std::to_string(want.size()) + " argument" +
                              (want.size() != 1 ? "s" : "") + ", got " +
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
    if (e.name == "contains")
      return expect({Ty::List, Ty::Scalar}, Ty::Bool);
    static const std::vector<std::string> kStepOnly = {
        "denoise",       "eps",        "pf_ode",         "score",
        "noise",         "at",         "at_lambda",      "posterior_mean",
        "posterior_std", "eps_uncond", "denoise_uncond", "log_variance"};
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
      if (e.name == "dot")
        want.push_back(Ty::Field);
      if (e.name == "quantile")
        want.push_back(Ty::Scalar);
      return expect(want, Ty::Sample);
    }
    if (e.name == "alpha" || e.name == "sigma" || e.name == "lambda" || e.name == "dlambda" ||
        e.name == "drift" || e.name == "diffusion2")
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
          diag.error(e.args[i].value->loc, "argument " + std::to_string(i + 1) + " of '" + e.name +
                                               "' must be a tensor or a scalar, not " +
                                               tyName(args[i]));
          return Ty::Error;
        }
      return anyField ? Ty::Field : Ty::Sample;
    }
    // The one-argument functions other than f32 also apply elementwise to
    // a tensor and to each sample's value of a per-sample scalar
    // (diffuse.math; min, max and abs above).
    if (contains(kMathFns, e.name) && e.name != "f32" && (anyField || anySample) &&
        args.size() == 1)
      return anyField ? Ty::Field : Ty::Sample;
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
    if (contains(kGridFns, e.name)) {
      diag.error(e.loc, "'" + e.name + "' is a function of grid declarations only",
                 "it is evaluated once, when the grid is made; compute it in a grid "
                 "declaration, or pass its value to the solver as a parameter");
      return Ty::Error;
    }
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

} // namespace diffuse::sema
