// RUN: diffuse-opt --diffuse-derive-training %s --verify-diagnostics -o /dev/null

// log_normal draws a noise level and needs t(lambda), which this process lacks.
func.func @p_alpha(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  %t2 = arith.mulf %t, %t : f64
  %t3 = arith.mulf %t2, %t : f64
  %r = arith.subf %one, %t3 : f64
  return %r : f64
}
func.func @p_sigma(%t: f64) -> f64 {
  return %t : f64
}
diffuse.process @p "path" {alpha = @p_alpha, sigma = @p_sigma, dalpha = @p_alpha, dsigma = @p_sigma, domain = [0.01, 0.99]}
diffuse.model @m predicts "eps" time "t"
// expected-error @+2 {{time = log_normal needs the inverse t(lambda) in closed form, and process 'p' has none}}
// expected-note @+1 {{use time = uniform or logit_normal, or a process whose alpha and sigma are tied (VP, VE, sub-VP, flows)}}
diffuse.train @edm {process = @p, model = @m, time = "log_normal", mean = -1.2, std = 1.2, weight = "edm", param = 0.5}
