//===- Png.cpp - scatter plots of 2-D samples -----------------------------===//
#include "diffuse/io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <png.h>

namespace diffuse::rt {

bool writeScatterPng(const std::string &path, const Mixture &m, const std::vector<double> &xy,
                     int W, int H, std::string &err) {
  const double lo = -3.2, hi = 3.2;
  std::vector<unsigned char> img((size_t)W * H * 3);
  // Background: the data density, white (low) to blue (high).
  std::vector<double> dens((size_t)W * H);
  double dmax = 0;
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) {
      double p[2] = {lo + (hi - lo) * (c + 0.5) / W, hi - (hi - lo) * (r + 0.5) / H};
      double d = std::exp(m.logDensity(p));
      dens[(size_t)r * W + c] = d;
      dmax = std::max(dmax, d);
    }
  for (size_t i = 0; i < dens.size(); ++i) {
    double f = std::sqrt(dens[i] / dmax);
    img[3 * i + 0] = (unsigned char)(255 - 200 * f);
    img[3 * i + 1] = (unsigned char)(255 - 140 * f);
    img[3 * i + 2] = 255;
  }
  // Samples: red dots.
  for (size_t i = 0; i + 1 < xy.size(); i += 2) {
    int c = (int)std::floor((xy[i] - lo) / (hi - lo) * W);
    int r = (int)std::floor((hi - xy[i + 1]) / (hi - lo) * H);
    for (int dr = -1; dr <= 1; ++dr)
      for (int dc = -1; dc <= 1; ++dc) {
        int rr = r + dr, cc = c + dc;
        if (rr < 0 || rr >= H || cc < 0 || cc >= W)
          continue;
        unsigned char *px = &img[3 * ((size_t)rr * W + cc)];
        px[0] = 220;
        px[1] = 30;
        px[2] = 30;
      }
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) {
    err = "cannot write " + path;
    return false;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    err = "libpng failed writing " + path;
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int r = 0; r < H; ++r)
    png_write_row(png, &img[(size_t)r * W * 3]);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
  return true;
}

} // namespace diffuse::rt
