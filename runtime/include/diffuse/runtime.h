//===- runtime.h - running compiled samplers on the CPU ---------*- C++ -*-===//
//
// The host side of a compiled sampler: the manifest, the time grid (computed
// once, before the loop), scratch buffers allocated once and reused, the
// network hook with classifier-free-guidance batching, and the step loop.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_RUNTIME_H
#define DIFFUSE_RUNTIME_H

#include "diffuse/abi.h"
#include "diffuse/device.h"
#include "diffuse/network.h"
#include "diffuse/schedule.h"
#include "diffuse/threads.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace diffuse::rt {

/// The key=value lines a compiled sampler carries (docs/design.md, "The ABI").
struct Manifest {
  std::map<std::string, std::string> kv;
  static Manifest parse(const char *text);
  std::string str(const std::string &key, const std::string &def = "") const;
  /// The key of a model's entry: model.KEY for the sampler's model (k = 0),
  /// model.K.KEY for the K-th other one.
  static std::string modelKey(int k, const std::string &key) {
    return k == 0 ? "model." + key : "model." + std::to_string(k) + "." + key;
  }
  double num(const std::string &key, double def = 0) const;
  /// A comma-separated list of numbers (empty when the key is absent).
  std::vector<double> nums(const std::string &key) const;
  bool has(const std::string &key) const { return kv.count(key) != 0; }
};

/// A shared object made by `diffuse build --shared`, closed when destroyed.
class SharedObject {
public:
  SharedObject() = default;
  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;
  ~SharedObject();
  /// dlopens `path`; false with dlerror() in `err`.
  bool open(const std::string &path, std::string &err);
  /// The address of `name`, or null.
  void *symbol(const char *name) const;

private:
  void *handle_ = nullptr;
};

/// A compiled path's alpha, sigma and their derivatives
/// (dfs_process_{alpha,sigma}{,_d}); null for a beta table.
struct ProcessFunctions {
  dfs_scalar_fn alpha = nullptr, sigma = nullptr, dalpha = nullptr, dsigma = nullptr;
  /// The four symbols of `lib`, those it lacks null.
  static ProcessFunctions load(const SharedObject &lib);
  bool complete() const { return alpha && sigma && dalpha && dsigma; }
};

/// The entry points of one compiled sampler.
struct CompiledSampler : ProcessFunctions {
  dfs_step_fn step = nullptr;
  /// t(lambda) in closed form (diffuse-invert-lambda), or null: then bisection.
  dfs_scalar_fn tOfLambda = nullptr;
  /// The PF-ODE dx/dt = A(t) x + B(t) F(K(t) x, t) (diffuse-derive-likelihood),
  /// or null; K (odeCoefIn) is null, meaning 1, except for an edm model.
  dfs_scalar_fn odeCoefX = nullptr, odeCoefNet = nullptr, odeCoefIn = nullptr;
  /// The CUDA kernels of a sampler built with --device cuda (abi.h), or null.
  const char *cudaPtx = nullptr;
  const dfs_cuda_task *cudaTasks = nullptr;
  int64_t cudaTaskCount = 0;
  Manifest manifest;
  SharedObject library; // open if loaded from a shared object

  /// Loads a shared object made by `diffuse build --shared`.
  static std::unique_ptr<CompiledSampler> load(const std::string &path, std::string &err);
};

using Point = std::array<double, DFS_POINT_FIELDS>;

/// A grid given by the caller instead of computed from the spec's grid
/// family (a peer's own float32 timesteps and sigmas, for conformance).
struct GivenGrid {
  std::vector<double> t;      // process times, in order of sampling
  std::vector<double> tmodel; // optional: the network's time at each t
  std::vector<double> sigma;  // optional: the state's VE sigma at each t
  /// optional: per step, the network's time at the point between its grid
  /// points (`at`), as the peer computed it (diffusers KDPM2's float32
  /// interpolated timesteps); NaN: computed as usual.
  std::vector<double> tmid;
};

/// Where noise() draws come from.
class NoiseSource {
public:
  virtual ~NoiseSource() = default;
  /// Fills batch x dim normals for draw number `draw`; false if there is none.
  virtual bool fill(uint32_t draw, int64_t batch, int64_t dim, double *out) = 0;
};

/// The counter-based RNG: (seed, sample index, draw index) -> normals.
class PhiloxNoise : public NoiseSource {
public:
  explicit PhiloxNoise(uint64_t seed) : seed_(seed) {}
  bool fill(uint32_t draw, int64_t batch, int64_t dim, double *out) override;
  uint64_t seed() const { return seed_; }

private:
  uint64_t seed_;
};

/// Recorded draws, replayed in order (conformance with a peer's own noise).
class ReplayNoise : public NoiseSource {
public:
  explicit ReplayNoise(std::vector<std::vector<double>> draws) : draws_(std::move(draws)) {}
  bool fill(uint32_t draw, int64_t batch, int64_t dim, double *out) override;

private:
  std::vector<std::vector<double>> draws_;
};

struct Step {
  Point s, t;
};

/// A discrete process's beta table and alphas_cumprod, as diffusers computes
/// them in float32 (torch): linear, scaled_linear, squaredcos_cap_v2,
/// sigmoid or an explicit table (manifest process.schedule, .betas), then
/// rescaled to zero terminal SNR when process.zero_terminal_snr is set
/// (diffuse/schedule.h).
BetaTable betaTable(const Manifest &m);
inline std::vector<float> alphasCumprod(const Manifest &m) { return betaTable(m).alphasCumprod; }

class Runner {
public:
  Runner(const CompiledSampler &sampler, Network &net, int64_t batch, int64_t dim);
  Runner(const Runner &) = delete;
  Runner &operator=(const Runner &) = delete;

  /// Runs on `device` (device.h) instead of the host: run() then keeps the
  /// tensors in its memory and runs the kernels there. Networks stay host
  /// code: a call's input is copied to the host and its output back.
  void setDevice(std::shared_ptr<Device> device) { device_ = std::move(device); }
  Device *device() const { return device_.get(); }

  /// Replaces the discrete process's alphas_cumprod table (its betas become
  /// 1 - acp[k] / acp[k - 1]).
  void setAlphasCumprod(std::vector<double> acp);
  /// Replaces the log-alpha table of a process with `interpolate = log_alpha`.
  void setLogAlphaTable(std::vector<double> la) { logAlpha_ = std::move(la); }
  /// The class labels (one per sample) of label set `set`: what a call with
  /// condition `cond` (set 0) or `cond(k)` (set k) gives the network.
  void setLabels(std::vector<int32_t> labels, int set = 0) {
    if (labels_.size() <= (size_t)set)
      labels_.resize((size_t)set + 1);
    labels_[(size_t)set] = std::move(labels);
    for (auto &c : callConds_)
      c.key.clear();
  }
  /// A named conditioning input of a model (manifest model[.K].inputs).
  struct InputSpec {
    std::string name;
    bool f32 = false;
    std::vector<int64_t> shape;
    int64_t dim = 1; // the product of shape
  };
  /// The named conditioning inputs of model `model` (0: the sampler's).
  const std::vector<InputSpec> &inputs(int model) const { return models_[(size_t)model].inputs; }
  /// The value of conditioning input `name` in condition set `set`: what a
  /// call with condition `cond` (set 0) or `cond(k)` (set k) gives every
  /// model that declares the input, and with `none` (set -1; zeros unless
  /// given). `values` holds batch x dim numbers, or dim that every sample
  /// shares. False (and why) for a name no model declares or a wrong size.
  bool setCondition(const std::string &name, int set, std::vector<double> values,
                    std::string &err);
  /// The network for model `model` of the manifest (model.K.*): a model
  /// other than the sampler's that its guidance evaluates.
  void setNetwork(int model, Network &net) {
    if (nets_.size() <= (size_t)model)
      nets_.resize((size_t)model + 1, nullptr);
    nets_[(size_t)model] = &net;
  }
  /// Input tensor `which` (DFS_INPUT_DATA, DFS_INPUT_MASK) of an inpainting
  /// sampler (manifest `inpaint`): batch x dim values, or dim values that
  /// every sample shares. Returns false (and says why) on a wrong size.
  bool setInput(int which, const std::vector<double> &values, std::string &err);
  /// What the sampler needs and was not given (a network, a label set), or "".
  std::string checkInputs() const;
  void setGivenGrid(GivenGrid g) { given_ = std::move(g); }
  /// Threads for the kernels (default: DIFFUSE_THREADS, else the cores) and
  /// the element count below which a kernel runs on one thread.
  void setThreads(int threads, int64_t threshold = 1 << 19) {
    pool_ = std::make_unique<ThreadPool>(threads, threshold);
  }
  int threads() const { return pool_->threads(); }
  /// Runs one step from grid point s to t on x (no state), for benchmarks;
  /// with a device, x and out are device memory.
  void stepOnce(const void *x, void *out, const Point &s, const Point &t);
  /// Replaces the noise source (default: PhiloxNoise with seed 0).
  void setNoise(std::shared_ptr<NoiseSource> n) { noise_ = std::move(n); }
  int64_t noiseDraws() const { return draws_; }

  /// The steps of the grid, each as its two grid points.
  std::vector<Step> buildGrid(std::string &err) const;
  /// A grid point at process time t (t < 0: the discrete process's end).
  Point pointAt(double t) const;
  /// The grid point whose solver time (t; sigma/alpha in ve coordinates;
  /// log(alpha/sigma) in lambda ones) is tau.
  Point pointAtTau(double tau) const;
  /// The grid point whose VE noise level sigma/alpha is `sigmaVe`, in any
  /// coordinates (the sigma grid families: karras, exponential, ...).
  Point pointAtSigma(double sigmaVe) const;
  /// The grid point whose log-SNR log(alpha/sigma) is `lambda`.
  Point pointAtLambda(double lambda) const;
  /// The time of a path process where log(alpha/sigma) = lambda: the
  /// compiled closed form where there is one, else bisection; in the domain.
  double timeAtLambda(double lambda) const;
  /// The process's continuous time range: its domain, or (1/N, 1] for a
  /// beta table in continuous time.
  std::pair<double, double> timeRange() const;
  /// The grid point the network's time `tm` stands for, in the encoding
  /// (t, scaled(k, offset), sigma, c_noise) of model `model` (0: the sampler's).
  Point pointAtModelTime(double tm, int model = 0) const;
  /// The time model `model` is given at grid point `p`: the point's own
  /// network time for a model of the sampler's model's encoding, else made
  /// from the process time, alpha and sigma in the model's encoding.
  double modelTime(int model, const double *p) const;

  /// Runs every step from state `x` (batch x dim, the sampler's dtype, in
  /// its coordinates); the result replaces x.
  bool run(std::vector<double> &x, std::string &err);

  bool isF32() const { return f32_; }
  int64_t networkCalls() const { return calls_; }
  /// An adaptive solver's last run: steps accepted and redone.
  int64_t adaptiveAccepted() const { return accepted_; }
  int64_t adaptiveRejected() const { return rejected_; }
  bool adaptive() const { return sampler_.manifest.has("adaptive.order"); }
  const Manifest &manifest() const { return sampler_.manifest; }

private:
  static void *hookBuffer(dfs_ctx *ctx, int32_t slot, int32_t mult);
  static void hookModel(dfs_ctx *ctx, int32_t model, int32_t count, const int32_t *conds,
                        const void *in, const double *point, void *out);
  static void hookCopy(dfs_ctx *ctx, void *dst, const void *src);
  static void *hookNoise(dfs_ctx *ctx, int32_t slot);
  static void hookPoint(dfs_ctx *ctx, double value, int32_t byLambda, double *out);
  static void hookParallel(dfs_ctx *ctx, void (*task)(void *, int64_t, int64_t), void *args,
                           int64_t n);
  static void hookQuantile(dfs_ctx *ctx, const void *a, double q, double *out);
  static const void *hookInput(dfs_ctx *ctx, int32_t which);
  void finishPoint(Point &p, double t, bool haveSigma, double sigmaVe) const;
  /// run() on the device (runtime/cpu/Offload.cpp).
  bool runOnDevice(std::vector<double> &x, const std::vector<Step> &grid, std::string &err);
  /// The network call of hookModel on host memory.
  void callNetwork(int32_t model, int32_t count, const int32_t *conds, const void *in,
                   const double *point, void *out);
  /// hookQuantile on host memory.
  void quantiles(const void *a, double q, double *out) const;
  /// run()'s loop for a solver with `adaptive` (runtime/cpu/Adaptive.cpp).
  template <typename T>
  bool runAdaptive(std::vector<T> &x, const std::vector<Step> &grid, std::string &err);
  /// The time where the monotone `f` reaches `target`, by bisection.
  double invertTime(const std::function<double(double)> &f, double target) const;

  dfs_ctx head_; // the first data member: the compiled code sees `this` as dfs_ctx*
  const CompiledSampler &sampler_;
  std::vector<Network *> nets_; // by model index; [0] the sampler's
  int64_t batch_, dim_;
  bool f32_ = false;
  enum class Coords { Native, Ve, Lambda } coords_ = Coords::Native;
  std::vector<double> acp_;
  /// acp_'s float32 sigmas and log sigmas: the fractional timestep of a
  /// noise level as diffusers' _sigma_to_t computes it.
  std::unique_ptr<TableSigmas> tableSigmas_;
  void refreshTableSigmas();
  std::vector<double> betas_; // a discrete process's own (DFS_POINT_BETA)
  std::vector<double> logAlpha_; // interpolate = log_alpha: 0.5 cumsum log(1 - beta), float64
  std::vector<std::vector<int32_t>> labels_; // by label set
  /// DFS_INPUT_*: n values each, in the sampler's dtype (f32 packs the first half).
  std::vector<std::vector<double>> inputs_ = std::vector<std::vector<double>>(DFS_INPUTS);
  GivenGrid given_;
  std::map<int, std::vector<double>> buffers_; // doubles; f32 uses the first half
  std::shared_ptr<Device> device_;
  /// With a device: the scratch buffers (as buffers_), the inputs, and host
  /// copies of a network call's input and output.
  std::map<int, std::unique_ptr<DeviceBuffer>> deviceBuffers_;
  std::vector<std::unique_ptr<DeviceBuffer>> deviceInputs_;
  std::vector<double> hostIn_, hostOut_;
  std::vector<double> staging_;
  std::vector<double> times_;
  /// What the manifest says of each model's network call, read once.
  struct ModelInfo {
    std::string name;
    bool labels = false;   // cond = class: the call passes the label sets
    bool variance = false; // variance = learned_range: twice the channels
    std::vector<InputSpec> inputs;
    std::string time = "t"; // t | index | sigma | c_noise | scaled
    double timeScale = 1, timeOffset = 0;
    bool timeF32 = false; // time_dtype = f32: its time rounded to float32
    bool sameTime = true; // takes its time as model 0 does
  };
  /// The network time of a model of encoding `mi` at process time t (alpha
  /// a, sigma s).
  static double encodeTime(const ModelInfo &mi, double t, double a, double s);
  std::vector<ModelInfo> models_;
  /// The named conditioning inputs' values by name and condition set (-1: none).
  std::map<std::string, std::map<int, std::vector<double>>> conditions_;
  /// What a model's call passes besides x and t, made again only when the
  /// call's conditions differ from its last call's (setLabels and
  /// setCondition clear every key).
  struct CallConditions {
    std::vector<int32_t> key; // the conditions the arrays were made for
    std::vector<int32_t> labels;
    std::vector<std::vector<double>> data; // per input: rows x dim, its dtype
    std::vector<dfs_net_input> views;
  };
  std::vector<CallConditions> callConds_; // by model
  /// Where a model with learned variance writes its rows before the split.
  std::vector<double> varianceStaging_;
  const CallConditions &callConditions(int32_t model, int32_t count, const int32_t *conds);
  int64_t calls_ = 0;
  std::shared_ptr<NoiseSource> noise_;
  std::unique_ptr<ThreadPool> pool_;
  /// The solver's state tensors and scalars between steps, zero at the
  /// first step. A step reads pin and writes pout; it may also point
  /// pout[k] at one of its inputs (a value carried unchanged, e.g. the older
  /// of two saved outputs) instead of copying it. rotate() makes the
  /// outputs the next inputs and hands out fresh output buffers that no
  /// input uses. The tensors live in host memory, or in `device`'s.
  struct SolverState {
    std::vector<void *> bufs; // 2 x fields buffers of n doubles
    std::vector<void *> pin, pout;
    std::vector<double> sin, sout;
    Device *device = nullptr;
    void reset(size_t fields, size_t scalars, size_t n, Device *dev = nullptr);
    void rotate();
    /// Fresh output buffers again (a rejected adaptive step is redone).
    void freshOutputs();
    bool holds(const void *p) const { return std::find(pin.begin(), pin.end(), p) != pin.end(); }

  private:
    std::vector<std::vector<double>> host_;
    std::vector<std::unique_ptr<DeviceBuffer>> device_;
  };
  /// The step loop of run(): steps bufs[0] through `grid`, each step
  /// writing into a buffer of `bufs` that is neither its input nor held by
  /// `state` (`grow` makes another when none is free); returns the index of
  /// the buffer that holds the result.
  size_t stepLoop(const std::vector<Step> &grid, SolverState &state, std::vector<void *> &bufs,
                  const std::function<void *()> &grow);
  SolverState benchState_; // stepOnce's
  int64_t draws_ = 0;
  int64_t accepted_ = 0, rejected_ = 0;
  size_t step_ = 0; // the step Runner::run is in (GivenGrid::tmid)
  std::string noiseError_;
};

} // namespace diffuse::rt

#endif
