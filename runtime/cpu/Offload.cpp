//===- Offload.cpp - Runner::run with the tensors on a device -------------===//
//
// The step loop of Runner::run (Runner.cpp) with every tensor in device
// memory (device.h): the start is uploaded once, the result downloaded
// once; in between only the network's input and output cross (networks
// are host code), and the grid points, step context and state scalars,
// which the step reads on the host.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include <algorithm>

namespace diffuse::rt {

/// The solver's state tensors and scalars (as Runner::SolverState), the
/// tensors in device memory: 2 x fields buffers; a step reads pin and
/// writes pout, or points pout[k] at one of its inputs; rotate() makes the
/// outputs the next inputs and hands out buffers no input uses.
struct Runner::DeviceState {
  DeviceState(Device &dev, size_t fields, size_t scalars, size_t bytes)
      : pin(fields), pout(fields), sin(scalars + 1, 0.0), sout(scalars + 1, 0.0) {
    for (size_t k = 0; k < 2 * fields; ++k)
      bufs.push_back(std::make_unique<DeviceBuffer>(dev, bytes));
    for (size_t k = 0; k < fields; ++k) {
      pin[k] = bufs[k]->data;
      pout[k] = bufs[fields + k]->data;
    }
  }
  bool holds(const void *p) const { return std::find(pin.begin(), pin.end(), p) != pin.end(); }
  void rotate() {
    pin = pout;
    size_t next = 0;
    for (auto &p : pout) {
      while (holds(bufs[next]->data))
        ++next;
      p = bufs[next++]->data;
    }
    std::swap(sin, sout);
  }
  std::vector<std::unique_ptr<DeviceBuffer>> bufs;
  std::vector<void *> pin, pout;
  std::vector<double> sin, sout;
};

void Runner::DeviceStateDeleter::operator()(DeviceState *s) const { delete s; }

// Device memory goes back before the device may.
Runner::~Runner() {
  deviceBench_.reset();
  deviceBuffers_.clear();
  deviceInputs_.clear();
}

void Runner::stepOnceOnDevice(const void *x, void *out, const Point &s, const Point &t) {
  if (!deviceBench_)
    deviceBench_.reset(new DeviceState(*device_, (size_t)manifest().num("state.fields"),
                                       (size_t)manifest().num("state.scalars"),
                                       (size_t)(batch_ * dim_) * (f32_ ? 4 : 8)));
  static const std::array<double, DFS_CTX_FIELDS> c{1, 10, 0, 0, 0};
  DeviceState &st = *deviceBench_;
  sampler_.step(&head_, batch_ * dim_, x, out, s.data(), t.data(), c.data(), st.pin.data(),
                st.pout.data(), st.sin.data(), st.sout.data());
  st.rotate();
}

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

  DeviceState state(dev, (size_t)manifest().num("state.fields"),
                    (size_t)manifest().num("state.scalars"), bytes);
  auto held = [&](const void *p) { return state.holds(p); };

  std::vector<std::unique_ptr<DeviceBuffer>> bufs;
  bufs.push_back(std::make_unique<DeviceBuffer>(dev, bytes));
  bufs.push_back(std::make_unique<DeviceBuffer>(dev, bytes));
  std::vector<double> host = pack(x);
  dev.upload(bufs[0]->data, host.data(), bytes);
  size_t cur = 0;
  const double steps = (double)grid.size();
  for (size_t i = 0; i < grid.size(); ++i) {
    step_ = i;
    size_t o = 0;
    while (o < bufs.size() && (o == cur || held(bufs[o]->data)))
      ++o;
    if (o == bufs.size())
      bufs.push_back(std::make_unique<DeviceBuffer>(dev, bytes));
    std::array<double, DFS_CTX_FIELDS> c{(double)i, steps, i == 0 ? 1.0 : 0.0,
                                         i + 1 == grid.size() ? 1.0 : 0.0, 0.0};
    sampler_.step(&head_, n, bufs[cur]->data, bufs[o]->data, grid[i].s.data(), grid[i].t.data(),
                  c.data(), state.pin.data(), state.pout.data(), state.sin.data(),
                  state.sout.data());
    cur = o;
    state.rotate();
  }
  dev.download(host.data(), bufs[cur]->data, bytes);
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
