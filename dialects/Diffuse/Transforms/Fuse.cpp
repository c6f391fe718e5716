//===- Fuse.cpp - one elementwise kernel per network-call boundary --------===//
//
// Algorithm:
//   1. Hoist: every scalar op of the step (it depends only on the time
//      points) moves to the top of the function, so the per-step
//      coefficients are computed once, on the host, before any tensor work.
//   2. Move each network call up to just after its operands (and the call
//      before it), then partition the remaining ops at each
//      `diffuse.model_call`, at each
//      `diffuse.reduce` (its operands must be in memory) and at the return:
//      each segment is the field arithmetic between two such points.
//   3. Each segment becomes one `diffuse.kernel`: its inputs are the fields
//      (and per-sample values) defined outside the segment, its
//      coefficients the f64 values it uses,
//      its results the fields used after it. The body is the segment's ops
//      rewritten elementwise (diffuse.add -> arith.addf, ...).
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/IR/MathFunctions.h"
#include "dialects/Diffuse/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

namespace diffuse {
#define GEN_PASS_DEF_FUSE
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

bool isFieldOp(Operation *op) {
  return isa<AddOp, SubOp, MulOp, DivOp, MinOp, MaxOp, NegOp, AbsOp, MathOp>(op);
}

/// Emits the elementwise equivalent of a field op on f64 scalars.
Value elementwise(OpBuilder &b, Operation *op, ArrayRef<Value> a) {
  Location l = op->getLoc();
  if (isa<AddOp>(op)) return b.create<arith::AddFOp>(l, a[0], a[1]);
  if (isa<SubOp>(op)) return b.create<arith::SubFOp>(l, a[0], a[1]);
  if (isa<MulOp>(op)) return b.create<arith::MulFOp>(l, a[0], a[1]);
  if (isa<DivOp>(op)) return b.create<arith::DivFOp>(l, a[0], a[1]);
  if (isa<MinOp>(op)) return b.create<arith::MinimumFOp>(l, a[0], a[1]);
  if (isa<MaxOp>(op)) return b.create<arith::MaximumFOp>(l, a[0], a[1]);
  if (isa<AbsOp>(op)) return b.create<math::AbsFOp>(l, a[0]);
  if (auto m = dyn_cast<MathOp>(op)) return buildMath(b, l, m.getFn(), a[0]);
  return b.create<arith::NegFOp>(l, a[0]);
}

void fuseSegment(OpBuilder &b, ArrayRef<Operation *> seg, Operation *before) {
  if (seg.empty())
    return;
  llvm::SmallPtrSet<Operation *, 16> inSeg(seg.begin(), seg.end());
  llvm::SetVector<Value> inputs, coeffs, results;
  for (Operation *op : seg) {
    for (Value v : op->getOperands()) {
      if (v.getDefiningOp() && inSeg.count(v.getDefiningOp()))
        continue;
      (isa<FieldType, SampleType>(v.getType()) ? inputs : coeffs).insert(v);
    }
    for (Operation *user : op->getResult(0).getUsers())
      if (!inSeg.count(user)) {
        results.insert(op->getResult(0));
        break;
      }
  }
  b.setInsertionPoint(before);
  SmallVector<Type> resultTypes(results.size(), FieldType::get(b.getContext()));
  auto kernel = b.create<KernelOp>(seg.front()->getLoc(), resultTypes, inputs.getArrayRef(),
                                   coeffs.getArrayRef());
  Block *body = b.createBlock(&kernel.getBody());
  IRMapping map;
  for (Value v : inputs)
    map.map(v, body->addArgument(b.getF64Type(), v.getLoc()));
  for (Value v : coeffs)
    map.map(v, body->addArgument(b.getF64Type(), v.getLoc()));
  for (Operation *op : seg) {
    SmallVector<Value> args;
    for (Value v : op->getOperands())
      args.push_back(map.lookup(v));
    map.map(op->getResult(0), elementwise(b, op, args));
  }
  SmallVector<Value> yields;
  for (Value r : results)
    yields.push_back(map.lookup(r));
  b.create<YieldOp>(seg.back()->getLoc(), yields);
  for (auto [r0, k] : llvm::zip(results, kernel.getResults())) {
    Value r = r0;
    r.replaceUsesWithIf(k, [&](OpOperand &use) { return !inSeg.count(use.getOwner()); });
  }
  for (Operation *op : llvm::reverse(seg))
    op->erase();
}

struct FusePass : diffuse::impl::FuseBase<FusePass> {
  using FuseBase::FuseBase;
  void runOnOperation() override {
    fuseAll();
  }

  void fuseAll() {
    for (auto f : getOperation().getOps<func::FuncOp>())
      if (f->hasAttr("diffuse.step"))
        fuseStep(f);
  }

  void fuseStep(func::FuncOp step) {
    Block &block = step.getBody().front();
    OpBuilder b(&getContext());

    // 1. Hoist scalar ops to the top, keeping their order.
    Operation *hoistPoint = nullptr;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      bool scalar = op.getNumResults() == 1 &&
                    !isa<FieldType, SampleType>(op.getResult(0).getType()) &&
                    !isa<ModelCallOp, KernelOp>(op) && op.getNumRegions() == 0;
      if (!scalar)
        continue;
      if (hoistPoint)
        op.moveAfter(hoistPoint);
      else
        op.moveBefore(&block, block.begin());
      hoistPoint = &op;
    }

    // 1b. Make each network call as early as its operands allow (in the
    // order of the calls), so that field arithmetic it does not feed is
    // not split into a kernel before it and one after (cold diffusion's
    // x - D(x0, s) + D(x0, t) is then one kernel after both calls).
    Operation *lastCall = nullptr;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (!isa<ModelCallOp>(op))
        continue;
      Operation *after = lastCall ? lastCall : hoistPoint;
      for (Value v : op.getOperands())
        if (Operation *d = v.getDefiningOp(); d && d->getBlock() == &block &&
                                               (!after || after->isBeforeInBlock(d)))
          after = d;
      if (after && after->isBeforeInBlock(&op))
        op.moveAfter(after);
      else if (!after)
        op.moveBefore(&block, block.begin());
      lastCall = &op;
    }

    // 2-3. Partition at network calls and the return.
    SmallVector<Operation *> seg;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (isFieldOp(&op)) {
        seg.push_back(&op);
        if (eager) { // the baseline: every op its own full pass
          fuseSegment(b, seg, op.getNextNode());
          seg.clear();
        }
        continue;
      }
      if (isa<ModelCallOp, ReduceOp, func::ReturnOp>(op)) {
        fuseSegment(b, seg, &op);
        seg.clear();
      }
    }
  }
};

} // namespace
