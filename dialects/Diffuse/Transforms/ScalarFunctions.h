//===- ScalarFunctions.h - the process's scalar functions of time ---------===//
//
// The process functions are straight-line bodies of arith/math ops on f64.
// The derivation passes find them from a `diffuse.process`, evaluate them in
// doubles (with the same libm the compiled code uses) to choose between
// formulas (a quadrature's size, an inverse's branch), inline them and write
// new ones.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_TRANSFORMS_SCALARFUNCTIONS_H
#define DIFFUSE_TRANSFORMS_SCALARFUNCTIONS_H

#include "dialects/Diffuse/IR/DiffuseDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace diffuse {

/// The scalar function the process's config names under `key` ("alpha",
/// "sigma", "dalpha", "drift", "t_of_lambda", ...), or null.
mlir::func::FuncOp processFunction(ProcessOp process, llvm::StringRef key);

/// Every value of `fn`'s body with its first argument set to `t`; nullopt if
/// the body holds an op this evaluator does not know.
std::optional<llvm::DenseMap<mlir::Value, double>> evaluateAll(mlir::func::FuncOp fn, double t);

/// The value `fn` returns at `t`.
std::optional<double> evaluate(mlir::func::FuncOp fn, double t);

/// The body of the scalar function `fn` cloned at b's insertion point with
/// its argument replaced by `t`; the value it returns there.
mlir::Value inlineScalarFunction(mlir::OpBuilder &b, mlir::func::FuncOp fn, mlir::Value t);

/// Scalar arithmetic at a builder's insertion point, for the derivation
/// passes that write new scalar functions.
class ScalarBuilder {
public:
  ScalarBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}
  mlir::Value cst(double v) {
    return b.create<mlir::arith::ConstantOp>(loc, b.getF64FloatAttr(v));
  }
  mlir::Value add(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::AddFOp>(loc, x, y); }
  mlir::Value sub(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::SubFOp>(loc, x, y); }
  mlir::Value mul(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::MulFOp>(loc, x, y); }
  mlir::Value div(mlir::Value x, mlir::Value y) { return b.create<mlir::arith::DivFOp>(loc, x, y); }
  mlir::Value neg(mlir::Value x) { return b.create<mlir::arith::NegFOp>(loc, x); }
  mlir::Value exp(mlir::Value x) { return b.create<mlir::math::ExpOp>(loc, x); }
  mlir::Value min(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::MinimumFOp>(loc, x, y);
  }
  mlir::Value max(mlir::Value x, mlir::Value y) {
    return b.create<mlir::arith::MaximumFOp>(loc, x, y);
  }
  mlir::Value abs(mlir::Value x) { return b.create<mlir::math::AbsFOp>(loc, x); }
  mlir::Value sqrt(mlir::Value x) { return b.create<mlir::math::SqrtOp>(loc, x); }
  /// x + c and c x, leaving out the identities (x + 0 does not fold).
  mlir::Value addc(mlir::Value x, double c) { return c == 0 ? x : add(cst(c), x); }
  mlir::Value mulc(double c, mlir::Value x) { return c == 1 ? x : mul(cst(c), x); }
  /// The body of the scalar function `fn` at `t`.
  mlir::Value inlineAt(mlir::func::FuncOp fn, mlir::Value t) {
    return inlineScalarFunction(b, fn, t);
  }

protected:
  mlir::OpBuilder &b;
  mlir::Location loc;
};

/// EDM's preconditioning at the noise level u = sigma/alpha for data of
/// standard deviation d (Karras et al. 2022, Table 1): n = sqrt(u^2 + d^2),
/// c_in = 1/n, c_skip = d^2/n^2, c_out = u d/n. Derive and DeriveTraining use
/// the same coefficients.
struct EdmCoefficients {
  mlir::Value norm, cskip, cout;
};
EdmCoefficients edmCoefficients(ScalarBuilder &e, mlir::Value u, double d);

} // namespace diffuse

#endif // DIFFUSE_TRANSFORMS_SCALARFUNCTIONS_H
