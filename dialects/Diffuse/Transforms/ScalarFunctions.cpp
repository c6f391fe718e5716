//===- ScalarFunctions.cpp - the process's scalar functions of time -------===//
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

using namespace mlir;

namespace diffuse {

std::optional<llvm::DenseMap<Value, double>> evaluateAll(func::FuncOp fn, double t) {
  llvm::DenseMap<Value, double> v;
  Block &body = fn.getBody().front();
  v[body.getArgument(0)] = t;
  for (Operation &op : body) {
    if (isa<func::ReturnOp>(op))
      return v;
    auto in = [&](unsigned i) { return v.lookup(op.getOperand(i)); };
    double r;
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      auto f = dyn_cast<FloatAttr>(c.getValue());
      if (!f) return std::nullopt;
      r = f.getValueAsDouble();
    } else if (isa<arith::AddFOp>(op)) r = in(0) + in(1);
    else if (isa<arith::SubFOp>(op)) r = in(0) - in(1);
    else if (isa<arith::MulFOp>(op)) r = in(0) * in(1);
    else if (isa<arith::DivFOp>(op)) r = in(0) / in(1);
    else if (isa<arith::NegFOp>(op)) r = -in(0);
    else if (isa<arith::MinimumFOp>(op)) r = std::fmin(in(0), in(1));
    else if (isa<arith::MaximumFOp>(op)) r = std::fmax(in(0), in(1));
    else if (isa<math::ExpOp>(op)) r = std::exp(in(0));
    else if (isa<math::ExpM1Op>(op)) r = std::expm1(in(0));
    else if (isa<math::LogOp>(op)) r = std::log(in(0));
    else if (isa<math::Log1pOp>(op)) r = std::log1p(in(0));
    else if (isa<math::SqrtOp>(op)) r = std::sqrt(in(0));
    else if (isa<math::SinOp>(op)) r = std::sin(in(0));
    else if (isa<math::CosOp>(op)) r = std::cos(in(0));
    else if (isa<math::TanOp>(op)) r = std::tan(in(0));
    else if (isa<math::TanhOp>(op)) r = std::tanh(in(0));
    else if (isa<math::AcosOp>(op)) r = std::acos(in(0));
    else if (isa<math::AsinOp>(op)) r = std::asin(in(0));
    else if (isa<math::AtanOp>(op)) r = std::atan(in(0));
    else if (isa<math::AtanhOp>(op)) r = std::atanh(in(0));
    else if (isa<math::AsinhOp>(op)) r = std::asinh(in(0));
    else if (isa<math::AbsFOp>(op)) r = std::fabs(in(0));
    else if (isa<math::FloorOp>(op)) r = std::floor(in(0));
    else if (isa<arith::TruncFOp>(op)) r = (double)(float)in(0); // f32(x): the pair truncf, extf
    else if (isa<arith::ExtFOp>(op)) r = in(0);
    else if (isa<math::PowFOp>(op)) r = std::pow(in(0), in(1));
    else return std::nullopt;
    v[op.getResult(0)] = r;
  }
  return std::nullopt;
}

func::FuncOp processFunction(ProcessOp process, llvm::StringRef key) {
  auto ref = process.getConfig().getAs<FlatSymbolRefAttr>(key);
  if (!ref)
    return {};
  return SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(process, ref);
}

Value inlineScalarFunction(OpBuilder &b, func::FuncOp fn, Value t) {
  IRMapping map;
  Block &body = fn.getBody().front();
  map.map(body.getArgument(0), t);
  for (Operation &op : body.without_terminator())
    b.clone(op, map);
  return map.lookup(body.getTerminator()->getOperand(0));
}

EdmCoefficients edmCoefficients(ScalarBuilder &e, Value u, double d) {
  Value norm = e.sqrt(e.add(e.mul(u, u), e.cst(d * d)));
  return {norm, e.div(e.cst(d * d), e.mul(norm, norm)), e.div(e.mul(u, e.cst(d)), norm)};
}

std::optional<double> evaluate(func::FuncOp fn, double t) {
  auto all = evaluateAll(fn, t);
  if (!all)
    return std::nullopt;
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  return all->lookup(ret.getOperand(0));
}

} // namespace diffuse
