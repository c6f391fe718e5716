// RUN: diffuse-opt --convert-diffuse-to-llvm %s | FileCheck %s

// State tensors are not copied by the step: a value carried unchanged from a
// state input (%prev) or the step's own input (%x) re-points its output slot
// at that buffer,
// and an unguided network output kept as state (%d) is written by the
// network straight into the state buffer. Neither calls the copy hook
// (ctx slot 2).
diffuse.process @ve "path" {alpha = @a, sigma = @s}
diffuse.model @net predicts "x0" time "t"
diffuse.sampler @demo {coords = "ve", dtype = "f64", grid = {kind = "uniform", steps = 5.0 : f64, target = "next"}, model = @net, process = @ve, solver = "two_back"}
func.func @a(%t: f64) -> f64 {
  %one = arith.constant 1.0 : f64
  return %one : f64
}
func.func @s(%t: f64) -> f64 {
  return %t : f64
}
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time, %prev: !diffuse.field, %prev2: !diffuse.field, %old_x: !diffuse.field) -> (!diffuse.field, !diffuse.field, !diffuse.field, !diffuse.field) attributes {diffuse.step = 0 : i32} {
  %d = diffuse.model_call @net(%x, %s) conds [0] : !diffuse.field
  %h = diffuse.point "tau" %t
  %k = diffuse.kernel ins(%x, %prev2 : !diffuse.field, !diffuse.field) coeffs(%h : f64) -> !diffuse.field {
  ^bb0(%a: f64, %b: f64, %c: f64):
    %m = arith.mulf %c, %b : f64
    %r = arith.addf %a, %m : f64
    diffuse.yield %r : f64
  }
  return %k, %d, %prev, %x : !diffuse.field, !diffuse.field, !diffuse.field, !diffuse.field
}

// CHECK-LABEL: func.func @dfs_step(
// The input slot of %prev, and the output slots of %d and %prev:
// CHECK: %[[PREVIN:[0-9]+]] = llvm.load %{{[0-9]+}} : !llvm.ptr -> !llvm.ptr
// CHECK: %[[SLOT0:[0-9]+]] = llvm.getelementptr %arg8[%{{[0-9]+}}] : (!llvm.ptr, i64) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[D:[0-9]+]] = llvm.load %[[SLOT0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[SLOT1:[0-9]+]] = llvm.getelementptr %arg8[%{{[0-9]+}}] : (!llvm.ptr, i64) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[SLOT2:[0-9]+]] = llvm.getelementptr %arg8[%{{[0-9]+}}] : (!llvm.ptr, i64) -> !llvm.ptr, !llvm.ptr
// The network (ctx slot 1) writes into the state buffer:
// CHECK: llvm.getelementptr %arg0[0, 1]
// CHECK: llvm.call %{{[0-9]+}}(%arg0, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %arg2, %arg4, %[[D]])
// CHECK-NOT: llvm.getelementptr %arg0[0, 2]
// %prev's output slot points at its input buffer, the last one at x:
// CHECK: llvm.store %[[PREVIN]], %[[SLOT1]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT: llvm.store %arg2, %[[SLOT2]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT: return
