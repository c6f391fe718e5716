//===- Declarations.cpp - the declaration ops of a plan -------------------===//
//
// diffuse.model, diffuse.train and diffuse.sampler: the plan's settings as
// attributes (Declarations.h).
//
//===----------------------------------------------------------------------===//
#include "compiler/MLIRGen/Declarations.h"

#include "dialects/Diffuse/IR/DiffuseDialect.h"

#include <set>

using namespace mlir;

namespace diffuse {
namespace {

/// diffuse.model: a model declaration as the plan resolved it.
void emitModel(OpBuilder &b, const ModelPlan &mp) {
  MLIRContext *ctx = b.getContext();
  const ast::Decl &m = *mp.decl;
  auto op = b.create<ModelOp>(locOf(*ctx, m.nameLoc), b.getStringAttr(m.name),
                              b.getStringAttr(mp.predicts), b.getStringAttr(mp.timeEncoding),
                              b.getF64FloatAttr(mp.timeScale), b.getBoolAttr(mp.conditional));
  if (mp.timeOffset != 0)
    op->setAttr("time_offset", b.getF64FloatAttr(mp.timeOffset));
  if (mp.timeF32)
    op->setAttr("time_dtype", b.getStringAttr("f32"));
  if (mp.predicts == "edm")
    op->setAttr("sigma_data", b.getF64FloatAttr(mp.sigmaData));
  if (mp.labels)
    op->setAttr("labels", b.getUnitAttr());
  if (mp.learnedVariance)
    op->setAttr("variance", b.getStringAttr("learned_range"));
  // Named conditioning inputs: [{name, dtype, shape}, ...].
  if (!mp.inputs.empty()) {
    SmallVector<Attribute> inputs;
    for (const InputPlan &in : mp.inputs) {
      SmallVector<int64_t> shape(in.shape.begin(), in.shape.end());
      NamedAttrList d;
      d.set("name", b.getStringAttr(in.name));
      d.set("dtype", b.getStringAttr(in.dtype));
      d.set("shape", b.getDenseI64ArrayAttr(shape));
      inputs.push_back(d.getDictionary(ctx));
    }
    op->setAttr("inputs", b.getArrayAttr(inputs));
  }
}

} // namespace

void emitModels(OpBuilder &b, const SamplerPlan &plan) {
  emitModel(b, plan.modelPlan);
  for (const ModelPlan &mp : plan.guideModels)
    emitModel(b, mp);
  std::set<const ast::Decl *> done;
  for (const auto &[_, mp] : plan.solverModels)
    if (done.insert(mp.decl).second)
      emitModel(b, mp);
}

void emitTrain(OpBuilder &b, const SamplerPlan &plan) {
  MLIRContext *ctx = b.getContext();
  NamedAttrList cfg;
  cfg.set("process", FlatSymbolRefAttr::get(ctx, plan.process->name));
  cfg.set("model", FlatSymbolRefAttr::get(ctx, plan.model->name));
  cfg.set("time", b.getStringAttr(plan.trainTime));
  cfg.set("mean", b.getF64FloatAttr(plan.timeMean));
  cfg.set("std", b.getF64FloatAttr(plan.timeStd));
  cfg.set("weight", b.getStringAttr(plan.trainWeight));
  cfg.set("param", b.getF64FloatAttr(plan.weightParam));
  b.create<TrainOp>(locOf(*ctx, plan.train->nameLoc), plan.train->name, cfg.getDictionary(ctx));
}

void emitSampler(OpBuilder &b, const SamplerPlan &plan) {
  MLIRContext *ctx = b.getContext();
  NamedAttrList cfg;
  cfg.set("process", FlatSymbolRefAttr::get(ctx, plan.process->name));
  cfg.set("model", FlatSymbolRefAttr::get(ctx, plan.model->name));
  cfg.set("solver", b.getStringAttr(plan.solver->name));
  cfg.set("coords", b.getStringAttr(plan.coords));
  cfg.set("dtype", b.getStringAttr(plan.modelPlan.dtype));
  NamedAttrList grid;
  grid.set("kind", b.getStringAttr(plan.grid.kind));
  grid.set("target", b.getStringAttr(plan.grid.target));
  for (auto &[k, v] : plan.grid.args)
    grid.set(k, b.getF64FloatAttr(v));
  if (!plan.grid.times.empty())
    grid.set("times", b.getF64ArrayAttr(plan.grid.times));
  if (!plan.grid.sigmas.empty())
    grid.set("sigmas", b.getF64ArrayAttr(plan.grid.sigmas));
  cfg.set("grid", grid.getDictionary(ctx));
  if (plan.guidance) {
    NamedAttrList g;
    g.set("name", b.getStringAttr(plan.guidance->name));
    g.set("combine", FlatSymbolRefAttr::get(ctx, "dfs_guidance"));
    if (plan.guidance->find("active"))
      g.set("active", FlatSymbolRefAttr::get(ctx, "dfs_guidance_active"));
    const ast::Item *sp = plan.guidance->find("space");
    g.set("space", b.getStringAttr(sp ? sp->value->name : "output"));
    for (auto &[k, v] : plan.guidanceParams)
      g.set(k, b.getF64FloatAttr(v));
    SmallVector<Attribute> models, conds;
    for (const EvalPlan &e : plan.evaluations) {
      models.push_back(FlatSymbolRefAttr::get(ctx, e.model->name));
      conds.push_back(b.getI64IntegerAttr(e.cond));
    }
    g.set("eval_models", b.getArrayAttr(models));
    g.set("eval_conds", b.getArrayAttr(conds));
    cfg.set("guidance", g.getDictionary(ctx));
  }
  if (plan.inpaint)
    cfg.set("inpaint", b.getI64IntegerAttr(1));
  if (plan.adaptive.on) {
    const SamplerPlan::Adaptive &a = plan.adaptive;
    NamedAttrList ad;
    ad.set("order", b.getF64FloatAttr(a.order));
    ad.set("rtol", b.getF64FloatAttr(a.rtol));
    ad.set("atol", b.getF64FloatAttr(a.atol));
    ad.set("safety", b.getF64FloatAttr(a.safety));
    ad.set("grow", b.getF64FloatAttr(a.grow));
    ad.set("shrink", b.getF64FloatAttr(a.shrink));
    ad.set("max_steps", b.getF64FloatAttr(a.maxSteps));
    ad.set("error", b.getI64IntegerAttr(a.error));
    ad.set("slope", b.getI64IntegerAttr(a.slope));
    ad.set("mid", b.getI64IntegerAttr(a.mid));
    ad.set("tolerance", b.getI64IntegerAttr(a.tolerance));
    ad.set("norm", b.getI64IntegerAttr((int64_t)a.norm));
    ad.set("h0", b.getF64FloatAttr(a.h0));
    ad.set("limits", b.getF64FloatAttr(a.limits));
    ad.set("end_tol", b.getF64FloatAttr(a.endTol));
    ad.set("factor_float32", b.getF64FloatAttr(a.factorF32));
    ad.set("end_coord", b.getF64FloatAttr(a.endCoord));
    ad.set("pid", b.getF64FloatAttr(a.pid));
    ad.set("pcoeff", b.getF64FloatAttr(a.pcoeff));
    ad.set("icoeff", b.getF64FloatAttr(a.icoeff));
    ad.set("dcoeff", b.getF64FloatAttr(a.dcoeff));
    ad.set("accept_safety", b.getF64FloatAttr(a.acceptSafety));
    cfg.set("adaptive", ad.getDictionary(ctx));
  }
  b.create<SamplerOp>(locOf(*ctx, plan.sampler->nameLoc), plan.sampler->name, cfg.getDictionary(ctx));
}

//===--- Mixed scalar / field expressions (solver, guidance) ------------===//

} // namespace diffuse
