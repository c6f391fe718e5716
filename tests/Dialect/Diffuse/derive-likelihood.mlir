// RUN: diffuse-opt --diffuse-derive-likelihood --canonicalize --cse %s | FileCheck %s

// diffuse-derive-likelihood: the PF-ODE dx/dt = A(t) x + B(t) F(x, t) for
// the sampler's process and model. Here a rectified flow (alpha = 1 - t,
// sigma = t) with an eps model: A = f = alpha'/alpha = -1/(1 - t) and
// B = sigma' - f sigma. The numbers are checked end to end by
// tests/Derivation/likelihood.test (the log-likelihood equals the exact one
// for every prediction type).

func.func @rf_alpha(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %r = arith.subf %one, %t : f64
  return %r : f64
}
func.func @rf_sigma(%t: f64) -> f64 {
  return %t : f64
}
func.func @rf_dalpha(%t: f64) -> f64 {
  %m = arith.constant -1.0 : f64
  return %m : f64
}
func.func @rf_dsigma(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  return %one : f64
}
diffuse.process @rf "path" {alpha = @rf_alpha, sigma = @rf_sigma, dalpha = @rf_dalpha, dsigma = @rf_dsigma, domain = [0.0, 1.0]}
diffuse.model @m predicts "eps" time "t"
diffuse.sampler @s {process = @rf, model = @m, solver = "euler", coords = "native", dtype = "f64", grid = {kind = "uniform", steps = 4.0, target = "next"}}

// CHECK-LABEL: func.func @dfs_ode_coef_x(%arg0: f64) -> f64
// CHECK:         %[[A:.*]] = arith.subf %{{.*}}, %arg0
// CHECK-NEXT:    %[[F:.*]] = arith.divf %{{.*}}, %[[A]]
// CHECK-NEXT:    return %[[F]]
// CHECK-LABEL: func.func @dfs_ode_coef_net(%arg0: f64) -> f64
// CHECK:         %[[A:.*]] = arith.subf %{{.*}}, %arg0
// CHECK-NEXT:    %[[F:.*]] = arith.divf %{{.*}}, %[[A]]
// CHECK-NEXT:    %[[FS:.*]] = arith.mulf %[[F]], %arg0
// CHECK-NEXT:    %[[C:.*]] = arith.subf %{{.*}}, %[[FS]]
// CHECK-NEXT:    return %[[C]]
// CHECK-NOT:   dfs_ode_coef_in
// CHECK:       diffuse.sampler @s
