//===- DiffuseDialect.cpp - the diffuse dialect ---------------------------===//
//
// Dialect registration and op verifiers.
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/IR/MathFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace diffuse;

#include "dialects/Diffuse/IR/DiffuseDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/Diffuse/IR/DiffuseTypes.cpp.inc"

void DiffuseDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/Diffuse/IR/DiffuseTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/Diffuse/IR/DiffuseOps.cpp.inc"
      >();
}

static bool isOneOf(StringRef s, std::initializer_list<StringRef> options) {
  for (StringRef o : options)
    if (s == o)
      return true;
  return false;
}

LogicalResult ProcessOp::verify() {
  if (getKind() == "path") {
    for (StringRef key : {"alpha", "sigma"})
      if (!getConfig().getAs<FlatSymbolRefAttr>(key))
        return emitOpError("path process needs a '") << key << "' function";
    return success();
  }
  if (getKind() == "sde") {
    for (StringRef key : {"drift", "diffusion"})
      if (!getConfig().getAs<FlatSymbolRefAttr>(key))
        return emitOpError("sde process needs a '") << key << "' function";
    return success();
  }
  if (getKind() == "discrete") {
    auto sched = getConfig().getAs<StringAttr>("schedule");
    if (!sched || !isOneOf(sched.getValue(), {"linear", "scaled_linear", "squaredcos_cap_v2",
                                              "sigmoid", "table"}))
      return emitOpError("discrete process needs schedule 'linear', 'scaled_linear', "
                         "'squaredcos_cap_v2', 'sigmoid' or 'table'");
    if ((sched.getValue() == "table") != bool(getConfig().getAs<ArrayAttr>("betas")))
      return emitOpError("a 'table' schedule, and only it, lists its betas");
    return success();
  }
  return emitOpError("kind must be 'path', 'sde' or 'discrete', got '") << getKind() << "'";
}

LogicalResult ModelOp::verify() {
  if (!isOneOf(getPredicts(),
               {"eps", "x0", "v", "velocity", "score", "edm", "class_grad", "degradation"}))
    return emitOpError(
        "predicts must be eps, x0, v, velocity, score, edm, class_grad or degradation");
  if (getPredicts() == "edm" && !(*this)->getAttrOfType<FloatAttr>("sigma_data"))
    return emitOpError("an edm model needs a sigma_data attribute");
  if (!isOneOf(getTimeEncoding(), {"t", "index", "sigma", "scaled", "c_noise"}))
    return emitOpError("time encoding must be t, index, sigma, scaled or c_noise");
  // Named conditioning inputs: an array of {name, dtype = f32|f64, shape}.
  if (Attribute a = (*this)->getAttr("inputs")) {
    auto inputs = dyn_cast<ArrayAttr>(a);
    if (!inputs)
      return emitOpError("inputs must be an array");
    for (Attribute e : inputs) {
      auto d = dyn_cast<DictionaryAttr>(e);
      auto name = d ? dyn_cast_or_null<StringAttr>(d.get("name")) : nullptr;
      auto dtype = d ? dyn_cast_or_null<StringAttr>(d.get("dtype")) : nullptr;
      auto shape = d ? dyn_cast_or_null<DenseI64ArrayAttr>(d.get("shape")) : nullptr;
      if (!name || !dtype || !shape || !isOneOf(dtype.getValue(), {"f32", "f64"}) ||
          shape.empty())
        return emitOpError("each input must be {name, dtype = f32 or f64, shape}");
    }
  }
  return success();
}

LogicalResult SchedOp::verify() {
  if (!isOneOf(getKind(),
               {"t", "alpha", "sigma", "lambda", "dlambda", "dalpha", "dsigma", "f", "g2", "beta"}))
    return emitOpError("unknown schedule scalar '") << getKind() << "'";
  return success();
}

LogicalResult StepCtxOp::verify() {
  bool flag = getName() == "first" || getName() == "last";
  if (!flag && getName() != "index" && getName() != "steps")
    return emitOpError("unknown step context '") << getName() << "'";
  if (flag != getResult().getType().isInteger(1))
    return emitOpError("first and last are i1; index and steps are f64");
  return success();
}

LogicalResult InputOp::verify() {
  if (!isOneOf(getName(), {"data", "mask"}))
    return emitOpError("unknown input '") << getName() << "' (data or mask)";
  return success();
}

LogicalResult PointOp::verify() {
  if (!isOneOf(getField(), {"tau", "tmodel", "a", "s", "da", "ds", "beta"}))
    return emitOpError("unknown point field '") << getField() << "'";
  return success();
}

LogicalResult ModelCallOp::verify() {
  ArrayRef<int32_t> conds = getConds();
  if (conds.empty())
    return emitOpError("needs at least one condition");
  size_t per = (*this)->hasAttr("variance") ? 2 : 1;
  if (getOutputs().size() != per * conds.size())
    return emitOpError("expects ") << per * conds.size() << " result(s), "
                                   << (per == 2 ? "two" : "one") << " per condition";
  for (auto [i, c] : llvm::enumerate(conds)) {
    if (c < -1)
      return emitOpError("condition ") << c << " is neither -1 (none) nor a label set";
    if (llvm::is_contained(conds.drop_front(i + 1), c))
      return emitOpError("evaluates condition ") << c << " twice";
  }
  if (getFallback() && !getActive())
    return emitOpError("with a fallback needs 'active' (when the fallback stands in)");
  if (getFallback() && per == 2)
    return emitOpError("with a fallback cannot have variance results");
  if (getActive() && !getFallback() && !llvm::is_contained(conds, 0))
    return emitOpError("with 'active' needs condition 0 (what an inactive call evaluates)");
  return success();
}

LogicalResult MathOp::verify() {
  if (!isElementwiseMath(getFn()))
    return emitOpError("unknown function '") << getFn() << "'";
  return success();
}

template <typename Op> static LogicalResult verifyBinary(Op op) {
  if (op.getLhs().getType().isF64() && op.getRhs().getType().isF64())
    return op.emitOpError("needs a field or per-sample operand; use arith for scalars");
  return success();
}

LogicalResult ReduceOp::verify() {
  StringRef k = getKind();
  if (!isOneOf(k, {"sum", "mean", "std", "norm", "dot", "quantile", "batch_mean"}))
    return emitOpError("unknown reduction '") << k << "'";
  for (Value v : getInputs())
    if (k != "batch_mean" && !isa<FieldType>(v.getType()))
      return emitOpError("'") << k << "' reduces fields";
  unsigned want = k == "dot" ? 2 : 1;
  if (getInputs().size() != want)
    return emitOpError("'") << k << "' takes " << want << " field(s)";
  if ((k == "quantile") != bool(getQ()))
    return emitOpError(k == "quantile" ? "'quantile' needs q" : "only 'quantile' takes q");
  return success();
}
LogicalResult AddOp::verify() { return verifyBinary(*this); }
LogicalResult SubOp::verify() { return verifyBinary(*this); }
LogicalResult MulOp::verify() { return verifyBinary(*this); }
LogicalResult DivOp::verify() { return verifyBinary(*this); }
LogicalResult MinOp::verify() { return verifyBinary(*this); }
LogicalResult MaxOp::verify() { return verifyBinary(*this); }

LogicalResult KernelOp::verify() {
  Block &body = getBody().front();
  size_t nargs = getInputs().size() + getCoeffs().size();
  if (body.getNumArguments() != nargs)
    return emitOpError("body takes ") << body.getNumArguments() << " arguments, expected "
                                      << nargs;
  for (BlockArgument a : body.getArguments())
    if (!a.getType().isF64())
      return emitOpError("body arguments must be f64");
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != getResults().size())
    return emitOpError("must yield one value per result");
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Diffuse/IR/DiffuseOps.cpp.inc"
