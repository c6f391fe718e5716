//===- DiffuseOps.td - the diffuse dialect ----------------*- tablegen -*-===//
//
// Ops for the user's concepts (sampler, process, model), the primitives a
// solver step calls (denoise, eps, pf_ode, alpha, sigma, ...), arithmetic on
// state-shaped fields, the network call, and the fused elementwise kernel.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_OPS
#define DIFFUSE_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Diffuse_Dialect : Dialect {
  let name = "diffuse";
  let cppNamespace = "::diffuse";
  let summary = "Diffusion and flow-matching sampler IR";
  let description = [{
    A solver step is a `func.func @step(%x: !diffuse.field, %s: !diffuse.time,
    %t: !diffuse.time) -> !diffuse.field`. Scalars (f64) depend only on time
    and are computed once per step on the host; fields are state-shaped
    tensors. `diffuse-derive` rewrites primitives into network calls and
    arithmetic; `diffuse-fuse` groups field arithmetic between two network
    calls into one `diffuse.kernel`.
  }];
  let useDefaultTypePrinterParser = 1;
}

class Diffuse_Type<string name, string typeMnemonic> :
    TypeDef<Diffuse_Dialect, name> { let mnemonic = typeMnemonic; }

def Diffuse_FieldType : Diffuse_Type<"Field", "field"> {
  let summary = "a state-shaped tensor (batch x dims) of the sampler's dtype";
}
def Diffuse_SampleType : Diffuse_Type<"Sample", "sample"> {
  let summary = "one f64 per sample of the batch (a reduction over each sample's elements)";
}
def Diffuse_TimeType : Diffuse_Type<"Time", "time"> {
  let summary = "a point of the time grid: solver time, model time, alpha, sigma and derivatives";
}

class Diffuse_Op<string mnemonic, list<Trait> traits = []> :
    Op<Diffuse_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

def Diffuse_SamplerOp : Diffuse_Op<"sampler", [Symbol]> {
  let summary = "ties a process, model, guidance, solver and time grid together";
  let description = [{
    `config` holds the resolved choices: `process`, `model`, `solver`,
    `coords` ("native", "ve" or "lambda"), `grid` (a dictionary), `guidance` (optional
    dictionary with `space` and parameter values).
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, DictionaryAttr:$config);
  let assemblyFormat = "$sym_name $config attr-dict";
}

def Diffuse_TrainOp : Diffuse_Op<"train", [Symbol]> {
  let summary = "a training spec: how t is drawn and how the loss is weighted";
  let description = [{
    `config` holds `process` and `model` (symbol references), `time`
    ("uniform", "logit_normal", "log_normal", "importance") with `mean` and
    `std`, and `weight` ("uniform", "snr", "min_snr", "truncated_snr", "edm",
    "likelihood") with `param` (gamma or sigma_data). `diffuse-derive-training`
    writes the scalar functions of a training step from it.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, DictionaryAttr:$config);
  let assemblyFormat = "$sym_name $config attr-dict";
}

def Diffuse_ProcessOp : Diffuse_Op<"process", [Symbol]> {
  let summary = "a forward process: a Gaussian path, an SDE or a discrete beta table";
  let description = [{
    kind "path": `alpha` and `sigma` name scalar functions `(f64) -> f64`;
    `diffuse-differentiate` adds `dalpha` and `dsigma`.
    kind "sde": `drift` and `diffusion` name f(t) and g(t) of
    dx = f x dt + g dW; `diffuse-integrate-sde` turns it into a path.
    kind "discrete": `schedule`, `beta_start`, `beta_end`, `train_steps`,
    `final_alpha`; the table is built by the runtime (or given by the caller).
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind, DictionaryAttr:$config);
  let assemblyFormat = "$sym_name $kind $config attr-dict";
  let hasVerifier = 1;
}

def Diffuse_ModelOp : Diffuse_Op<"model", [Symbol]> {
  let summary = "a network: what it predicts and how it takes time";
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$predicts, StrAttr:$time_encoding,
                       DefaultValuedAttr<F64Attr, "1.0">:$time_scale,
                       DefaultValuedAttr<BoolAttr, "false">:$conditional);
  let assemblyFormat = "$sym_name `predicts` $predicts `time` $time_encoding attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Primitives a solver calls (removed by diffuse-derive)
//===----------------------------------------------------------------------===//

class Diffuse_OracleOp<string mnemonic, string what> : Diffuse_Op<mnemonic, [Pure]> {
  let summary = what;
  let description = [{
    With `uncond`, of a guided sampler's unconditional output alone (CFG++
    renoises with it); the same network call as the guided value.
  }];
  let arguments = (ins Diffuse_FieldType:$x, Diffuse_TimeType:$time, UnitAttr:$uncond);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$x `,` $time attr-dict";
}
def Diffuse_DenoiseOp : Diffuse_OracleOp<"denoise", "x0-hat, the posterior mean of the data">;
def Diffuse_EpsOp : Diffuse_OracleOp<"eps", "eps-hat, the predicted noise">;
def Diffuse_PfOdeOp : Diffuse_OracleOp<"pf_ode", "dx/dt of the probability-flow ODE in the solver's coordinates">;
def Diffuse_ScoreOp : Diffuse_OracleOp<"score", "the score (gradient of log p_t) in the solver's coordinates">;

def Diffuse_VarianceOutputOp : Diffuse_Op<"variance_output", [Pure]> {
  let summary = "the variance channels of a model with learned variance, at a time point";
  let description = [{
    v in [-1, 1] (Nichol & Dhariwal's learned_range), of the same network
    call as the prediction at (x, time); of the conditional evaluation
    under guidance (GLIDE's and DiT's convention).
  }];
  let arguments = (ins Diffuse_FieldType:$x, Diffuse_TimeType:$time);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$x `,` $time attr-dict";
}

def Diffuse_SchedOp : Diffuse_Op<"sched", [Pure]> {
  let summary = "a schedule scalar at a time point, in the solver's coordinates";
  let description = [{
    `kind` is one of "t" (the solver's time value), "alpha", "sigma",
    "lambda" (log(alpha/sigma)), "dlambda" (its derivative in the solver's
    time), "dalpha", "dsigma", and the coefficients
    of the forward SDE dx = f x dt + g dW that has the process as its
    marginals: "f" and "g2" (g squared); "beta", a beta table's own beta at
    an integer timestep (RePaintScheduler's undo_step; NaN elsewhere).
  }];
  let arguments = (ins Diffuse_TimeType:$time, StrAttr:$kind);
  let results = (outs F64:$result);
  let assemblyFormat = "$kind $time attr-dict";
  let hasVerifier = 1;
}

def Diffuse_AtOp : Diffuse_Op<"at", [Pure]> {
  let summary = "the time point whose solver time is the given value";
  let description = [{
    For solvers that evaluate between grid points (DPM-Solver-2, DPM++ 2S):
    the runtime finds the process time, the network's time, alpha and sigma
    of the point whose solver time (t, or sigma/alpha in ve coordinates) is
    `value`, once per step on the host.
  }];
  let arguments = (ins F64:$value, UnitAttr:$lambda);
  let results = (outs Diffuse_TimeType:$result);
  let assemblyFormat = "$value attr-dict";
}

def Diffuse_NoiseOp : Diffuse_Op<"noise"> {
  let summary = "a fresh draw of standard normal noise, state-shaped";
  let description = [{
    Not pure: every `noise()` is a new draw, never merged by CSE. The runtime
    fills it from the counter-based RNG keyed by (seed, sample, draw), or
    replays recorded draws (conformance) through the same hook.
  }];
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "attr-dict";
}

def Diffuse_InputOp : Diffuse_Op<"input", [Pure]> {
  let summary = "a tensor given to the run, state-shaped: the known data or its mask";
  let description = [{
    `name` is "data" (the clean data x0 an inpainting sampler keeps) or
    "mask" (1 where the data is kept, 0 where it is generated). The runtime
    holds both for the whole run (`Runner::setInput`); the compiled code
    reads them through the context's `input` hook.
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$name attr-dict";
  let hasVerifier = 1;
}

def Diffuse_StepCtxOp : Diffuse_Op<"step_ctx", [Pure]> {
  let summary = "the step context: first, last (i1), index, steps (f64)";
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyTypeOf<[I1, F64]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// After derivation
//===----------------------------------------------------------------------===//

def Diffuse_PointOp : Diffuse_Op<"point", [Pure]> {
  let summary = "a raw value stored with a grid point";
  let description = [{
    `field` is one of "tau" (solver time), "tmodel" (the time the network is
    given), "a", "s" (the process's alpha and sigma), "da", "ds" (their time
    derivatives), "beta" (a beta table's beta at an integer timestep). The
    runtime fills these once per grid, before the loop.
  }];
  let arguments = (ins Diffuse_TimeType:$time, StrAttr:$field);
  let results = (outs F64:$result);
  let assemblyFormat = "$field $time attr-dict";
  let hasVerifier = 1;
}

def Diffuse_ModelCallOp : Diffuse_Op<"model_call", [Pure, AttrSizedOperandSegments]> {
  let summary = "one network call at a time point, for one or more conditions";
  let description = [{
    `conds` lists the evaluations the call makes, one result each: -1 is
    the unconditional evaluation (no class label), k >= 0 the k-th label
    set. The runtime batches them into one call of `conds.size()` times the
    batch, in that order. Pure: two calls with the same model, input, time
    and conditions are one call (CSE). With `active` false (guidance
    limited to an interval of times) the call evaluates only the label set
    0 and every result is that output; a call with `fallback` (another
    model's, whose evaluations stand in for the sampler's model's there)
    makes no network call, and every result is `fallback`, the sampler's
    model's label set 0 output at the same point. With `variance` (a model
    with learned variance) the call has a second result per condition,
    after all the predictions: the network's variance channels.
  }];
  let arguments = (ins FlatSymbolRefAttr:$model, Diffuse_FieldType:$input,
                       Diffuse_TimeType:$time, Optional<I1>:$active,
                       Optional<Diffuse_FieldType>:$fallback, DenseI32ArrayAttr:$conds);
  let results = (outs Variadic<Diffuse_FieldType>:$outputs);
  let assemblyFormat = [{
    $model `(` $input `,` $time `)` (`active` `(` $active^ `)`)? (`else` `(` $fallback^ `)`)?
    `conds` $conds attr-dict `:` type($outputs)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Field arithmetic
//===----------------------------------------------------------------------===//

class Diffuse_BinaryOp<string mnemonic, string what> : Diffuse_Op<mnemonic, [Pure]> {
  let summary = what # ", elementwise; an operand may be an f64 scalar or per-sample";
  let arguments = (ins AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType, F64]>:$lhs,
                       AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType, F64]>:$rhs);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}
def Diffuse_AddOp : Diffuse_BinaryOp<"add", "addition">;
def Diffuse_SubOp : Diffuse_BinaryOp<"sub", "subtraction">;
def Diffuse_MulOp : Diffuse_BinaryOp<"mul", "multiplication">;
def Diffuse_DivOp : Diffuse_BinaryOp<"div", "division">;
def Diffuse_MinOp : Diffuse_BinaryOp<"min", "minimum">;
def Diffuse_MaxOp : Diffuse_BinaryOp<"max", "maximum">;

def Diffuse_NegOp : Diffuse_Op<"neg", [Pure]> {
  let summary = "elementwise negation";
  let arguments = (ins AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType]>:$operand);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$operand attr-dict `:` type($operand)";
}

def Diffuse_AbsOp : Diffuse_Op<"abs", [Pure]> {
  let summary = "elementwise absolute value";
  let arguments = (ins AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType]>:$operand);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$operand attr-dict `:` type($operand)";
}

def Diffuse_MathOp : Diffuse_Op<"math", [Pure]> {
  let summary = "a one-argument math function, elementwise";
  let description = [{
    `fn` is exp, log, sqrt, sin, cos, tan, tanh, expm1, log1p or floor
    (MathFunctions.h), each element computed as the scalar function is.
  }];
  let arguments = (ins StrAttr:$fn, AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType]>:$operand);
  let results = (outs Diffuse_FieldType:$result);
  let assemblyFormat = "$fn $operand attr-dict `:` type($operand)";
  let hasVerifier = 1;
}

def Diffuse_ReduceOp : Diffuse_Op<"reduce", [Pure, AttrSizedOperandSegments]> {
  let summary = "a reduction over each sample's elements: one f64 per sample";
  let description = [{
    `kind` is "sum", "mean", "std" (two-pass, with Bessel's correction, as
    torch.std), "norm" (Euclidean), "dot" (of two fields) or "quantile"
    (of level `q`, linear interpolation between order statistics, as
    torch.quantile), or "batch_mean": the mean over the batch of a
    per-sample value (a sample or a field constant within each sample),
    the same for every sample. Accumulates in f64. A fusion boundary: its
    operands are materialized first.
  }];
  let arguments = (ins StrAttr:$kind,
                       Variadic<AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType]>>:$inputs,
                       Optional<F64>:$q);
  let results = (outs Diffuse_SampleType:$result);
  let assemblyFormat = "$kind $inputs (`q` `(` $q^ `)`)? attr-dict `:` type($inputs)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def Diffuse_KernelOp : Diffuse_Op<"kernel", [IsolatedFromAbove, AttrSizedOperandSegments]> {
  let summary = "one fused elementwise pass over fields";
  let description = [{
    Reads each input field once and writes each result once. The region's
    block takes one f64 per input field element (a per-sample input gives
    its sample's value), then one f64 per scalar coefficient, and yields one
    f64 per result:

    ```mlir
    %y = diffuse.kernel ins(%x, %m : !diffuse.field, !diffuse.field)
                        coeffs(%dt : f64) -> !diffuse.field {
    ^bb0(%xe: f64, %me: f64, %c: f64):
      %0 = arith.mulf %c, %me : f64
      %1 = arith.addf %xe, %0 : f64
      diffuse.yield %1 : f64
    }
    ```
  }];
  let arguments = (ins Variadic<AnyTypeOf<[Diffuse_FieldType, Diffuse_SampleType]>>:$inputs,
                       Variadic<F64>:$coeffs);
  let results = (outs Variadic<Diffuse_FieldType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `ins` `(` $inputs `:` type($inputs) `)` (`coeffs` `(` $coeffs^ `:` type($coeffs) `)`)?
    attr-dict `->` type($results) $body
  }];
  let hasVerifier = 1;
}

def Diffuse_YieldOp : Diffuse_Op<"yield", [Pure, Terminator, HasParent<"KernelOp">]> {
  let summary = "the per-element results of a kernel";
  let arguments = (ins Variadic<F64>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // DIFFUSE_OPS
