// RUN: diffuse-opt --diffuse-derive-training --canonicalize --cse %s | FileCheck %s

// diffuse-derive-training: the scalar functions of a training step for a
// rectified flow (alpha = 1 - t, sigma = t) and a velocity model, with SD3's
// logit-normal times and the SNR weight. Their numbers are checked against
// the papers' formulas in tests/Derivation/training.test.

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
diffuse.model @flow predicts "velocity" time "t"
diffuse.train @sd3 {process = @rf, model = @flow, time = "logit_normal", mean = 0.0, std = 1.0, weight = "snr", param = 0.0}

// t = sigmoid(mean + std n) on [0, 1]: 1 / (1 + exp(-n)).
// CHECK-LABEL: func.func @dfs_train_time(%arg0: f64, %arg1: f64) -> f64
// CHECK:         %[[N:.*]] = arith.negf %arg1
// CHECK-NEXT:    %[[E:.*]] = math.exp %[[N]]
// CHECK-NEXT:    %[[D:.*]] = arith.addf %[[E]]
// CHECK-NEXT:    %[[T:.*]] = arith.divf %{{.*}}, %[[D]]
// CHECK-NEXT:    return %[[T]]
// The rest are functions of (t, alpha, sigma, alpha', sigma') at the drawn
// t, which the runtime evaluates. The network takes t itself.
// CHECK-LABEL: func.func @dfs_train_model_time(%arg0: f64, %arg1: f64, %arg2: f64, %arg3: f64, %arg4: f64) -> f64
// CHECK-NEXT:    return %arg0
// The velocity target alpha' x0 + sigma' eps.
// CHECK-LABEL: func.func @dfs_train_coef_x0(
// CHECK-NEXT:    return %arg3
// CHECK-LABEL: func.func @dfs_train_coef_eps(
// CHECK-NEXT:    return %arg4
// SNR weight on x0, alpha^2 / sigma^2, times b^2 with
// b = sigma / (alpha' sigma - sigma' alpha).
// CHECK-LABEL: func.func @dfs_train_weight(
// CHECK-NEXT:    %[[A2:.*]] = arith.mulf %arg1, %arg1
// CHECK-NEXT:    %[[S2:.*]] = arith.mulf %arg2, %arg2
// CHECK-NEXT:    %[[SNR:.*]] = arith.divf %[[A2]], %[[S2]]
// CHECK-NEXT:    %[[P:.*]] = arith.mulf %arg3, %arg2
// CHECK-NEXT:    %[[Q:.*]] = arith.mulf %arg4, %arg1
// CHECK-NEXT:    %[[D:.*]] = arith.subf %[[P]], %[[Q]]
// CHECK-NEXT:    %[[B:.*]] = arith.divf %arg2, %[[D]]
// CHECK-NEXT:    %[[B2:.*]] = arith.mulf %[[B]], %[[B]]
// CHECK-NEXT:    %[[W:.*]] = arith.mulf %[[SNR]], %[[B2]]
// CHECK-NEXT:    return %[[W]]
// CHECK:       diffuse.train @sd3
