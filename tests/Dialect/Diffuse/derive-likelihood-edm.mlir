// RUN: diffuse-opt --diffuse-derive-likelihood --canonicalize --cse %s | FileCheck %s

// diffuse-derive-likelihood for an EDM-preconditioned model, whose network
// sees z = K(t) x: dfs_ode_coef_in(t) = K = c_in / alpha = 1 / (alpha n)
// with n = sqrt(u^2 + sigma_data^2), u = sigma/alpha. The numbers are
// checked end to end by tests/Derivation/likelihood.test (the
// log-likelihood equals the exact one and the x0 model's).

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
diffuse.model @m predicts "edm" time "c_noise" {sigma_data = 5.000000e-01 : f64}
diffuse.sampler @s {process = @rf, model = @m, solver = "euler", coords = "native", dtype = "f64", grid = {kind = "uniform", steps = 4.0, target = "next"}}

// CHECK-LABEL: func.func @dfs_ode_coef_x(%arg0: f64) -> f64
// CHECK-LABEL: func.func @dfs_ode_coef_net(%arg0: f64) -> f64
// CHECK-LABEL: func.func @dfs_ode_coef_in(%arg0: f64) -> f64
// CHECK-DAG:     %[[SD2:.*]] = arith.constant 2.500000e-01 : f64
// CHECK-DAG:     %[[A:.*]] = arith.subf %{{.*}}, %arg0
// CHECK:         %[[U:.*]] = arith.divf %arg0, %[[A]]
// CHECK-NEXT:    %[[U2:.*]] = arith.mulf %[[U]], %[[U]]
// CHECK-NEXT:    %[[N2:.*]] = arith.addf %[[U2]], %[[SD2]]
// CHECK-NEXT:    %[[N:.*]] = math.sqrt %[[N2]]
// CHECK-NEXT:    %[[NA:.*]] = arith.mulf %[[N]], %[[A]]
// CHECK-NEXT:    %[[K:.*]] = arith.divf %{{.*}}, %[[NA]]
// CHECK-NEXT:    return %[[K]]
// CHECK:       diffuse.sampler @s
