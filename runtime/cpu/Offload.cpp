//===- Offload.cpp - Runner::run with the tensors on a device -------------===//
//
// Runner::run with every tensor in device memory (device.h): the same step
// loop (Runner::stepLoop) over device buffers, the solver's state on the
// device too. The start is uploaded once and the result downloaded once;
// in between only a host network's input and output cross, and the grid
// points, step context and state scalars, which the step reads on the host.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include <algorithm>

namespace diffuse::rt {

bool Runner::runOnDevice(std::vector<double> &x, const std::vector<Step> &grid,
                         std::string &err) {
  if (adaptive()) {
    err = "adaptive solvers run on the CPU only (their error norm is computed on the host); "
          "leave out --device";
    return false;
  }
  Device &dev = *device_;
  const int64_t n = batch_ * dim_;
  const size_t esz = f32_ ? 4 : 8, bytes = (size_t)n * esz;
  // Host data in the sampler's dtype (float32 packs the first half).
  auto pack = [&](const std::vector<double> &v) {
    std::vector<double> p(v);
    if (f32_)
      for (size_t i = 0; i < v.size(); ++i)
        reinterpret_cast<float *>(p.data())[i] = (float)v[i];
    return p;
  };
  deviceInputs_.clear();
  for (const auto &in : inputs_) {
    deviceInputs_.push_back(nullptr);
    if (in.empty())
      continue;
    deviceInputs_.back() = std::make_unique<DeviceBuffer>(dev, bytes);
    dev.upload(deviceInputs_.back()->data, in.data(), bytes);
  }

  SolverState state;
  state.reset((size_t)manifest().num("state.fields"), (size_t)manifest().num("state.scalars"),
              (size_t)n, &dev);
  std::vector<std::unique_ptr<DeviceBuffer>> store;
  auto grow = [&] {
    store.push_back(std::make_unique<DeviceBuffer>(dev, bytes));
    return store.back()->data;
  };
  std::vector<void *> bufs{grow(), grow()};
  std::vector<double> host = pack(x);
  dev.upload(bufs[0], host.data(), bytes);
  size_t cur = stepLoop(grid, state, bufs, grow);
  dev.download(host.data(), bufs[cur], bytes);
  if (err = dev.finish(); !err.empty())
    return false;
  if (f32_)
    for (size_t i = n; i-- > 0;)
      x[i] = (double)reinterpret_cast<const float *>(host.data())[i];
  else
    x = host;
  if (!noiseError_.empty()) {
    err = noiseError_;
    return false;
  }
  return true;
}

} // namespace diffuse::rt
