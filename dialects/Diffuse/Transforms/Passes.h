//===- Passes.h - diffuse passes --------------------------------*- C++ -*-===//
#ifndef DIFFUSE_TRANSFORMS_PASSES_H
#define DIFFUSE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace diffuse {
#define GEN_PASS_DECL
#include "dialects/Diffuse/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

#endif // DIFFUSE_TRANSFORMS_PASSES_H
