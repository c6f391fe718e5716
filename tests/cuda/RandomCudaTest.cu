//===- RandomCudaTest.cu - device noise equals host noise -----------------===//
//
// Needs a GPU: prints "skipped: no GPU" and exits 77 (ctest: skipped) where
// there is none.
//
//===----------------------------------------------------------------------===//
#include "diffuse/random.h"

#include <cmath>
#include <cstdio>
#include <cuda_runtime.h>
#include <vector>

extern "C" int dfs_cuda_normals(uint64_t seed, uint32_t draw, int64_t batch, int dim,
                                double *deviceOut);

int main() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("skipped: no GPU\n");
    return 77;
  }
  const int64_t batch = 1000;
  const int dim = 7;
  double *d = nullptr;
  cudaMalloc(&d, batch * dim * sizeof(double));
  if (dfs_cuda_normals(1234, 5, batch, dim, d) != 0) {
    std::printf("FAIL: kernel launch\n");
    return 1;
  }
  std::vector<double> h(batch * dim);
  cudaMemcpy(h.data(), d, h.size() * sizeof(double), cudaMemcpyDeviceToHost);
  cudaFree(d);
  double worst = 0;
  for (int64_t i = 0; i < batch; ++i)
    for (int e = 0; e < dim; ++e)
      worst = std::fmax(worst, std::fabs(h[i * dim + e] - diffuse::rt::normal(1234, i, 5, e)));
  // Same bits up to the device's log/sqrt/cos rounding (a few ulp).
  bool ok = worst < 1e-13;
  std::printf("%s: device vs host noise, max |diff| = %.3e over %lld draws\n", ok ? "PASS" : "FAIL",
              worst, (long long)(batch * dim));
  std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
  return ok ? 0 : 1;
}
