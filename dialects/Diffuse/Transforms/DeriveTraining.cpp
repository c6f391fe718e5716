//===- DeriveTraining.cpp - the scalar functions of a training step -------===//
//
// A training step draws t, forms x_t = alpha(t) x0 + sigma(t) eps, asks the
// network for F(x_t, t) and regresses it on the target its prediction type
// implies, weighted by w(t):  loss = w(t) |F(x_t, t) - target|^2.  Everything
// but the network is a scalar function of the draw, so this pass writes them
// from the `diffuse.train` op, the process and the model:
//
//   dfs_train_time(u, n)      t from a uniform u in (0, 1) and a normal n
//                               (a timestep index floor(u N) of a beta table)
// and, as functions of (t, alpha, sigma, alpha', sigma') at that t (which
// the runtime evaluates: the compiled path, or the table):
//   dfs_train_model_time      the network's time (the model's encoding)
//   dfs_train_coef_x0         target = c_x0 x0 + c_eps eps:
//   dfs_train_coef_eps          eps (0, 1), x0 (1, 0), v (-sigma, alpha),
//                               velocity (alpha', sigma'), score (0, -1/sigma)
//   dfs_train_weight          the loss weight in the model's output space
//   dfs_train_input_scale     the network's input is this times x_t (EDM's
//                               c_in / alpha; 1 for the other models)
//
// Note [Loss weights]. The weightings of the literature are stated for one
// space and are meaningless in another without conversion. Each is written
// here as a weight w0 on the x0 error |x0_hat - x0|^2 -- snr: alpha^2/sigma^2
// (the "simple" eps loss of DDPM); min_snr: min(SNR, gamma) (Hang et al.);
// truncated_snr: max(SNR, 1) (Salimans & Ho); edm: (s^2 + sd^2) / (s sd)^2
// with s = sigma/alpha (Karras et al.); likelihood: g^2 alpha^2 / sigma^4
// (Song et al.'s g^2 on the score, score = (alpha x0 - x) / sigma^2) -- and
// converted to the model's output F through x0_hat = a x + b F: the model-
// space weight is w0 b^2, with b = -sigma/alpha (eps), 1 (x0),
// -sigma/(alpha^2 + sigma^2) (v), sigma/(alpha' sigma - sigma' alpha)
// (velocity), c_out (edm: so that weight = edm gives EDM's own uniform
// weight on F). `uniform` is 1 in the model's own space.
//
// Note [Time distributions]. uniform on the domain; logit_normal(mean, std):
// the domain's fraction sigmoid(mean + std n) (SD3); log_normal(mean, std):
// the noise level sigma/alpha = exp(mean + std n) (EDM), i.e. lambda =
// -(mean + std n), mapped to t by the closed-form t(lambda); importance
// (only with the likelihood weighting): t drawn with density proportional to
// the eps-space likelihood weight g^2/sigma^2 = -2 lambda'(t), which is
// lambda uniform on its range, and the weight divided by that density.
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>
#include <cstdio>

namespace diffuse {
#define GEN_PASS_DEF_DERIVETRAINING
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

struct DeriveTrainingPass : diffuse::impl::DeriveTrainingBase<DeriveTrainingPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (TrainOp train : llvm::to_vector(module.getOps<TrainOp>()))
      if (failed(derive(module, train)))
        return signalPassFailure();
  }

  LogicalResult derive(ModuleOp module, TrainOp train) {
    SymbolTable symbols(module);
    DictionaryAttr cfg = train.getConfig();
    auto process = symbols.lookup<ProcessOp>(cfg.getAs<FlatSymbolRefAttr>("process").getValue());
    auto model = symbols.lookup<ModelOp>(cfg.getAs<FlatSymbolRefAttr>("model").getValue());
    if (!process || !model)
      return train.emitError("a training spec needs a process and a model");
    bool discrete = process.getKind() == "discrete";
    func::FuncOp alpha = processFunction(process, "alpha"), sigma = processFunction(process, "sigma"), tOfLambda = processFunction(process, "t_of_lambda");
    if (!discrete && (!alpha || !sigma || !processFunction(process, "dalpha") || !processFunction(process, "dsigma")))
      return train.emitError("the process's alpha, sigma and their derivatives are missing");
    double lo = 0, hi = 1;
    if (auto dom = process.getConfig().getAs<ArrayAttr>("domain"); dom && dom.size() == 2) {
      lo = cast<FloatAttr>(dom[0]).getValueAsDouble();
      hi = cast<FloatAttr>(dom[1]).getValueAsDouble();
    }
    StringRef time = cfg.getAs<StringAttr>("time").getValue();
    StringRef weight = cfg.getAs<StringAttr>("weight").getValue();
    double mean = cfg.getAs<FloatAttr>("mean").getValueAsDouble();
    double stdev = cfg.getAs<FloatAttr>("std").getValueAsDouble();
    double param = cfg.getAs<FloatAttr>("param").getValueAsDouble();
    StringRef predicts = model.getPredicts();

    // A beta table has no derivatives and no inverse; Plan.cpp rejects what
    // needs them, this says so for IR written by hand.
    bool needsDerivatives = predicts == "velocity" || weight == "likelihood";
    if (discrete && (needsDerivatives || time != "uniform"))
      return train.emitError("a beta table trains with time = uniform (a uniform timestep) and "
                             "without velocity models or the likelihood weighting");

    // The log-SNR at both ends (importance sampling draws lambda between them).
    auto lambdaAt = [&](double t) {
      auto a = evaluate(alpha, t), s = evaluate(sigma, t);
      return a && s ? std::log(*a / *s) : NAN;
    };
    double lamLo = discrete ? NAN : lambdaAt(lo), lamHi = discrete ? NAN : lambdaAt(hi);
    if ((time == "log_normal" || time == "importance") && !tOfLambda) {
      InFlightDiagnostic d = train.emitError()
                             << "time = " << time << " needs the inverse t(lambda) in closed form, "
                             << "and process '" << process.getSymName() << "' has none";
      d.attachNote() << "use time = uniform or logit_normal, or a process whose alpha and sigma "
                        "are tied (VP, VE, sub-VP, flows)";
      return d;
    }
    if (time == "importance" && !(std::isfinite(lamLo) && std::isfinite(lamHi))) {
      char at[32];
      std::snprintf(at, sizeof at, "%g", std::isfinite(lamLo) ? hi : lo);
      InFlightDiagnostic d = train.emitError()
                             << "time = importance needs a finite log-SNR range, and lambda is "
                             << "infinite at t = " << at;
      d.attachNote() << "narrow the process's domain so that alpha and sigma are both > 0";
      return d;
    }

    Location loc = train.getLoc();
    OpBuilder b(train);
    auto define = [&](StringRef name, unsigned args, auto body) {
      b.setInsertionPoint(train);
      SmallVector<Type> types(args, b.getF64Type());
      auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(types, {b.getF64Type()}));
      symbols.insert(fn);
      Block *entry = fn.addEntryBlock();
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(entry);
      ScalarBuilder e(b, loc);
      b.create<func::ReturnOp>(loc, body(e, entry->getArguments()));
    };

    // t from the draw: a timestep index of a beta table, a process time else.
    define("dfs_train_time", 2, [&](ScalarBuilder &e, ValueRange in) -> Value {
      Value u = in[0], n = in[1];
      if (discrete) { // floor(u N), as torch.randint(0, N)
        double steps = (double)process.getConfig().getAs<IntegerAttr>("train_steps").getInt();
        return e.min(e.cst(steps - 1), b.create<math::FloorOp>(loc, e.mulc(steps, u)));
      }
      auto clamp = [&](Value t) { return e.max(e.cst(lo), e.min(e.cst(hi), t)); };
      Value z = e.addc(e.mulc(stdev, n), mean); // mean + std n
      if (time == "logit_normal") {
        Value frac = e.div(e.cst(1), e.add(e.cst(1), e.exp(e.neg(z))));
        return e.addc(e.mulc(hi - lo, frac), lo);
      }
      if (time == "log_normal") // log(sigma/alpha) = mean + std n, lambda = -that
        return clamp(e.inlineAt(tOfLambda, e.neg(z)));
      if (time == "importance")
        return clamp(e.inlineAt(tOfLambda, e.addc(e.mulc(lamLo - lamHi, u), lamHi)));
      return e.addc(e.mulc(hi - lo, u), lo);
    });

    // The rest are functions of (t, alpha, sigma, alpha', sigma') at the
    // drawn time: the runtime evaluates the process there (the compiled
    // alpha, sigma and derivatives of a path; the table of a beta table,
    // whose derivatives are NaN and never read).
    double d = model->getAttrOfType<FloatAttr>("sigma_data")
                   ? model->getAttrOfType<FloatAttr>("sigma_data").getValueAsDouble()
                   : 0.0;
    struct Edm {
      Value u, n, cskip, cout;
    };
    auto edm = [&](ScalarBuilder &e, Value a, Value s) {
      Value u = e.div(s, a);
      EdmCoefficients c = edmCoefficients(e, u, d);
      return Edm{u, c.norm, c.cskip, c.cout};
    };

    // The network's time.
    define("dfs_train_model_time", 5, [&](ScalarBuilder &e, ValueRange in) -> Value {
      Value t = in[0], a = in[1], s = in[2];
      StringRef enc = model.getTimeEncoding();
      if (enc == "sigma")
        return e.div(s, a);
      if (enc == "c_noise") // EDM: log(sigma/alpha) / 4
        return e.mul(e.cst(0.25), b.create<math::LogOp>(loc, e.div(s, a)));
      if (enc == "scaled") {
        double off = 0;
        if (auto o = model->getAttrOfType<FloatAttr>("time_offset"))
          off = o.getValueAsDouble();
        return e.add(e.mul(e.cst(model.getTimeScale().convertToDouble()), t), e.cst(off));
      }
      return t; // t, or the index of a beta table
    });

    // The network's input is x_t times this (c_in / alpha for edm).
    define("dfs_train_input_scale", 5, [&](ScalarBuilder &e, ValueRange in) -> Value {
      if (predicts != "edm")
        return e.cst(1);
      return e.div(e.cst(1), e.mul(edm(e, in[1], in[2]).n, in[1]));
    });

    // The regression target's coefficients.
    auto coef = [&](bool x0Part) {
      return [&, x0Part](ScalarBuilder &e, ValueRange in) -> Value {
        Value a = in[1], s = in[2], da = in[3], ds = in[4];
        if (predicts == "edm") { // (x0 - c_skip (x0 + u eps)) / c_out
          Edm c = edm(e, a, s);
          return x0Part ? e.div(e.sub(e.cst(1), c.cskip), c.cout)
                        : e.neg(e.div(e.mul(c.cskip, c.u), c.cout));
        }
        if (predicts == "eps") return e.cst(x0Part ? 0 : 1);
        if (predicts == "score") // -eps / sigma
          return x0Part ? e.cst(0) : e.div(e.cst(-1), s);
        if (predicts == "x0") return e.cst(x0Part ? 1 : 0);
        if (predicts == "v")
          return x0Part ? e.neg(s) : a;
        return x0Part ? da : ds; // velocity
      };
    };
    define("dfs_train_coef_x0", 5, coef(true));
    define("dfs_train_coef_eps", 5, coef(false));

    // The weight (Note [Loss weights]).
    define("dfs_train_weight", 5, [&](ScalarBuilder &e, ValueRange in) -> Value {
      if (weight == "uniform")
        return e.cst(1);
      Value a = in[1], s = in[2], da = in[3], ds = in[4];
      Value snr = e.div(e.mul(a, a), e.mul(s, s));
      Value w0;
      if (weight == "snr") w0 = snr;
      else if (weight == "min_snr") w0 = e.min(snr, e.cst(param));
      else if (weight == "truncated_snr") w0 = e.max(snr, e.cst(1));
      else if (weight == "edm") {
        Value sv = e.div(s, a);
        Value sv2 = e.mul(sv, sv);
        w0 = e.div(e.add(sv2, e.cst(param * param)), e.mul(sv2, e.cst(param * param)));
      } else { // likelihood: g^2 alpha^2 / sigma^4
        Value f = e.div(da, a);
        Value g2 = e.sub(e.mul(e.cst(2), e.mul(s, ds)), e.mul(e.cst(2), e.mul(f, e.mul(s, s))));
        w0 = e.div(e.mul(g2, snr), e.mul(s, s));
      }
      Value bcoef;
      if (predicts == "eps") bcoef = e.div(s, a);
      else if (predicts == "x0") bcoef = e.cst(1);
      else if (predicts == "score") bcoef = e.div(e.mul(s, s), a); // x0 = (x + s^2 score)/a
      else if (predicts == "v") bcoef = e.div(s, e.add(e.mul(a, a), e.mul(s, s)));
      else if (predicts == "edm") bcoef = edm(e, a, s).cout;
      else bcoef = e.div(s, e.sub(e.mul(da, s), e.mul(ds, a)));
      Value w = e.mul(w0, e.mul(bcoef, bcoef));
      if (time == "importance") { // divide by p(t) = |lambda'(t)| / |lambda(lo) - lambda(hi)|
        Value dlam = e.abs(e.sub(e.div(da, a), e.div(ds, s)));
        w = e.div(e.mul(w, e.cst(std::fabs(lamLo - lamHi))), dlam);
      }
      return w;
    });
    return success();
  }
};

} // namespace
