// RUN: diffuse-opt --diffuse-integrate-sde --canonicalize --cse %s | FileCheck %s

// diffuse-integrate-sde: each "sde" process (dx = f x dt + g dW from the data
// at t = 0) becomes a "path" with alpha = exp(int f) and
// sigma^2 = alpha^2 int g^2 / alpha^2, in closed form where the integrals are
// elementary and by Gauss-Legendre quadrature otherwise. The numbers these
// functions compute are checked against independent closed forms in
// tests/Derivation/sde-marginals.test.

// VP, beta(t) = 0.1 + 19.9 t: alpha = exp(-(0.05 + 4.975 t) t) and
// sigma^2 = 1 - alpha^2, written as -expm1(-2 int f) exp(...) so that sigma
// keeps its relative precision as t -> 0.
// CHECK-LABEL: func.func @dfs_process_alpha(
// CHECK-DAG:     arith.constant -4.975
// CHECK-DAG:     arith.constant -5.000000e-02
// CHECK:         math.exp
// CHECK-LABEL: func.func @dfs_process_sigma(
// CHECK:         math.expm1
// CHECK:         math.exp
// CHECK:         math.sqrt
// CHECK:       diffuse.process @vp "path" {alpha = @dfs_process_alpha, diffusion = @vp_diffusion, domain = [1.000000e-03, 1.000000e+00], drift = @vp_drift, marginals = "closed form", sigma = @dfs_process_sigma}
func.func @vp_drift(%t: f64) -> f64 {
  %c = arith.constant -0.5 : f64
  %b0 = arith.constant 0.1 : f64
  %k = arith.constant 19.9 : f64
  %bt = arith.mulf %k, %t : f64
  %beta = arith.addf %b0, %bt : f64
  %r = arith.mulf %c, %beta : f64
  return %r : f64
}
func.func @vp_diffusion(%t: f64) -> f64 {
  %b0 = arith.constant 0.1 : f64
  %k = arith.constant 19.9 : f64
  %bt = arith.mulf %k, %t : f64
  %beta = arith.addf %b0, %bt : f64
  %r = math.sqrt %beta : f64
  return %r : f64
}

// EDM: f = 0, g = sqrt(2 t): alpha = 1 and sigma^2 = t^2.
// CHECK-LABEL: func.func @dfs_process_alpha_0(
// CHECK-NEXT:    %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    return %[[ONE]]
// CHECK-LABEL: func.func @dfs_process_sigma_1(
// CHECK-NEXT:    %[[SQ:.*]] = arith.mulf %arg0, %arg0
// CHECK-NEXT:    %[[S:.*]] = math.sqrt %[[SQ]]
// CHECK-NEXT:    return %[[S]]
// CHECK:       diffuse.process @edm "path" {alpha = @dfs_process_alpha_0, {{.*}}marginals = "closed form", sigma = @dfs_process_sigma_1}
diffuse.process @vp "sde" {drift = @vp_drift, diffusion = @vp_diffusion, domain = [1.0e-3, 1.0]}
func.func @edm_drift(%t: f64) -> f64 {
  %z = arith.constant 0.0 : f64
  return %z : f64
}
func.func @edm_diffusion(%t: f64) -> f64 {
  %two = arith.constant 2.0 : f64
  %tt = arith.mulf %two, %t : f64
  %r = math.sqrt %tt : f64
  return %r : f64
}
diffuse.process @edm "sde" {drift = @edm_drift, diffusion = @edm_diffusion, domain = [2.0e-3, 80.0]}

// f = -(1 + sin 3t)/2 has no elementary antiderivative in the pass's class:
// quadrature, with the node count chosen at compile time and the estimated
// error recorded; alpha' and sigma' come from the SDE (f alpha and
// (2 f sigma^2 + g^2) / (2 sigma)), not from differentiating the rule.
// CHECK-LABEL: func.func @dfs_process_alpha_2(
// CHECK-COUNT-12: math.sin
// CHECK:       diffuse.process @wavy "path" {alpha = @dfs_process_alpha_2, dalpha = @dfs_process_alpha_d, diffusion = @wavy_diffusion, domain = [1.000000e-02, 1.000000e+00], drift = @wavy_drift, dsigma = @dfs_process_sigma_d, marginals = "quadrature: 12-point Gauss-Legendre, estimated relative error {{[0-9.]+}}e-{{1[1-9]}}", sigma = @dfs_process_sigma_3}
func.func @wavy_drift(%t: f64) -> f64 {
  %h = arith.constant -0.5 : f64
  %one = arith.constant 1.0 : f64
  %three = arith.constant 3.0 : f64
  %a = arith.mulf %three, %t : f64
  %s = math.sin %a : f64
  %p = arith.addf %one, %s : f64
  %r = arith.mulf %h, %p : f64
  return %r : f64
}
func.func @wavy_diffusion(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %three = arith.constant 3.0 : f64
  %a = arith.mulf %three, %t : f64
  %s = math.sin %a : f64
  %p = arith.addf %one, %s : f64
  %r = math.sqrt %p : f64
  return %r : f64
}
diffuse.process @wavy "sde" {drift = @wavy_drift, diffusion = @wavy_diffusion, domain = [1.0e-2, 1.0]}

// A process that is already a path is left alone.
// CHECK:       diffuse.process @rf "path" {alpha = @rf_alpha, sigma = @rf_sigma}
func.func @rf_alpha(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %r = arith.subf %one, %t : f64
  return %r : f64
}
func.func @rf_sigma(%t: f64) -> f64 {
  return %t : f64
}
diffuse.process @rf "path" {alpha = @rf_alpha, sigma = @rf_sigma}
