//===- DiffuseToLLVM.cpp - the fused step to loops and runtime calls ------===//
//
// Input: a module after diffuse-fuse. Output: only func/arith/math/scf/llvm
// ops, ready for the standard conversions to the LLVM dialect.
//
//   func.func @step(%x: field, %s: time, %t: time) -> field
// becomes
//   func.func @dfs_step(%ctx: !llvm.ptr, %n: i64, %x: !llvm.ptr, %out: !llvm.ptr,
//                       %s: !llvm.ptr, %t: !llvm.ptr)
// where
//   - diffuse.point loads one double of a grid point (see runtime abi.h),
//   - diffuse.model_call gets a scratch buffer and calls the runtime's
//     network hook, both through the function pointers at the head of ctx,
//   - each diffuse.kernel is outlined to @dfs_kernel_<k>(n, ins..., outs...,
//     coeffs...), one scf.for over the elements, pointers marked noalias so
//     LLVM vectorizes without runtime checks; a kernel result that the step
//     returns is written straight into %out.
// The declarations (sampler, process, model) become the `dfs_manifest`
// string global that the runtime reads to build the time grid.
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/StringSwitch.h"

#include <sstream>

namespace diffuse {
#define GEN_PASS_DEF_CONVERTDIFFUSETOLLVM
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

int pointIndex(StringRef f) {
  return llvm::StringSwitch<int>(f)
      .Case("tau", 0)
      .Case("tmodel", 1)
      .Case("a", 2)
      .Case("s", 3)
      .Case("da", 4)
      .Case("ds", 5)
      .Case("beta", 7)
      .Default(0);
}

std::string attrText(Attribute a) {
  if (auto s = dyn_cast<StringAttr>(a))
    return s.getValue().str();
  if (auto s = dyn_cast<FlatSymbolRefAttr>(a))
    return s.getValue().str();
  if (auto f = dyn_cast<FloatAttr>(a)) {
    std::ostringstream os;
    os.precision(17);
    os << f.getValueAsDouble();
    return os.str();
  }
  if (auto i = dyn_cast<IntegerAttr>(a))
    return std::to_string(i.getInt());
  if (auto b = dyn_cast<BoolAttr>(a))
    return b.getValue() ? "1" : "0";
  if (auto arr = dyn_cast<ArrayAttr>(a)) {
    std::string s;
    for (Attribute e : arr)
      s += (s.empty() ? "" : ",") + attrText(e);
    return s;
  }
  return "";
}

void dict(std::ostringstream &os, StringRef prefix, DictionaryAttr d) {
  for (NamedAttribute na : d) {
    if (auto sub = dyn_cast<DictionaryAttr>(na.getValue())) {
      dict(os, (prefix + na.getName().getValue() + ".").str(), sub);
      continue;
    }
    os << prefix.str() << na.getName().getValue().str() << "=" << attrText(na.getValue())
       << "\n";
  }
}

struct Lowering {
  MLIRContext *ctx;
  OpBuilder b;
  ModuleOp module;
  Type elem;
  Type ptr, i64, i32, f64;
  LLVM::LLVMStructType ctxTy;
  int kernels = 0;
  int slots = 0;
  /// Every task the steps run through the `parallel` hook, in order, with
  /// its number of 8-byte argument slots: the device back end makes one
  /// kernel of each (see Note [Device kernels] in Pipelines/Cuda.cpp).
  SmallVector<std::pair<std::string, int>> tasks;
  static constexpr int DriftField = 4; // DFS_CTX_DRIFT in runtime/include/diffuse/abi.h
  static constexpr int kAbiVersion = 7; // DFS_ABI_VERSION there
  static constexpr int kPointFields = 8; // DFS_POINT_FIELDS there
  /// The models a sampler calls: the sampler's own first (index 0), then the
  /// others its guidance evaluates, in the order of the module.
  SmallVector<StringRef> models;
  int modelIndex(StringRef name) {
    auto it = llvm::find(models, name);
    if (it == models.end()) {
      models.push_back(name);
      return (int)models.size() - 1;
    }
    return int(it - models.begin());
  }

  explicit Lowering(ModuleOp m, Type elem)
      : ctx(m.getContext()), b(m.getContext()), module(m), elem(elem) {
    ptr = LLVM::LLVMPointerType::get(ctx);
    i64 = b.getI64Type();
    i32 = b.getI32Type();
    f64 = b.getF64Type();
    // dfs_ctx: six hooks, quantile, batch, input (runtime/include/diffuse/abi.h).
    ctxTy = LLVM::LLVMStructType::getLiteral(ctx, {ptr, ptr, ptr, ptr, ptr, ptr, ptr, i64, ptr});
  }

  Value gep(Location l, Type elemTy, Value base, Value idx) {
    return b.create<LLVM::GEPOp>(l, ptr, elemTy, base, ValueRange{idx});
  }
  Value i32c(int v, Location l) { return b.create<LLVM::ConstantOp>(l, i32, b.getI32IntegerAttr(v)); }

  /// Calls the runtime hook number `k` of ctx.
  Value hook(Location l, Value ctxPtr, int k, Type result, ValueRange args) {
    Value slot = b.create<LLVM::GEPOp>(l, ptr, ctxTy, ctxPtr, ArrayRef<LLVM::GEPArg>{0, k});
    Value fn = b.create<LLVM::LoadOp>(l, ptr, slot);
    SmallVector<Type> argTys;
    for (Value a : args)
      argTys.push_back(a.getType());
    auto fnTy = LLVM::LLVMFunctionType::get(result ? result : LLVM::LLVMVoidType::get(ctx), argTys);
    SmallVector<Value> ops{fn};
    ops.append(args.begin(), args.end());
    auto call = b.create<LLVM::CallOp>(l, fnTy, ops);
    return result ? call.getResult() : Value();
  }

  /// Whether a kernel reads per-sample values (it then also takes the
  /// number of elements per sample).
  static bool perSample(KernelOp k) {
    return llvm::any_of(k.getInputs(), [](Value v) { return isa<SampleType>(v.getType()); });
  }

  /// A new task task(slots, begin, end) named `prefix`<id> at the end of the
  /// module, the builder at the start of its body. endTask closes it.
  func::FuncOp newTask(StringRef prefix, int id, Location l) {
    b.setInsertionPointToEnd(module.getBody());
    auto task = b.create<func::FuncOp>(l, (prefix + Twine(id)).str(),
                                       b.getFunctionType({ptr, i64, i64}, {}));
    task.setPrivate();
    b.setInsertionPointToStart(task.addEntryBlock());
    return task;
  }
  /// Argument slot j of `task`, as a value of type ty.
  Value loadSlot(func::FuncOp task, unsigned j, Type ty, Location l) {
    Value idx = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(j));
    return b.create<LLVM::LoadOp>(l, ty, gep(l, i64, task.getArgument(0), idx));
  }
  /// Returns from `task` and records it with its number of slots.
  func::FuncOp endTask(func::FuncOp task, int slots, Location l) {
    b.setInsertionPointToEnd(&task.getBody().front());
    b.create<func::ReturnOp>(l);
    tasks.push_back({task.getSymName().str(), slots});
    return task;
  }

  /// Whether a kernel body can be computed in `elem` instead of f64: its
  /// ops are arith and math ops on floats without regions (each is then
  /// retyped as it is cloned).
  static bool retypable(Block &body) {
    for (Operation &op : body.without_terminator()) {
      StringRef ns = op.getName().getDialectNamespace();
      if ((ns != "arith" && ns != "math") || op.getNumRegions() != 0)
        return false;
      if (isa<arith::ExtFOp, arith::TruncFOp, arith::BitcastOp>(op))
        return false;
    }
    return true;
  }

  /// Clones `op` with its f64 results (and f64 constants) in type `ct`.
  void cloneAs(Operation &op, IRMapping &map, Type ct) {
    if (auto c = dyn_cast<arith::ConstantOp>(op))
      if (auto f = dyn_cast<FloatAttr>(c.getValue()); f && f.getType().isF64()) {
        Value v = b.create<arith::ConstantOp>(op.getLoc(),
                                              b.getFloatAttr(ct, f.getValueAsDouble()));
        map.map(c.getResult(), v);
        return;
      }
    Operation *copy = b.clone(op, map);
    for (Value r : copy->getResults())
      if (r.getType().isF64())
        r.setType(ct);
  }

  func::FuncOp outline(KernelOp k, Location l) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    unsigned nin = k.getInputs().size(), nout = k.getResults().size(),
             nco = k.getCoeffs().size();
    bool samples = perSample(k);
    // A float32 kernel computes in float32, its coefficients and per-sample
    // values rounded once, as the peers' float32 tensors do and at twice
    // the vector width; float64 kernels (and bodies that cannot be
    // retyped) compute in f64.
    Type ct = elem != f64 && retypable(k.getBody().front()) ? elem : f64;
    // Elements [begin, end) of the kernel; the runtime splits the range
    // over its threads. A kernel with per-sample inputs also takes the
    // elements per sample, last.
    SmallVector<Type> args{i64, i64};
    args.append(nin + nout, ptr);
    args.append(nco, f64);
    if (samples)
      args.push_back(i64);
    int id = kernels++;
    auto fn = b.create<func::FuncOp>(l, "dfs_kernel_" + std::to_string(id),
                                     b.getFunctionType(args, {}));
    fn.setPrivate();
    for (unsigned i = 2; i < 2 + nin + nout; ++i)
      fn.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(), b.getUnitAttr());
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Block &body = k.getBody().front();
    IRMapping map;
    Value one = b.create<arith::ConstantIndexOp>(l, 1);
    Value lb = b.create<arith::IndexCastOp>(l, b.getIndexType(), entry->getArgument(0));
    Value ub = b.create<arith::IndexCastOp>(l, b.getIndexType(), entry->getArgument(1));
    if (samples) {
      // for each sample j the range touches: load its values once, then
      // loop over its elements in [max(begin, j D), min(end, (j + 1) D)).
      Value d = b.create<arith::IndexCastOp>(l, b.getIndexType(), entry->getArguments().back());
      Value jlo = b.create<arith::DivUIOp>(l, lb, d);
      Value jhi = b.create<arith::DivUIOp>(
          l, b.create<arith::SubIOp>(l, b.create<arith::AddIOp>(l, ub, d), one), d);
      auto outer = b.create<scf::ForOp>(l, jlo, jhi, one);
      b.setInsertionPoint(outer.getBody()->getTerminator());
      Value j = outer.getInductionVar();
      Value j64 = b.create<arith::IndexCastOp>(l, i64, j);
      for (unsigned a = 0; a < nin; ++a)
        if (isa<SampleType>(k.getInputs()[a].getType())) {
          Value v = b.create<LLVM::LoadOp>(l, f64, gep(l, f64, entry->getArgument(2 + a), j64));
          map.map(body.getArgument(a), ct != f64 ? b.create<arith::TruncFOp>(l, ct, v) : v);
        }
      Value start = b.create<arith::MulIOp>(l, j, d);
      lb = b.create<arith::MaxUIOp>(l, lb, start);
      ub = b.create<arith::MinUIOp>(l, ub, b.create<arith::AddIOp>(l, start, d));
    }
    auto loop = b.create<scf::ForOp>(l, lb, ub, one);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value i = b.create<arith::IndexCastOp>(l, i64, loop.getInductionVar());
    for (unsigned j = 0; j < nin; ++j) {
      if (isa<SampleType>(k.getInputs()[j].getType()))
        continue;
      Value v = b.create<LLVM::LoadOp>(l, elem, gep(l, elem, entry->getArgument(2 + j), i));
      if (elem != ct)
        v = b.create<arith::ExtFOp>(l, ct, v);
      map.map(body.getArgument(j), v);
    }
    for (unsigned j = 0; j < nco; ++j) {
      Value c = entry->getArgument(2 + nin + nout + j);
      map.map(body.getArgument(nin + j), ct != f64 ? b.create<arith::TruncFOp>(l, ct, c) : c);
    }
    for (Operation &op : body.without_terminator()) {
      if (ct != f64)
        cloneAs(op, map, ct);
      else
        b.clone(op, map);
    }
    auto yield = cast<YieldOp>(body.getTerminator());
    for (unsigned j = 0; j < nout; ++j) {
      Value v = map.lookup(yield.getValues()[j]);
      if (elem != ct)
        v = b.create<arith::TruncFOp>(l, elem, v);
      b.create<LLVM::StoreOp>(l, v, gep(l, elem, entry->getArgument(2 + nin + j), i));
    }
    b.setInsertionPointToEnd(entry);
    b.create<func::ReturnOp>(l);

    // The task the runtime's threads run: unpack 8-byte argument slots and
    // call the kernel on a range.
    int nslots = (int)(nin + nout + nco + (samples ? 1 : 0));
    func::FuncOp task = newTask("dfs_task_", id, l);
    SmallVector<Value> callArgs{task.getArgument(1), task.getArgument(2)};
    for (int j = 0; j < nslots; ++j) {
      Type ty = j < (int)(nin + nout) ? ptr : j < (int)(nin + nout + nco) ? f64 : i64;
      callArgs.push_back(loadSlot(task, (unsigned)j, ty, l));
    }
    b.create<func::CallOp>(l, fn, callArgs);
    return endTask(task, nslots, l);
  }

  /// sum over e in [base, base + d) of term(e), accumulated in f64.
  Value accumulate(Location l, Value base, Value d, function_ref<Value(Value)> term) {
    Value zero = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(0));
    Value one = b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(1));
    Value end = b.create<arith::AddIOp>(l, base, d);
    auto loop = b.create<scf::ForOp>(l, base, end, one, ValueRange{zero});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value acc = b.create<arith::AddFOp>(l, loop.getRegionIterArgs()[0],
                                        term(loop.getInductionVar()));
    b.create<scf::YieldOp>(l, acc);
    b.setInsertionPointAfter(loop);
    return loop.getResult(0);
  }

  /// The task for a diffuse.reduce (all kinds but quantile): over samples
  /// [begin, end), from 8-byte argument slots (inputs, output, elements per
  /// sample), one f64 per sample.
  func::FuncOp outlineReduce(ReduceOp r, Location l) {
    OpBuilder::InsertionGuard guard(b);
    unsigned nin = r.getInputs().size();
    func::FuncOp task = newTask("dfs_reduce_", kernels++, l);
    auto slot = [&](unsigned j, Type ty) { return loadSlot(task, j, ty, l); };
    SmallVector<Value> in;
    for (unsigned j = 0; j < nin; ++j)
      in.push_back(slot(j, ptr));
    Value out = slot(nin, ptr), d = slot(nin + 1, i64);
    Value one = b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(1));
    auto loop = b.create<scf::ForOp>(l, task.getArgument(1), task.getArgument(2), one);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value j = loop.getInductionVar();
    Value base = b.create<arith::MulIOp>(l, j, d);
    auto load = [&](Value p, Value e) -> Value {
      Value v = b.create<LLVM::LoadOp>(l, elem, gep(l, elem, p, e));
      return elem != f64 ? b.create<arith::ExtFOp>(l, f64, v).getResult() : v;
    };
    StringRef kind = r.getKind();
    Value df = b.create<arith::SIToFPOp>(l, f64, d);
    Value result;
    if (kind == "dot") {
      result = accumulate(l, base, d, [&](Value e) -> Value {
        return b.create<arith::MulFOp>(l, load(in[0], e), load(in[1], e));
      });
    } else if (kind == "norm") {
      result = b.create<math::SqrtOp>(l, accumulate(l, base, d, [&](Value e) -> Value {
        Value v = load(in[0], e);
        return b.create<arith::MulFOp>(l, v, v);
      }));
    } else {
      result = accumulate(l, base, d, [&](Value e) { return load(in[0], e); });
      if (kind != "sum")
        result = b.create<arith::DivFOp>(l, result, df);
      if (kind == "std") { // two passes, as torch.std: sqrt(sum (a - mean)^2 / (d - 1))
        Value mean = result;
        Value ss = accumulate(l, base, d, [&](Value e) -> Value {
          Value c = b.create<arith::SubFOp>(l, load(in[0], e), mean);
          return b.create<arith::MulFOp>(l, c, c);
        });
        Value dm1 = b.create<arith::SubFOp>(
            l, df, b.create<arith::ConstantOp>(l, b.getF64FloatAttr(1)));
        result = b.create<math::SqrtOp>(l, b.create<arith::DivFOp>(l, ss, dm1));
      }
    }
    b.create<LLVM::StoreOp>(l, result, gep(l, f64, out, j));
    return endTask(task, (int)nin + 2, l);
  }

  /// The task for batch_mean: out[j] = the mean over the batch of v's
  /// per-sample values, for every j, where v is a per-sample buffer, or a
  /// field constant within each sample (its first element per sample is
  /// read). One work item; slots: v, out, batch, stride (1 for a per-sample
  /// buffer, elements per sample for a field).
  func::FuncOp outlineBatchMean(bool sample, Location l) {
    OpBuilder::InsertionGuard guard(b);
    func::FuncOp task = newTask("dfs_bmean_", kernels++, l);
    auto slot = [&](unsigned j, Type ty) { return loadSlot(task, j, ty, l); };
    Value p = slot(0, ptr), out = slot(1, ptr), batch = slot(2, i64), stride = slot(3, i64);
    Value zero = b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(0));
    Value one = b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(1));
    // Only the work item 0 computes (the range is [0, 1)).
    Value first = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, task.getArgument(1), zero);
    auto ifOp = b.create<scf::IfOp>(l, first, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value sum = accumulate(l, zero, batch, [&](Value j) -> Value {
      Value idx = b.create<arith::MulIOp>(l, j, stride);
      if (sample)
        return b.create<LLVM::LoadOp>(l, f64, gep(l, f64, p, idx));
      Value e = b.create<LLVM::LoadOp>(l, elem, gep(l, elem, p, idx));
      return elem != f64 ? b.create<arith::ExtFOp>(l, f64, e).getResult() : e;
    });
    Value mean = b.create<arith::DivFOp>(l, sum, b.create<arith::SIToFPOp>(l, f64, batch));
    auto loop = b.create<scf::ForOp>(l, zero, batch, one);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    b.create<LLVM::StoreOp>(l, mean, gep(l, f64, out, loop.getInductionVar()));
    return endTask(task, 4, l);
  }

  /// Stores `args` in 8-byte slots on the step's stack and has the runtime
  /// run `task` over [0, count).
  void runTask(Location l, Block *entry, Value ctxPtr, func::FuncOp task, ArrayRef<Value> args,
               Value count) {
    Value slots;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(entry);
      Value cnt = b.create<LLVM::ConstantOp>(
          l, i64, b.getI64IntegerAttr(std::max<int64_t>(1, (int64_t)args.size())));
      slots = b.create<LLVM::AllocaOp>(l, ptr, i64, cnt);
    }
    for (auto [j, a] : llvm::enumerate(args)) {
      Value idx = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(j));
      b.create<LLVM::StoreOp>(l, a, gep(l, i64, slots, idx));
    }
    Value fnRef = b.create<func::ConstantOp>(l, task.getFunctionType(),
                                             SymbolRefAttr::get(task.getSymNameAttr()));
    Value fnPtr = b.create<UnrealizedConversionCastOp>(l, ptr, fnRef).getResult(0);
    hook(l, ctxPtr, 5, Type(), {ctxPtr, fnPtr, slots, count});
  }

  /// One double of the step context array (index, steps, first, last).
  Value stepCtx(Location l, Value ctxArray, StringRef name) {
    int idx = name == "index" ? 0 : name == "steps" ? 1 : name == "first" ? 2 : 3;
    Value i = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(idx));
    Value v = b.create<LLVM::LoadOp>(l, f64, gep(l, f64, ctxArray, i));
    if (name == "first" || name == "last") {
      Value zero = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(0));
      return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, v, zero);
    }
    return v;
  }

  /// select(s, t) -> i32 becomes dfs_select(s, t, stepctx) over raw pointers.
  void lowerSelect(func::FuncOp sel) {
    Location l = sel.getLoc();
    b.setInsertionPoint(sel);
    auto fn = b.create<func::FuncOp>(l, "dfs_select", b.getFunctionType({ptr, ptr, ptr}, {i32}));
    fn.getBody().takeBody(sel.getBody());
    Block &entry = fn.getBody().front();
    entry.getArgument(0).setType(ptr);
    entry.getArgument(1).setType(ptr);
    Value ctxArray = entry.addArgument(ptr, l);
    SmallVector<Operation *> dead;
    fn.walk([&](Operation *op) {
      b.setInsertionPoint(op);
      if (auto p = dyn_cast<PointOp>(op)) {
        Value idx = b.create<LLVM::ConstantOp>(p.getLoc(), i64,
                                               b.getI64IntegerAttr(pointIndex(p.getField())));
        Value v = b.create<LLVM::LoadOp>(p.getLoc(), f64, gep(p.getLoc(), f64, p.getTime(), idx));
        p.getResult().replaceAllUsesWith(v);
        dead.push_back(op);
      } else if (auto c = dyn_cast<StepCtxOp>(op)) {
        c.getResult().replaceAllUsesWith(stepCtx(c.getLoc(), ctxArray, c.getName()));
        dead.push_back(op);
      }
    });
    for (Operation *op : dead)
      op->erase();
    sel.erase();
  }

  /// dfs_step calls the variant that dfs_select picks (or the only one);
  /// with the step context's drift flag set, the drift variant instead.
  void emitDispatcher(Location l, int variants, int driftVariant) {
    b.setInsertionPointToEnd(module.getBody());
    auto fn = b.create<func::FuncOp>(
        l, "dfs_step", b.getFunctionType({ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr}, {}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    SmallVector<Value> args(entry->getArguments().begin(), entry->getArguments().end());
    auto select = module.lookupSymbol<func::FuncOp>("dfs_select");
    Value k = b.create<func::CallOp>(l, select, ValueRange{args[4], args[5], args[6]})
                  .getResult(0);
    if (driftVariant >= 0) {
      Value idx = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(DriftField));
      Value flag = b.create<LLVM::LoadOp>(l, f64, gep(l, f64, args[6], idx));
      Value zero = b.create<arith::ConstantOp>(l, b.getF64FloatAttr(0));
      Value on = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, flag, zero);
      Value kd = b.create<arith::ConstantOp>(l, b.getI32IntegerAttr(driftVariant));
      k = b.create<arith::SelectOp>(l, on, kd, k);
    }
    for (int v = 0; v < variants; ++v) {
      Value kv = b.create<arith::ConstantOp>(l, b.getI32IntegerAttr(v));
      Value eq = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, k, kv);
      auto ifOp = b.create<scf::IfOp>(l, eq, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      b.create<func::CallOp>(l, module.lookupSymbol<func::FuncOp>("dfs_step_" + std::to_string(v)),
                             args);
    }
    b.create<func::ReturnOp>(l);
  }

  /// ctx->batch and n / batch, loaded once at the step's entry.
  Value stepCtxPtr, stepN, stepBatch, stepPerSample;
  Block *stepEntry = nullptr;
  Value batchCount(Location l) {
    if (!stepBatch) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(stepEntry);
      Value slot = b.create<LLVM::GEPOp>(l, ptr, ctxTy, stepCtxPtr, ArrayRef<LLVM::GEPArg>{0, 7});
      stepBatch = b.create<LLVM::LoadOp>(l, i64, slot);
      b.setInsertionPointAfter(stepBatch.getDefiningOp());
      stepPerSample = b.create<arith::DivSIOp>(l, stepN, stepBatch);
    }
    return stepBatch;
  }
  Value perSampleCount(Location l) {
    batchCount(l);
    return stepPerSample;
  }

  LogicalResult lowerStep(func::FuncOp step, std::string name) {
    Location l = step.getLoc();
    b.setInsertionPoint(step);
    auto fn = b.create<func::FuncOp>(
        l, name, b.getFunctionType({ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr}, {}));
    Block *entry = fn.addEntryBlock();
    Value ctxArray = entry->getArgument(6);
    // State: arrays of field pointers (in, out) and of doubles (in, out).
    Value fin = entry->getArgument(7), fout = entry->getArgument(8);
    Value sin = entry->getArgument(9), sout = entry->getArgument(10);
    Value ctxPtr = entry->getArgument(0), n = entry->getArgument(1),
          out = entry->getArgument(3);
    stepCtxPtr = ctxPtr;
    stepN = n;
    stepEntry = entry;
    stepBatch = stepPerSample = Value();
    Block &old = step.getBody().front();
    IRMapping map;
    map.map(old.getArgument(0), entry->getArgument(2));
    map.map(old.getArgument(1), entry->getArgument(4));
    map.map(old.getArgument(2), entry->getArgument(5));
    b.setInsertionPointToStart(entry);
    int nf = 0, ns = 0;
    for (unsigned a = 3; a < old.getNumArguments(); ++a) {
      Value arg = old.getArgument(a);
      bool isField = isa<FieldType>(arg.getType());
      Value idx = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(isField ? nf++ : ns++));
      map.map(arg, isField ? b.create<LLVM::LoadOp>(l, ptr, gep(l, ptr, fin, idx)).getResult()
                           : b.create<LLVM::LoadOp>(l, f64, gep(l, f64, sin, idx)).getResult());
    }

    // Where each returned field goes: the next state to %out, state k to fout[k].
    auto ret = cast<func::ReturnOp>(old.getTerminator());
    // A state tensor carried unchanged from a state input is not copied:
    // its output slot is pointed at the input buffer (the runtime's
    // SolverState::rotate keeps such buffers alive).
    SmallVector<Value> fieldDest;    // per return operand (null for scalars)
    SmallVector<Value> fieldSlotPtr; // per return operand: &fout[k] (state tensors)
    llvm::DenseMap<Value, Value> dest;
    llvm::DenseSet<Value> stateDest; // dest values that are state buffers (not %out)
    {
      int k = 0;
      for (auto [j, v] : llvm::enumerate(ret.getOperands())) {
        Value d, slot;
        if (isa<FieldType>(v.getType())) {
          if (j == 0) {
            d = out;
          } else {
            Value idx = b.create<LLVM::ConstantOp>(l, i64, b.getI64IntegerAttr(k++));
            slot = gep(l, ptr, fout, idx);
            d = b.create<LLVM::LoadOp>(l, ptr, slot);
            stateDest.insert(d);
          }
          if (!dest.count(v))
            dest[v] = d;
        }
        fieldDest.push_back(d);
        fieldSlotPtr.push_back(slot);
      }
    }
    // The step's x or a state tensor (the runtime keeps both alive while a
    // state slot points at them).
    auto isStateInput = [&](Value v) {
      auto arg = dyn_cast<BlockArgument>(v);
      return arg && arg.getOwner() == &old &&
             (arg.getArgNumber() == 0 || arg.getArgNumber() >= 3) &&
             isa<FieldType>(arg.getType());
    };
    for (Operation &op : old) {
      Location ol = op.getLoc();
      if (auto c = dyn_cast<StepCtxOp>(op)) {
        map.map(c.getResult(), stepCtx(ol, ctxArray, c.getName()));
      } else if (auto p = dyn_cast<PointOp>(op)) {
        Value idx = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(pointIndex(p.getField())));
        Value v = b.create<LLVM::LoadOp>(ol, f64, gep(ol, f64, map.lookup(p.getTime()), idx));
        map.map(p.getResult(), v);
      } else if (auto at = dyn_cast<AtOp>(op)) {
        // A grid point on the stack, filled by the runtime.
        Value pt;
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(entry);
          Value fields = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(kPointFields));
          pt = b.create<LLVM::AllocaOp>(ol, ptr, f64, fields);
        }
        hook(ol, ctxPtr, 4, Type(), {ctxPtr, map.lookup(at.getValue()), i32c(at.getLambda(), ol), pt});
        map.map(at.getResult(), pt);
      } else if (auto nz = dyn_cast<NoiseOp>(op)) {
        map.map(nz.getResult(), hook(ol, ctxPtr, 3, ptr, {ctxPtr, i32c(slots++, ol)}));
      } else if (auto in = dyn_cast<InputOp>(op)) {
        int which = in.getName() == "data" ? 0 : 1; // DFS_INPUT_DATA, DFS_INPUT_MASK
        map.map(in.getResult(), hook(ol, ctxPtr, 8, ptr, {ctxPtr, i32c(which, ol)}));
      } else if (auto c = dyn_cast<ModelCallOp>(op)) {
        ArrayRef<int32_t> conds = c.getConds();
        int nc = (int)conds.size();
        // With learned variance the network's variance channels follow the
        // predictions: blocks nc..2nc-1 (the runtime splits its rows).
        int per = c->hasAttr("variance") ? 2 : 1;
        // A one-condition output kept as state is written by the network
        // straight into the state buffer.
        auto d = dest.find(c.getOutputs()[0]);
        Value buf =
            nc == 1 && per == 1 && !c.getFallback() && d != dest.end() && stateDest.count(d->second)
                ? d->second
                : hook(ol, ctxPtr, 0, ptr, {ctxPtr, i32c(slots++, ol), i32c(nc * per, ol)});
        // The conditions, on the stack.
        Value condv;
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(entry);
          Value len = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(nc));
          condv = b.create<LLVM::AllocaOp>(ol, ptr, i32, len);
        }
        for (int k = 0; k < nc; ++k)
          b.create<LLVM::StoreOp>(ol, i32c(conds[k], ol), gep(ol, i32, condv, i32c(k, ol)));
        auto block = [&](int k) {
          if (k == 0)
            return buf;
          Value kc = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(k));
          return gep(ol, elem, buf, b.create<LLVM::MulOp>(ol, n, kc));
        };
        SmallVector<Value> outs;
        for (int k = 0; k < nc * per; ++k)
          outs.push_back(block(k));
        Value count = i32c(nc, ol), condp = condv, first = buf;
        if (Value fallback = c.getFallback()) {
          // Another model's call outside the guidance's interval: no network
          // call (zero conditions), every result the sampler's model's.
          Value active = map.lookup(c.getActive());
          count = b.create<LLVM::SelectOp>(ol, active, count, i32c(0, ol));
          for (int k = 0; k < nc; ++k)
            outs[k] = b.create<LLVM::SelectOp>(ol, active, outs[k], map.lookup(fallback));
        } else if (Value active = c.getActive()) {
          // Outside the guidance's interval: only label set 0, into its own
          // block, which every result then reads.
          active = map.lookup(active);
          int p = int(llvm::find(conds, 0) - conds.begin());
          Value only = outs[p];
          count = b.create<LLVM::SelectOp>(ol, active, count, i32c(1, ol));
          condp = b.create<LLVM::SelectOp>(ol, active, condv, gep(ol, i32, condv, i32c(p, ol)));
          for (int k = 0; k < nc; ++k)
            if (k != p)
              outs[k] = b.create<LLVM::SelectOp>(ol, active, outs[k], only);
          // The one evaluation's variance follows its prediction.
          if (per == 2) {
            Value after = gep(ol, elem, only, n);
            for (int k = nc; k < 2 * nc; ++k)
              outs[k] = b.create<LLVM::SelectOp>(ol, active, outs[k], after);
          }
          first = outs[0]; // where the call writes: the whole buffer, or only
        }
        hook(ol, ctxPtr, 1, Type(),
             {ctxPtr, i32c(modelIndex(c.getModel()), ol), count, condp,
              map.lookup(c.getInput()), map.lookup(c.getTime()), first});
        for (int k = 0; k < nc * per; ++k)
          map.map(c.getOutputs()[k], outs[k]);
      } else if (auto k = dyn_cast<KernelOp>(op)) {
        SmallVector<Value> args;
        for (Value v : k.getInputs())
          args.push_back(map.lookup(v));
        for (Value r : k.getResults()) {
          Value dst = dest.count(r) ? dest[r]
                                    : hook(ol, ctxPtr, 0, ptr, {ctxPtr, i32c(slots++, ol), i32c(1, ol)});
          map.map(r, dst);
          args.push_back(dst);
        }
        for (Value v : k.getCoeffs())
          args.push_back(map.lookup(v));
        if (perSample(k))
          args.push_back(perSampleCount(ol));
        // The runtime runs the kernel over [0, n), threaded when n is large.
        runTask(ol, entry, ctxPtr, outline(k, ol), args, n);
      } else if (auto r = dyn_cast<ReduceOp>(op)) {
        // One f64 per sample: a scratch buffer of at least 8 * batch bytes.
        Value buf = hook(ol, ctxPtr, 0, ptr,
                         {ctxPtr, i32c(slots++, ol), i32c(elem == f64 ? 1 : 2, ol)});
        if (r.getKind() == "batch_mean") {
          // A task like the others, so that the step itself never reads a
          // tensor (its buffers may be device memory).
          Value v = r.getInputs()[0];
          bool sample = isa<SampleType>(v.getType());
          Value stride = sample ? b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(1))
                                      .getResult()
                                : perSampleCount(ol);
          Value one = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(1));
          runTask(ol, entry, ctxPtr, outlineBatchMean(sample, ol),
                  {map.lookup(v), buf, batchCount(ol), stride}, one);
        } else if (r.getKind() == "quantile") {
          hook(ol, ctxPtr, 6, Type(),
               {ctxPtr, map.lookup(r.getInputs()[0]), map.lookup(r.getQ()), buf});
        } else {
          SmallVector<Value> args;
          for (Value v : r.getInputs())
            args.push_back(map.lookup(v));
          args.push_back(buf);
          args.push_back(perSampleCount(ol));
          runTask(ol, entry, ctxPtr, outlineReduce(r, ol), args, batchCount(ol));
        }
        map.map(r.getResult(), buf);
      } else if (auto r = dyn_cast<func::ReturnOp>(op)) {
        int ks = 0;
        for (auto [j, operand] : llvm::enumerate(r.getOperands())) {
          Value v = map.lookup(operand);
          if (fieldDest[j]) {
            if (v == fieldDest[j])
              continue;
            if (fieldSlotPtr[j] && isStateInput(operand))
              b.create<LLVM::StoreOp>(ol, v, fieldSlotPtr[j]);
            else
              hook(ol, ctxPtr, 2, Type(), {ctxPtr, fieldDest[j], v});
          } else {
            Value idx = b.create<LLVM::ConstantOp>(ol, i64, b.getI64IntegerAttr(ks++));
            b.create<LLVM::StoreOp>(ol, v, gep(ol, f64, sout, idx));
          }
        }
        b.create<func::ReturnOp>(ol);
      } else if (op.getDialect() && (isa<arith::ArithDialect, math::MathDialect>(op.getDialect()))) {
        b.clone(op, map);
      } else {
        return op.emitError("cannot lower '") << op.getName() << "' (run diffuse-fuse first)";
      }
    }
    step.erase();
    return success();
  }

  int maxStreams = 0; // tensor reads + writes of the heaviest step variant

  void emitManifest(int stateFields, int stateScalars) {
    std::ostringstream os;
    os << "diffuse_abi=" << kAbiVersion << "\n";
    os << "streams.max=" << maxStreams << "\n";
    os << "state.fields=" << stateFields << "\nstate.scalars=" << stateScalars << "\n";
    os << "models=" << models.size() << "\n";
    for (Operation &op : llvm::make_early_inc_range(*module.getBody())) {
      if (auto s = dyn_cast<SamplerOp>(op)) {
        os << "sampler=" << s.getSymName().str() << "\n";
        dict(os, "", s.getConfig());
      } else if (auto t = dyn_cast<TrainOp>(op)) {
        os << "train=" << t.getSymName().str() << "\n";
        dict(os, "train.", t.getConfig());
      } else if (auto p = dyn_cast<ProcessOp>(op)) {
        os << "process.name=" << p.getSymName().str() << "\nprocess.kind=" << p.getKind().str()
           << "\n";
        dict(os, "process.", p.getConfig());
      } else if (auto m = dyn_cast<ModelOp>(op)) {
        // The sampler's model is model.*, the K-th other one model.K.*.
        int k = modelIndex(m.getSymName());
        std::string pre = k == 0 ? "model." : "model." + std::to_string(k) + ".";
        os << pre << "name=" << m.getSymName().str() << "\n"
           << pre << "predicts=" << m.getPredicts().str() << "\n"
           << pre << "time=" << m.getTimeEncoding().str() << "\n"
           << pre << "time_scale=" << attrText(m.getTimeScaleAttr()) << "\n"
           << pre << "conditional=" << (m.getConditional() ? 1 : 0) << "\n";
        if (auto off = m->getAttrOfType<FloatAttr>("time_offset"))
          os << pre << "time_offset=" << attrText(off) << "\n";
        if (auto td = m->getAttrOfType<StringAttr>("time_dtype"))
          os << pre << "time_dtype=" << td.getValue().str() << "\n";
        if (auto sd = m->getAttrOfType<FloatAttr>("sigma_data"))
          os << pre << "sigma_data=" << attrText(sd) << "\n";
        if (m->hasAttr("labels"))
          os << pre << "labels=1\n";
        if (auto v = m->getAttrOfType<StringAttr>("variance"))
          os << pre << "variance=" << v.getValue().str() << "\n";
        // name:dtype:d1xd2,... (the runtime's Runner::setCondition checks against it)
        if (auto inputs = m->getAttrOfType<ArrayAttr>("inputs")) {
          os << pre << "inputs=";
          for (auto [i, a] : llvm::enumerate(inputs)) {
            auto d = cast<DictionaryAttr>(a);
            os << (i ? "," : "") << cast<StringAttr>(d.get("name")).getValue().str() << ":"
               << cast<StringAttr>(d.get("dtype")).getValue().str() << ":";
            for (auto [k, n] : llvm::enumerate(cast<DenseI64ArrayAttr>(d.get("shape")).asArrayRef()))
              os << (k ? "x" : "") << n;
          }
          os << "\n";
        }
      } else {
        continue;
      }
      op.erase();
    }
    std::string text = os.str();
    text.push_back('\0');
    b.setInsertionPointToEnd(module.getBody());
    auto ty = LLVM::LLVMArrayType::get(b.getI8Type(), text.size());
    b.create<LLVM::GlobalOp>(module.getLoc(), ty, /*isConstant=*/true, LLVM::Linkage::External,
                             "dfs_manifest", b.getStringAttr(text));
  }
};

struct ConvertDiffuseToLLVMPass
    : diffuse::impl::ConvertDiffuseToLLVMBase<ConvertDiffuseToLLVMPass> {
  using ConvertDiffuseToLLVMBase::ConvertDiffuseToLLVMBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Type elem = elementType == "f32" ? Type(Float32Type::get(&getContext()))
                                     : Type(Float64Type::get(&getContext()));
    Lowering low(module, elem);
    for (auto s : module.getOps<SamplerOp>())
      if (auto m = s.getConfig().getAs<FlatSymbolRefAttr>("model"))
        low.modelIndex(m.getValue());
    for (auto m : module.getOps<ModelOp>())
      low.modelIndex(m.getSymName());
    SmallVector<func::FuncOp> steps;
    func::FuncOp select;
    for (auto f : module.getOps<func::FuncOp>()) {
      if (f->hasAttr("diffuse.step"))
        steps.push_back(f);
      if (f->hasAttr("diffuse.select"))
        select = f;
    }
    if (steps.empty() && !module.getOps<TrainOp>().empty()) {
      // A training spec: its scalar functions are exported as they are.
      low.emitManifest(0, 0);
      return;
    }
    if (steps.empty()) {
      module.emitError("no step function");
      return signalPassFailure();
    }
    if (steps.size() > 1 && !select) {
      module.emitError("several step variants but no select function");
      return signalPassFailure();
    }
    Location l = steps.front().getLoc();
    int stateFields = 0, stateScalars = 0;
    for (Type t : steps.front().getArgumentTypes().drop_front(3))
      (isa<FieldType>(t) ? stateFields : stateScalars)++;
    int driftVariant = -1;
    for (func::FuncOp f : steps)
      if (f->hasAttr("diffuse.drift"))
        driftVariant = cast<IntegerAttr>(f->getAttr("diffuse.step")).getInt();
    for (func::FuncOp f : steps) {
      int streams = 0;
      f.walk([&](KernelOp k) { streams += k.getInputs().size() + k.getResults().size(); });
      low.maxStreams = std::max(low.maxStreams, streams);
      int k = cast<IntegerAttr>(f->getAttr("diffuse.step")).getInt();
      std::string name = steps.size() == 1 ? "dfs_step" : "dfs_step_" + std::to_string(k);
      if (failed(low.lowerStep(f, name)))
        return signalPassFailure();
    }
    if (steps.size() > 1) {
      low.lowerSelect(select);
      low.emitDispatcher(l, (int)steps.size(), driftVariant);
    }
    low.emitManifest(stateFields, stateScalars);
    // The tasks, for the device back end: [[name, slots], ...].
    SmallVector<Attribute> tasks;
    for (auto &[name, count] : low.tasks)
      tasks.push_back(ArrayAttr::get(
          &getContext(), {StringAttr::get(&getContext(), name),
                          IntegerAttr::get(IntegerType::get(&getContext(), 64), count)}));
    module->setAttr("diffuse.tasks", ArrayAttr::get(&getContext(), tasks));
  }
};

} // namespace
