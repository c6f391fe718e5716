//===- Hooks.cpp - the runtime side of dfs_ctx ----------------------------===//
//
// What compiled steps call back (abi.h): scratch buffers, the network,
// copies, noise, grid points, parallel tasks, quantiles and the run's
// inputs. Each works on host memory, or, with a Device (Runner::setDevice),
// on device memory: buffers are allocated there, tasks launch its kernels,
// and a host network's input and output are copied across.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include "diffuse/random.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace diffuse::rt {

void Runner::hookParallel(dfs_ctx *ctx, void (*task)(void *, int64_t, int64_t), void *args,
                          int64_t n) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  if (self->device_)
    self->device_->launch(task, args, n);
  else
    self->pool_->run(n, task, args);
}

void Runner::hookQuantile(dfs_ctx *ctx, const void *a, double q, double *out) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  if (!self->device_)
    return self->quantiles(a, q, out);
  // On a device: sorting is done on the host, on copies.
  size_t esz = self->f32_ ? 4 : 8;
  self->hostIn_.resize((size_t)(self->batch_ * self->dim_));
  self->device_->download(self->hostIn_.data(), a, (size_t)(self->batch_ * self->dim_) * esz);
  std::vector<double> q8((size_t)self->batch_);
  self->quantiles(self->hostIn_.data(), q, q8.data());
  self->device_->upload(out, q8.data(), q8.size() * sizeof(double));
}

void Runner::quantiles(const void *a, double q, double *out) const {
  int64_t d = dim_;
  std::vector<double> v((size_t)d);
  for (int64_t j = 0; j < batch_; ++j) {
    for (int64_t e = 0; e < d; ++e)
      v[(size_t)e] = f32_ ? (double)static_cast<const float *>(a)[j * d + e]
                          : static_cast<const double *>(a)[j * d + e];
    // torch.quantile: rank q (d - 1), lerp between the order statistics
    // below and above it.
    double rank = q * (double)(d - 1);
    auto below = (size_t)std::floor(rank), above = (size_t)std::ceil(rank);
    std::nth_element(v.begin(), v.begin() + (long)below, v.end());
    double lo = v[below];
    double hi = above == below ? lo : *std::min_element(v.begin() + (long)below + 1, v.end());
    double w = rank - (double)below;
    out[j] = w < 0.5 ? lo + w * (hi - lo) : hi - (hi - lo) * (1 - w);
  }
}

void Runner::hookPoint(dfs_ctx *ctx, double value, int32_t byLambda, double *out) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  Point p = byLambda ? self->pointAtLambda(value) : self->pointAtTau(value);
  const auto &tmid = self->given_.tmid;
  if (!byLambda && self->step_ < tmid.size() && std::isfinite(tmid[self->step_]))
    p[DFS_POINT_TMODEL] = tmid[self->step_];
  std::copy(p.begin(), p.end(), out);
}

void *Runner::hookBuffer(dfs_ctx *ctx, int32_t slot, int32_t mult) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  size_t need = (size_t)(self->batch_ * self->dim_ * mult);
  if (self->device_) {
    auto &dbuf = self->deviceBuffers_[slot];
    if (!dbuf || dbuf->bytes < need * sizeof(double))
      dbuf = std::make_unique<DeviceBuffer>(*self->device_, need * sizeof(double));
    return dbuf->data;
  }
  auto &buf = self->buffers_[slot];
  if (buf.size() < need)
    buf.resize(need);
  return buf.data();
}

bool PhiloxNoise::fill(uint32_t draw, int64_t batch, int64_t dim, double *out) {
  // Philox draw 0 is the initial state's noise; noise() uses 1, 2, ...
  for (int64_t i = 0; i < batch; ++i)
    normals(seed_, (uint64_t)i, draw + 1, (int)dim, out + i * dim);
  return true;
}

bool ReplayNoise::fill(uint32_t draw, int64_t batch, int64_t dim, double *out) {
  if (draw >= draws_.size() || (int64_t)draws_[draw].size() != batch * dim)
    return false;
  std::copy(draws_[draw].begin(), draws_[draw].end(), out);
  return true;
}

void *Runner::hookNoise(dfs_ctx *ctx, int32_t slot) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  void *buf = hookBuffer(ctx, slot, 1);
  int64_t n = self->batch_ * self->dim_;
  if (self->device_) {
    auto *philox = dynamic_cast<PhiloxNoise *>(self->noise_.get());
    // PhiloxNoise::fill's draw numbering: noise() draws 1, 2, ...
    if (!philox || !self->device_->normals(philox->seed(), (uint32_t)self->draws_ + 1,
                                           self->batch_, self->dim_, self->f32_, buf)) {
      std::vector<double> host((size_t)n);
      if (!self->noise_->fill((uint32_t)self->draws_, self->batch_, self->dim_, host.data()) &&
          self->noiseError_.empty())
        self->noiseError_ = "the noise source has no draw number " + std::to_string(self->draws_);
      if (self->f32_)
        for (int64_t i = 0; i < n; ++i)
          ((float *)host.data())[i] = (float)host[(size_t)i];
      self->device_->upload(buf, host.data(), (size_t)n * (self->f32_ ? 4 : 8));
    }
    ++self->draws_;
    return buf;
  }
  std::vector<double> tmp;
  double *dst = (double *)buf;
  if (self->f32_) {
    tmp.resize((size_t)n);
    dst = tmp.data();
  }
  if (!self->noise_->fill((uint32_t)self->draws_, self->batch_, self->dim_, dst)) {
    if (self->noiseError_.empty())
      self->noiseError_ = "the noise source has no draw number " + std::to_string(self->draws_);
    std::fill(dst, dst + n, 0.0);
  }
  if (self->f32_)
    for (int64_t i = 0; i < n; ++i)
      ((float *)buf)[i] = (float)tmp[(size_t)i];
  ++self->draws_;
  return buf;
}

void Runner::hookCopy(dfs_ctx *ctx, void *dst, const void *src) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  size_t bytes = (size_t)(self->batch_ * self->dim_) * (self->f32_ ? 4 : 8);
  if (self->device_)
    self->device_->copy(dst, src, bytes);
  else
    std::memcpy(dst, src, bytes);
}

void Runner::hookModel(dfs_ctx *ctx, int32_t model, int32_t count, const int32_t *conds,
                       const void *in, const double *point, void *out) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  if (count == 0) // a guide model outside active(t): its evaluations are the sampler's model's
    return;
  if (!self->device_ || self->nets_[(size_t)model]->onDevice())
    return self->callNetwork(model, count, conds, in, point, out);
  // A host network: the input goes to the host and the output back.
  size_t bytes = (size_t)(self->batch_ * self->dim_) * (self->f32_ ? 4 : 8);
  size_t outBytes = (size_t)count * bytes * (self->models_[(size_t)model].variance ? 2 : 1);
  self->hostIn_.resize(bytes / sizeof(double) + 1);
  self->hostOut_.resize(outBytes / sizeof(double) + 1);
  self->device_->download(self->hostIn_.data(), in, bytes);
  self->callNetwork(model, count, conds, self->hostIn_.data(), point, self->hostOut_.data());
  self->device_->upload(out, self->hostOut_.data(), outBytes);
}

void Runner::callNetwork(int32_t model, int32_t count, const int32_t *conds, const void *in,
                         const double *point, void *out) {
  Network &net = *nets_[(size_t)model]; // run() checked that it is there
  int64_t n = batch_ * dim_;
  int64_t rows = count * batch_;
  size_t esz = f32_ ? 4 : 8;
  const void *x = in;
  int64_t xRows = rows;
  bool onDevice = device_ && net.onDevice();
  if (count > 1 && net.acceptsRepeatedRows()) {
    // One call on [x; x; ...] without materializing it: the network reads
    // row i from row i mod batch.
    xRows = batch_;
  } else if (count > 1 && onDevice) {
    auto &st = deviceBuffers_[-1]; // the device's staging buffer
    if (!st || st->bytes < (size_t)(count * n) * esz)
      st = std::make_unique<DeviceBuffer>(*device_, (size_t)(count * n) * esz);
    for (int32_t j = 0; j < count; ++j)
      device_->copy((char *)st->data + j * n * esz, in, n * esz);
    x = st->data;
  } else if (count > 1) {
    staging_.resize((size_t)(count * n));
    for (int32_t j = 0; j < count; ++j)
      std::memcpy((char *)staging_.data() + j * n * esz, in, n * esz);
    x = staging_.data();
  }
  times_.assign((size_t)rows, modelTime(model, point));
  const CallConditions &cc = callConditions(model, count, conds);
  // With learned variance each row of the network's output is the
  // prediction and then the variance channels: it writes to a staging
  // buffer, split below into the blocks the step reads (Note [Learned
  // variance]).
  const bool variance = models_[(size_t)model].variance;
  void *netOut = out;
  const size_t rowBytes = (size_t)dim_ * esz;
  if (variance) {
    size_t need = (size_t)rows * 2 * rowBytes;
    if (onDevice) {
      auto &st = deviceBuffers_[-2]; // the device's variance staging buffer
      if (!st || st->bytes < need)
        st = std::make_unique<DeviceBuffer>(*device_, need);
      netOut = st->data;
    } else {
      varianceStaging_.resize(need / sizeof(double) + 1);
      netOut = varianceStaging_.data();
    }
  }
  dfs_net_call call{rows,
                    dim_,
                    f32_ ? DFS_F32 : DFS_F64,
                    x,
                    times_.data(),
                    cc.labels.data(),
                    netOut,
                    onDevice ? 1 : 0,
                    xRows,
                    (int64_t)cc.views.size(),
                    cc.views.empty() ? nullptr : cc.views.data()};
  net.evaluate(call);
  ++calls_;
  if (variance)
    for (int64_t r = 0; r < rows; ++r) {
      const char *row = (const char *)netOut + (size_t)r * 2 * rowBytes;
      char *pred = (char *)out + (size_t)r * rowBytes;
      char *var = (char *)out + (size_t)(rows + r) * rowBytes;
      if (onDevice) {
        device_->copy(pred, row, rowBytes);
        device_->copy(var, row + rowBytes, rowBytes);
      } else {
        std::memcpy(pred, row, rowBytes);
        std::memcpy(var, row + rowBytes, rowBytes);
      }
    }
}

const Runner::CallConditions &Runner::callConditions(int32_t model, int32_t count,
                                                      const int32_t *conds) {
  // A call's labels and inputs depend only on its model and conditions:
  // made again only when they differ from the model's last call's.
  CallConditions &cc = callConds_[(size_t)model];
  if (std::equal(conds, conds + count, cc.key.begin(), cc.key.end()))
    return cc;
  cc.key.assign(conds, conds + count);
  const size_t rows = (size_t)count * (size_t)batch_;
  const ModelInfo &mi = models_[(size_t)model];
  // Class labels for a model with cond = class; -1 for every other.
  cc.labels.assign(rows, -1);
  if (mi.labels)
    for (int32_t j = 0; j < count; ++j)
      if (conds[j] >= 0 && (size_t)conds[j] < labels_.size() &&
          !labels_[(size_t)conds[j]].empty())
        std::copy(labels_[(size_t)conds[j]].begin(), labels_[(size_t)conds[j]].end(),
                  cc.labels.begin() + j * batch_);
  // Named inputs: each block of rows the value of its condition set (one
  // sample's value repeated if that is what was given; zeros if none).
  const std::vector<InputSpec> &specs = mi.inputs;
  cc.data.resize(specs.size());
  cc.views.clear();
  for (size_t i = 0; i < specs.size(); ++i) {
    const InputSpec &in = specs[i];
    std::vector<double> &d = cc.data[i];
    size_t per = (size_t)in.dim, esz = in.f32 ? 4 : 8;
    d.assign((rows * per * esz + 7) / 8, 0.0);
    auto byName = conditions_.find(in.name);
    for (int32_t j = 0; j < count; ++j) {
      const std::vector<double> *v = nullptr;
      if (byName != conditions_.end())
        if (auto it = byName->second.find(conds[j]); it != byName->second.end())
          v = &it->second;
      if (!v)
        continue;
      for (size_t r = 0; r < (size_t)batch_; ++r)
        for (size_t e = 0; e < per; ++e) {
          double value = (*v)[(r * per + e) % v->size()];
          size_t at = ((size_t)j * (size_t)batch_ + r) * per + e;
          if (in.f32)
            ((float *)d.data())[at] = (float)value;
          else
            d[at] = value;
        }
    }
    cc.views.push_back({in.name.c_str(), in.dim, in.f32 ? DFS_F32 : DFS_F64, d.data()});
  }
  return cc;
}

const void *Runner::hookInput(dfs_ctx *ctx, int32_t which) {
  auto *self = reinterpret_cast<Runner *>(ctx);
  if (self->device_)
    return self->deviceInputs_[(size_t)which]->data;
  return self->inputs_[(size_t)which].data();
}

} // namespace diffuse::rt
