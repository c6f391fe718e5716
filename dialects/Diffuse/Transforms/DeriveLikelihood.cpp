//===- DeriveLikelihood.cpp - the PF-ODE as an affine map of the network --===//
//
// The probability-flow ODE of a Gaussian path, dx/dt = f x - g^2 score / 2
// with f = alpha'/alpha, g^2 = 2 sigma sigma' - 2 f sigma^2 and score =
// -eps/sigma, is affine in what the network outputs:
//
//   dx/dt = A(t) x + B(t) F(x, t),   div = D A(t) + B(t) tr(dF/dx),
//
// which is all a log-likelihood integrator needs (the runtime supplies
// tr(dF/dx): exact from a network that offers it, else Hutchinson's
// estimate). With c = sigma' - f sigma (the eps coefficient):
//
//   eps:       A = f,                              B = c
//   score:     A = f,                              B = -c sigma
//   x0:        A = f + c / sigma,                  B = -c alpha / sigma
//   v:         A = f + c sigma / (alpha^2+sigma^2), B = c alpha / (alpha^2+sigma^2)
//   velocity:  A = 0,                              B = 1
//
// (eps = (x - alpha x0)/sigma for x0; eps = (alpha v + sigma x) /
// (alpha^2 + sigma^2) for v; a velocity model predicts dx/dt itself.)
//
// An edm model is called on a scaled input, z = K(t) x with K = c_in/alpha,
// and x0 = c_skip x/alpha + c_out F(z) (u = sigma/alpha, EDM's c_* at u).
// With A0, B0 the x0 row above:
//
//   edm:       A = A0 + B0 c_skip / alpha,          B = B0 c_out,   K = c_in / alpha
//
// and div = D A + B K tr(dF/dz). Every other model has K = 1.
//
// The pass writes `dfs_ode_coef_x(t)`, `dfs_ode_coef_net(t)` and (edm only)
// `dfs_ode_coef_in(t)` for the sampler's process and model, in native
// coordinates; a beta table has no derivatives and gets none.
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

namespace diffuse {
#define GEN_PASS_DEF_DERIVELIKELIHOOD
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

struct DeriveLikelihoodPass : diffuse::impl::DeriveLikelihoodBase<DeriveLikelihoodPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (SamplerOp sampler : llvm::to_vector(module.getOps<SamplerOp>())) {
      DictionaryAttr cfg = sampler.getConfig();
      auto process = symbols.lookup<ProcessOp>(cfg.getAs<FlatSymbolRefAttr>("process").getValue());
      auto model = symbols.lookup<ModelOp>(cfg.getAs<FlatSymbolRefAttr>("model").getValue());
      if (!process || !model || process.getKind() != "path")
        continue;
      func::FuncOp alpha = processFunction(process, "alpha"), sigma = processFunction(process, "sigma"), dalpha = processFunction(process, "dalpha"),
                   dsigma = processFunction(process, "dsigma");
      if (!alpha || !sigma || !dalpha || !dsigma)
        continue;
      StringRef predicts = model.getPredicts();
      Location loc = sampler.getLoc();
      OpBuilder b(sampler);
      enum Coef { X, Net, In };
      auto define = [&](StringRef name, Coef which) {
        b.setInsertionPoint(sampler);
        auto fn = b.create<func::FuncOp>(loc, name,
                                         b.getFunctionType({b.getF64Type()}, {b.getF64Type()}));
        symbols.insert(fn);
        Block *entry = fn.addEntryBlock();
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(entry);
        ScalarBuilder e(b, loc);
        Value t = entry->getArgument(0), r;
        bool forX = which == X;
        if (predicts == "velocity") {
          r = e.cst(forX ? 0 : 1);
        } else if (predicts == "edm") {
          Value a = e.inlineAt(alpha, t), s = e.inlineAt(sigma, t);
          Value f = e.div(e.inlineAt(dalpha, t), a);
          Value c = e.sub(e.inlineAt(dsigma, t), e.mul(f, s));
          EdmCoefficients k = edmCoefficients(
              e, e.div(s, a), model->getAttrOfType<FloatAttr>("sigma_data").getValueAsDouble());
          Value b0 = e.neg(e.div(e.mul(c, a), s));
          if (which == X)
            r = e.add(e.add(f, e.div(c, s)), e.div(e.mul(b0, k.cskip), a));
          else if (which == Net)
            r = e.mul(b0, k.cout);
          else // c_in / alpha = 1 / (norm alpha)
            r = e.div(e.cst(1), e.mul(k.norm, a));
        } else {
          Value a = e.inlineAt(alpha, t), s = e.inlineAt(sigma, t);
          Value f = e.div(e.inlineAt(dalpha, t), a);
          Value c = e.sub(e.inlineAt(dsigma, t), e.mul(f, s));
          if (predicts == "eps") {
            r = forX ? f : c;
          } else if (predicts == "score") { // eps = -sigma F
            r = forX ? f : e.neg(e.mul(c, s));
          } else if (predicts == "x0") {
            r = forX ? e.add(f, e.div(c, s)) : e.neg(e.div(e.mul(c, a), s));
          } else { // v
            Value n = e.add(e.mul(a, a), e.mul(s, s));
            r = forX ? e.add(f, e.div(e.mul(c, s), n)) : e.div(e.mul(c, a), n);
          }
        }
        b.create<func::ReturnOp>(loc, r);
      };
      define("dfs_ode_coef_x", X);
      define("dfs_ode_coef_net", Net);
      if (predicts == "edm")
        define("dfs_ode_coef_in", In);
    }
  }
};

} // namespace
