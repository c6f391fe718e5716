// RUN: diffuse-opt --diffuse-derive --cse --canonicalize %s | FileCheck %s

// Euler in ve coordinates (k-diffusion, diffusers' EulerDiscreteScheduler):
// the network input is alpha * x (scale_model_input), pf_ode is eps, and the
// time difference is one of sigma/alpha.
diffuse.process @sd "discrete" {beta_end = 1.200000e-02 : f64, beta_start = 8.5e-4 : f64, final_alpha = "first", schedule = "scaled_linear", train_steps = 1000 : i64}
diffuse.model @unet predicts "eps" time "index"
diffuse.sampler @s {coords = "ve", dtype = "f64", grid = {kind = "given", target = "next"}, model = @unet, process = @sd, solver = "euler"}
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time) -> !diffuse.field attributes {diffuse.step = 0 : i32} {
  %0 = diffuse.sched "t" %t
  %1 = diffuse.sched "t" %s
  %2 = arith.subf %0, %1 : f64
  %3 = diffuse.pf_ode %x, %s
  %4 = diffuse.mul %2, %3 : f64, !diffuse.field
  %5 = diffuse.add %x, %4 : !diffuse.field, !diffuse.field
  return %5 : !diffuse.field
}
// CHECK-LABEL: func.func @step
// CHECK-DAG:     %[[TT:.*]] = diffuse.point "tau" %arg2
// CHECK-DAG:     %[[TS:.*]] = diffuse.point "tau" %arg1
// CHECK:         %[[DT:.*]] = arith.subf %[[TT]], %[[TS]]
// CHECK:         %[[A:.*]] = diffuse.point "a" %arg1
// CHECK:         %[[IN:.*]] = diffuse.mul %arg0, %[[A]]
// CHECK:         %[[M:.*]] = diffuse.model_call @unet(%[[IN]], %arg1) conds [-1] : !diffuse.field
// CHECK:         %[[U:.*]] = diffuse.mul %[[DT]], %[[M]]
// CHECK:         diffuse.add %arg0, %[[U]]

