//===- Derive.cpp - primitives to network calls and arithmetic ------------===//
//
// Rewrites `diffuse.denoise/eps/pf_ode/sched` in the step function into
// network calls, the guidance combine and the conversions that follow from
// what the model predicts, in the sampler's coordinates. See Note [Coords],
// and Note [Guidance] in docs/design.md for the combine rule's space,
// active(t) and the unconditional primitives.
//
// Note [Coords]
// The process is x = a(t) x0 + s(t) eps. A solver works either in
//  - native coordinates: state x, time t; alpha_c = a, sigma_c = s; or
//  - ve coordinates: state y = x/a, time tau = s/a; alpha_c = 1, sigma_c = tau
//    (k-diffusion's and diffusers' k-style schedulers: the network input is
//    a*y, diffusers' scale_model_input); or
//  - lambda coordinates: state x, time lambda = log(a/s), the log-SNR;
//    alpha_c = a, sigma_c = s, and a time derivative is the native one over
//    lambda' = a'/a - s'/s (a time change). A discrete table is variance
//    preserving (a^2 + s^2 = 1), so there d a/d lambda = a s^2 and
//    d s/d lambda = -s a^2 need no derivative in t.
// x0 and eps are the same in all three. With xp = the network input (= x, or a*y):
//   eps  prediction m:  eps = m,                     x0 = (x_c - sigma_c eps)/alpha_c
//   x0   prediction m:  x0 = m,                      eps = (x_c - alpha_c x0)/sigma_c
//   v    prediction m:  eps = (s xp + a m)/(a^2+s^2), x0 = (a xp - s m)/(a^2+s^2)
//   velocity m = a' x0 + s' eps (d/dt of the process, in either coordinates):
//                       x0 = (s' xp - s m)/(s' a - a' s), eps = (a m - a' xp)/(s' a - a' s)
//   score m = grad_x log p_t(x) = -eps/s (of the native x, in either
//                       coordinates): eps = -s m, then x0 as for eps
//   edm (Karras et al.'s preconditioning, sigma_data d): with y = x/a (the ve
//   state) and u = s/a, the network sees c_in y, c_in = 1/sqrt(u^2 + d^2), and
//                       x0 = c_skip y + c_out m, c_skip = d^2/(u^2 + d^2),
//                       c_out = u d/sqrt(u^2 + d^2);  eps = (y - x0)/u
// and pf_ode = alpha_c' x0 + sigma_c' eps (= eps in ve coordinates; = m for
// a velocity model in native coordinates, m / lambda' in lambda ones). The
// SDE's f and g^2 follow from alpha_c, sigma_c and their derivatives in the
// solver's time: f = alpha_c'/alpha_c, g^2 = 2 sigma_c (sigma_c' - f sigma_c)
// (negative in lambda coordinates, where time runs against t).
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace diffuse {
#define GEN_PASS_DEF_DERIVE
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

struct Deriver {
  OpBuilder &b;
  SamplerOp sampler;
  ProcessOp process;
  ModelOp model;
  func::FuncOp guidance; // null when unguided
  enum class Coords { Native, Ve, Lambda } coords;
  func::FuncOp activeFn; // null unless the guidance has active(t)
  std::string space;     // "output", "x0" or "eps"
  /// The guidance's evaluations, in the order of the combine rule's
  /// arguments: the model each calls and its condition (-1: none, k: the
  /// k-th label set). See Note [Evaluations] in docs/design.md.
  struct Eval {
    ModelOp model;
    int32_t cond;
  };
  SmallVector<Eval> evals;
  /// The guidance's state tensors as the next guided call sees them.
  SmallVector<Value> guidanceState = {};

  Value point(Value t, StringRef f, Location l) {
    return b.create<PointOp>(l, b.getF64Type(), t, f);
  }
  Value cst(double v, Location l) { return b.create<arith::ConstantOp>(l, b.getF64FloatAttr(v)); }
  Type field() { return FieldType::get(b.getContext()); }

  /// Fails with a message naming what the mathematics lacks.
  LogicalResult needDerivatives(Operation *op, StringRef why) {
    if (process.getKind() == "path")
      return success();
    return op->emitError() << why << " needs d alpha/dt and d sigma/dt, which the discrete "
                           << "process '" << process.getSymName()
                           << "' does not have; use coords = ve or coords = lambda";
  }

  FailureOr<Value> sched(SchedOp op) {
    Location l = op.getLoc();
    Value t = op.getTime();
    StringRef k = op.getKind();
    if (k == "t")
      return point(t, "tau", l);
    if (k == "beta") // the table's own, in any coordinates
      return point(t, "beta", l);
    if (ve()) {
      if (k == "alpha") return cst(1, l);
      if (k == "sigma") return point(t, "tau", l);
      if (k == "dalpha") return cst(0, l);
      if (k == "dsigma") return cst(1, l);
      // dy = sqrt(d tau^2 / d tau) dW: f = 0, g^2 = 2 tau.
      if (k == "f") return cst(0, l);
      if (k == "g2") return b.create<arith::MulFOp>(l, cst(2, l), point(t, "tau", l)).getResult();
      // lambda = -log tau: d lambda / d tau = -1/tau.
      if (k == "dlambda")
        return b.create<arith::DivFOp>(l, cst(-1, l), point(t, "tau", l)).getResult();
      // lambda = log(1/tau)
      return b.create<arith::NegFOp>(l, b.create<math::LogOp>(l, point(t, "tau", l))).getResult();
    }
    bool lambda = coords == Coords::Lambda;
    if (k == "alpha") return point(t, "a", l);
    if (k == "sigma") return point(t, "s", l);
    if (k == "lambda" && lambda) return point(t, "tau", l);
    if (k == "dlambda" && lambda) return cst(1, l);
    if (k == "dalpha" || k == "dsigma")
      return derivative(op, t, k == "dalpha", "this schedule derivative");
    if (k == "dlambda") { // a'/a - s'/s
      if (failed(needDerivatives(op, "d lambda/dt")))
        return failure();
      return dlambdaDt(t, l);
    }
    if (k == "f" || k == "g2") {
      // The SDE with these marginals: f = a'/a, g^2 = (s^2)' - 2 f s^2, in
      // the solver's time.
      StringRef what = k == "f" ? "the SDE drift" : "the SDE diffusion2";
      FailureOr<Value> da = derivative(op, t, true, what);
      if (failed(da))
        return failure();
      Value a = point(t, "a", l), s = point(t, "s", l);
      Value f = b.create<arith::DivFOp>(l, *da, a);
      if (k == "f")
        return f;
      FailureOr<Value> dsv = derivative(op, t, false, what);
      if (failed(dsv))
        return failure();
      Value ds = b.create<arith::SubFOp>(l, *dsv, b.create<arith::MulFOp>(l, f, s));
      return b.create<arith::MulFOp>(l, b.create<arith::MulFOp>(l, cst(2, l), s), ds).getResult();
    }
    Value ratio = b.create<arith::DivFOp>(l, point(t, "a", l), point(t, "s", l));
    return b.create<math::LogOp>(l, ratio).getResult();
  }

  /// d lambda/dt = a'/a - s'/s of a path.
  Value dlambdaDt(Value t, Location l) {
    Value fa = b.create<arith::DivFOp>(l, point(t, "da", l), point(t, "a", l));
    Value fs = b.create<arith::DivFOp>(l, point(t, "ds", l), point(t, "s", l));
    return b.create<arith::SubFOp>(l, fa, fs).getResult();
  }

  /// d alpha (or d sigma) / d(solver time) in native or lambda coordinates
  /// (Note [Coords]).
  FailureOr<Value> derivative(Operation *op, Value t, bool alpha, StringRef why) {
    Location l = op->getLoc();
    if (coords == Coords::Lambda && process.getKind() != "path") {
      // Variance preserving: d a/d lambda = a s^2, d s/d lambda = -s a^2.
      Value a = point(t, "a", l), s = point(t, "s", l);
      Value other = alpha ? s : a;
      Value sq = b.create<arith::MulFOp>(l, other, other);
      Value r = b.create<arith::MulFOp>(l, alpha ? a : s, sq);
      return alpha ? r : b.create<arith::NegFOp>(l, r).getResult();
    }
    if (failed(needDerivatives(op, why)))
      return failure();
    Value d = point(t, alpha ? "da" : "ds", l);
    if (coords == Coords::Lambda)
      return b.create<arith::DivFOp>(l, d, dlambdaDt(t, l)).getResult();
    return d;
  }

  /// The model's output at (x, t) after guidance, and the network input.
  /// The ve state y = x/a and noise level u = s/a of an edm model.
  std::pair<Value, Value> veState(Value x, Value t, Location l) {
    if (ve())
      return {x, point(t, "tau", l)};
    Value a = point(t, "a", l);
    return {b.create<DivOp>(l, field(), x, a),
            b.create<arith::DivFOp>(l, point(t, "s", l), a).getResult()};
  }
  /// The preconditioning of edm model `m` at noise level u.
  EdmCoefficients edm(ModelOp m, Value u, Location l) {
    ScalarBuilder e(b, l);
    return edmCoefficients(e, u, m->getAttrOfType<FloatAttr>("sigma_data").getValueAsDouble());
  }
  /// What model `m` is called on at (x, t): x itself, a x in ve coordinates
  /// (the native input), or c_in y for an edm model (its own sigma_data).
  Value networkInput(ModelOp m, Value x, Value t, Location l) {
    if (m.getPredicts() == "edm") {
      auto [y, u] = veState(x, t, l);
      return b.create<DivOp>(l, field(), y, edm(m, u, l).norm); // c_in y
    }
    if (ve())
      return b.create<MulOp>(l, field(), x, point(t, "a", l));
    return x;
  }

  /// x0 and eps from a value of kind `pred` (see Note [Coords]) that model
  /// `of` made from the network input `xin`; computes only what `want` needs.
  std::pair<Value, Value> decode(ModelOp of, StringRef pred, Value m, Value x, Value xin,
                                 Value t, Location l, StringRef want) {
    Value ac = ve() ? cst(1, l) : point(t, "a", l);
    Value sc = ve() ? point(t, "tau", l) : point(t, "s", l);
    Value x0, e;
    if (pred == "eps" || pred == "score") {
      e = pred == "eps" ? m
                        : b.create<MulOp>(l, field(), m,
                                          b.create<arith::NegFOp>(l, point(t, "s", l)).getResult())
                              .getResult();
      if (want != "eps" && want != "score")
        x0 = b.create<DivOp>(l, field(), b.create<SubOp>(l, field(), x,
                                                         b.create<MulOp>(l, field(), e, sc)),
                             ac);
    } else if (pred == "x0") {
      x0 = m;
      if (want != "denoise")
        e = b.create<DivOp>(l, field(), b.create<SubOp>(l, field(), x,
                                                        b.create<MulOp>(l, field(), m, ac)),
                            sc);
    } else if (pred == "edm") {
      auto [y, u] = veState(x, t, l);
      EdmCoefficients c = edm(of, u, l);
      x0 = b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), y, c.cskip),
                           b.create<MulOp>(l, field(), m, c.cout));
      if (want != "denoise")
        e = b.create<DivOp>(l, field(), b.create<SubOp>(l, field(), y, x0), u);
    } else if (pred == "v") {
      Value a = point(t, "a", l), s = point(t, "s", l);
      Value n = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, a, a),
                                        b.create<arith::MulFOp>(l, s, s));
      Value ca = b.create<arith::DivFOp>(l, a, n), cs = b.create<arith::DivFOp>(l, s, n);
      e = b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), xin, cs),
                          b.create<MulOp>(l, field(), m, ca));
      x0 = b.create<SubOp>(l, field(), b.create<MulOp>(l, field(), xin, ca),
                           b.create<MulOp>(l, field(), m, cs));
    } else { // velocity, from the network input in either coordinates
      Value a = point(t, "a", l), s = point(t, "s", l);
      Value da = point(t, "da", l), ds = point(t, "ds", l);
      Value den = b.create<arith::SubFOp>(l, b.create<arith::MulFOp>(l, ds, a),
                                          b.create<arith::MulFOp>(l, da, s));
      Value inv = b.create<arith::DivFOp>(l, cst(1, l), den);
      x0 = b.create<MulOp>(l, field(),
                           b.create<SubOp>(l, field(), b.create<MulOp>(l, field(), xin, ds),
                                           b.create<MulOp>(l, field(), m, s)),
                           inv);
      e = b.create<MulOp>(l, field(),
                          b.create<SubOp>(l, field(), b.create<MulOp>(l, field(), m, a),
                                          b.create<MulOp>(l, field(), xin, da)),
                          inv);
    }
    return {x0, e};
  }

  /// Clones a one-block function's body at the insertion point with its
  /// arguments bound to `args`, lowering the schedule ops it contains; returns
  /// the value it returns.
  FailureOr<Value> inlineBody(func::FuncOp f, ValueRange args) {
    FailureOr<SmallVector<Value>> r = inlineAll(f, args);
    if (failed(r))
      return failure();
    return (*r)[0];
  }
  /// inlineBody for a function with several results.
  FailureOr<SmallVector<Value>> inlineAll(func::FuncOp f, ValueRange args) {
    IRMapping map;
    Block &body = f.getBody().front();
    for (auto [formal, actual] : llvm::zip(body.getArguments(), args))
      map.map(formal, actual);
    for (Operation &op : body.without_terminator()) {
      Operation *c = b.clone(op, map);
      if (auto s = dyn_cast<SchedOp>(c)) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(c);
        FailureOr<Value> v = sched(s);
        if (failed(v))
          return failure();
        map.map(op.getResult(0), *v);
        c->erase();
      }
    }
    SmallVector<Value> results;
    for (Value v : body.getTerminator()->getOperands())
      results.push_back(map.lookup(v));
    return results;
  }

  /// What the model's output becomes after guidance: the value, the network
  /// input, and what the value is (the model's prediction, or the guidance
  /// space's x0 or eps). With `uncond`, the unconditional output alone.
  struct Evaluation {
    Value m, xin;
    std::string pred;
  };
  /// The guided evaluations of the current step function by (x, t).
  llvm::DenseMap<std::pair<Value, Value>, Evaluation> memo{};
  /// The sampler's model's network call at each (x, t) an evaluation made.
  llvm::DenseMap<std::pair<Value, Value>, ModelCallOp> mainCalls{};

  /// A network call of model `m`: one result per condition, and with
  /// learned variance (Note [Learned variance]) as many more after them, so
  /// that every call of the model at one point is the same op for CSE.
  ModelCallOp callModel(Location l, ModelOp m, Value xin, Value t, Value active,
                        ArrayRef<int32_t> conds, Value fallback = Value()) {
    bool variance = m->hasAttr("variance");
    SmallVector<Type> types(conds.size() * (variance ? 2 : 1), field());
    auto call = b.create<ModelCallOp>(l, types, m.getSymName(), xin, t, active, fallback,
                                      b.getDenseI32ArrayAttr(conds));
    if (variance)
      call->setAttr("variance", b.getUnitAttr());
    return call;
  }

  /// The variance channels of the sampler's model at (x, t): of the same
  /// call as its prediction there, the conditional evaluation's under
  /// guidance.
  FailureOr<Value> varianceOutput(Operation *op, Value x, Value t) {
    if (!model->hasAttr("variance"))
      return op->emitOpError("needs a model with learned variance");
    if (failed(evaluate(x, t, op->getLoc(), /*uncond=*/false)))
      return failure();
    auto it = mainCalls.find({x, t});
    if (it == mainCalls.end())
      return op->emitOpError("needs the guidance to evaluate the sampler's model");
    ModelCallOp c = it->second;
    ArrayRef<int32_t> conds = c.getConds();
    size_t k = llvm::is_contained(conds, 0) ? size_t(llvm::find(conds, 0) - conds.begin()) : 0;
    return c.getOutputs()[conds.size() + k];
  }
  FailureOr<Evaluation> evaluate(Value x, Value t, Location l, bool uncond) {
    // With guidance state, every guided call at one (x, t) must be one
    // combine (each combine advances the state).
    if (!uncond && !guidanceState.empty()) {
      auto it = memo.find({x, t});
      if (it != memo.end())
        return it->second;
      FailureOr<Evaluation> e = evaluateOnce(x, t, l, uncond);
      if (succeeded(e))
        memo[{x, t}] = *e;
      return e;
    }
    return evaluateOnce(x, t, l, uncond);
  }
  FailureOr<Evaluation> evaluateOnce(Value x, Value t, Location l, bool uncond) {
    std::string pred = model.getPredicts().str();
    Value xin = networkInput(model, x, t, l);
    if (!guidance) {
      int32_t cond = model.getConditional() ? 0 : -1;
      ModelCallOp call = callModel(l, model, xin, t, Value(), {cond});
      mainCalls[{x, t}] = call;
      return Evaluation{call.getOutputs()[0], xin, pred};
    }
    // One call per model for the evaluations the rule reads (all of them
    // for the unconditional primitives, so that CSE makes them one call).
    SmallVector<Value> outs(evals.size());
    // The sampler's model first: outside active(t) its label set 0 output
    // stands in for the other models' evaluations (their calls' fallback).
    SmallVector<ModelOp> models{model};
    for (const Eval &e : evals)
      if (!llvm::is_contained(models, e.model))
        models.push_back(e.model);
    Value fallback;
    Value active;
    if (activeFn) {
      FailureOr<Value> a = inlineBody(activeFn, {t});
      if (failed(a))
        return failure();
      active = *a;
    }
    // Each model's own input: another model may be preconditioned otherwise.
    llvm::DenseMap<Operation *, Value> inputs;
    for (ModelOp m : models) {
      SmallVector<int32_t> conds;
      SmallVector<unsigned> which;
      for (auto [i, e] : llvm::enumerate(evals))
        if (e.model == m && !guidance.getArgument(i).use_empty() &&
            !llvm::is_contained(conds, e.cond)) {
          conds.push_back(e.cond);
          which.push_back(i);
        }
      if (conds.empty())
        continue;
      Value in = inputs[m] = m == model ? xin : networkInput(m, x, t, l);
      if (m != model && active && !fallback) {
        emitError(l) << "active(t) needs the guidance rule to read model(cond), which stands in "
                        "for model '"
                     << m.getSymName() << "' outside the interval";
        return failure();
      }
      ModelCallOp call =
          callModel(l, m, in, t, active, conds, m == model || !active ? Value() : fallback);
      if (m == model) {
        mainCalls[{x, t}] = call;
        if (const int32_t *c0 = llvm::find(conds, 0); c0 != conds.end())
          fallback = call.getOutputs()[c0 - conds.begin()];
      }
      for (auto [i, e] : llvm::enumerate(evals))
        if (e.model == m)
          for (auto [k, c] : llvm::enumerate(conds))
            if (c == e.cond)
              outs[i] = call.getOutputs()[k];
    }
    if (uncond) {
      for (auto [i, e] : llvm::enumerate(evals))
        if (e.model == model && e.cond == -1 && outs[i])
          return Evaluation{outs[i], xin, pred};
      // The rule reads no unconditional evaluation: the prediction before
      // the rule, as an unguided sampler would see it.
      for (auto [i, e] : llvm::enumerate(evals))
        if (e.model == model && e.cond == 0 && outs[i])
          return Evaluation{outs[i], xin, pred};
      ModelCallOp call = callModel(l, model, xin, t, Value(), {0});
      return Evaluation{call.getOutputs()[0], xin, pred};
    }
    SmallVector<Value> args;
    for (auto [i, e] : llvm::enumerate(evals)) {
      Value m = outs[i];
      if (!m) { // never read: any value of the type will do
        args.push_back(x);
        continue;
      }
      std::string p = e.model.getPredicts().str();
      // A classifier's gradient, d log p(y | x) / dx of the network input,
      // is given to the rule with respect to the solver's state (times
      // alpha in ve coordinates, where the state is x / alpha).
      if (p == "class_grad")
        args.push_back(ve() ? b.create<MulOp>(l, field(), m, point(t, "a", l)).getResult() : m);
      else
        args.push_back(inSpace(e.model, p, m, x, inputs.lookup(e.model), t, l));
    }
    args.push_back(t);
    args.append(guidanceState.begin(), guidanceState.end());
    FailureOr<SmallVector<Value>> g = inlineAll(guidance, args);
    if (failed(g))
      return failure();
    for (size_t k = 0; k < guidanceState.size(); ++k)
      guidanceState[k] = (*g)[1 + k];
    return Evaluation{(*g)[0], xin, spacePred(pred)};
  }
  /// Model `of`'s output in the guidance's space.
  Value inSpace(ModelOp of, StringRef pred, Value m, Value x, Value xin, Value t, Location l) {
    if (space == "x0")
      return decode(of, pred, m, x, xin, t, l, "denoise").first;
    if (space == "eps")
      return decode(of, pred, m, x, xin, t, l, "eps").second;
    return m;
  }
  std::string spacePred(const std::string &pred) {
    return space == "x0" ? "x0" : space == "eps" ? "eps" : pred;
  }

  FailureOr<Value> oracle(Operation *op, Value x, Value t, StringRef want, bool uncond) {
    Location l = op->getLoc();
    StringRef modelPred = model.getPredicts();
    if (modelPred == "velocity" && failed(needDerivatives(op, "a velocity model")))
      return failure();
    FailureOr<Evaluation> ev = evaluate(x, t, l, uncond);
    if (failed(ev))
      return failure();
    if (want == "pf_ode" && ev->pred == "velocity" && !ve()) {
      if (coords == Coords::Native)
        return ev->m;
      return b.create<DivOp>(l, field(), ev->m, dlambdaDt(t, l)).getResult();
    }
    auto [x0, e] = decode(model, ev->pred, ev->m, x, ev->xin, t, l, want);
    Value sc = ve() ? point(t, "tau", l) : point(t, "s", l);
    if (want == "denoise")
      return x0;
    if (want == "eps")
      return e;
    if (want == "score") // -eps / sigma, in the solver's coordinates
      return b.create<DivOp>(l, field(), b.create<NegOp>(l, field(), e), sc).getResult();
    // pf_ode
    if (ve())
      return e;
    FailureOr<Value> da = derivative(op, t, true, "pf_ode in " + coordsName() + " coordinates");
    if (failed(da))
      return failure();
    FailureOr<Value> ds = derivative(op, t, false, "pf_ode in " + coordsName() + " coordinates");
    if (failed(ds))
      return failure();
    return b.create<AddOp>(l, field(), b.create<MulOp>(l, field(), x0, *da),
                           b.create<MulOp>(l, field(), e, *ds))
        .getResult();
  }
  bool ve() const { return coords == Coords::Ve; }
  std::string coordsName() const {
    return coords == Coords::Lambda ? "lambda" : ve() ? "ve" : "native";
  }
};

struct DerivePass : diffuse::impl::DeriveBase<DerivePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto samplers = llvm::to_vector(module.getOps<SamplerOp>());
    if (samplers.empty() && !module.getOps<TrainOp>().empty())
      return; // a training spec: diffuse-derive-training's business
    if (samplers.size() != 1) {
      module.emitError("expected exactly one diffuse.sampler");
      return signalPassFailure();
    }
    SamplerOp sampler = samplers[0];
    DictionaryAttr cfg = sampler.getConfig();
    SymbolTable symbols(module);
    auto process = symbols.lookup<ProcessOp>(cfg.getAs<FlatSymbolRefAttr>("process").getValue());
    auto model = symbols.lookup<ModelOp>(cfg.getAs<FlatSymbolRefAttr>("model").getValue());
    SmallVector<func::FuncOp> steps;
    for (auto f : module.getOps<func::FuncOp>())
      if (f->hasAttr("diffuse.step") || f->hasAttr("diffuse.select"))
        steps.push_back(f);
    if (!process || !model || steps.empty()) {
      sampler.emitError("sampler needs a process, a model and a step function");
      return signalPassFailure();
    }
    func::FuncOp guidance, active;
    std::string space = "output";
    SmallVector<Deriver::Eval> evals;
    if (auto g = cfg.getAs<DictionaryAttr>("guidance")) {
      auto ms = g.getAs<ArrayAttr>("eval_models");
      auto cs = g.getAs<ArrayAttr>("eval_conds");
      if (!ms || !cs || ms.size() != cs.size()) {
        sampler.emitError("guidance needs eval_models and eval_conds of one length");
        return signalPassFailure();
      }
      for (auto [m, c] : llvm::zip(ms, cs)) {
        auto op = symbols.lookup<ModelOp>(cast<FlatSymbolRefAttr>(m).getValue());
        if (!op) {
          sampler.emitError("guidance evaluates an unknown model ") << m;
          return signalPassFailure();
        }
        evals.push_back({op, (int32_t)cast<IntegerAttr>(c).getInt()});
      }
      guidance = symbols.lookup<func::FuncOp>(g.getAs<FlatSymbolRefAttr>("combine").getValue());
      if (auto a = g.getAs<FlatSymbolRefAttr>("active"))
        active = symbols.lookup<func::FuncOp>(a.getValue());
      if (auto sp = g.getAs<StringAttr>("space"))
        space = sp.getValue().str();
    }

    OpBuilder b(module.getContext());
    auto coords = cfg.getAs<StringAttr>("coords");
    auto c = !coords                      ? Deriver::Coords::Native
             : coords.getValue() == "ve"     ? Deriver::Coords::Ve
             : coords.getValue() == "lambda" ? Deriver::Coords::Lambda
                                             : Deriver::Coords::Native;
    Deriver d{b, sampler, process, model, guidance, c, active, space, evals};
    unsigned numState = guidance ? guidance.getNumResults() - 1 : 0;
    if (guidance && guidance.getNumArguments() != evals.size() + 1 + numState) {
      guidance.emitError("the combine rule takes ") << evals.size() << " evaluations and t";
      return signalPassFailure();
    }

    bool failedAny = false;
    for (func::FuncOp step : steps) {
      // The guidance's state: the step's last arguments, threaded through its
      // guided calls and returned where MLIRGen marked the step to carry it
      // (not the adaptive controller's own evaluation).
      d.guidanceState.clear();
      d.memo.clear();
      d.mainCalls.clear();
      Block &entry = step.getBody().front();
      if (numState && !step->hasAttr("diffuse.select"))
        for (unsigned k = entry.getNumArguments() - numState; k < entry.getNumArguments(); ++k)
          d.guidanceState.push_back(entry.getArgument(k));
      step.walk([&](Operation *op) {
        b.setInsertionPoint(op);
        FailureOr<Value> r = failure();
        if (auto s = dyn_cast<SchedOp>(op))
          r = d.sched(s);
        else if (auto o = dyn_cast<DenoiseOp>(op))
          r = d.oracle(op, o.getX(), o.getTime(), "denoise", o.getUncond());
        else if (auto o = dyn_cast<EpsOp>(op))
          r = d.oracle(op, o.getX(), o.getTime(), "eps", o.getUncond());
        else if (auto o = dyn_cast<PfOdeOp>(op))
          r = d.oracle(op, o.getX(), o.getTime(), "pf_ode", o.getUncond());
        else if (auto o = dyn_cast<ScoreOp>(op))
          r = d.oracle(op, o.getX(), o.getTime(), "score", o.getUncond());
        else if (auto o = dyn_cast<VarianceOutputOp>(op))
          r = d.varianceOutput(op, o.getX(), o.getTime());
        else
          return;
        if (failed(r)) {
          failedAny = true;
          return;
        }
        op->getResult(0).replaceAllUsesWith(*r);
        op->erase();
      });
      if (numState && step->hasAttr("diffuse.guidance_state")) {
        Operation *ret = entry.getTerminator();
        unsigned first = ret->getNumOperands() - numState;
        for (unsigned k = 0; k < numState; ++k)
          ret->setOperand(first + k, d.guidanceState[k]);
      }
    }
    if (failedAny)
      return signalPassFailure();
    if (guidance)
      guidance.erase();
    if (active)
      active.erase();
  }
};

} // namespace
