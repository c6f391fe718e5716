// RUN: diffuse-opt --diffuse-fuse %s | FileCheck %s
// RUN: diffuse-opt --diffuse-fuse %s | grep -c diffuse.kernel | FileCheck %s --check-prefix=COUNT

// A Heun-like step in ve coordinates with two network calls. Scalars are
// hoisted above all tensor work; each stretch of field arithmetic between
// network calls becomes one kernel: 3 kernels for 2 calls (input scaling,
// the Euler predictor and the next input, the corrector).
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time) -> !diffuse.field attributes {diffuse.step = 0 : i32} {
  %as = diffuse.point "a" %s
  %in0 = diffuse.mul %x, %as : !diffuse.field, f64
  %m0 = diffuse.model_call @net(%in0, %s) conds [0] : !diffuse.field
  %ts = diffuse.point "tau" %s
  %tt = diffuse.point "tau" %t
  %dt = arith.subf %tt, %ts : f64
  %u = diffuse.mul %dt, %m0 : f64, !diffuse.field
  %x1 = diffuse.add %x, %u : !diffuse.field, !diffuse.field
  %at = diffuse.point "a" %t
  %in1 = diffuse.mul %x1, %at : !diffuse.field, f64
  %m1 = diffuse.model_call @net(%in1, %t) conds [0] : !diffuse.field
  %half = arith.constant 0.5 : f64
  %h = arith.mulf %dt, %half : f64
  %sum = diffuse.add %m0, %m1 : !diffuse.field, !diffuse.field
  %v = diffuse.mul %h, %sum : f64, !diffuse.field
  %r = diffuse.add %x, %v : !diffuse.field, !diffuse.field
  return %r : !diffuse.field
}

// CHECK-LABEL: func.func @step
// CHECK-NEXT:    %[[AS:.*]] = diffuse.point "a" %arg1
// CHECK-NEXT:    %[[TS:.*]] = diffuse.point "tau" %arg1
// CHECK-NEXT:    %[[TT:.*]] = diffuse.point "tau" %arg2
// CHECK-NEXT:    %[[DT:.*]] = arith.subf %[[TT]], %[[TS]]
// CHECK-NEXT:    %[[AT:.*]] = diffuse.point "a" %arg2
// CHECK-NEXT:    %[[HALF:.*]] = arith.constant 5.0
// CHECK-NEXT:    %[[H:.*]] = arith.mulf %[[DT]], %[[HALF]]
// CHECK-NEXT:    %[[IN0:.*]] = diffuse.kernel ins(%arg0 : !diffuse.field) coeffs(%[[AS]] : f64) -> !diffuse.field
// CHECK:           arith.mulf
// CHECK-NEXT:      diffuse.yield
// CHECK:         %[[M0:.*]] = diffuse.model_call @net(%[[IN0]], %arg1)
// CHECK-NEXT:    %[[IN1:.*]] = diffuse.kernel ins(%[[M0]], %arg0 : !diffuse.field, !diffuse.field) coeffs(%[[DT]], %[[AT]] : f64, f64) -> !diffuse.field
// CHECK:         %[[M1:.*]] = diffuse.model_call @net(%[[IN1]], %arg2)
// CHECK-NEXT:    %[[R:.*]] = diffuse.kernel ins(%[[M0]], %[[M1]], %arg0 : !diffuse.field, !diffuse.field, !diffuse.field) coeffs(%[[H]] : f64) -> !diffuse.field
// CHECK:         return %[[R]]
// COUNT: 3
