//===- InvertLambda.cpp - t(lambda) of a Gaussian path in closed form -----===//
//
// DPM-Solver-type solvers and log-SNR grids need the time at which the
// process has a given log-SNR lambda = log(alpha / sigma). This pass writes
// that inverse as a scalar function `dfs_process_t_of_lambda(lambda)` when
// one exists in closed form; otherwise the runtime bisects.
//
// Algorithm:
//   1. Evaluate alpha and sigma at 65 points of the domain and find how they
//      are tied: alpha constant (VE: sigma = alpha e^-lambda), sigma
//      constant, alpha^2 + sigma^2 = 1 (VP: log alpha = -softplus(-2 lambda)
//      / 2), sigma = 1 - alpha^2 (sub-VP: a quadratic in alpha) or
//      alpha + sigma = 1 (rectified flow: sigma = 1 / (1 + e^lambda)).
//      Each tie makes alpha or sigma a known function y(lambda), carried as
//      log y where it is available, so that exp(u) = y becomes u = log y
//      without rounding through y.
//   2. Invert that function's body from its result down to t, one op at a
//      time: the operand that depends on t gets the target the op's inverse
//      gives (x + c = y: x = y - c; exp: log; sqrt: square; c^x: log y /
//      log c; cos: acos where its argument stays in [0, pi]; ...). A
//      polynomial subexpression of degree 1 or 2 in t is solved at once
//      (the quadratic by the cancellation-free root formula, the root chosen
//      by where t lies).
//   3. Check t(lambda(t_k)) = t_k at the 65 points for every candidate (each
//      tie gives alpha and sigma as candidates) and keep the most accurate
//      one within 1e-10 of the domain's length; none: "numeric".
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

#include <array>
#include <cmath>
#include <functional>

namespace diffuse {
#define GEN_PASS_DEF_INVERTLAMBDA
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

constexpr int kSamples = 65;
constexpr double kPi = 3.14159265358979323846;

/// The value a subexpression must take, in the inverse function: y, log y,
/// or both (each made from the other on demand).
struct Target {
  Value y, logy;
};

using Quadratic = std::array<double, 3>; // c0 + c1 t + c2 t^2

class Inverter {
public:
  Inverter(OpBuilder &b, Location loc, func::FuncOp src,
           const std::vector<std::pair<double, llvm::DenseMap<Value, double>>> &samples)
      : b(b), loc(loc), samples(samples) {
    Block &body = src.getBody().front();
    t = body.getArgument(0);
    dependent.insert(t);
    for (Operation &op : body)
      for (Value operand : op.getOperands())
        if (dependent.contains(operand)) {
          for (Value r : op.getResults())
            dependent.insert(r);
          break;
        }
  }

  /// The t at which `node` equals the target, built at b's insertion point.
  FailureOr<Value> invert(Value node, Target tgt) {
    if (node == t)
      return y(tgt);
    if (auto q = quadratic(node); q && ((*q)[1] != 0 || (*q)[2] != 0))
      return solve(node, *q, tgt);
    Operation *op = node.getDefiningOp();
    if (!op)
      return failure();
    auto dep = [&](unsigned i) { return dependent.contains(op->getOperand(i)); };
    if (op->getNumOperands() == 2 && dep(0) == dep(1))
      return failure();
    unsigned d = op->getNumOperands() == 2 && dep(1) ? 1 : 0;
    Value x = op->getOperand(d);
    Value other = op->getNumOperands() == 2 ? op->getOperand(1 - d) : Value();
    auto positive = [&](Value v) { return all(v, [](double c) { return c > 0; }); };

    if (isa<arith::AddFOp>(op))
      return invert(x, {sub(y(tgt), constant(other)), {}});
    if (isa<arith::SubFOp>(op))
      return invert(x, {d == 0 ? add(y(tgt), constant(other)) : sub(constant(other), y(tgt)), {}});
    if (isa<arith::NegFOp>(op))
      return invert(x, {neg(y(tgt)), {}});
    if (isa<arith::MulFOp>(op)) {
      Value c = constant(other);
      if (positive(other))
        return invert(x, {{}, sub(logy(tgt), log(c))});
      return invert(x, {div(y(tgt), c), {}});
    }
    if (isa<arith::DivFOp>(op)) {
      Value c = constant(other);
      if (d == 0)
        return positive(other) ? invert(x, {{}, add(logy(tgt), log(c))})
                               : invert(x, {mul(y(tgt), c), {}});
      return positive(other) ? invert(x, {{}, sub(log(c), logy(tgt))})
                             : invert(x, {div(c, y(tgt)), {}});
    }
    if (isa<math::ExpOp>(op))
      return invert(x, {logy(tgt), {}});
    if (isa<math::ExpM1Op>(op))
      return invert(x, {create<math::Log1pOp>(y(tgt)), {}});
    if (isa<math::LogOp>(op))
      return invert(x, {create<math::ExpOp>(y(tgt)), y(tgt)});
    if (isa<math::Log1pOp>(op))
      return invert(x, {create<math::ExpM1Op>(y(tgt)), {}});
    if (isa<math::SqrtOp>(op)) {
      if (tgt.logy)
        return invert(x, {{}, mul(cst(2), tgt.logy)});
      return invert(x, {mul(tgt.y, tgt.y), {}});
    }
    if (isa<math::PowFOp>(op)) {
      Value c = constant(other);
      if (d == 0 && positive(x)) // x^c = y: log x = log y / c
        return invert(x, {{}, div(logy(tgt), c)});
      if (d == 1 && positive(other) && all(other, [](double v) { return v != 1; }))
        return invert(x, {div(logy(tgt), log(c)), {}}); // c^x = y
      return failure();
    }
    auto within = [&](double lo, double hi) {
      return all(x, [&](double v) { return v >= lo && v <= hi; });
    };
    if (isa<math::CosOp>(op) && within(0, kPi))
      return invert(x, {create<math::AcosOp>(y(tgt)), {}});
    if (isa<math::SinOp>(op) && within(-kPi / 2, kPi / 2))
      return invert(x, {create<math::AsinOp>(y(tgt)), {}});
    if (isa<math::TanOp>(op) && within(-kPi / 2, kPi / 2))
      return invert(x, {create<math::AtanOp>(y(tgt)), {}});
    if (isa<math::TanhOp>(op))
      return invert(x, {create<math::AtanhOp>(y(tgt)), {}});
    return failure();
  }

private:
  Value cst(double v) { return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v)); }
  template <typename Op> Value create(Value x) { return b.create<Op>(loc, x); }
  Value add(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
  Value neg(Value x) { return b.create<arith::NegFOp>(loc, x); }
  Value log(Value x) { return b.create<math::LogOp>(loc, x); }
  Value y(Target &tgt) {
    if (!tgt.y)
      tgt.y = create<math::ExpOp>(tgt.logy);
    return tgt.y;
  }
  Value logy(Target &tgt) {
    if (!tgt.logy)
      tgt.logy = log(tgt.y);
    return tgt.logy;
  }

  bool all(Value v, const std::function<bool(double)> &pred) {
    for (auto &[tk, values] : samples)
      if (!pred(values.lookup(v)))
        return false;
    return true;
  }

  /// A value that does not depend on t, as a constant of the inverse.
  Value constant(Value v) { return cst(samples.front().second.lookup(v)); }

  /// `v` as c0 + c1 t + c2 t^2, if it is one (memoized: bodies are DAGs).
  std::optional<Quadratic> quadratic(Value v) {
    auto it = quadratics.find(v);
    if (it != quadratics.end())
      return it->second;
    std::optional<Quadratic> q = readQuadratic(v);
    quadratics[v] = q;
    return q;
  }
  std::optional<Quadratic> readQuadratic(Value v) {
    if (v == t)
      return Quadratic{0, 1, 0};
    if (!dependent.contains(v))
      return Quadratic{samples.front().second.lookup(v), 0, 0};
    Operation *op = v.getDefiningOp();
    if (!op || op->getNumOperands() == 0)
      return std::nullopt;
    std::optional<Quadratic> a = quadratic(op->getOperand(0)), c;
    if (!a)
      return std::nullopt;
    if (isa<arith::NegFOp>(op))
      return Quadratic{-(*a)[0], -(*a)[1], -(*a)[2]};
    if (op->getNumOperands() != 2 || !(c = quadratic(op->getOperand(1))))
      return std::nullopt;
    if (isa<arith::AddFOp>(op))
      return Quadratic{(*a)[0] + (*c)[0], (*a)[1] + (*c)[1], (*a)[2] + (*c)[2]};
    if (isa<arith::SubFOp>(op))
      return Quadratic{(*a)[0] - (*c)[0], (*a)[1] - (*c)[1], (*a)[2] - (*c)[2]};
    if (isa<arith::MulFOp>(op)) {
      if ((*a)[2] != 0 && ((*c)[1] != 0 || (*c)[2] != 0))
        return std::nullopt;
      if ((*c)[2] != 0 && ((*a)[1] != 0 || (*a)[2] != 0))
        return std::nullopt;
      if ((*a)[1] != 0 && (*c)[1] != 0 && ((*a)[2] != 0 || (*c)[2] != 0))
        return std::nullopt;
      return Quadratic{(*a)[0] * (*c)[0], (*a)[0] * (*c)[1] + (*a)[1] * (*c)[0],
                       (*a)[0] * (*c)[2] + (*a)[1] * (*c)[1] + (*a)[2] * (*c)[0]};
    }
    if (isa<arith::DivFOp>(op) && (*c)[1] == 0 && (*c)[2] == 0 && (*c)[0] != 0)
      return Quadratic{(*a)[0] / (*c)[0], (*a)[1] / (*c)[0], (*a)[2] / (*c)[0]};
    if (isa<math::PowFOp>(op) && (*c)[1] == 0 && (*c)[2] == 0 && (*a)[2] == 0) {
      if ((*c)[0] == 1)
        return a;
      if ((*c)[0] == 2)
        return Quadratic{(*a)[0] * (*a)[0], 2 * (*a)[0] * (*a)[1], (*a)[1] * (*a)[1]};
    }
    return std::nullopt;
  }

  /// c0 + c1 t + c2 t^2 = y, the root on the domain's side.
  FailureOr<Value> solve(Value node, const Quadratic &q, Target tgt) {
    double c0 = q[0], c1 = q[1], c2 = q[2];
    Value yv = y(tgt);
    if (c2 == 0)
      return div(sub(yv, cst(c0)), cst(c1));
    // q' = -(c1 + sign(c1) sqrt(D)) / 2 with D = c1^2 - 4 c2 (c0 - y); the
    // roots are q' / c2 and (c0 - y) / q', neither formed by cancellation.
    double sign = c1 >= 0 ? 1 : -1;
    auto roots = [&](double yk) {
      double qk = -0.5 * (c1 + sign * std::sqrt(c1 * c1 - 4 * c2 * (c0 - yk)));
      return std::pair<double, double>{qk / c2, (c0 - yk) / qk};
    };
    bool first = true, second = true;
    for (auto &[tk, values] : samples) {
      auto [r1, r2] = roots(values.lookup(node));
      first &= std::fabs(r1 - tk) <= 1e-9 * std::max(1.0, std::fabs(tk));
      second &= std::fabs(r2 - tk) <= 1e-9 * std::max(1.0, std::fabs(tk));
    }
    if (!first && !second)
      return failure();
    Value c0mY = c0 == 0 ? neg(yv) : sub(cst(c0), yv);
    Value disc = sub(cst(c1 * c1), mul(cst(4 * c2), c0mY));
    Value qv = mul(cst(-0.5), add(cst(c1), mul(cst(sign), create<math::SqrtOp>(disc))));
    return first ? div(qv, cst(c2)) : div(c0mY, qv);
  }

  OpBuilder &b;
  Location loc;
  const std::vector<std::pair<double, llvm::DenseMap<Value, double>>> &samples;
  Value t;
  llvm::DenseSet<Value> dependent;
  llvm::DenseMap<Value, std::optional<Quadratic>> quadratics;
};

struct InvertLambdaPass : diffuse::impl::InvertLambdaBase<InvertLambdaPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (ProcessOp proc : llvm::to_vector(module.getOps<ProcessOp>()))
      if (proc.getKind() == "path" && !proc.getConfig().get("lambda_inverse"))
        run(proc, symbols);
  }

  void run(ProcessOp proc, SymbolTable &symbols) {
    func::FuncOp alpha = processFunction(proc, "alpha"), sigma = processFunction(proc, "sigma");
    OpBuilder b(proc);
    NamedAttrList config(proc.getConfig());
    auto record = [&](StringRef how) {
      config.set("lambda_inverse", b.getStringAttr(how));
      proc.setConfigAttr(config.getDictionary(b.getContext()));
    };
    if (!alpha || !sigma)
      return record("numeric");
    double lo = 0, hi = 1;
    if (auto dom = proc.getConfig().getAs<ArrayAttr>("domain"); dom && dom.size() == 2) {
      lo = cast<FloatAttr>(dom[0]).getValueAsDouble();
      hi = cast<FloatAttr>(dom[1]).getValueAsDouble();
    }
    // alpha and sigma over the domain, where lambda is finite.
    std::vector<std::pair<double, llvm::DenseMap<Value, double>>> sa, ss;
    std::vector<double> ts, lambdas;
    for (int k = 0; k < kSamples; ++k) {
      double tk = lo + (hi - lo) * k / (kSamples - 1);
      auto av = evaluateAll(alpha, tk), sv = evaluateAll(sigma, tk);
      if (!av || !sv)
        return record("numeric");
      double a = av->lookup(alpha.getBody().front().getTerminator()->getOperand(0));
      double s = sv->lookup(sigma.getBody().front().getTerminator()->getOperand(0));
      double lam = std::log(a / s);
      if (!std::isfinite(lam) || !(a > 0) || !(s > 0))
        continue;
      sa.emplace_back(tk, std::move(*av));
      ss.emplace_back(tk, std::move(*sv));
      ts.push_back(tk);
      lambdas.push_back(lam);
    }
    if (ts.size() < 8)
      return record("numeric");
    auto tie = [&](auto rel) {
      for (size_t k = 0; k < ts.size(); ++k)
        if (!rel(std::exp(lambdas[k]), k))
          return false;
      return true;
    };
    auto valueAt = [&](func::FuncOp fn, auto &samples, size_t k) {
      return samples[k].second.lookup(fn.getBody().front().getTerminator()->getOperand(0));
    };
    double a0 = valueAt(alpha, sa, 0), s0 = valueAt(sigma, ss, 0);
    auto near = [](double x, double y) { return std::fabs(x - y) <= 1e-13 * std::fabs(y); };
    bool alphaConst = tie([&](double, size_t k) { return near(valueAt(alpha, sa, k), a0); });
    bool sigmaConst = tie([&](double, size_t k) { return near(valueAt(sigma, ss, k), s0); });
    bool vp = tie([&](double, size_t k) {
      double a = valueAt(alpha, sa, k), s = valueAt(sigma, ss, k);
      return std::fabs(a * a + s * s - 1) <= 1e-13;
    });
    bool subVp = tie([&](double, size_t k) {
      double a = valueAt(alpha, sa, k);
      return std::fabs(valueAt(sigma, ss, k) - (1 - a * a)) <= 1e-13;
    });
    bool linear = tie([&](double, size_t k) {
      return std::fabs(valueAt(alpha, sa, k) + valueAt(sigma, ss, k) - 1) <= 1e-13;
    });

    // Candidates: which function to invert, and log of its value at lambda.
    using LogOf = std::function<Value(OpBuilder &, Location, Value)>;
    auto cstv = [](OpBuilder &b, Location loc, double v) -> Value {
      return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v));
    };
    // softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow.
    auto softplus = [&](OpBuilder &b, Location loc, Value x) -> Value {
      Value m = b.create<arith::MaximumFOp>(loc, x, cstv(b, loc, 0));
      Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, b.create<math::AbsFOp>(loc, x)));
      return b.create<arith::AddFOp>(loc, m, b.create<math::Log1pOp>(loc, e));
    };
    auto scaled = [&](OpBuilder &b, Location loc, Value l, double k) -> Value {
      return b.create<arith::MulFOp>(loc, cstv(b, loc, k), l);
    };
    std::vector<std::pair<func::FuncOp, LogOf>> candidates;
    if (alphaConst) // sigma = a0 e^-lambda
      candidates.push_back({sigma, [&](OpBuilder &b, Location loc, Value l) -> Value {
                              return b.create<arith::SubFOp>(loc, cstv(b, loc, std::log(a0)), l);
                            }});
    if (sigmaConst) // alpha = s0 e^lambda
      candidates.push_back({alpha, [&](OpBuilder &b, Location loc, Value l) -> Value {
                              return b.create<arith::AddFOp>(loc, cstv(b, loc, std::log(s0)), l);
                            }});
    if (vp) { // alpha^2 = 1 / (1 + e^-2 lambda), sigma^2 = 1 / (1 + e^2 lambda)
      candidates.push_back({alpha, [&](OpBuilder &b, Location loc, Value l) {
                              return scaled(b, loc, softplus(b, loc, scaled(b, loc, l, -2)), -0.5);
                            }});
      candidates.push_back({sigma, [&](OpBuilder &b, Location loc, Value l) {
                              return scaled(b, loc, softplus(b, loc, scaled(b, loc, l, 2)), -0.5);
                            }});
    }
    if (subVp) // alpha / (1 - alpha^2) = e^lambda: log alpha = -asinh(e^-lambda / 2)
      candidates.push_back({alpha, [&](OpBuilder &b, Location loc, Value l) -> Value {
                              Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, l));
                              return b.create<arith::NegFOp>(
                                  loc, b.create<math::AsinhOp>(loc, scaled(b, loc, e, 0.5)));
                            }});
    if (linear) { // sigma = 1 / (1 + e^lambda), alpha = 1 / (1 + e^-lambda)
      candidates.push_back({sigma, [&](OpBuilder &b, Location loc, Value l) {
                              return scaled(b, loc, softplus(b, loc, l), -1);
                            }});
      candidates.push_back({alpha, [&](OpBuilder &b, Location loc, Value l) {
                              return scaled(b, loc, softplus(b, loc, scaled(b, loc, l, -1)), -1);
                            }});
    }

    // Every candidate that inverts is checked; the most accurate one is kept.
    func::FuncOp best;
    double bestErr = INFINITY;
    for (auto &[fn, logOf] : candidates) {
      Location loc = proc.getLoc();
      b.setInsertionPoint(proc);
      auto inv = b.create<func::FuncOp>(
          loc, "dfs_process_t_of_lambda",
          b.getFunctionType({b.getF64Type()}, {b.getF64Type()}));
      Block *entry = inv.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Inverter inverter(b, loc, fn, fn == alpha ? sa : ss);
      Value root = fn.getBody().front().getTerminator()->getOperand(0);
      FailureOr<Value> t = inverter.invert(root, Target{{}, logOf(b, loc, entry->getArgument(0))});
      double err = INFINITY;
      if (succeeded(t)) {
        b.create<func::ReturnOp>(loc, *t);
        err = 0;
        for (size_t k = 0; k < ts.size(); ++k) {
          auto got = evaluate(inv, lambdas[k]);
          double e = got ? std::fabs(*got - ts[k]) / std::max(std::fabs(ts[k]), hi - lo) : NAN;
          err = std::isnan(e) ? INFINITY : std::max(err, e);
        }
      }
      if (err <= 1e-10 && err < bestErr) {
        if (best)
          best.erase();
        best = inv;
        bestErr = err;
      } else {
        inv.erase();
      }
    }
    if (!best)
      return record("numeric");
    symbols.insert(best);
    config.set("t_of_lambda", SymbolRefAttr::get(best));
    record("closed form");
  }
};

} // namespace
