//===- random.h - counter-based normal noise --------------------*- C++ -*-===//
//
// Philox4x32-10 keyed by the seed, with the counter (element block, draw,
// sample index): a sample's noise does not depend on batch size, thread
// count or how a batch is split across processes, and any element can be
// generated independently (host or device).
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_RANDOM_H
#define DIFFUSE_RANDOM_H

#include <array>
#include <cstdint>

namespace diffuse::rt {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

/// The standard normal draw for (seed, sample, draw, element).
double normal(uint64_t seed, uint64_t sample, uint32_t draw, uint32_t element);

/// Fills `out[d]` for d < dim with the draws of one sample.
void normals(uint64_t seed, uint64_t sample, uint32_t draw, int dim, double *out);

/// A uniform draw in (0, 1), keyed like `normal` by (seed, sample, draw)
/// (a counter block of its own, so it never repeats a normal's bits).
double uniformDraw(uint64_t seed, uint64_t sample, uint32_t draw);

} // namespace diffuse::rt

#endif
