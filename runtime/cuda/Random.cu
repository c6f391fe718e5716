//===- Random.cu - Philox normal noise on the device ----------------------===//
//
// The same (seed, sample, draw, element) -> normal map as runtime/cpu/Random.cpp,
// so a sample's noise is identical on host and device.
//
//===----------------------------------------------------------------------===//
#include <cstdint>

namespace diffuse::cuda {

__device__ inline void philox(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1, n3 = (uint32_t)p0;
    c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

__device__ inline double uniform53(uint32_t hi, uint32_t lo) {
  uint64_t bits = (((uint64_t)hi << 21) ^ (lo >> 11)) & ((1ull << 53) - 1);
  return ((double)bits + 0.5) / 9007199254740992.0;
}

template <typename T>
__global__ void normalsKernel(uint64_t seed, uint32_t draw, int64_t batch, int dim, T *out) {
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t blocksPerRow = (dim + 1) / 2;
  if (i >= batch * blocksPerRow)
    return;
  int64_t sample = i / blocksPerRow;
  uint32_t blk = (uint32_t)(i % blocksPerRow);
  uint32_t c[4] = {blk, draw, (uint32_t)sample, (uint32_t)((uint64_t)sample >> 32)};
  philox(c, (uint32_t)seed, (uint32_t)(seed >> 32));
  double u1 = uniform53(c[0], c[1]), u2 = uniform53(c[2], c[3]);
  double r = sqrt(-2.0 * log(u1));
  int e = 2 * blk;
  out[sample * dim + e] = (T)(r * cos(2 * M_PI * u2));
  if (e + 1 < dim)
    out[sample * dim + e + 1] = (T)(r * sin(2 * M_PI * u2));
}

} // namespace diffuse::cuda

/// Fills a device buffer of batch x dim normals (float64, or float32 when
/// `f32`: the float64 value rounded, as the host does); returns a cudaError_t.
extern "C" int dfs_cuda_normals_as(uint64_t seed, uint32_t draw, int64_t batch, int dim, int f32,
                                   void *deviceOut) {
  int64_t work = batch * ((dim + 1) / 2);
  int threads = 256;
  int64_t blocks = (work + threads - 1) / threads;
  if (f32)
    diffuse::cuda::normalsKernel<<<(unsigned)blocks, threads>>>(seed, draw, batch, dim,
                                                                (float *)deviceOut);
  else
    diffuse::cuda::normalsKernel<<<(unsigned)blocks, threads>>>(seed, draw, batch, dim,
                                                                (double *)deviceOut);
  return (int)cudaGetLastError();
}

/// Float64 normals (the original entry point).
extern "C" int dfs_cuda_normals(uint64_t seed, uint32_t draw, int64_t batch, int dim,
                                double *deviceOut) {
  return dfs_cuda_normals_as(seed, draw, batch, dim, 0, deviceOut);
}
