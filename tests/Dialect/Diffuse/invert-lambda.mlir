// RUN: diffuse-opt --diffuse-invert-lambda --canonicalize --cse %s | FileCheck %s

// diffuse-invert-lambda: t(lambda) for lambda = log(alpha/sigma), in closed
// form where alpha and sigma are tied and the tied function inverts op by op.
// Its numbers are checked against hand-derived inverses in
// tests/Derivation/lambda-inverse.test.

// VP: alpha^2 + sigma^2 = 1 gives log alpha = -softplus(-2 lambda) / 2 (the
// softplus as max(x, 0) + log1p(exp(-|x|))); log alpha is a quadratic in t,
// solved by the root formula without cancellation (DPM-Solver's
// inverse_lambda).
// CHECK-LABEL: func.func @dfs_process_t_of_lambda(
// CHECK:         arith.maximumf
// CHECK:         math.log1p
// CHECK:         math.sqrt
// CHECK:         %[[T:.*]] = arith.divf
// CHECK-NEXT:    return %[[T]]
// CHECK:       diffuse.process @vp "path" {alpha = @vp_alpha, domain = [1.000000e-03, 1.000000e+00], lambda_inverse = "closed form", sigma = @vp_sigma, t_of_lambda = @dfs_process_t_of_lambda}

// VE: alpha = 1, so sigma = e^-lambda and 5000^t = sigma / 0.01 gives
// t = (-lambda - log 0.01) / log 5000.
// CHECK-LABEL: func.func @dfs_process_t_of_lambda_0(
// CHECK-DAG:     %[[LOGR:.*]] = arith.constant 8.5171931914162382 : f64
// CHECK-DAG:     %[[LOGSMIN:.*]] = arith.constant -4.6051701859880909 : f64
// CHECK:         %[[NEG:.*]] = arith.subf %{{.*}}, %arg0
// CHECK-NEXT:    %[[NUM:.*]] = arith.subf %[[NEG]], %[[LOGSMIN]]
// CHECK-NEXT:    %[[T:.*]] = arith.divf %[[NUM]], %[[LOGR]]
// CHECK-NEXT:    return %[[T]]
// CHECK:       diffuse.process @ve "path" {{.*}}lambda_inverse = "closed form"{{.*}}t_of_lambda = @dfs_process_t_of_lambda_0}

// Cosine: cos(u) = f0 alpha with u in [0, pi] over the domain: acos, then
// the affine map back to t.
// CHECK-LABEL: func.func @dfs_process_t_of_lambda_1(
// CHECK:         %[[U:.*]] = math.acos
// CHECK-NEXT:    %[[V:.*]] = arith.subf %[[U]]
// CHECK-NEXT:    %[[T:.*]] = arith.divf %[[V]]
// CHECK-NEXT:    return %[[T]]
// CHECK:       diffuse.process @cosine "path" {{.*}}lambda_inverse = "closed form"{{.*}}t_of_lambda = @dfs_process_t_of_lambda_1}

// No tie between alpha = 1 - t^3 and sigma = t: the runtime bisects.
// CHECK:       diffuse.process @cubic "path" {alpha = @cubic_alpha, domain = [1.000000e-02, 0.98999999999999999], lambda_inverse = "numeric", sigma = @cubic_sigma}

// VP with a linear beta: log alpha = -(0.05 + 4.975 t) t, sigma^2 = 1 - alpha^2.
func.func @vp_alpha(%t: f64) -> f64 {
  %c = arith.constant -4.975 : f64
  %b = arith.constant -0.05 : f64
  %ct = arith.mulf %c, %t : f64
  %s = arith.addf %ct, %b : f64
  %q = arith.mulf %s, %t : f64
  %r = math.exp %q : f64
  return %r : f64
}
func.func @vp_sigma(%t: f64) -> f64 {
  %c = arith.constant -9.95 : f64
  %b = arith.constant -0.1 : f64
  %one = arith.constant 1.0 : f64
  %ct = arith.mulf %c, %t : f64
  %s = arith.addf %ct, %b : f64
  %q = arith.mulf %s, %t : f64
  %e = math.exp %q : f64
  %d = arith.subf %one, %e : f64
  %r = math.sqrt %d : f64
  return %r : f64
}
diffuse.process @vp "path" {alpha = @vp_alpha, sigma = @vp_sigma, domain = [1.0e-3, 1.0]}

// VE, sigma = 0.01 * 5000^t.
func.func @ve_alpha(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  return %one : f64
}
func.func @ve_sigma(%t: f64) -> f64 {
  %smin = arith.constant 0.01 : f64
  %r = arith.constant 5000.0 : f64
  %p = math.powf %r, %t : f64
  %s = arith.mulf %smin, %p : f64
  return %s : f64
}
diffuse.process @ve "path" {alpha = @ve_alpha, sigma = @ve_sigma, domain = [0.0, 1.0]}

// The cosine schedule: alpha = cos((t + s) / (1 + s) pi / 2) / cos(s / (1 + s) pi / 2).
func.func @cos_alpha(%t: f64) -> f64 {
  %s = arith.constant 0.008 : f64
  %k = arith.constant 1.5583322634442637 : f64
  %f0 = arith.constant 0.99980732921679218 : f64
  %u = arith.addf %t, %s : f64
  %v = arith.mulf %u, %k : f64
  %c = math.cos %v : f64
  %r = arith.divf %c, %f0 : f64
  return %r : f64
}
func.func @cos_sigma(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %s = arith.constant 0.008 : f64
  %k = arith.constant 1.5583322634442637 : f64
  %f0 = arith.constant 0.99980732921679218 : f64
  %u = arith.addf %t, %s : f64
  %v = arith.mulf %u, %k : f64
  %c = math.cos %v : f64
  %a = arith.divf %c, %f0 : f64
  %a2 = arith.mulf %a, %a : f64
  %d = arith.subf %one, %a2 : f64
  %r = math.sqrt %d : f64
  return %r : f64
}
diffuse.process @cosine "path" {alpha = @cos_alpha, sigma = @cos_sigma, domain = [1.0e-3, 0.99]}

// alpha = 1 - t^3, sigma = t: no tie between them, so no closed form.
func.func @cubic_alpha(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %t2 = arith.mulf %t, %t : f64
  %t3 = arith.mulf %t2, %t : f64
  %r = arith.subf %one, %t3 : f64
  return %r : f64
}
func.func @cubic_sigma(%t: f64) -> f64 {
  return %t : f64
}
diffuse.process @cubic "path" {alpha = @cubic_alpha, sigma = @cubic_sigma, domain = [0.01, 0.99]}
