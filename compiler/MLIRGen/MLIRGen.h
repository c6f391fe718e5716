//===- MLIRGen.h - SamplerPlan to the diffuse dialect -----------*- C++ -*-===//
#ifndef DIFFUSE_MLIRGEN_MLIRGEN_H
#define DIFFUSE_MLIRGEN_MLIRGEN_H

#include "compiler/Frontend/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace diffuse {

/// Emits one module for the planned sampler: `diffuse.sampler`,
/// `diffuse.process` (+ its scalar functions `dfs_process_alpha/sigma`),
/// `diffuse.model`, the guidance combine `dfs_guidance` and the solver's
/// `step`, every op located at its source.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &ctx, const SamplerPlan &plan);

} // namespace diffuse

#endif
