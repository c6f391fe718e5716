// RUN: not diffuse-opt --diffuse-derive %s 2>&1 | FileCheck %s

// pf_ode in native coordinates needs d alpha/dt, which a beta table lacks.
diffuse.process @sd "discrete" {beta_end = 1.200000e-02 : f64, beta_start = 8.5e-4 : f64, final_alpha = "first", schedule = "scaled_linear", train_steps = 1000 : i64}
diffuse.model @unet predicts "eps" time "index"
diffuse.sampler @s {coords = "native", dtype = "f64", grid = {kind = "given", target = "next"}, model = @unet, process = @sd, solver = "euler"}
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time) -> !diffuse.field attributes {diffuse.step = 0 : i32} {
  %3 = diffuse.pf_ode %x, %s
  return %3 : !diffuse.field
}
// CHECK: error: pf_ode in native coordinates needs d alpha/dt and d sigma/dt, which the discrete process 'sd' does not have; use coords = ve or coords = lambda
