// RUN: diffuse-opt %s --split-input-file --verify-diagnostics

// expected-error @below {{'diffuse.process' op kind must be 'path', 'sde' or 'discrete', got 'table'}}
diffuse.process @p "table" {}

// -----

// expected-error @below {{'diffuse.process' op path process needs a 'sigma' function}}
diffuse.process @p "path" {alpha = @a}

// -----

// expected-error @below {{'diffuse.model' op predicts must be eps, x0, v, velocity, score, edm, class_grad or degradation}}
diffuse.model @m predicts "noise" time "t"

// -----

func.func @f(%t: !diffuse.time) -> f64 {
  // expected-error @below {{'diffuse.sched' op unknown schedule scalar 'gamma'}}
  %0 = diffuse.sched "gamma" %t
  return %0 : f64
}

// -----

func.func @f(%a: f64, %b: f64) -> !diffuse.field {
  // expected-error @below {{'diffuse.add' op needs a field or per-sample operand; use arith for scalars}}
  %0 = diffuse.add %a, %b : f64, f64
  return %0 : !diffuse.field
}

// -----

func.func @f(%x: !diffuse.field, %t: !diffuse.time) {
  // expected-error @below {{'diffuse.model_call' op expects 2 result(s), one per condition}}
  %0 = diffuse.model_call @m(%x, %t) conds [-1, 0] : !diffuse.field
  return
}

// -----

func.func @f(%x: !diffuse.field, %t: !diffuse.time) {
  // expected-error @below {{'diffuse.model_call' op evaluates condition 0 twice}}
  %0:2 = diffuse.model_call @m(%x, %t) conds [0, 0] : !diffuse.field, !diffuse.field
  return
}

// -----

func.func @f(%x: !diffuse.field, %t: !diffuse.time, %a: i1) {
  // expected-error @below {{'diffuse.model_call' op with 'active' needs condition 0 (what an inactive call evaluates)}}
  %0 = diffuse.model_call @m(%x, %t) active(%a) conds [-1] : !diffuse.field
  return
}

// -----

func.func @f(%x: !diffuse.field) -> !diffuse.field {
  // expected-error @below {{'diffuse.kernel' op must yield one value per result}}
  %0 = diffuse.kernel ins(%x : !diffuse.field) -> !diffuse.field {
  ^bb0(%e: f64):
    diffuse.yield
  }
  return %0 : !diffuse.field
}

// -----

// expected-error @below {{'diffuse.process' op sde process needs a 'diffusion' function}}
diffuse.process @p "sde" {drift = @f}
