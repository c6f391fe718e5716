//===- MLIRGen.cpp - SamplerPlan to the diffuse dialect -------------------===//
//
// A straightforward walk of the checked AST. Scalar expressions become
// arith/math ops on f64; expressions involving the state become diffuse
// field ops; `alpha(s)` and friends become `diffuse.sched`; the oracle calls
// become `diffuse.denoise/eps/pf_ode`. Parameters are constants. The ops
// that only carry settings (model, train, sampler) are Declarations.cpp's.
//
//===----------------------------------------------------------------------===//
#include "compiler/MLIRGen/MLIRGen.h"
#include "compiler/MLIRGen/Declarations.h"

#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/IR/MathFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <cmath>
#include <functional>
#include <optional>
#include <set>

using namespace mlir;

namespace diffuse {
namespace {

class Gen {
public:
  Gen(MLIRContext &ctx, const SamplerPlan &plan) : ctx(ctx), b(&ctx), plan(plan) {}

  OwningOpRef<ModuleOp> run() {
    module = ModuleOp::create(loc((plan.train ? plan.train : plan.sampler)->loc));
    b.setInsertionPointToEnd(module->getBody());
    genProcess();
    emitModels(b, plan);
    if (plan.train) {
      emitTrain(b, plan);
      return std::move(module);
    }
    if (plan.guidance)
      genGuidance();
    emitSampler(b, plan);
    genStep();
    return std::move(module);
  }

private:
  Location loc(const Loc &l) { return locOf(ctx, l); }
  Type f64() { return b.getF64Type(); }
  Type field() { return FieldType::get(&ctx); }
  Type time() { return TimeType::get(&ctx); }
  /// A field or a per-sample value: arithmetic on it is elementwise.
  static bool tensorish(Value v) { return isa<FieldType, SampleType>(v.getType()); }
  Value cst(double v, Location l) { return b.create<arith::ConstantOp>(l, b.getF64FloatAttr(v)); }

  //===--- Scalar expressions (process functions) -------------------------===//

  struct ScalarEnv {
    std::map<std::string, Value> vars;
    const std::map<std::string, const ast::Item *> *funcs = nullptr;
    const std::map<std::string, double> *params = nullptr;
  };

  Value mathCall(const std::string &name, ArrayRef<Value> a, Location l) {
    if (isElementwiseMath(name)) return buildMath(b, l, name, a[0]);
    if (name == "abs") return b.create<math::AbsFOp>(l, a[0]);
    if (name == "f32") // rounded to the nearest float32 (a peer's float32 schedule)
      return b.create<arith::ExtFOp>(
          l, f64(), b.create<arith::TruncFOp>(l, b.getF32Type(), a[0]).getResult());
    if (name == "min") return b.create<arith::MinimumFOp>(l, a[0], a[1]);
    if (name == "max") return b.create<arith::MaximumFOp>(l, a[0], a[1]);
    return {};
  }

  Value scalarBinary(char op, Value x, Value y, Location l) {
    switch (op) {
    case '+': return b.create<arith::AddFOp>(l, x, y);
    case '-': return b.create<arith::SubFOp>(l, x, y);
    case '*': return b.create<arith::MulFOp>(l, x, y);
    case '/': return b.create<arith::DivFOp>(l, x, y);
    default: return b.create<math::PowFOp>(l, x, y);
    }
  }

  Value scalar(const ast::Expr &e, ScalarEnv &env) {
    Location l = loc(e.loc);
    switch (e.kind) {
    case ast::Expr::Number:
      return cst(e.number, l);
    case ast::Expr::Ident:
      if (auto it = env.vars.find(e.name); it != env.vars.end())
        return it->second;
      return cst(env.params->at(e.name), l);
    case ast::Expr::Neg:
      return b.create<arith::NegFOp>(l, scalar(*e.ops[0], env));
    case ast::Expr::Binary:
      return scalarBinary(e.op, scalar(*e.ops[0], env), scalar(*e.ops[1], env), l);
    case ast::Expr::Call: {
      SmallVector<Value> args;
      for (auto &a : e.args)
        args.push_back(scalar(*a.value, env));
      if (Value v = mathCall(e.name, args, l))
        return v;
      // A helper function of the process: inline it.
      const ast::Item *f = env.funcs->at(e.name);
      ScalarEnv inner = env;
      inner.vars = {{f->params[0], args[0]}};
      return scalar(*f->value, inner);
    }
    default:
      return cst(0, l);
    }
  }

  void genProcess() {
    const ast::Decl &p = *plan.process;
    NamedAttrList cfg;
    if (plan.processKind != "discrete") {
      // A path gives alpha(t) and sigma(t); an SDE drift(t) and diffusion(t),
      // whose marginals diffuse-integrate-sde derives.
      std::map<std::string, const ast::Item *> funcs;
      for (const auto &it : p.items)
        if (it.kind == ast::Item::Func)
          funcs[it.name] = &it;
      bool sde = plan.processKind == "sde";
      for (const char *fn : sde ? std::vector<const char *>{"drift", "diffusion"}
                                : std::vector<const char *>{"alpha", "sigma"}) {
        const ast::Item *it = funcs.at(fn);
        std::string name = std::string("dfs_process_") + fn;
        OpBuilder::InsertionGuard guard(b);
        auto func = b.create<func::FuncOp>(loc(it->loc), name, b.getFunctionType({f64()}, {f64()}));
        Block *entry = func.addEntryBlock();
        b.setInsertionPointToStart(entry);
        ScalarEnv env{{{it->params[0], entry->getArgument(0)}}, &funcs, &plan.processParams};
        b.create<func::ReturnOp>(loc(it->loc), scalar(*it->value, env));
        cfg.set(fn, FlatSymbolRefAttr::get(&ctx, name));
      }
      cfg.set("domain", b.getF64ArrayAttr({plan.tMin, plan.tMax}));
    } else {
      cfg.set("schedule", b.getStringAttr(plan.schedule));
      cfg.set("beta_start", b.getF64FloatAttr(plan.betaStart));
      cfg.set("beta_end", b.getF64FloatAttr(plan.betaEnd));
      cfg.set("train_steps", b.getI64IntegerAttr(plan.trainSteps));
      if (!plan.betas.empty())
        cfg.set("betas", b.getF64ArrayAttr(plan.betas));
      if (plan.zeroTerminalSnr)
        cfg.set("zero_terminal_snr", b.getI64IntegerAttr(1));
      cfg.set("final_alpha", b.getStringAttr(plan.finalAlpha));
      if (!plan.interpolate.empty())
        cfg.set("interpolate", b.getStringAttr(plan.interpolate));
    }
    b.create<ProcessOp>(loc(p.nameLoc), p.name, plan.processKind, cfg.getDictionary(&ctx));
  }

  Value toScalar(Value v, Location l) {
    if (isa<TimeType>(v.getType()))
      return b.create<SchedOp>(l, f64(), v, "t");
    return v;
  }

  Value mixed(const ast::Expr &e, std::map<std::string, Value> &env,
              const std::map<std::string, double> &params) {
    Location l = loc(e.loc);
    switch (e.kind) {
    case ast::Expr::Number:
      return cst(e.number, l);
    case ast::Expr::Ident:
      if (auto it = env.find(e.name); it != env.end())
        return it->second;
      return cst(params.at(e.name), l);
    case ast::Expr::Neg: {
      Value v = toScalar(mixed(*e.ops[0], env, params), l);
      if (tensorish(v))
        return b.create<NegOp>(l, field(), v);
      return b.create<arith::NegFOp>(l, v);
    }
    case ast::Expr::Not: {
      Value v = mixed(*e.ops[0], env, params);
      Value one = b.create<arith::ConstantOp>(l, b.getBoolAttr(true));
      return b.create<arith::XOrIOp>(l, v, one);
    }
    case ast::Expr::Binary: {
      Value x = toScalar(mixed(*e.ops[0], env, params), l);
      Value y = toScalar(mixed(*e.ops[1], env, params), l);
      if (e.op == '&')
        return b.create<arith::AndIOp>(l, x, y);
      if (e.op == '|')
        return b.create<arith::OrIOp>(l, x, y);
      if (std::string("<>lgen").find(e.op) != std::string::npos) {
        arith::CmpFPredicate p = e.op == '<'   ? arith::CmpFPredicate::OLT
                                 : e.op == '>' ? arith::CmpFPredicate::OGT
                                 : e.op == 'l' ? arith::CmpFPredicate::OLE
                                 : e.op == 'g' ? arith::CmpFPredicate::OGE
                                 : e.op == 'e' ? arith::CmpFPredicate::OEQ
                                               : arith::CmpFPredicate::UNE;
        return b.create<arith::CmpFOp>(l, p, x, y);
      }
      if (!tensorish(x) && !tensorish(y))
        return scalarBinary(e.op, x, y, l);
      switch (e.op) {
      case '+': return b.create<AddOp>(l, field(), x, y);
      case '-': return b.create<SubOp>(l, field(), x, y);
      case '*': return b.create<MulOp>(l, field(), x, y);
      default: return b.create<DivOp>(l, field(), x, y);
      }
    }
    case ast::Expr::Call: {
      if (e.name == "contains") { // x == v1 or x == v2 ...: the list is constant
        Value x = toScalar(mixed(*e.args[1].value, env, params), l);
        Value any = b.create<arith::ConstantOp>(l, b.getBoolAttr(false));
        for (double v : plan.solverLists.at(e.args[0].value->name))
          any = b.create<arith::OrIOp>(
              l, any, b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, x, cst(v, l)));
        return any;
      }
      SmallVector<Value> args;
      for (auto &a : e.args)
        args.push_back(mixed(*a.value, env, params));
      if (e.name == "denoise" || e.name == "denoise_uncond")
        return b.create<DenoiseOp>(l, field(), args[0], args[1], e.name == "denoise_uncond");
      if (e.name == "eps" || e.name == "eps_uncond")
        return b.create<EpsOp>(l, field(), args[0], args[1], e.name == "eps_uncond");
      if (e.name == "pf_ode") return b.create<PfOdeOp>(l, field(), args[0], args[1], false);
      if (e.name == "log_variance")
        return logVariance(args, l);
      if (e.name == "score") return b.create<ScoreOp>(l, field(), args[0], args[1], false);
      if (e.name == "sum" || e.name == "mean" || e.name == "std" || e.name == "norm" ||
          e.name == "dot" || e.name == "quantile" || e.name == "batch_mean") {
        Value q = e.name == "quantile" ? toScalar(args[1], l) : Value();
        SmallVector<Value> ins(args.begin(), args.begin() + (e.name == "dot" ? 2 : 1));
        return b.create<ReduceOp>(l, SampleType::get(&ctx), e.name, ins, q);
      }
      if (e.name == "noise") return b.create<NoiseOp>(l, field());
      if (auto sm = plan.solverModels.find(e.name); sm != plan.solverModels.end()) {
        // A solver's model parameter: its network's raw output (a degradation).
        const ModelPlan &mp = sm->second;
        auto call =
            b.create<ModelCallOp>(l, TypeRange{field()}, mp.decl->name, args[0], args[1], Value(),
                                  Value(), ArrayRef<int32_t>{mp.conditional ? 0 : -1});
        return call.getOutputs()[0];
      }
      if (e.name == "at") return b.create<AtOp>(l, time(), toScalar(args[0], l), false);
      if (e.name == "at_lambda") return b.create<AtOp>(l, time(), toScalar(args[0], l), true);
      if (e.name == "alpha" || e.name == "sigma" || e.name == "lambda" || e.name == "dlambda")
        return b.create<SchedOp>(l, f64(), args[0], e.name);
      if (e.name == "drift" || e.name == "diffusion2")
        return b.create<SchedOp>(l, f64(), args[0], e.name == "drift" ? "f" : "g2");
      if (e.name == "posterior_mean" || e.name == "posterior_std")
        return posterior(e.name == "posterior_mean", args, l);
      // exp, sqrt, ... of a tensor or a per-sample scalar: elementwise.
      if (isElementwiseMath(e.name) && tensorish(args[0]))
        return b.create<MathOp>(l, field(), b.getStringAttr(e.name), args[0]);
      if ((e.name == "min" || e.name == "max" || e.name == "abs") &&
          llvm::any_of(args, tensorish)) {
        for (Value &a : args)
          if (!tensorish(a))
            a = toScalar(a, l);
        if (e.name == "abs") return b.create<AbsOp>(l, field(), args[0]);
        if (e.name == "min") return b.create<MinOp>(l, field(), args[0], args[1]);
        return b.create<MaxOp>(l, field(), args[0], args[1]);
      }
      for (Value &a : args)
        a = toScalar(a, l);
      if (Value v = mathCall(e.name, args, l))
        return v;
      // A helper function of the solver: inline it.
      const ast::Item *f = plan.solver->find(e.name);
      std::map<std::string, Value> inner;
      for (size_t i = 0; i < f->params.size(); ++i)
        inner[f->params[i]] = args[i];
      return mixed(*f->value, inner, params);
    }
    default:
      return cst(0, l);
    }
  }

  /// The Gaussian posterior q(x_t | x_s, x0) of the process between two
  /// times, for ancestral samplers (DDPM's mean and beta-tilde): with
  /// r = alpha_s/alpha_t and v = sigma_s^2 - r^2 sigma_t^2 (the transition's
  /// variance from t to s), written as (1 - r^2) + d_s - r^2 d_t with
  /// d = alpha^2 + sigma^2 - 1 so that a variance-preserving process, d = 0,
  /// gets DDPM's 1 - alpha_s^2/alpha_t^2 without the cancellation of the
  /// first form,
  ///   mean = alpha_t v / sigma_s^2 x0 + r sigma_t^2 / sigma_s^2 x_s,
  ///   std  = sqrt(v sigma_t^2 / sigma_s^2),
  /// from the solver's alpha and sigma, so in either coordinates.
  Value posterior(bool mean, ArrayRef<Value> args, Location l) {
    Transition q = transition(args[mean ? 2 : 0], args[mean ? 3 : 1], l);
    if (!mean) // clamped at 0 against rounding when t = s
      return b.create<math::SqrtOp>(l, b.create<arith::MaximumFOp>(l, q.tilde, cst(0, l)));
    return b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), args[1], q.cx0),
                           b.create<MulOp>(l, field(), args[0], q.cx));
  }
  /// The scalars of the posterior between s and t (see posterior): the
  /// transition's variance v (DDPM's beta), the posterior's v sigma_t^2 /
  /// sigma_s^2 (beta-tilde), and the mean's coefficients of x0 and x_s.
  struct Transition {
    Value v, tilde, cx0, cx;
  };
  Transition transition(Value s, Value t, Location l) {
    auto sched = [&](Value time, const char *k) -> Value {
      return b.create<SchedOp>(l, f64(), time, k);
    };
    auto mul = [&](Value x, Value y) -> Value { return b.create<arith::MulFOp>(l, x, y); };
    auto div = [&](Value x, Value y) -> Value { return b.create<arith::DivFOp>(l, x, y); };
    Value as = sched(s, "alpha"), at = sched(t, "alpha");
    Value ss = sched(s, "sigma"), st = sched(t, "sigma");
    Value r = div(as, at), ss2 = mul(ss, ss), st2 = mul(st, st), r2 = mul(r, r);
    auto sub = [&](Value x, Value y) -> Value { return b.create<arith::SubFOp>(l, x, y); };
    auto add = [&](Value x, Value y) -> Value { return b.create<arith::AddFOp>(l, x, y); };
    Value one = cst(1, l);
    Value ds = sub(add(mul(as, as), ss2), one), dt = sub(add(mul(at, at), st2), one);
    Value v = add(sub(one, r2), sub(ds, mul(r2, dt)));
    return {v, div(mul(v, st2), ss2), div(mul(at, v), ss2), div(mul(r, st2), ss2)};
  }

  /// log_variance(x, s, t): Nichol & Dhariwal's learned_range, as
  /// diffusers' DDPMScheduler writes it: with frac = (v + 1) / 2 from the
  /// network's variance channels at (x, s),
  ///   frac log(beta) + (1 - frac) log(max(beta_tilde, 1e-20)).
  Value logVariance(ArrayRef<Value> args, Location l) {
    Transition q = transition(args[1], args[2], l);
    Value maxLog = b.create<math::LogOp>(l, q.v);
    Value minLog =
        b.create<math::LogOp>(l, b.create<arith::MaximumFOp>(l, q.tilde, cst(1e-20, l)));
    Value v = b.create<VarianceOutputOp>(l, field(), args[0], args[1]);
    Value frac = b.create<DivOp>(l, field(), b.create<AddOp>(l, field(), v, cst(1, l)), cst(2, l));
    Value rest = b.create<SubOp>(l, field(), cst(1, l), frac);
    return b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), frac, maxLog),
                           b.create<MulOp>(l, field(), rest, minLog));
  }

  /// dfs_guidance(uncond, cond, t, state...) -> (field, state...): the
  /// combine rule, inlined by diffuse-derive at every network call, with the
  /// guidance's state tensors as they were before the call and after it;
  /// dfs_guidance_active(t) -> i1 when the guidance has `active(t)`.
  void genGuidance() {
    const ast::Decl &g = *plan.guidance;
    const ast::Item *c = g.find("combine");
    // The arguments: the evaluations in order, then t, then the state.
    std::vector<std::string> names;
    for (const EvalPlan &e : plan.evaluations)
      names.push_back(e.name);
    names.push_back("t");
    SmallVector<Type> argTys(plan.evaluations.size(), field());
    argTys.push_back(time());
    std::vector<std::string> stateNames = guidanceStateNames();
    for (const std::string &n : stateNames) {
      names.push_back(n);
      argTys.push_back(field());
    }
    SmallVector<Type> resTys(1 + stateNames.size(), field());
    auto func = b.create<func::FuncOp>(loc(c->loc), "dfs_guidance",
                                       b.getFunctionType(argTys, resTys));
    func.setPrivate();
    {
      OpBuilder::InsertionGuard guard(b);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToStart(entry);
      for (size_t i = 0; i < c->params.size(); ++i)
        names[i] = c->params[i];
      std::map<std::string, Value> env, next;
      for (unsigned i = 0; i < names.size(); ++i)
        env[names[i]] = entry->getArgument(i);
      Value r;
      if (c->kind == ast::Item::Proc) {
        // Branches are on parameters (Sema): follow the one they pick.
        std::function<bool(const std::vector<ast::Stmt> &)> run =
            [&](const std::vector<ast::Stmt> &body) {
              for (const auto &st : body) {
                if (st.kind == ast::Stmt::If) {
                  if (run(constValue(*st.value, plan.guidanceParams).value_or(0) != 0
                              ? st.thenBody
                              : st.elseBody))
                    return true;
                  continue;
                }
                Value v = mixed(*st.value, env, plan.guidanceParams);
                if (st.kind == ast::Stmt::Return) {
                  r = v;
                  return true;
                }
                // A state is written for the next call; reads keep the old value.
                (llvm::is_contained(stateNames, st.name) ? next : env)[st.name] = v;
              }
              return false;
            };
        run(c->body);
      } else {
        r = mixed(*c->value, env, plan.guidanceParams);
      }
      SmallVector<Value> results{r};
      for (const std::string &n : stateNames)
        results.push_back(next.count(n) ? next[n] : env.at(n));
      b.create<func::ReturnOp>(loc(c->loc), results);
    }
    if (const ast::Item *a = g.find("active")) {
      auto act = b.create<func::FuncOp>(loc(a->loc), "dfs_guidance_active",
                                        b.getFunctionType({time()}, {b.getI1Type()}));
      act.setPrivate();
      OpBuilder::InsertionGuard guard(b);
      Block *entry = act.addEntryBlock();
      b.setInsertionPointToStart(entry);
      std::map<std::string, Value> env = {{a->params[0], entry->getArgument(0)}};
      b.create<func::ReturnOp>(loc(a->loc), mixed(*a->value, env, plan.guidanceParams));
    }
  }

  //===--- Steps with branches: one straight-line variant per path --------===//
  //
  // Conditions depend only on time and the step context, so the branch a
  // step takes is known before it runs. Each path through the ifs becomes
  // its own straight-line step function `step_<k>` (fusion works unchanged
  // on each), and `select` computes, on the host, which one a step runs.

  /// The value of a condition that depends only on parameters, if it does:
  /// such a branch is resolved at compile time and makes no step variant.
  std::optional<double> constValue(const ast::Expr &e) { return constValue(e, plan.solverParams); }
  std::optional<double> constValue(const ast::Expr &e, const std::map<std::string, double> &ps) {
    auto constValue = [&](const ast::Expr &x) { return this->constValue(x, ps); };
    switch (e.kind) {
    case ast::Expr::Number:
      return e.number;
    case ast::Expr::Ident:
      if (auto it = ps.find(e.name); it != ps.end())
        return it->second;
      return std::nullopt;
    case ast::Expr::Neg:
      if (auto v = constValue(*e.ops[0]))
        return -*v;
      return std::nullopt;
    case ast::Expr::Not:
      if (auto v = constValue(*e.ops[0]))
        return *v == 0 ? 1.0 : 0.0;
      return std::nullopt;
    case ast::Expr::Binary: {
      auto a = constValue(*e.ops[0]);
      auto b = constValue(*e.ops[1]);
      // `and`/`or` with one constant side may still decide.
      if (e.op == '&' && ((a && *a == 0) || (b && *b == 0)))
        return 0.0;
      if (e.op == '|' && ((a && *a != 0) || (b && *b != 0)))
        return 1.0;
      if (!a || !b)
        return std::nullopt;
      switch (e.op) {
      case '+': return *a + *b;
      case '-': return *a - *b;
      case '*': return *a * *b;
      case '/': return *a / *b;
      case '^': return std::pow(*a, *b);
      case '<': return double(*a < *b);
      case '>': return double(*a > *b);
      case 'l': return double(*a <= *b);
      case 'g': return double(*a >= *b);
      case 'e': return double(*a == *b);
      case 'n': return double(*a != *b);
      case '&': return double(*a != 0 && *b != 0);
      default: return double(*a != 0 || *b != 0);
      }
    }
    case ast::Expr::Call:
      if (e.name == "contains" && e.args.size() == 2)
        if (auto it = plan.solverLists.find(e.args[0].value->name); it != plan.solverLists.end())
          if (auto x = constValue(*e.args[1].value))
            return double(llvm::is_contained(it->second, *x));
      return std::nullopt;
    default:
      return std::nullopt;
    }
  }

  /// The branch an if takes on the path `decisions`: decided at compile
  /// time, or the next decision; none (and `pending` set) if the path has
  /// no decision left for it.
  std::optional<bool> decide(const ast::Stmt &s, const std::vector<bool> &decisions, size_t &next,
                             const ast::Stmt **pending) {
    if (auto c = constValue(*s.value))
      return *c != 0;
    if (next >= decisions.size()) {
      *pending = &s;
      return std::nullopt;
    }
    return decisions[next++];
  }

  /// Follows `decisions` through `body`, emitting statements when `emit`.
  /// Returns 1 if the path returned, 0 if it fell through, -1 if it needs
  /// one more decision (then `pendingCond` is that if's condition).
  int walk(const std::vector<ast::Stmt> &body, const std::vector<bool> &decisions, size_t &next,
           std::map<std::string, Value> &env, bool scalarsOnly, const ast::Stmt **pending) {
    for (const auto &s : body) {
      if (s.kind == ast::Stmt::If) {
        std::optional<bool> d = decide(s, decisions, next, pending);
        if (!d)
          return -1;
        int r = walk(*d ? s.thenBody : s.elseBody, decisions, next, env, scalarsOnly, pending);
        if (r != 0)
          return r;
        continue;
      }
      if (scalarsOnly) {
        if (s.kind == ast::Stmt::Return)
          return 1;
        if (!mentionsField(*s.value, env))
          env[s.name] = mixed(*s.value, env, plan.solverParams);
        continue;
      }
      Value v = mixed(*s.value, env, plan.solverParams);
      if (s.kind == ast::Stmt::Return && plan.inpaint)
        v = keepKnown(v, env.at(plan.solver->find("step")->params[2]), loc(s.loc));
      if (s.kind == ast::Stmt::Assign) {
        if (std::find(stateNames.begin(), stateNames.end(), s.name) != stateNames.end())
          newState[s.name] = v; // for the next step; reads keep the old value
        else
          env[s.name] = v;
      } else {
        // The next state, then every state variable: its new value, or the old.
        SmallVector<Value> results{v};
        for (const auto &n : stateNames)
          results.push_back(newState.count(n) ? newState[n] : env.at(n));
        b.create<func::ReturnOp>(loc(s.loc), results);
        return 1;
      }
    }
    return 0;
  }

  /// Whether `e` needs the state or a network call (so `select` skips it).
  bool mentionsField(const ast::Expr &e, const std::map<std::string, Value> &env) {
    return ast::anyOf(e, [&](const ast::Expr &x) {
      if (x.kind == ast::Expr::Ident) {
        auto it = env.find(x.name);
        if (it == env.end())
          return !plan.solverParams.count(x.name); // a parameter is a scalar
        return isa<FieldType>(it->second.getType());
      }
      return x.kind == ast::Expr::Call &&
             (x.name == "denoise" || x.name == "eps" || x.name == "pf_ode" ||
              x.name == "score" || x.name == "posterior_mean" || x.name == "noise" ||
              x.name == "at" || x.name == "at_lambda" || plan.solverModels.count(x.name));
    });
  }

  std::map<std::string, Value> baseEnv(Block *entry, const ast::Item *step) {
    std::map<std::string, Value> env;
    if (entry->getNumArguments() >= 3) {
      for (int i = 0; i < 3; ++i)
        env[step->params[i]] = entry->getArgument(i);
      for (size_t k = 0; k < stateNames.size(); ++k)
        env[stateNames[k]] = entry->getArgument(3 + k);
    } else { // select(s, t)
      env[step->params[1]] = entry->getArgument(0);
      env[step->params[2]] = entry->getArgument(1);
    }
    Location l = loc(step->loc);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    env["first"] = b.create<StepCtxOp>(l, b.getI1Type(), "first");
    env["last"] = b.create<StepCtxOp>(l, b.getI1Type(), "last");
    env["index"] = b.create<StepCtxOp>(l, f64(), "index");
    env["steps"] = b.create<StepCtxOp>(l, f64(), "steps");
    return env;
  }

  //===--- RePaint: inpainting and resampling jumps ----------------------===//
  //
  // Both wrap any solver. With `inpaint = true` every step's result x_t is
  // replaced, where the run's mask is 1, by the known data noised to t with
  // a fresh draw: m (alpha_t x0 + sigma_t z) + (1 - m) x_t (Lugmayr et al.
  // 2022, algorithm 1, lines 5 and 8; in ve coordinates alpha_t = 1 and
  // sigma_t = tau_t). A grid with resampling jumps has steps that go up the
  // noise levels; `select` sends those to one more variant, the process's
  // own forward transition q(x_t | x_s), derived from alpha and sigma:
  // x_t = r x_s + sqrt(sigma_t^2 - r^2 sigma_s^2) z with r = alpha_t /
  // alpha_s.

  Value keepKnown(Value x, Value t, Location l) {
    Value data = b.create<InputOp>(l, field(), "data");
    Value mask = b.create<InputOp>(l, field(), "mask");
    Value a = b.create<SchedOp>(l, f64(), t, "alpha");
    Value sg = b.create<SchedOp>(l, f64(), t, "sigma");
    // inpaint = diffusers: RePaintScheduler.step noises the known part with
    // the draw of the step's own update (the path's first noise()), and
    // draws one when the update has none (eta = 0).
    Value z;
    if (plan.inpaintDiffusers)
      b.getInsertionBlock()->getParentOp()->walk([&](NoiseOp n) {
        if (!z)
          z = n.getResult();
      });
    if (!z)
      z = b.create<NoiseOp>(l, field());
    Value known = b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), a, data),
                                  b.create<MulOp>(l, field(), sg, z));
    Value one = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(1.0));
    Value rest = b.create<SubOp>(l, field(), one, mask);
    return b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), mask, known),
                           b.create<MulOp>(l, field(), rest, x));
  }

  /// The variant for a step that goes up the noise levels (a jump).
  void genRenoise(FunctionType stepType, int index, Location l) {
    auto func = b.create<func::FuncOp>(l, "step_" + std::to_string(index), stepType);
    func->setAttr("diffuse.step", b.getI32IntegerAttr(index));
    func->setAttr("diffuse.renoise", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value x = entry->getArgument(0), s = entry->getArgument(1), t = entry->getArgument(2);
    SmallVector<Value> results{plan.inpaintDiffusers ? undoStep(x, t, l)
                                                     : forwardTransition(x, s, t, l)};
    results.append(entry->args_begin() + 3, entry->args_end()); // the state, unchanged
    b.create<func::ReturnOp>(l, results);
  }

  /// One draw from q(x_t | x_s): r x + sqrt(sigma_t^2 - r^2 sigma_s^2) z
  /// with r = alpha_t / alpha_s.
  Value forwardTransition(Value x, Value s, Value t, Location l) {
    auto sched = [&](Value at, const char *kind) { return b.create<SchedOp>(l, f64(), at, kind); };
    Value r = b.create<arith::DivFOp>(l, sched(t, "alpha"), sched(s, "alpha"));
    Value st = sched(t, "sigma"), ss = b.create<arith::MulFOp>(l, r, sched(s, "sigma"));
    Value var = b.create<arith::SubFOp>(l, b.create<arith::MulFOp>(l, st, st),
                                        b.create<arith::MulFOp>(l, ss, ss));
    // Rounding must not make an exact transition's variance negative.
    Value zero = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(0.0));
    Value sd = b.create<math::SqrtOp>(l, b.create<arith::MaximumFOp>(l, var, zero));
    Value z = b.create<NoiseOp>(l, field());
    return b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), r, x),
                           b.create<MulOp>(l, field(), sd, z));
  }

  /// RePaintScheduler.undo_step (inpaint = diffusers): x <- sqrt(1 - beta_k)
  /// x + sqrt(beta_k) z, one draw each, for k = t, ..., t + n - 1 (the
  /// target timestep t and the n - 1 above it), with the table's own betas.
  Value undoStep(Value x, Value t, Location l) {
    Value k0 = b.create<SchedOp>(l, f64(), t, "t");
    Value one = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(1.0));
    for (long i = 0; i < plan.jumpBetas; ++i) {
      Value k = i == 0 ? k0
                       : Value(b.create<arith::AddFOp>(
                             l, k0, b.create<arith::ConstantOp>(l, b.getF64FloatAttr((double)i))));
      Value beta = b.create<SchedOp>(l, f64(), b.create<AtOp>(l, time(), k, false), "beta");
      Value keep = b.create<math::SqrtOp>(l, b.create<arith::SubFOp>(l, one, beta));
      Value sd = b.create<math::SqrtOp>(l, beta);
      Value z = b.create<NoiseOp>(l, field());
      x = b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), keep, x),
                          b.create<MulOp>(l, field(), sd, z));
    }
    return x;
  }

  /// Emits the decision tree of `select` from the prefix `decisions`.
  Value selectTree(const ast::Item *step, Block *entry, std::vector<bool> decisions,
                   const std::vector<std::vector<bool>> &paths) {
    std::map<std::string, Value> env = baseEnv(entry, step);
    // baseEnv inserted at the start; keep emitting at the end of the current block.
    size_t next = 0;
    const ast::Stmt *pending = nullptr;
    int r = walk(step->body, decisions, next, env, /*scalarsOnly=*/true, &pending);
    Location l = loc(step->loc);
    if (r != -1) {
      size_t k = std::find(paths.begin(), paths.end(), decisions) - paths.begin();
      return b.create<arith::ConstantOp>(l, b.getI32IntegerAttr((int)k));
    }
    Value cond = mixed(*pending->value, env, plan.solverParams);
    auto ifOp = b.create<scf::IfOp>(loc(pending->loc), TypeRange{b.getI32Type()}, cond,
                                    /*withElse=*/true);
    for (int branch = 0; branch < 2; ++branch) {
      OpBuilder::InsertionGuard guard(b);
      Block &blk = branch == 0 ? ifOp.getThenRegion().front() : ifOp.getElseRegion().front();
      b.setInsertionPointToStart(&blk);
      auto d = decisions;
      d.push_back(branch == 0);
      Value v = selectTree(step, entry, d, paths);
      b.create<scf::YieldOp>(l, v);
    }
    return ifOp.getResult(0);
  }

  void genStep() {
    const ast::Item *step = plan.solver->find("step");
    Location l = loc(step->loc);
    SmallVector<Type> ins{field(), time(), time()}, outs{field()};
    if (const ast::Item *st = plan.solver->find("state"))
      for (size_t k = 0; k < st->params.size(); ++k) {
        stateNames.push_back(st->params[k]);
        Type ty = st->types[k] == "tensor" ? field() : f64();
        ins.push_back(ty);
        outs.push_back(ty);
      }
    // The guidance's state tensors follow the solver's, under names no
    // solver can write; diffuse-derive threads them through the step's
    // guided network calls (Note [Guidance state] in docs/design.md).
    std::vector<std::string> guidanceState = guidanceStateNames();
    for (const std::string &n : guidanceState) {
      stateNames.push_back("guidance state " + n);
      ins.push_back(field());
      outs.push_back(field());
    }
    auto stepType = b.getFunctionType(ins, outs);
    auto markGuidanceState = [&](func::FuncOp f) {
      if (!guidanceState.empty())
        f->setAttr("diffuse.guidance_state", b.getI32IntegerAttr((int)guidanceState.size()));
    };

    // Enumerate the paths through the ifs (depth first, then-branch first).
    std::vector<std::vector<bool>> paths, work{{}};
    while (!work.empty()) {
      auto d = work.back();
      work.pop_back();
      size_t next = 0;
      const ast::Stmt *pending = nullptr;
      if (walkDecisions(step->body, d, next, &pending) == -1) {
        auto f = d, t = d;
        f.push_back(false);
        t.push_back(true);
        work.push_back(f);
        work.push_back(t);
      } else {
        paths.push_back(d);
      }
    }

    // An adaptive solver's controller also evaluates the probability-flow
    // drift on its own (the first step size): one more variant, `return
    // pf_ode(x, s)` with the state unchanged, that dfs_step runs when the
    // step context's `drift` flag is set.
    bool drift = plan.adaptive.on;
    bool jumps = plan.grid.args.count("jump_length") != 0; // never with drift (Plan)
    for (size_t k = 0; k < paths.size(); ++k) {
      std::string name =
          paths.size() == 1 && !drift && !jumps ? "step" : "step_" + std::to_string(k);
      auto func = b.create<func::FuncOp>(l, name, stepType);
      func->setAttr("diffuse.step", b.getI32IntegerAttr((int)k));
      markGuidanceState(func);
      OpBuilder::InsertionGuard guard(b);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToStart(entry);
      std::map<std::string, Value> env = baseEnv(entry, step);
      b.setInsertionPointToEnd(entry);
      newState.clear();
      size_t next = 0;
      const ast::Stmt *pending = nullptr;
      walk(step->body, paths[k], next, env, false, &pending);
    }
    if (drift) {
      auto func = b.create<func::FuncOp>(l, "step_" + std::to_string(paths.size()), stepType);
      func->setAttr("diffuse.step", b.getI32IntegerAttr((int)paths.size()));
      func->setAttr("diffuse.drift", b.getUnitAttr());
      OpBuilder::InsertionGuard guard(b);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToStart(entry);
      SmallVector<Value> results{
          b.create<PfOdeOp>(l, field(), entry->getArgument(0), entry->getArgument(1))};
      results.append(entry->args_begin() + 3, entry->args_end()); // the state, unchanged
      b.create<func::ReturnOp>(l, results);
    }
    if (jumps)
      genRenoise(stepType, (int)paths.size(), loc(plan.sampler->find("grid")->value->loc));
    if (paths.size() > 1 || drift || jumps) {
      auto func = b.create<func::FuncOp>(l, "select",
                                         b.getFunctionType({time(), time()}, {b.getI32Type()}));
      func->setAttr("diffuse.select", b.getUnitAttr());
      OpBuilder::InsertionGuard guard(b);
      Block *entry = func.addEntryBlock();
      b.setInsertionPointToEnd(entry);
      // select(s, t) sees the step's time arguments; the state is not an argument.
      auto solverTree = [&]() -> Value {
        if (paths.size() > 1 || drift)
          return selectTree(step, entry, {}, paths);
        return b.create<arith::ConstantOp>(l, b.getI32IntegerAttr(0));
      };
      Value v;
      if (jumps) {
        // A step to a noisier point (lower log-SNR) is a jump up.
        Value up = b.create<arith::CmpFOp>(
            l, arith::CmpFPredicate::OLT,
            b.create<SchedOp>(l, f64(), entry->getArgument(1), "lambda"),
            b.create<SchedOp>(l, f64(), entry->getArgument(0), "lambda"));
        auto ifOp = b.create<scf::IfOp>(l, TypeRange{b.getI32Type()}, up, /*withElse=*/true);
        {
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPointToStart(&ifOp.getThenRegion().front());
          b.create<scf::YieldOp>(
              l, Value(b.create<arith::ConstantOp>(l, b.getI32IntegerAttr((int)paths.size()))));
          b.setInsertionPointToStart(&ifOp.getElseRegion().front());
          b.create<scf::YieldOp>(l, solverTree());
        }
        v = ifOp.getResult(0);
      } else {
        v = solverTree();
      }
      b.create<func::ReturnOp>(l, v);
    }
  }

  /// Like walk, but only follows decisions (no IR).
  int walkDecisions(const std::vector<ast::Stmt> &body, const std::vector<bool> &decisions,
                    size_t &next, const ast::Stmt **pending) {
    for (const auto &s : body) {
      if (s.kind == ast::Stmt::Return)
        return 1;
      if (s.kind != ast::Stmt::If)
        continue;
      std::optional<bool> d = decide(s, decisions, next, pending);
      if (!d)
        return -1;
      int r = walkDecisions(*d ? s.thenBody : s.elseBody, decisions, next, pending);
      if (r != 0)
        return r;
    }
    return 0;
  }

  /// The guidance's state tensors (none without guidance).
  std::vector<std::string> guidanceStateNames() const {
    if (!plan.guidance)
      return {};
    const ast::Item *st = plan.guidance->find("state");
    return st ? st->params : std::vector<std::string>{};
  }

  std::vector<std::string> stateNames;
  std::map<std::string, Value> newState;
  MLIRContext &ctx;
  OpBuilder b;
  const SamplerPlan &plan;
  OwningOpRef<ModuleOp> module;
};

} // namespace

OwningOpRef<ModuleOp> mlirGen(MLIRContext &ctx, const SamplerPlan &plan) {
  return Gen(ctx, plan).run();
}

} // namespace diffuse
