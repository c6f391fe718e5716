//===- Passes.td - diffuse passes -------------------------*- tablegen -*-===//
#ifndef DIFFUSE_PASSES
#define DIFFUSE_PASSES
include "mlir/Pass/PassBase.td"

def IntegrateSde : Pass<"diffuse-integrate-sde", "mlir::ModuleOp"> {
  let summary = "Gaussian marginals alpha(t), sigma(t) of a linear SDE";
  let description = [{
    For every `diffuse.process "sde"` (dx = f(t) x dt + g(t) dW from the data
    at t = 0), writes `alpha(t) = exp(int_0^t f)` and
    `sigma(t)^2 = alpha^2 int_0^t g^2/alpha^2` as scalar functions and makes
    the process a "path". Closed form when f and g are exp-polynomials (or g
    the square root of one) whose integrals are elementary; otherwise
    Gauss-Legendre quadrature sized at compile time, with alpha' and sigma'
    from the SDE. `marginals` in the config says which, with the estimated
    error of a quadrature.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def InvertLambda : Pass<"diffuse-invert-lambda", "mlir::ModuleOp"> {
  let summary = "The inverse t(lambda) of a path process's log-SNR, in closed form";
  let description = [{
    For every `diffuse.process "path"`, finds from alpha and sigma evaluated
    over the domain how they are tied (alpha constant, sigma constant,
    alpha^2 + sigma^2 = 1, sigma = 1 - alpha^2, alpha + sigma = 1), writes the one whose value
    lambda then fixes (e.g. log alpha = -softplus(-2 lambda) / 2) and inverts
    its function body op by op (affine steps, exp/log, powers, quadratics,
    acos/asin/atan on their principal branch). The result,
    `dfs_process_t_of_lambda`, is checked against t at 65 points of the
    domain; `lambda_inverse` in the config says "closed form", or "numeric"
    when no inverse was found (the runtime then bisects).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def DeriveTraining : Pass<"diffuse-derive-training", "mlir::ModuleOp"> {
  let summary = "The scalar functions of a training step";
  let description = [{
    For every `diffuse.train`, writes `dfs_train_time(u, n)` (t from a
    uniform and a normal draw; a timestep index of a beta table) and, as
    functions of (t, alpha, sigma, alpha', sigma'), `dfs_train_model_time`,
    `dfs_train_input_scale`, the target's coefficients `dfs_train_coef_x0`,
    `dfs_train_coef_eps` (target = c_x0 x0 + c_eps eps for the model's
    prediction type) and `dfs_train_weight`, the named weighting converted from the x0 space
    to the model's output space (and divided by the density of t for
    importance sampling). Runs after diffuse-differentiate and
    diffuse-invert-lambda, whose functions it inlines.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::func::FuncDialect"];
}

def DeriveLikelihood : Pass<"diffuse-derive-likelihood", "mlir::ModuleOp"> {
  let summary = "The probability-flow ODE as an affine map of the network's output";
  let description = [{
    For the sampler's path process and model, writes `dfs_ode_coef_x(t)` and
    `dfs_ode_coef_net(t)`: dx/dt = A(t) x + B(t) F(x, t) in native
    coordinates, so that the ODE's divergence is D A + B tr(dF/dx) (the
    PF-ODE log-likelihood); for an edm model, whose network sees z = K(t) x,
    also `dfs_ode_coef_in(t)` = K, and the divergence is D A + B K tr(dF/dz).
    Needs alpha', sigma' (diffuse-differentiate).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::func::FuncDialect"];
}

def Differentiate : Pass<"diffuse-differentiate", "mlir::ModuleOp"> {
  let summary = "Symbolic derivatives of a path process's alpha(t) and sigma(t)";
  let description = [{
    For every `diffuse.process` of kind "path" whose `alpha`/`sigma` name
    scalar functions, adds `<fn>_d` by forward-mode differentiation of the
    function's arith/math ops and records them as `dalpha`/`dsigma`
    (unless a process already has them, as diffuse-integrate-sde's
    quadratures do).
    Before: `func.func @p_alpha(%t) { %c1 = arith.constant 1.0  %r = arith.subf %c1, %t ... }`
    After: also `func.func @p_alpha_d(%t) { %r = arith.constant -1.0 ... }` (after folding).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def Derive : Pass<"diffuse-derive", "mlir::ModuleOp"> {
  let summary = "Rewrite solver primitives into network calls and arithmetic";
  let description = [{
    Uses the module's `diffuse.sampler` to resolve `denoise`, `eps`, `pf_ode`
    and `sched` into `diffuse.model_call`, the guidance combine, the
    conversion from what the model predicts, and raw `diffuse.point` values
    in the sampler's coordinates ("native": x; "ve": x/alpha with time
    sigma/alpha).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def Fuse : Pass<"diffuse-fuse", "mlir::ModuleOp"> {
  let summary = "Fuse the field arithmetic between network calls into kernels";
  let description = [{
    Partitions the step function at each `diffuse.model_call` and moves each
    segment's field arithmetic into one `diffuse.kernel` whose operands are
    the fields it reads and the f64 coefficients (computed once per step).
  }];
  let options = [
    Option<"eager", "eager", "bool", "false",
           "One kernel per arithmetic op (the op-by-op baseline, as PyTorch schedulers run)">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect"];
}

def ConvertDiffuseToLLVM : Pass<"convert-diffuse-to-llvm", "mlir::ModuleOp"> {
  let summary = "Lower the fused step to loops over raw buffers and runtime calls";
  let description = [{
    The step becomes `dfs_step(ctx, n, x, out, s, t)`; each kernel becomes a
    loop function `dfs_kernel_<k>`; network calls become `dfs_rt_model`.
    Process functions are exported as `dfs_process_<fn>`.
  }];
  let options = [
    Option<"elementType", "element-type", "std::string", "\"f64\"",
           "Element type of fields: f64 or f32">
  ];
  let dependentDialects = ["mlir::LLVM::LLVMDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect", "mlir::func::FuncDialect"];
}

#endif // DIFFUSE_PASSES
