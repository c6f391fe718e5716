//===- io.h - tensors in .npy, plots in PNG ---------------------*- C++ -*-===//
#ifndef DIFFUSE_IO_H
#define DIFFUSE_IO_H

#include "diffuse/models.h"

#include <string>
#include <vector>

namespace diffuse::rt {

struct NpyArray {
  std::vector<long> shape;
  std::vector<double> data; // widened to double
};

/// Reads a little-endian, C-order .npy of float32/float64/int32/int64.
bool readNpy(const std::string &path, NpyArray &out, std::string &err);
/// Writes float64 (or float32 when `f32`) C-order .npy.
bool writeNpy(const std::string &path, const std::vector<long> &shape,
              const std::vector<double> &data, std::string &err, bool f32 = false);

/// A PNG scatter plot of 2-D samples over the mixture's density.
bool writeScatterPng(const std::string &path, const Mixture &m, const std::vector<double> &xy,
                     int width, int height, std::string &err);

} // namespace diffuse::rt

#endif
