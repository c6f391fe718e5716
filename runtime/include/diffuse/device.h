//===- device.h - where a run's tensors live and its kernels run -*- C++ -*-===//
//
// A Runner without a Device keeps every tensor in host memory and runs the
// steps' tasks on its thread pool. With one (Runner::setDevice), the state,
// the solver's state tensors, the scratch buffers, the noise and the
// inputs live in the device's memory, and each task the step hands to the
// `parallel` hook runs as the device's kernel (Note [Device kernels] in
// compiler/Pipelines/Cuda.cpp). The step function itself still runs on the
// host: it reads only grid points, the step context and pointer arrays.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_DEVICE_H
#define DIFFUSE_DEVICE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace diffuse::rt {

struct CompiledSampler;

class Device {
public:
  virtual ~Device() = default;
  /// For messages, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)".
  virtual std::string name() const = 0;
  /// `bytes` of zeroed device memory, or null (finish() then says why).
  virtual void *alloc(size_t bytes) = 0;
  virtual void release(void *p) = 0;
  virtual void upload(void *dst, const void *src, size_t bytes) = 0;
  virtual void download(void *dst, const void *src, size_t bytes) = 0;
  virtual void copy(void *dst, const void *src, size_t bytes) = 0;
  /// Runs the device version of the sampler's `task` over work items [0, n)
  /// with the argument slots at `args` (host memory, read at the call).
  virtual void launch(void (*task)(void *, int64_t, int64_t), void *args, int64_t n) = 0;
  /// Fills `out` (batch x dim of float64, or float32 when `f32`) with the
  /// counter-based normals of (seed, draw) that random.h's normals() gives
  /// on the host; false if this device cannot (the runner then fills on
  /// the host and uploads).
  virtual bool normals(uint64_t seed, uint32_t draw, int64_t batch, int64_t dim, bool f32,
                       void *out) {
    (void)seed, (void)draw, (void)batch, (void)dim, (void)f32, (void)out;
    return false;
  }
  /// Waits for the queued work; the first error since the last call, or "".
  virtual std::string finish() = 0;
};

/// Device memory, released when destroyed.
struct DeviceBuffer {
  DeviceBuffer(Device &d, size_t bytes) : device(&d), data(d.alloc(bytes)), bytes(bytes) {}
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() {
    if (data)
      device->release(data);
  }
  Device *device;
  void *data;
  size_t bytes;
};

/// The first CUDA GPU, running `sampler`'s kernels (a sampler built with
/// `--device cuda`); null with the reason in `err` when there is no GPU or
/// the sampler has no device code. Defined in the DiffuseCuda library
/// (runtime/cuda/Device.cpp), which is built where the CUDA toolkit is;
/// code that calls it is compiled with DIFFUSE_HAVE_CUDA.
std::unique_ptr<Device> makeCudaDevice(const CompiledSampler &sampler, std::string &err);

} // namespace diffuse::rt

#endif
