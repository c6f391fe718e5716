// RUN: diffuse-opt --convert-diffuse-to-llvm %s | FileCheck %s
// RUN: diffuse-opt --convert-diffuse-to-llvm=element-type=f32 %s | FileCheck %s --check-prefix=F32

// One network call and one kernel: the step calls the runtime through the
// function pointers in ctx (buffer = slot 0, model = slot 1), the kernel is
// an outlined loop over noalias pointers writing straight into %out, and the
// declarations become the manifest string.
diffuse.process @rf "path" {alpha = @a, sigma = @s}
diffuse.model @net predicts "velocity" time "t"
diffuse.sampler @demo {coords = "native", dtype = "f64", grid = {kind = "uniform", steps = 5.0 : f64, target = "next"}, model = @net, process = @rf, solver = "euler"}
func.func @a(%t: f64) -> f64 {
  return %t : f64
}
func.func @s(%t: f64) -> f64 {
  return %t : f64
}
func.func @step(%x: !diffuse.field, %s: !diffuse.time, %t: !diffuse.time) -> !diffuse.field attributes {diffuse.step = 0 : i32} {
  %tt = diffuse.point "tau" %t
  %ts = diffuse.point "tau" %s
  %dt = arith.subf %tt, %ts : f64
  %m = diffuse.model_call @net(%x, %s) conds [0] : !diffuse.field
  %r = diffuse.kernel ins(%m, %x : !diffuse.field, !diffuse.field) coeffs(%dt : f64) -> !diffuse.field {
  ^bb0(%me: f64, %xe: f64, %c: f64):
    %0 = arith.mulf %c, %me : f64
    %1 = arith.addf %xe, %0 : f64
    diffuse.yield %1 : f64
  }
  return %r : !diffuse.field
}

// CHECK-LABEL: func.func @dfs_step(%arg0: !llvm.ptr, %arg1: i64, %arg2: !llvm.ptr, %arg3: !llvm.ptr, %arg4: !llvm.ptr, %arg5: !llvm.ptr, %arg6: !llvm.ptr, %arg7: !llvm.ptr, %arg8: !llvm.ptr, %arg9: !llvm.ptr, %arg10: !llvm.ptr)
// CHECK:         %[[SLOTS:.*]] = llvm.alloca %{{.*}} x i64
// CHECK:         %[[TT:.*]] = llvm.load %{{.*}} : !llvm.ptr -> f64
// CHECK:         %[[TS:.*]] = llvm.load %{{.*}} : !llvm.ptr -> f64
// CHECK:         %[[DT:.*]] = arith.subf %[[TT]], %[[TS]]
// CHECK:         llvm.getelementptr %arg0[0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr, ptr, ptr, ptr, ptr, ptr, i64, ptr)>
// CHECK:         %[[BUF:.*]] = llvm.call %{{.*}}(%arg0, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, i32) -> !llvm.ptr
// CHECK:         llvm.getelementptr %arg0[0, 1]
// CHECK:         llvm.call %{{.*}}(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %arg2, %arg4, %[[BUF]])
// The kernel's arguments go into 8-byte slots; the output is %out itself.
// CHECK:         llvm.store %[[BUF]], %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK:         llvm.store %arg2, %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK:         llvm.store %arg3, %{{.*}} : !llvm.ptr, !llvm.ptr
// CHECK:         llvm.store %[[DT]], %{{.*}} : f64, !llvm.ptr
// CHECK:         %[[TASK:.*]] = constant @dfs_task_0
// CHECK:         %[[FP:.*]] = builtin.unrealized_conversion_cast %[[TASK]]
// CHECK:         llvm.getelementptr %arg0[0, 5]
// CHECK:         llvm.call %{{.*}}(%arg0, %[[FP]], %[[SLOTS]], %arg1)
// CHECK-NEXT:    return
// CHECK-LABEL: func.func private @dfs_kernel_0(%arg0: i64, %arg1: i64, %arg2: !llvm.ptr {llvm.noalias}, %arg3: !llvm.ptr {llvm.noalias}, %arg4: !llvm.ptr {llvm.noalias}, %arg5: f64)
// CHECK:         scf.for
// CHECK:           llvm.load %{{.*}} : !llvm.ptr -> f64
// CHECK:           arith.mulf %arg5
// CHECK:           llvm.store
// CHECK-LABEL: func.func private @dfs_task_0(%arg0: !llvm.ptr, %arg1: i64, %arg2: i64)
// CHECK:         call @dfs_kernel_0(%arg1, %arg2,
// CHECK:       llvm.mlir.global external constant @dfs_manifest("diffuse_abi=7\0Astreams.max=3\0Astate.fields=0\0Astate.scalars=0\0Amodels=1\0Aprocess.name=rf\0Aprocess.kind=path
// CHECK-SAME:    model.predicts=velocity
// CHECK-SAME:    grid.kind=uniform
// CHECK-NOT:   diffuse.

// float32 state: loaded as f32, the coefficient rounded to f32 once, the
// arithmetic in f32, stored as is.
// F32:         llvm.load %{{.*}} : !llvm.ptr -> f32
// F32:         llvm.load %{{.*}} : !llvm.ptr -> f32
// F32-NEXT:    arith.truncf %{{.*}} : f64 to f32
// F32-NEXT:    arith.mulf %{{.*}} : f32
// F32-NEXT:    arith.addf %{{.*}} : f32
// F32-NEXT:    llvm.getelementptr %{{.*}} : (!llvm.ptr, i64) -> !llvm.ptr, f32
// F32-NEXT:    llvm.store %{{.*}} : f32, !llvm.ptr
// F32-NOT:     arith.extf
