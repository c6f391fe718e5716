//===- Declarations.h - the declaration ops of a plan ---------*- C++ -*-===//
//
// Part of MLIRGen (MLIRGen.cpp lowers expressions and the step): the ops
// that only carry a plan's settings as attributes, diffuse.model,
// diffuse.train and diffuse.sampler (its grid, guidance and adaptive
// controller configuration), emitted at the builder's insertion point.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_MLIRGEN_DECLARATIONS_H
#define DIFFUSE_MLIRGEN_DECLARATIONS_H

#include "compiler/Frontend/Sema.h"

#include "mlir/IR/Builders.h"

namespace diffuse {

/// A source location as MLIR's (unknown where the AST has none).
inline mlir::Location locOf(mlir::MLIRContext &ctx, const Loc &l) {
  if (l.line <= 0)
    return mlir::UnknownLoc::get(&ctx);
  return mlir::FileLineColLoc::get(&ctx, l.file, l.line, l.col);
}

/// diffuse.model for the sampler's model, the guidance's other models and
/// the solver's model parameters, each declaration once.
void emitModels(mlir::OpBuilder &b, const SamplerPlan &plan);
/// diffuse.train: a training spec's time distribution and loss weighting.
void emitTrain(mlir::OpBuilder &b, const SamplerPlan &plan);
/// diffuse.sampler: process, model, solver, coordinates, grid, guidance and
/// the adaptive controller's settings.
void emitSampler(mlir::OpBuilder &b, const SamplerPlan &plan);

} // namespace diffuse

#endif
