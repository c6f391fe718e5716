//===- Pipeline.cpp - the compiler pipeline in one place ------------------===//
//
//   parse ─▶ check ─▶ MLIRGen ─▶ diffuse-integrate-sde ─▶ diffuse-differentiate
//     ─▶ diffuse-invert-lambda ─▶ diffuse-derive-training ─▶ diffuse-derive-likelihood
//     ─▶ diffuse-derive ─▶ cse, canonicalize ─▶ diffuse-fuse ─▶ convert-diffuse-to-llvm
//     ─▶ scf→cf, math→libm/llvm, arith/func/cf→llvm ─▶ LLVM IR -O3 ─▶ object
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/Pipeline.h"

#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Sema.h"
#include "compiler/MLIRGen/MLIRGen.h"
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace diffuse {

void registerDialects(MLIRContext &ctx) {
  DialectRegistry registry;
  registry.insert<DiffuseDialect, func::FuncDialect, arith::ArithDialect, math::MathDialect,
                  scf::SCFDialect, cf::ControlFlowDialect, LLVM::LLVMDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
}

MLIRDiagBridge::MLIRDiagBridge(MLIRContext &ctx, DiagEngine &diag) : ctx(ctx) {
  ctx.printOpOnDiagnostic(false); // users see their spec, not the IR
  id = ctx.getDiagEngine().registerHandler([&diag](Diagnostic &d) {
    Loc loc{"<unknown>", 0, 0};
    if (auto fl = dyn_cast<FileLineColLoc>(d.getLocation()))
      loc = Loc{fl.getFilename().str(), (int)fl.getLine(), (int)fl.getColumn()};
    if (d.getSeverity() == DiagnosticSeverity::Error) {
      // Attached notes become the error's hint.
      std::string hint;
      for (const Diagnostic &n : d.getNotes())
        hint += (hint.empty() ? "" : "; ") + n.str();
      diag.error(loc, d.str(), hint);
    }
    else if (d.getSeverity() == DiagnosticSeverity::Note)
      diag.note(loc, d.str());
    return success();
  });
}
MLIRDiagBridge::~MLIRDiagBridge() { ctx.getDiagEngine().eraseHandler(id); }

bool compileToStage(MLIRContext &ctx, const CompileOptions &opts, Stage stage, DiagEngine &diag,
                    OwningOpRef<ModuleOp> &module, std::string *dtypeOut) {
  ast::Module ast;
  ParseOptions po{opts.importPaths};
  if (!parseFile(opts.specPath, po, diag, ast))
    return false;
  for (const auto &o : opts.overrides)
    if (!applyOverride(ast, o, diag))
      return false;
  if (!opts.dtype.empty())
    applyElementType(ast, opts.dtype);
  if (!checkModule(ast, diag))
    return false;
  SamplerPlan plan;
  plan.peerTable = opts.alphasCumprod;
  if (!opts.trainName.empty() ? !planTrain(ast, opts.trainName, diag, plan)
                              : !planSampler(ast, opts.samplerName, diag, plan))
    return false;
  if (dtypeOut)
    *dtypeOut = plan.modelPlan.dtype;
  MLIRDiagBridge bridge(ctx, diag);
  module = mlirGen(ctx, plan);
  if (failed(mlir::verify(*module))) {
    diag.error(Loc{opts.specPath, 0, 0}, "internal error: MLIRGen produced invalid IR");
    return false;
  }
  if (stage == Stage::MLIR)
    return true;

  PassManager pm(&ctx);
  pm.addPass(createIntegrateSde());
  pm.addPass(createDifferentiate());
  pm.addPass(createInvertLambda());
  pm.addPass(createDeriveTraining());
  pm.addPass(createDeriveLikelihood());
  pm.addPass(createDerive());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  if (stage >= Stage::Fused) {
    FuseOptions fo;
    fo.eager = opts.eager;
    pm.addPass(createFuse(fo));
  }
  if (stage >= Stage::LLVMDialect) {
    ConvertDiffuseToLLVMOptions lo;
    lo.elementType = plan.modelPlan.dtype;
    pm.addPass(createConvertDiffuseToLLVM(lo));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createConvertSCFToCFPass());
    pm.addPass(createConvertMathToLibmPass());
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
  }
  if (failed(pm.run(*module)))
    return false;
  // Kernels are internal: LLVM inlines them into dfs_step.
  module->walk([](LLVM::LLVMFuncOp f) {
    if (f.getName().starts_with("dfs_kernel_") || f.getName().starts_with("dfs_task_"))
      f.setLinkage(LLVM::Linkage::Internal);
  });
  return true;
}

static std::unique_ptr<llvm::TargetMachine> hostMachine(DiagEngine &diag) {
  static bool init = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)init;
  std::string triple = llvm::sys::getDefaultTargetTriple(), err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) {
    diag.error(Loc{"<llvm>", 0, 0}, "no LLVM target for " + triple + ": " + err);
    return nullptr;
  }
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::string feat;
  for (auto &f : features)
    feat += (f.second ? "+" : "-") + f.first().str() + ",";
  llvm::TargetOptions to;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), feat, to, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
}

/// The module's tasks (attribute diffuse.tasks of convert-diffuse-to-llvm),
/// which it then drops: LLVM IR has no place for it.
static std::vector<DeviceTask> takeTasks(ModuleOp module) {
  std::vector<DeviceTask> tasks;
  if (auto arr = module->getAttrOfType<ArrayAttr>("diffuse.tasks"))
    for (Attribute a : arr) {
      auto pair = cast<ArrayAttr>(a);
      tasks.push_back({cast<StringAttr>(pair[0]).getValue().str(),
                       (int)cast<IntegerAttr>(pair[1]).getInt()});
    }
  module->removeAttr("diffuse.tasks");
  return tasks;
}

static std::unique_ptr<llvm::Module> translate(ModuleOp module, llvm::LLVMContext &lctx,
                                               llvm::TargetMachine &tm, DiagEngine &diag,
                                               std::string *ptx = nullptr) {
  std::vector<DeviceTask> tasks = takeTasks(module);
  auto llvmModule = translateModuleToLLVMIR(module, lctx, "diffuse_sampler");
  if (!llvmModule) {
    diag.error(Loc{"<llvm>", 0, 0}, "internal error: translation to LLVM IR failed");
    return nullptr;
  }
  if (ptx && !addCudaKernels(*llvmModule, tasks, *ptx, diag))
    return nullptr;
  llvmModule->setDataLayout(tm.createDataLayout());
  llvmModule->setTargetTriple(tm.getTargetTriple().getTriple());
  auto opt = makeOptimizingTransformer(3, 0, &tm);
  if (auto err = opt(llvmModule.get())) {
    diag.error(Loc{"<llvm>", 0, 0}, "LLVM optimization failed: " + llvm::toString(std::move(err)));
    return nullptr;
  }
  return llvmModule;
}

bool emitLLVMIR(ModuleOp module, std::string &out, DiagEngine &diag) {
  auto tm = hostMachine(diag);
  if (!tm)
    return false;
  llvm::LLVMContext lctx;
  auto m = translate(module, lctx, *tm, diag);
  if (!m)
    return false;
  llvm::raw_string_ostream os(out);
  m->print(os, nullptr);
  return true;
}

bool emitPtx(ModuleOp module, std::string &out, DiagEngine &diag) {
  auto tm = hostMachine(diag);
  if (!tm)
    return false;
  llvm::LLVMContext lctx;
  return translate(module, lctx, *tm, diag, &out) != nullptr;
}

bool emitObject(ModuleOp module, const std::string &path, DiagEngine &diag, bool cuda) {
  auto tm = hostMachine(diag);
  if (!tm)
    return false;
  llvm::LLVMContext lctx;
  std::string ptx;
  auto m = translate(module, lctx, *tm, diag, cuda ? &ptx : nullptr);
  if (!m)
    return false;
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    diag.error(Loc{path, 0, 0}, "cannot write object file: " + ec.message());
    return false;
  }
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    diag.error(Loc{path, 0, 0}, "the target cannot emit object files");
    return false;
  }
  pm.run(*m);
  os.flush();
  return true;
}

} // namespace diffuse
