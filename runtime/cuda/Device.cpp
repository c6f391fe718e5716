//===- Device.cpp - the CUDA device of device.h ---------------------------===//
//
// Loads the PTX that `diffuse build --device cuda` put into a sampler
// (Note [Device kernels] in compiler/Pipelines/Cuda.cpp) through the CUDA
// runtime's library API, and launches kernel k for the task of
// dfs_cuda_tasks[k]. Everything runs in order on the default stream; the
// copies to and from the host wait for the kernels before them.
//
//===----------------------------------------------------------------------===//
#include "diffuse/device.h"
#include "diffuse/runtime.h"

#include <cuda_runtime.h>

#include <unordered_map>
#include <vector>

extern "C" int dfs_cuda_normals_as(uint64_t seed, uint32_t draw, int64_t batch, int dim, int f32,
                                   void *deviceOut);

namespace diffuse::rt {

namespace {

class CudaDevice final : public Device {
public:
  bool init(const CompiledSampler &s, std::string &err) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      cudaGetLastError();
      err = "no CUDA GPU is available";
      return false;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
      name_ = std::string("cuda:0 (") + prop.name + ")";
    if (!s.cudaPtx || !s.cudaTasks) {
      err = "the sampler has no CUDA kernels; build it with --device cuda";
      return false;
    }
    if (!check(cudaLibraryLoadData(&lib_, s.cudaPtx, nullptr, nullptr, 0, nullptr, nullptr, 0),
               "loading the sampler's PTX")) {
      err = error_;
      return false;
    }
    for (int64_t k = 0; k < s.cudaTaskCount; ++k) {
      cudaKernel_t kernel{};
      std::string name = "dfs_cuda_" + std::to_string(k);
      if (!check(cudaLibraryGetKernel(&kernel, lib_, name.c_str()), name.c_str())) {
        err = error_;
        return false;
      }
      kernels_.push_back({kernel, s.cudaTasks[k].slots});
      index_[(void *)s.cudaTasks[k].task] = (size_t)k;
    }
    return true;
  }
  ~CudaDevice() override {
    if (lib_)
      cudaLibraryUnload(lib_);
  }

  std::string name() const override { return name_; }

  void *alloc(size_t bytes) override {
    void *p = nullptr;
    if (!check(cudaMalloc(&p, bytes), "cudaMalloc"))
      return nullptr;
    check(cudaMemset(p, 0, bytes), "cudaMemset");
    return p;
  }
  void release(void *p) override { cudaFree(p); }
  void upload(void *dst, const void *src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to the device");
  }
  void download(void *dst, const void *src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to the host");
  }
  void copy(void *dst, const void *src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), "device copy");
  }

  void launch(void (*task)(void *, int64_t, int64_t), void *args, int64_t n) override {
    auto it = index_.find((void *)task);
    if (it == index_.end()) {
      if (error_.empty())
        error_ = "a step ran a task that has no CUDA kernel (a sampler built without "
                 "--device cuda?)";
      return;
    }
    const Kernel &k = kernels_[it->second];
    std::vector<void *> params((size_t)k.slots + 1);
    params[0] = &n;
    for (int64_t j = 0; j < k.slots; ++j)
      params[(size_t)j + 1] = (int64_t *)args + j;
    const int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    if (n > 0)
      check(cudaLaunchKernel((const void *)k.kernel, dim3((unsigned)blocks), dim3(threads),
                             params.data(), 0, 0),
            "kernel launch");
  }

  bool normals(uint64_t seed, uint32_t draw, int64_t batch, int64_t dim, bool f32,
               void *out) override {
    return check((cudaError_t)dfs_cuda_normals_as(seed, draw, batch, (int)dim, f32 ? 1 : 0, out),
                 "noise kernel");
  }

  std::string finish() override {
    check(cudaDeviceSynchronize(), "running the kernels");
    std::string e = error_;
    error_.clear();
    return e;
  }

private:
  /// Records the first error; true on success.
  bool check(cudaError_t e, const char *what) {
    if (e == cudaSuccess)
      return true;
    if (error_.empty())
      error_ = std::string("CUDA: ") + what + ": " + cudaGetErrorString(e);
    cudaGetLastError(); // clear a non-sticky error
    return false;
  }

  struct Kernel {
    cudaKernel_t kernel;
    int64_t slots;
  };
  cudaLibrary_t lib_{};
  std::vector<Kernel> kernels_;
  std::unordered_map<void *, size_t> index_;
  std::string name_ = "cuda:0";
  std::string error_;
};

} // namespace

std::unique_ptr<Device> makeCudaDevice(const CompiledSampler &sampler, std::string &err) {
  auto d = std::make_unique<CudaDevice>();
  if (!d->init(sampler, err))
    return nullptr;
  return d;
}

} // namespace diffuse::rt
