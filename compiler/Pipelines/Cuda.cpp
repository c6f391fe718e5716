//===- Cuda.cpp - a sampler's device kernels as PTX -----------------------===//
//
// Note [Device kernels]
// A lowered step touches tensors only inside tasks: functions
// task(slots, begin, end) that it hands to the runtime's `parallel` hook
// with an array of 8-byte argument slots (pointers, coefficients, counts)
// and a range [0, n) of work items (elements for a fused kernel, samples
// for a reduction, one item for batch_mean). The step itself reads only
// grid points, the step context and the state's pointer and scalar arrays,
// all host memory. So the same step runs a device: the runtime gives it
// device buffers, and its `parallel` hook launches the device version of
// the task it is handed instead of calling it.
//
// For `--device cuda` this file makes those device versions. It clones the
// tasks (and the kernels they call) of the translated host module into a
// module for nvptx64-nvidia-cuda and wraps task k in a CUDA kernel
//   dfs_cuda_k(i64 n, i64 slot_0, ..., i64 slot_{m-1})
// whose thread i < n stores the slots in a local array and runs
// task(slots, i, i + 1): one work item per thread, the task's loops
// inlined and folded away. LLVM's NVPTX back end makes PTX of the module
// (sm_80; the driver compiles it for the GPU at hand), and the host module
// gets three globals the runtime reads (runtime/include/diffuse/abi.h):
//   dfs_cuda_ptx         the PTX text,
//   dfs_cuda_tasks       {task, slots} per kernel, in kernel order,
//   dfs_cuda_task_count  their number.
// The runtime maps the task pointer `parallel` receives to its kernel.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/Pipeline.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/IntrinsicsNVPTX.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/Cloning.h"

#include "mlir/ExecutionEngine/OptUtils.h"

namespace diffuse {

static bool isDeviceCode(llvm::StringRef name) {
  return name.starts_with("dfs_kernel_") || name.starts_with("dfs_task_") ||
         name.starts_with("dfs_reduce_") || name.starts_with("dfs_bmean_");
}

static std::unique_ptr<llvm::TargetMachine> nvptxMachine(DiagEngine &diag) {
  static bool init = [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    return true;
  }();
  (void)init;
  std::string err;
  const char *triple = "nvptx64-nvidia-cuda";
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) {
    diag.error(Loc{"<llvm>", 0, 0}, "this LLVM has no NVPTX back end (" + err +
                                        "); build for the CPU (leave out --device cuda)");
    return nullptr;
  }
  llvm::TargetOptions to;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, "sm_80", "+ptx70", to, std::nullopt, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
}

/// Calls of the C math library in `dev` become LLVM intrinsics that NVPTX
/// selects exactly (sqrt.rn, abs, ...) or calls of libdevice's __nv_*
/// functions, which are then linked in. False after reporting a function
/// with no device version or a missing libdevice.
static bool mapMathCalls(llvm::Module &dev, DiagEngine &diag) {
  std::vector<llvm::Function *> decls;
  for (llvm::Function &f : dev)
    if (f.isDeclaration() && !f.isIntrinsic() && !f.use_empty())
      decls.push_back(&f);
  bool needLibdevice = false;
  for (llvm::Function *f : decls) {
    llvm::StringRef name = f->getName();
    llvm::Intrinsic::ID id = llvm::StringSwitch<llvm::Intrinsic::ID>(name)
                                 .Cases("sqrt", "sqrtf", llvm::Intrinsic::sqrt)
                                 .Cases("fabs", "fabsf", llvm::Intrinsic::fabs)
                                 .Cases("floor", "floorf", llvm::Intrinsic::floor)
                                 .Cases("ceil", "ceilf", llvm::Intrinsic::ceil)
                                 .Cases("trunc", "truncf", llvm::Intrinsic::trunc)
                                 .Cases("fma", "fmaf", llvm::Intrinsic::fma)
                                 .Cases("copysign", "copysignf", llvm::Intrinsic::copysign)
                                 .Default(llvm::Intrinsic::not_intrinsic);
    if (id != llvm::Intrinsic::not_intrinsic) {
      llvm::Function *intr =
          llvm::Intrinsic::getDeclaration(&dev, id, {f->getFunctionType()->getReturnType()});
      f->replaceAllUsesWith(intr);
      f->eraseFromParent();
      continue;
    }
    // exp, log, pow, tanh, ...: libdevice has __nv_<name> for each.
    f->setName("__nv_" + name.str());
    needLibdevice = true;
  }
  if (!needLibdevice)
    return true;
#ifdef DIFFUSE_LIBDEVICE
  auto buf = llvm::MemoryBuffer::getFile(DIFFUSE_LIBDEVICE);
  if (buf) {
    auto lib = llvm::parseBitcodeFile((*buf)->getMemBufferRef(), dev.getContext());
    if (!lib) {
      diag.error(Loc{DIFFUSE_LIBDEVICE, 0, 0},
                 "cannot read libdevice: " + llvm::toString(lib.takeError()));
      return false;
    }
    (*lib)->setTargetTriple(dev.getTargetTriple());
    (*lib)->setDataLayout(dev.getDataLayout());
    if (llvm::Linker::linkModules(dev, std::move(*lib), llvm::Linker::LinkOnlyNeeded)) {
      diag.error(Loc{DIFFUSE_LIBDEVICE, 0, 0}, "cannot link libdevice");
      return false;
    }
    return true;
  }
#endif
  for (llvm::Function &f : dev)
    if (f.isDeclaration() && f.getName().starts_with("__nv_"))
      diag.error(Loc{"<llvm>", 0, 0},
                 "the device code calls '" + f.getName().drop_front(5).str() +
                     "', which needs CUDA's libdevice, and this diffuse was built without it",
                 "install the CUDA toolkit and rebuild diffuse, or build for the CPU");
  return false;
}

bool addCudaKernels(llvm::Module &host, const std::vector<DeviceTask> &tasks, std::string &ptx,
                    DiagEngine &diag) {
  auto tm = nvptxMachine(diag);
  if (!tm)
    return false;
  llvm::ValueToValueMapTy vmap;
  std::unique_ptr<llvm::Module> dev = llvm::CloneModule(
      host, vmap, [](const llvm::GlobalValue *gv) { return isDeviceCode(gv->getName()); });
  dev->setTargetTriple(tm->getTargetTriple().getTriple());
  dev->setDataLayout(tm->createDataLayout());
  llvm::LLVMContext &lctx = dev->getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(lctx), *i32 = llvm::Type::getInt32Ty(lctx);
  llvm::NamedMDNode *annotations = dev->getOrInsertNamedMetadata("nvvm.annotations");
  for (auto [k, task] : llvm::enumerate(tasks)) {
    llvm::Function *fn = dev->getFunction(task.name);
    if (!fn || fn->isDeclaration()) {
      diag.error(Loc{"<llvm>", 0, 0}, "internal error: no device code for task " + task.name);
      return false;
    }
    fn->setLinkage(llvm::GlobalValue::InternalLinkage);
    std::vector<llvm::Type *> params((size_t)task.slots + 1, i64);
    auto *kernel = llvm::Function::Create(
        llvm::FunctionType::get(llvm::Type::getVoidTy(lctx), params, false),
        llvm::GlobalValue::ExternalLinkage, "dfs_cuda_" + std::to_string(k), dev.get());
    auto *entry = llvm::BasicBlock::Create(lctx, "entry", kernel);
    auto *body = llvm::BasicBlock::Create(lctx, "body", kernel);
    auto *exit = llvm::BasicBlock::Create(lctx, "exit", kernel);
    llvm::IRBuilder<> ib(entry);
    auto sreg = [&](llvm::Intrinsic::ID id) {
      return ib.CreateZExt(ib.CreateIntrinsic(id, {}, {}), i64);
    };
    llvm::Value *i =
        ib.CreateAdd(ib.CreateMul(sreg(llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x),
                                  sreg(llvm::Intrinsic::nvvm_read_ptx_sreg_ntid_x)),
                     sreg(llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x));
    auto *slotsTy = llvm::ArrayType::get(i64, (uint64_t)task.slots);
    llvm::Value *slots = ib.CreateAlloca(slotsTy);
    ib.CreateCondBr(ib.CreateICmpULT(i, kernel->getArg(0)), body, exit);
    ib.SetInsertPoint(body);
    for (int j = 0; j < task.slots; ++j)
      ib.CreateStore(kernel->getArg((unsigned)j + 1),
                     ib.CreateConstInBoundsGEP2_64(slotsTy, slots, 0, (uint64_t)j));
    ib.CreateCall(fn, {slots, i, ib.CreateAdd(i, llvm::ConstantInt::get(i64, 1))});
    ib.CreateBr(exit);
    ib.SetInsertPoint(exit);
    ib.CreateRetVoid();
    annotations->addOperand(llvm::MDNode::get(
        lctx, {llvm::ValueAsMetadata::get(kernel), llvm::MDString::get(lctx, "kernel"),
               llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(i32, 1))}));
  }
  // Only the kernels stay visible; what the host module had besides the
  // tasks (the steps, the manifest) was cloned as declarations: drop them.
  for (llvm::Function &f : llvm::make_early_inc_range(*dev)) {
    if (f.isDeclaration() && f.use_empty())
      f.eraseFromParent();
    else if (!f.isDeclaration() && !f.getName().starts_with("dfs_cuda_"))
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  for (llvm::GlobalVariable &g : llvm::make_early_inc_range(dev->globals()))
    if (g.use_empty())
      g.eraseFromParent();
  if (!mapMathCalls(*dev, diag))
    return false;
  auto opt = mlir::makeOptimizingTransformer(3, 0, tm.get());
  if (auto err = opt(dev.get())) {
    diag.error(Loc{"<llvm>", 0, 0},
               "LLVM optimization of device code failed: " + llvm::toString(std::move(err)));
    return false;
  }
  for (llvm::Function &f : *dev)
    if (f.isDeclaration() && !f.isIntrinsic() && !f.use_empty()) {
      diag.error(Loc{"<llvm>", 0, 0}, "internal error: device code calls '" + f.getName().str() +
                                          "', which has no device version");
      return false;
    }
  llvm::SmallString<0> text;
  {
    llvm::raw_svector_ostream os(text);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
      diag.error(Loc{"<llvm>", 0, 0}, "the NVPTX target cannot emit PTX");
      return false;
    }
    pm.run(*dev);
  }
  ptx = text.str().str();

  // The host side: the PTX and the task table.
  llvm::LLVMContext &hctx = host.getContext();
  llvm::Type *hi64 = llvm::Type::getInt64Ty(hctx);
  auto *ptrTy = llvm::PointerType::get(hctx, 0);
  auto *entryTy = llvm::StructType::get(hctx, {ptrTy, hi64});
  std::vector<llvm::Constant *> entries;
  for (const DeviceTask &task : tasks) {
    llvm::Function *fn = host.getFunction(task.name);
    entries.push_back(llvm::ConstantStruct::get(
        entryTy, {fn, llvm::ConstantInt::get(hi64, (uint64_t)task.slots)}));
  }
  auto *tableTy = llvm::ArrayType::get(entryTy, entries.size());
  new llvm::GlobalVariable(host, tableTy, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(tableTy, entries), "dfs_cuda_tasks");
  new llvm::GlobalVariable(host, hi64, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(hi64, entries.size()), "dfs_cuda_task_count");
  llvm::Constant *str = llvm::ConstantDataArray::getString(hctx, ptx, /*AddNull=*/true);
  new llvm::GlobalVariable(host, str->getType(), true, llvm::GlobalValue::ExternalLinkage, str,
                           "dfs_cuda_ptx");
  return true;
}

} // namespace diffuse
