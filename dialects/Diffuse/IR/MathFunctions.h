//===- MathFunctions.h - the language's one-argument math functions -----===//
//
// exp, log, sqrt, ... as `math` ops on an f64: what MLIRGen emits for a
// scalar call and what fusion emits for each element of a `diffuse.math`
// op on a tensor, so the two agree to the bit.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_IR_MATHFUNCTIONS_H
#define DIFFUSE_IR_MATHFUNCTIONS_H

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace diffuse {

/// The functions `diffuse.math` takes (and the language has on tensors).
inline bool isElementwiseMath(llvm::StringRef fn) {
  return llvm::is_contained({"exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "expm1",
                             "log1p", "atan", "floor"},
                            fn);
}

/// `fn` of x, or null for a name that is not one of them.
inline mlir::Value buildMath(mlir::OpBuilder &b, mlir::Location l, llvm::StringRef fn,
                             mlir::Value x) {
  using namespace mlir::math;
  if (fn == "exp") return b.create<ExpOp>(l, x);
  if (fn == "log") return b.create<LogOp>(l, x);
  if (fn == "sqrt") return b.create<SqrtOp>(l, x);
  if (fn == "sin") return b.create<SinOp>(l, x);
  if (fn == "cos") return b.create<CosOp>(l, x);
  if (fn == "tan") return b.create<TanOp>(l, x);
  if (fn == "tanh") return b.create<TanhOp>(l, x);
  if (fn == "expm1") return b.create<ExpM1Op>(l, x);
  if (fn == "log1p") return b.create<Log1pOp>(l, x);
  if (fn == "atan") return b.create<AtanOp>(l, x);
  if (fn == "floor") return b.create<FloorOp>(l, x);
  return {};
}

} // namespace diffuse

#endif
