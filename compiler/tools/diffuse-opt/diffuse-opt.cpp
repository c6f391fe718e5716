//===- diffuse-opt.cpp - the diffuse dialect's opt tool -------------------===//
//
// Runs diffuse passes (and the few upstream ones the pipeline uses) on
// textual IR, in MLIR's *-opt tradition; lit tests drive each pass here.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/Pipeline.h"
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<diffuse::DiffuseDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::math::MathDialect, mlir::scf::SCFDialect, mlir::cf::ControlFlowDialect,
                  mlir::LLVM::LLVMDialect>();
  diffuse::registerDiffusePasses();
  mlir::registerCSEPass();
  mlir::registerCanonicalizerPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "diffuse optimizer\n", registry));
}
