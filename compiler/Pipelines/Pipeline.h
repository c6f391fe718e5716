//===- Pipeline.h - the compiler pipeline in one place ----------*- C++ -*-===//
#ifndef DIFFUSE_PIPELINES_PIPELINE_H
#define DIFFUSE_PIPELINES_PIPELINE_H

#include "compiler/Frontend/Diagnostics.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace llvm {
class Module;
}
#include <vector>

namespace diffuse {

/// The stages `diffuse emit --emit=` can show, in pipeline order.
enum class Stage { AST, MLIR, Derived, Fused, LLVMDialect, LLVMIR };

struct CompileOptions {
  std::string specPath;
  std::string samplerName; // "" = the last sampler of the spec
  std::string trainName;   // non-empty: compile this training spec instead of a sampler
  std::vector<std::string> overrides; // --set DECL.KEY=VALUE
  /// `--dtype f32|f64`: every model's element type, whatever the spec
  /// declares ("" = as declared).
  std::string dtype;
  std::vector<std::string> importPaths;
  /// The op-by-op baseline instead of fused kernels (`--eager`).
  bool eager = false;
  /// Also compile the steps' kernels for NVIDIA GPUs (`--device cuda`).
  bool cuda = false;
  /// A discrete process's alphas_cumprod as a peer computed it (`diffuse
  /// conform`: the case's own, as the golden README asks): grid
  /// declarations read it instead of the table made from the process.
  std::vector<double> alphasCumprod;
};

/// A task of a lowered step (Note [Device kernels] in Cuda.cpp): the
/// function's name and its number of 8-byte argument slots.
struct DeviceTask {
  std::string name;
  int slots;
};

/// Registers the dialects the pipeline uses (and only those).
void registerDialects(mlir::MLIRContext &ctx);

/// Parses, checks and lowers the spec up to `stage` (not AST). Errors go to
/// `diag` located at the spec's source. On success `module` holds the IR.
/// The derived mathematics of a module at the Derived stage as LaTeX
/// (`diffuse emit --emit=latex`): process, derivatives, SDE coefficients and
/// each step variant's update.
bool emitLatex(mlir::ModuleOp module, std::string &out, DiagEngine &diag);

bool compileToStage(mlir::MLIRContext &ctx, const CompileOptions &opts, Stage stage,
                    DiagEngine &diag, mlir::OwningOpRef<mlir::ModuleOp> &module,
                    std::string *dtypeOut = nullptr);

/// Translates a fully lowered module to LLVM IR text (optimized at -O3).
bool emitLLVMIR(mlir::ModuleOp module, std::string &out, DiagEngine &diag);

/// Writes a position-independent object file for the host CPU; with `cuda`,
/// it also carries the PTX of the steps' kernels (Note [Device kernels]).
bool emitObject(mlir::ModuleOp module, const std::string &path, DiagEngine &diag,
                bool cuda = false);

/// The PTX of a fully lowered module's kernels (`diffuse emit --emit=ptx`).
bool emitPtx(mlir::ModuleOp module, std::string &out, DiagEngine &diag);

/// Makes CUDA kernels of `tasks` of the translated, not yet optimized host
/// module, puts their PTX (also returned in `ptx`) and the task table into
/// it (Cuda.cpp).
bool addCudaKernels(llvm::Module &host, const std::vector<DeviceTask> &tasks, std::string &ptx,
                    DiagEngine &diag);

/// Installs an MLIR diagnostic handler that reports through `diag`.
struct MLIRDiagBridge {
  MLIRDiagBridge(mlir::MLIRContext &ctx, DiagEngine &diag);
  ~MLIRDiagBridge();
  mlir::MLIRContext &ctx;
  uint64_t id;
};

} // namespace diffuse

#endif
