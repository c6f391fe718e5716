//===- Differentiate.cpp - symbolic d/dt of scalar time functions ---------===//
//
// Forward-mode symbolic differentiation of the straight-line arith/math
// functions that define a path process's alpha(t) and sigma(t).
//
// Algorithm:
//   1. For each `diffuse.process` of kind "path", for its `alpha` and `sigma`
//      functions F (one argument t, one block), clone F as F_d.
//   2. Walk F_d's ops in order keeping, for each value, its derivative value
//      (null meaning identically zero); t has derivative 1.
//   3. Each op contributes its rule (sum, product, quotient, chain rule); an
//      op without a rule is an error that names it.
//   4. Return the derivative of F's result; canonicalization later folds the
//      zeros and ones away.
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace diffuse {
#define GEN_PASS_DEF_DIFFERENTIATE
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

class Differentiator {
public:
  explicit Differentiator(OpBuilder &b) : b(b) {}

  /// Derivative of every value in `fn` w.r.t. its first argument; returns
  /// failure on an op without a rule.
  FailureOr<Value> run(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    Value t = body.getArgument(0);
    timeArg = t;
    Value result;
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        b.setInsertionPoint(ret);
        result = get(ret.getOperand(0), op.getLoc());
        ret->setOperand(0, result);
        return result;
      }
      b.setInsertionPointAfter(&op);
      if (failed(rule(op, t)))
        return op.emitError("cannot differentiate '")
               << op.getName() << "'; use +, -, *, /, ^, exp, log, sqrt, sin, cos, tan, tanh";
    }
    return fn.emitError("function has no return");
  }

private:
  Value cst(double v, Location loc) {
    return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v));
  }
  /// The derivative of `v`, materializing zero if needed.
  Value get(Value v, Location loc) {
    if (v == timeArg)
      return cst(1.0, loc);
    auto it = d.find(v);
    if (it != d.end() && it->second)
      return it->second;
    return cst(0.0, loc);
  }
  bool isZero(Value v) { return !d.lookup(v); }
  Value mul(Value a, Value c, Location loc) { return b.create<arith::MulFOp>(loc, a, c); }
  Value add(Value a, Value c, Location loc) {
    if (!a) return c;
    if (!c) return a;
    return b.create<arith::AddFOp>(loc, a, c);
  }

  LogicalResult rule(Operation &op, Value t) {
    Location loc = op.getLoc();
    if (isa<arith::ConstantOp>(op))
      return success();
    if (op.getNumResults() != 1)
      return failure();
    Value r = op.getResult(0);
    auto dv = [&](Value v) -> Value {
      if (v == t)
        return cst(1.0, loc);
      return d.lookup(v);
    };
    Value out;
    if (auto o = dyn_cast<arith::AddFOp>(op)) {
      out = add(dv(o.getLhs()), dv(o.getRhs()), loc);
    } else if (auto o = dyn_cast<arith::SubFOp>(op)) {
      Value a = dv(o.getLhs()), c = dv(o.getRhs());
      if (c) c = b.create<arith::NegFOp>(loc, c);
      out = add(a, c, loc);
    } else if (auto o = dyn_cast<arith::NegFOp>(op)) {
      if (Value a = dv(o.getOperand())) out = b.create<arith::NegFOp>(loc, a);
    } else if (auto o = dyn_cast<arith::MulFOp>(op)) {
      Value a = dv(o.getLhs()), c = dv(o.getRhs());
      out = add(a ? mul(a, o.getRhs(), loc) : Value(), c ? mul(o.getLhs(), c, loc) : Value(), loc);
    } else if (auto o = dyn_cast<arith::DivFOp>(op)) {
      // (u/v)' = (u' - r v') / v
      Value a = dv(o.getLhs()), c = dv(o.getRhs());
      Value num = a;
      if (c) {
        Value rc = mul(r, c, loc);
        num = num ? b.create<arith::SubFOp>(loc, num, rc).getResult()
                  : b.create<arith::NegFOp>(loc, rc).getResult();
      }
      if (num) out = b.create<arith::DivFOp>(loc, num, o.getRhs());
    } else if (isa<arith::MinimumFOp, arith::MaximumFOp>(op)) {
      // Piecewise: the derivative of the selected branch.
      Value l = op.getOperand(0), rr = op.getOperand(1);
      bool isMin = isa<arith::MinimumFOp>(op);
      Value pick = b.create<arith::CmpFOp>(loc, isMin ? arith::CmpFPredicate::OLE
                                                      : arith::CmpFPredicate::OGE, l, rr);
      Value dl = dv(l), dr = dv(rr);
      if (dl || dr)
        out = b.create<arith::SelectOp>(loc, pick, dl ? dl : cst(0, loc), dr ? dr : cst(0, loc));
    } else if (auto o = dyn_cast<math::ExpOp>(op)) {
      if (Value a = dv(o.getOperand())) out = mul(r, a, loc);
    } else if (auto o = dyn_cast<math::ExpM1Op>(op)) {
      if (Value a = dv(o.getOperand()))
        out = mul(b.create<arith::AddFOp>(loc, r, cst(1, loc)), a, loc);
    } else if (auto o = dyn_cast<math::LogOp>(op)) {
      if (Value a = dv(o.getOperand())) out = b.create<arith::DivFOp>(loc, a, o.getOperand());
    } else if (auto o = dyn_cast<math::Log1pOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = b.create<arith::DivFOp>(loc, a,
                                      b.create<arith::AddFOp>(loc, o.getOperand(), cst(1, loc)));
    } else if (auto o = dyn_cast<math::SqrtOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = b.create<arith::DivFOp>(loc, a, mul(cst(2, loc), r, loc));
    } else if (auto o = dyn_cast<math::SinOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = mul(b.create<math::CosOp>(loc, o.getOperand()), a, loc);
    } else if (auto o = dyn_cast<math::CosOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = b.create<arith::NegFOp>(loc, mul(b.create<math::SinOp>(loc, o.getOperand()), a, loc));
    } else if (auto o = dyn_cast<math::TanOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = mul(b.create<arith::AddFOp>(loc, cst(1, loc), mul(r, r, loc)), a, loc);
    } else if (auto o = dyn_cast<math::AtanOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = b.create<arith::DivFOp>(
            loc, a,
            b.create<arith::AddFOp>(loc, cst(1, loc), mul(o.getOperand(), o.getOperand(), loc)));
    } else if (auto o = dyn_cast<math::TanhOp>(op)) {
      if (Value a = dv(o.getOperand()))
        out = mul(b.create<arith::SubFOp>(loc, cst(1, loc), mul(r, r, loc)), a, loc);
    } else if (isa<math::FloorOp>(op)) {
      // Piecewise constant: derivative zero almost everywhere.
    } else if (auto o = dyn_cast<math::AbsFOp>(op)) {
      if (Value a = dv(o.getOperand())) {
        Value neg = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, o.getOperand(),
                                            cst(0, loc));
        out = b.create<arith::SelectOp>(loc, neg, b.create<arith::NegFOp>(loc, a), a);
      }
    } else if (auto o = dyn_cast<math::PowFOp>(op)) {
      // (u^v)' = v u^(v-1) u' + u^v log(u) v'
      Value u = o.getLhs(), v = o.getRhs();
      Value du = dv(u), dvv = dv(v);
      Value term1, term2;
      if (du) {
        Value vm1 = b.create<arith::SubFOp>(loc, v, cst(1, loc));
        term1 = mul(mul(v, b.create<math::PowFOp>(loc, u, vm1), loc), du, loc);
      }
      if (dvv)
        term2 = mul(mul(r, b.create<math::LogOp>(loc, u), loc), dvv, loc);
      out = add(term1, term2, loc);
    } else {
      return failure();
    }
    if (out)
      d[r] = out;
    return success();
  }

  OpBuilder &b;
  Value timeArg;
  llvm::DenseMap<Value, Value> d;
};

struct DifferentiatePass : diffuse::impl::DifferentiateBase<DifferentiatePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    SymbolTable symbols(module);
    for (ProcessOp proc : llvm::to_vector(module.getOps<ProcessOp>())) {
      if (proc.getKind() != "path" || proc.getConfig().get("dalpha"))
        continue;
      NamedAttrList config(proc.getConfig());
      for (StringRef key : {"alpha", "sigma"}) {
        auto ref = proc.getConfig().getAs<FlatSymbolRefAttr>(key);
        auto fn = symbols.lookup<func::FuncOp>(ref.getValue());
        if (!fn) {
          proc.emitError("no function ") << ref;
          return signalPassFailure();
        }
        b.setInsertionPointAfter(fn);
        auto dfn = cast<func::FuncOp>(b.clone(*fn));
        std::string name = (fn.getSymName() + "_d").str();
        dfn.setSymName(name);
        symbols.insert(dfn);
        Differentiator diff(b);
        if (failed(diff.run(dfn)))
          return signalPassFailure();
        config.set(key == "alpha" ? "dalpha" : "dsigma",
                   FlatSymbolRefAttr::get(b.getContext(), dfn.getSymName()));
      }
      proc.setConfigAttr(config.getDictionary(b.getContext()));
    }
  }
};

} // namespace
