//===- ScalarEval.h - evaluate scalar time functions at compile time -------===//
//
// The process functions are straight-line bodies of arith/math ops on f64.
// Passes that choose between formulas (a quadrature's size, an inverse's
// branch) evaluate them in doubles with the same libm the compiled code uses.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_TRANSFORMS_SCALAREVAL_H
#define DIFFUSE_TRANSFORMS_SCALAREVAL_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace diffuse {

/// Every value of `fn`'s body with its first argument set to `t`; nullopt if
/// the body holds an op this evaluator does not know.
std::optional<llvm::DenseMap<mlir::Value, double>> evaluateAll(mlir::func::FuncOp fn, double t);

/// The value `fn` returns at `t`.
std::optional<double> evaluate(mlir::func::FuncOp fn, double t);

} // namespace diffuse

#endif
