// RUN: diffuse-opt --diffuse-differentiate --canonicalize %s | FileCheck %s

// VP with a linear beta: alpha(t) = exp(-0.25 t^2 (b1 - b0) - 0.5 t b0).
// d alpha/dt = alpha * (-0.5 t (b1 - b0) - 0.5 b0), from the chain rule.
func.func @vp_alpha(%t: f64) -> f64 {
  %c = arith.constant -4.975 : f64
  %b = arith.constant -0.05 : f64
  %t2 = arith.mulf %t, %t : f64
  %q = arith.mulf %c, %t2 : f64
  %l = arith.mulf %b, %t : f64
  %e = arith.addf %q, %l : f64
  %r = math.exp %e : f64
  return %r : f64
}
// sigma(t) = t: the derivative of the argument itself is 1.
func.func @ve_sigma(%t: f64) -> f64 {
  return %t : f64
}
diffuse.process @vp "path" {alpha = @vp_alpha, sigma = @ve_sigma}

// CHECK-LABEL: func.func @vp_alpha_d(%arg0: f64) -> f64
// CHECK-DAG:     %[[C:.*]] = arith.constant -4.975
// CHECK-DAG:     %[[B:.*]] = arith.constant -5.0
// CHECK:         %[[TWOT:.*]] = arith.addf %arg0, %arg0
// CHECK:         %[[Q:.*]] = arith.mulf %[[TWOT]], %[[C]]
// CHECK:         %[[DE:.*]] = arith.addf %[[Q]], %[[B]]
// CHECK:         %[[E:.*]] = math.exp
// CHECK:         %[[R:.*]] = arith.mulf %[[E]], %[[DE]]
// CHECK:         return %[[R]]
// CHECK-LABEL: func.func @ve_sigma_d(%arg0: f64) -> f64
// CHECK:         %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK:         return %[[ONE]]
// CHECK: diffuse.process @vp "path" {alpha = @vp_alpha, dalpha = @vp_alpha_d, dsigma = @ve_sigma_d, sigma = @ve_sigma}
