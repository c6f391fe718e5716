// RUN: diffuse-opt --diffuse-derive --cse --canonicalize %s | FileCheck %s

// DDIM with classifier-free guidance on an eps network, native coordinates:
// denoise and eps at the same (x, s) become ONE guided network call (CSE),
// the guidance combine is inlined, and x0 = (x - s * eps) / a.

diffuse.process @sd "discrete" {beta_end = 1.200000e-02 : f64, beta_start = 8.5e-4 : f64, final_alpha = "first", schedule = "scaled_linear", train_steps = 1000 : i64}
diffuse.model @unet predicts "eps" time "index" {conditional = true}
func.func private @dfs_guidance(%u: !diffuse.field, %c: !diffuse.field, %tg: !diffuse.time) -> !diffuse.field {
  %w = arith.constant 5.000000e+00 : f64
  %0 = diffuse.sub %c, %u : !diffuse.field, !diffuse.field
  %1 = diffuse.mul %w, %0 : f64, !diffuse.field
  %2 = diffuse.add %u, %1 : !diffuse.field, !diffuse.field
  return %2 : !diffuse.field
}
diffuse.sampler @s {coords = "native", dtype = "f64", grid = {kind = "leading", steps = 1.0e+01 : f64, target = "next"}, guidance = {combine = @dfs_guidance, eval_conds = [-1, 0], eval_models = [@unet, @unet], name = "cfg", w = 5.0 : f64}, model = @unet, process = @sd, solver = "ddim"}
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time) -> !diffuse.field attributes {diffuse.step = 0 : i32} {
  %0 = diffuse.denoise %x, %s
  %1 = diffuse.eps %x, %s
  %2 = diffuse.sched "alpha" %t
  %3 = diffuse.mul %2, %0 : f64, !diffuse.field
  %4 = diffuse.sched "sigma" %t
  %5 = diffuse.mul %4, %1 : f64, !diffuse.field
  %6 = diffuse.add %3, %5 : !diffuse.field, !diffuse.field
  return %6 : !diffuse.field
}

// CHECK-NOT:   func.func private @dfs_guidance
// CHECK-LABEL: func.func @step
// CHECK:         %[[CALL:.*]]:2 = diffuse.model_call @unet(%arg0, %arg1) conds [-1, 0] : !diffuse.field, !diffuse.field
// CHECK-NOT:     diffuse.model_call
// CHECK:         %[[D:.*]] = diffuse.sub %[[CALL]]#1, %[[CALL]]#0
// CHECK:         %[[G:.*]] = diffuse.add %[[CALL]]#0
// CHECK:         %[[A:.*]] = diffuse.point "a" %arg1
// CHECK:         %[[S:.*]] = diffuse.point "s" %arg1
// CHECK:         %[[SE:.*]] = diffuse.mul %[[G]], %[[S]]
// CHECK:         %[[R:.*]] = diffuse.sub %arg0, %[[SE]]
// CHECK:         %[[X0:.*]] = diffuse.div %[[R]], %[[A]]
// CHECK:         diffuse.point "a" %arg2
// CHECK:         diffuse.point "s" %arg2
// CHECK-NOT:     diffuse.denoise
// CHECK-NOT:     diffuse.eps
// CHECK-NOT:     diffuse.sched
