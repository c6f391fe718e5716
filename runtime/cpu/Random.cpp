//===- Random.cpp - Philox4x32-10 normal noise ----------------------------===//
//
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11). One block gives four 32-bit words: two 53-bit-ish uniforms
// (two words each), turned into two normals by Box-Muller.
//
//===----------------------------------------------------------------------===//
#include "diffuse/random.h"

#include <cmath>

namespace diffuse::rt {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)M0 * c[0], p1 = (uint64_t)M1 * c[2];
    c = {(uint32_t)(p1 >> 32) ^ c[1] ^ k[0], (uint32_t)p1, (uint32_t)(p0 >> 32) ^ c[3] ^ k[1],
         (uint32_t)p0};
    k[0] += W0;
    k[1] += W1;
  }
  return c;
}

static double uniform53(uint32_t hi, uint32_t lo) {
  uint64_t bits = ((uint64_t)hi << 21) ^ (lo >> 11); // 53 bits
  bits &= (1ull << 53) - 1;
  return ((double)bits + 0.5) / 9007199254740992.0; // in (0, 1)
}

static void block(uint64_t seed, uint64_t sample, uint32_t draw, uint32_t blk, double out[2]) {
  auto r = philox4x32({blk, draw, (uint32_t)sample, (uint32_t)(sample >> 32)},
                      {(uint32_t)seed, (uint32_t)(seed >> 32)});
  double u1 = uniform53(r[0], r[1]), u2 = uniform53(r[2], r[3]);
  double rad = std::sqrt(-2.0 * std::log(u1));
  out[0] = rad * std::cos(2 * M_PI * u2);
  out[1] = rad * std::sin(2 * M_PI * u2);
}

double normal(uint64_t seed, uint64_t sample, uint32_t draw, uint32_t element) {
  double two[2];
  block(seed, sample, draw, element / 2, two);
  return two[element % 2];
}

void normals(uint64_t seed, uint64_t sample, uint32_t draw, int dim, double *out) {
  for (int e = 0; e < dim; e += 2) {
    double two[2];
    block(seed, sample, draw, (uint32_t)(e / 2), two);
    out[e] = two[0];
    if (e + 1 < dim)
      out[e + 1] = two[1];
  }
}

double uniformDraw(uint64_t seed, uint64_t sample, uint32_t draw) {
  auto r = philox4x32({0x7fffffffu, draw, (uint32_t)sample, (uint32_t)(sample >> 32)},
                      {(uint32_t)seed, (uint32_t)(seed >> 32)});
  return uniform53(r[0], r[1]);
}

} // namespace diffuse::rt
