//===- CudaStepBench.cu - fused steps on the GPU against its bandwidth ----===//
//
// usage: diffuse-cuda-bench OUT.csv SAMPLER.so...
// Each shared object is a sampler of bench/cuda-bench.dfs built with
// `diffuse build --shared --device cuda` (bench/cuda-bench.sh builds them,
// fused and --eager, float64 and float32). For sizes of 1M, 16M and 64M
// elements it times one step on the GPU (all kernels of the step and its
// launches from the host, with a network that does nothing on the device),
// and, in the same run, a triad a = b + s c in the same dtype: the floor.
// Samples are rows of 16384 elements (an SD latent, 4 x 64 x 64), so 1M
// elements is a batch of 64. Reports per step: time, bytes of the minimal schedule (manifest
// streams.max: each kernel reads each input once and writes each output
// once), GB/s and percent of the triad's GB/s. Prints a table and writes CSV.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cuda_runtime.h>
#include <filesystem>
#include <fstream>
#include <map>

using namespace diffuse::rt;

namespace {

/// Elements per sample: a Stable Diffusion latent, 4 x 64 x 64.
constexpr int64_t kRow = 16384;

/// A network on the device that returns at once: the benchmark times
/// Diffuse's kernels and launches, not a model.
struct NullDeviceNetwork : Network {
  void evaluate(const dfs_net_call &) override {}
  bool acceptsRepeatedRows() const override { return true; }
  bool onDevice() const override { return true; }
};

template <typename T> __global__ void triad(T *a, const T *b, const T *c, T s, int64_t n) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i < n)
    a[i] = b[i] + s * c[i];
}

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// GB/s of the triad on n elements of T, best of 5 runs of 20.
template <typename T> double triadGBs(int64_t n) {
  T *a, *b, *c;
  cudaMalloc(&a, n * sizeof(T));
  cudaMalloc(&b, n * sizeof(T));
  cudaMalloc(&c, n * sizeof(T));
  cudaMemset(b, 0, n * sizeof(T));
  cudaMemset(c, 0, n * sizeof(T));
  unsigned blocks = (unsigned)((n + 255) / 256);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    cudaDeviceSynchronize();
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 20; ++k)
      triad<<<blocks, 256>>>(a, b, c, (T)0.5, n);
    cudaDeviceSynchronize();
    best = std::min(best, seconds(t0) / 20);
  }
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return 3.0 * sizeof(T) * n / best / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("skipped: no GPU\n");
    return 77;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT.csv SAMPLER.so...\n", argv[0]);
    return 2;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("GPU: %s\n", prop.name);
  std::ofstream csv(argv[1]);
  csv << "sampler,elements,us_per_step,bytes,GBps,triad_GBps,percent_of_triad\n";
  const int64_t sizes[] = {1 << 20, 16 << 20, 64 << 20};
  std::map<int64_t, double> triad64, triad32;
  for (int64_t n : sizes) {
    triad64[n] = triadGBs<double>(n);
    triad32[n] = triadGBs<float>(n);
    std::printf("triad %lld elements: %.0f GB/s (f64), %.0f GB/s (f32)\n", (long long)n,
                triad64[n], triad32[n]);
  }
  std::printf("%-28s %10s %12s %12s %9s %9s\n", "sampler", "elements", "us/step", "MB moved",
              "GB/s", "% triad");
  for (int i = 2; i < argc; ++i) {
    std::string err, name = std::filesystem::path(argv[i]).stem().string();
    auto s = CompiledSampler::load(argv[i], err);
    std::shared_ptr<Device> dev = s ? std::shared_ptr<Device>(makeCudaDevice(*s, err)) : nullptr;
    if (!dev) {
      std::printf("FAIL %s: %s\n", name.c_str(), err.c_str());
      return 1;
    }
    bool f32 = s->manifest.str("dtype") == "f32";
    size_t esz = f32 ? 4 : 8;
    for (int64_t n : sizes) {
      NullDeviceNetwork net;
      Runner runner(*s, net, n / kRow, kRow);
      runner.setDevice(dev);
      runner.setLabels(std::vector<int32_t>((size_t)(n / kRow), 0));
      auto grid = runner.buildGrid(err);
      const Step &step = grid.at(1);
      DeviceBuffer x(*dev, n * esz), out(*dev, n * esz);
      for (int k = 0; k < 3; ++k) // allocate the scratch buffers, warm up
        runner.stepOnce(x.data, out.data, step.s, step.t);
      if (err = dev->finish(); !err.empty()) {
        std::printf("FAIL %s: %s\n", name.c_str(), err.c_str());
        return 1;
      }
      double best = 1e30;
      for (int rep = 0; rep < 5; ++rep) {
        auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; k < 20; ++k)
          runner.stepOnce(x.data, out.data, step.s, step.t);
        dev->finish();
        best = std::min(best, seconds(t0) / 20);
      }
      double bytes = s->manifest.num("streams.max") * (double)esz * (double)n;
      double gbs = bytes / best / 1e9, floor = f32 ? triad32[n] : triad64[n];
      std::printf("%-28s %10lld %12.1f %12.1f %9.0f %8.1f%%\n", name.c_str(), (long long)n,
                  best * 1e6, bytes / 1e6, gbs, 100 * gbs / floor);
      csv << name << "," << n << "," << best * 1e6 << "," << bytes << "," << gbs << "," << floor
          << "," << 100 * gbs / floor << "\n";
    }
  }
  return 0;
}
