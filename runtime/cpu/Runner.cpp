//===- Runner.cpp - the host side of a compiled sampler -------------------===//
//
// See Note [Grid points]: every quantity that depends only on time is
// computed here once per grid, before the loop; the compiled step reads it.
//
// Note [Grid points]
// A grid point at process time t holds tau (the solver's time), tmodel (the
// network's time), a, s (alpha and sigma of the process) and da, ds.
//  - path process: a, s, da, ds from the compiled dfs_process_* functions.
//  - discrete process: at integer t, a = sqrt(acp[t]), s = sqrt(1 - acp[t]);
//    at fractional t, the VE sigma sqrt((1-acp)/acp) is interpolated
//    linearly in t (diffusers' k-style schedulers) and a = 1/sqrt(1+sigma^2);
//    t < 0 is the end of the chain: acp[0] (final_alpha = first) or 1.
//    At an integer t the point also holds the table's own beta (NaN
//    elsewhere and for paths).
//  - a caller-given VE sigma (a peer's float32 table) overrides a and s.
//  tau = t in native coordinates, s/a in ve coordinates.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

#include "diffuse/models.h"
#include "diffuse/random.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <sstream>

namespace diffuse::rt {

Manifest Manifest::parse(const char *text) {
  Manifest m;
  std::istringstream is(text ? text : "");
  std::string line;
  while (std::getline(is, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos)
      m.kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

std::string Manifest::str(const std::string &key, const std::string &def) const {
  auto it = kv.find(key);
  return it == kv.end() ? def : it->second;
}

double Manifest::num(const std::string &key, double def) const {
  auto it = kv.find(key);
  return it == kv.end() ? def : std::strtod(it->second.c_str(), nullptr);
}

std::vector<double> Manifest::nums(const std::string &key) const {
  std::vector<double> out;
  std::stringstream ss(str(key));
  for (std::string v; std::getline(ss, v, ',');)
    out.push_back(std::strtod(v.c_str(), nullptr));
  return out;
}

bool SharedObject::open(const std::string &path, std::string &err) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_)
    err = dlerror();
  return handle_ != nullptr;
}

void *SharedObject::symbol(const char *name) const { return dlsym(handle_, name); }

ProcessFunctions ProcessFunctions::load(const SharedObject &lib) {
  auto fn = [&](const char *name) { return (dfs_scalar_fn)lib.symbol(name); };
  return {fn("dfs_process_alpha"), fn("dfs_process_sigma"), fn("dfs_process_alpha_d"),
          fn("dfs_process_sigma_d")};
}

SharedObject::~SharedObject() {
  if (handle_)
    dlclose(handle_);
}

std::unique_ptr<CompiledSampler> CompiledSampler::load(const std::string &path, std::string &err) {
  auto s = std::make_unique<CompiledSampler>();
  if (!s->library.open(path, err))
    return nullptr;
  auto fn = [&](const char *name) { return (dfs_scalar_fn)s->library.symbol(name); };
  s->step = (dfs_step_fn)s->library.symbol("dfs_step");
  auto *manifest = (const char *)s->library.symbol("dfs_manifest");
  static_cast<ProcessFunctions &>(*s) = ProcessFunctions::load(s->library);
  s->tOfLambda = fn("dfs_process_t_of_lambda");
  s->odeCoefX = fn("dfs_ode_coef_x");
  s->odeCoefNet = fn("dfs_ode_coef_net");
  s->odeCoefIn = fn("dfs_ode_coef_in");
  s->cudaPtx = (const char *)s->library.symbol("dfs_cuda_ptx");
  s->cudaTasks = (const dfs_cuda_task *)s->library.symbol("dfs_cuda_tasks");
  if (auto *count = (const int64_t *)s->library.symbol("dfs_cuda_task_count"))
    s->cudaTaskCount = *count;
  if (!s->step || !manifest) {
    err = path + " is not a compiled Diffuse sampler (no dfs_step/dfs_manifest)";
    return nullptr;
  }
  s->manifest = Manifest::parse(manifest);
  if ((int)s->manifest.num("diffuse_abi") != DFS_ABI_VERSION) {
    err = path + " was compiled for the runtime ABI " + s->manifest.str("diffuse_abi") +
          ", this runtime has ABI " + std::to_string(DFS_ABI_VERSION) +
          "; rebuild it with this diffuse";
    return nullptr;
  }
  return s;
}

Runner::Runner(const CompiledSampler &sampler, Network &net, int64_t batch, int64_t dim)
    : sampler_(sampler), nets_{&net}, batch_(batch), dim_(dim) {
  head_.buffer = &Runner::hookBuffer;
  head_.model = &Runner::hookModel;
  head_.copy = &Runner::hookCopy;
  head_.noise = &Runner::hookNoise;
  head_.point = &Runner::hookPoint;
  head_.parallel = &Runner::hookParallel;
  head_.quantile = &Runner::hookQuantile;
  head_.batch = batch_;
  head_.input = &Runner::hookInput;
  // The hooks get `this` back as the dfs_ctx* they were given.
  if ((void *)&head_ != (void *)this) {
    std::fprintf(stderr, "internal error: Runner::head_ is not its first member\n");
    std::abort();
  }
  int threads = (int)std::thread::hardware_concurrency();
  if (const char *e = std::getenv("DIFFUSE_THREADS"))
    threads = std::atoi(e);
  pool_ = std::make_unique<ThreadPool>(std::max(1, threads));
  noise_ = std::make_shared<PhiloxNoise>(0);
  const Manifest &m = sampler.manifest;
  f32_ = m.str("dtype") == "f32";
  long models = std::max(1L, (long)m.num("models", 1));
  models_.resize((size_t)models);
  callConds_.resize((size_t)models);
  for (int k = 0; k < (int)models; ++k) {
    ModelInfo &mi = models_[(size_t)k];
    mi.name = m.str(Manifest::modelKey(k, "name"));
    mi.labels = m.num(Manifest::modelKey(k, "labels")) != 0;
    mi.variance = m.str(Manifest::modelKey(k, "variance")) == "learned_range";
    mi.time = m.str(Manifest::modelKey(k, "time"));
    mi.timeScale = m.num(Manifest::modelKey(k, "time_scale"), 1);
    mi.timeOffset = m.num(Manifest::modelKey(k, "time_offset"), 0);
    mi.timeF32 = m.str(Manifest::modelKey(k, "time_dtype")) == "f32";
    const ModelInfo &first = models_[0];
    mi.sameTime = mi.time == first.time && mi.timeScale == first.timeScale &&
                  mi.timeOffset == first.timeOffset && mi.timeF32 == first.timeF32;
    // Conditioning inputs: name:dtype:d1xd2,... (DiffuseToLLVM).
    std::stringstream list(m.str(Manifest::modelKey(k, "inputs")));
    std::string item;
    while (std::getline(list, item, ',')) {
      InputSpec in;
      size_t c1 = item.find(':'), c2 = item.find(':', c1 + 1);
      in.name = item.substr(0, c1);
      in.f32 = item.substr(c1 + 1, c2 - c1 - 1) == "f32";
      std::stringstream dims(item.substr(c2 + 1));
      std::string d;
      while (std::getline(dims, d, 'x')) {
        in.shape.push_back(std::atoll(d.c_str()));
        in.dim *= in.shape.back();
      }
      mi.inputs.push_back(in);
    }
  }
  coords_ = m.str("coords") == "ve"       ? Coords::Ve
            : m.str("coords") == "lambda" ? Coords::Lambda
                                          : Coords::Native;
  if (m.str("process.kind") == "discrete") {
    BetaTable table = betaTable(m);
    acp_.assign(table.alphasCumprod.begin(), table.alphasCumprod.end());
    betas_.assign(table.betas.begin(), table.betas.end());
    // In ve coordinates sigma/alpha would be infinite where alpha = 0, in
    // lambda ones log(alpha/sigma): diffusers' k-style schedulers set that
    // alphas_cumprod to 2^-24.
    if (coords_ != Coords::Native && m.num("process.zero_terminal_snr") != 0)
      acp_.back() = std::ldexp(1.0, -24);
    refreshTableSigmas();
    if (m.str("process.interpolate") == "log_alpha") {
      // DPM-Solver's discrete schedule: float64 betas, log alpha = 0.5 cumsum log(1 - beta).
      long n = (long)m.num("process.train_steps", 1000);
      double b0 = m.num("process.beta_start"), b1 = m.num("process.beta_end"), sum = 0;
      for (long i = 0; i < n; ++i) {
        double f = (double)i / (double)(n - 1);
        double beta = m.str("process.schedule") == "scaled_linear"
                          ? std::pow(std::sqrt(b0) + f * (std::sqrt(b1) - std::sqrt(b0)), 2)
                          : b0 + f * (b1 - b0);
        sum += std::log(1 - beta);
        logAlpha_.push_back(0.5 * sum);
      }
    }
  }
}

double Runner::encodeTime(const ModelInfo &mi, double t, double a, double s) {
  double v = t; // t, or a beta table's timestep
  if (mi.time == "scaled")
    v = t * mi.timeScale + mi.timeOffset;
  else if (mi.time == "sigma")
    v = s / a;
  else if (mi.time == "c_noise")
    v = 0.25 * std::log(s / a);
  // time_dtype = f32: the float32 the network is handed (diffusers'
  // timestep tensors); rounding the exact value is float32 arithmetic's
  // own result for a product of a float32 time and an integer scale.
  return mi.timeF32 ? (double)(float)v : v;
}

double Runner::modelTime(int model, const double *p) const {
  const ModelInfo &mi = models_[(size_t)model];
  // The sampler's model's time may be given (a peer's own timesteps) or
  // kept exact (sigma grids); another encoding is made from the point.
  if (mi.sameTime)
    return p[DFS_POINT_TMODEL];
  return encodeTime(mi, p[DFS_POINT_T], p[DFS_POINT_A], p[DFS_POINT_S]);
}

void Runner::finishPoint(Point &p, double t, bool haveSigma, double sv) const {
  if (haveSigma) {
    p[DFS_POINT_A] = 1.0 / std::sqrt(1.0 + sv * sv);
    p[DFS_POINT_S] = sv * p[DFS_POINT_A];
  }
  double a = p[DFS_POINT_A], s = p[DFS_POINT_S];
  p[DFS_POINT_T] = t;
  p[DFS_POINT_TMODEL] = encodeTime(models_[0], t, a, s);
  switch (coords_) {
  case Coords::Native: p[DFS_POINT_TAU] = t; break;
  case Coords::Ve: p[DFS_POINT_TAU] = haveSigma ? sv : s / a; break;
  case Coords::Lambda: p[DFS_POINT_TAU] = haveSigma ? -std::log(sv) : std::log(a / s); break;
  }
}

void Runner::refreshTableSigmas() {
  std::vector<float> acp(acp_.begin(), acp_.end());
  tableSigmas_ = acp.empty() ? nullptr : std::make_unique<TableSigmas>(acp);
}

void Runner::setAlphasCumprod(std::vector<double> acp) {
  acp_ = std::move(acp);
  refreshTableSigmas();
  betas_.resize(acp_.size());
  for (size_t k = 0; k < acp_.size(); ++k)
    betas_[k] = 1 - acp_[k] / (k ? acp_[k - 1] : 1.0);
}

Point Runner::pointAt(double t) const {
  Point p{};
  p[DFS_POINT_BETA] = std::nan("");
  const Manifest &m = sampler_.manifest;
  if (m.str("process.kind") == "discrete" && !logAlpha_.empty()) {
    // Continuous t in (0, 1]: log alpha piecewise linear through t_n = (n + 1) / N.
    double la = interpolateLogAlpha(logAlpha_, t * (double)logAlpha_.size() - 1);
    p[DFS_POINT_A] = std::exp(la);
    p[DFS_POINT_S] = std::sqrt(1 - std::exp(2 * la));
    finishPoint(p, t, false, 0);
    return p;
  }
  if (m.str("process.kind") == "discrete") {
    long n = (long)acp_.size();
    double acp;
    if (t < 0) {
      acp = m.str("process.final_alpha") == "one" ? 1.0 : acp_[0];
    } else if (t == std::floor(t) || t >= n - 1) {
      acp = acp_[std::min<long>((long)t, n - 1)];
      if (t == std::floor(t) && t < (double)betas_.size())
        p[DFS_POINT_BETA] = betas_[(size_t)t];
    } else {
      long lo = (long)std::floor(t);
      double f = t - lo;
      double s0 = std::sqrt((1 - acp_[lo]) / acp_[lo]);
      double s1 = std::sqrt((1 - acp_[lo + 1]) / acp_[lo + 1]);
      finishPoint(p, t, true, (1 - f) * s0 + f * s1);
      return p;
    }
    p[DFS_POINT_A] = std::sqrt(acp);
    p[DFS_POINT_S] = std::sqrt(1 - acp);
  } else {
    p[DFS_POINT_A] = sampler_.alpha(t);
    p[DFS_POINT_S] = sampler_.sigma(t);
    p[DFS_POINT_DA] = sampler_.dalpha(t);
    p[DFS_POINT_DS] = sampler_.dsigma(t);
  }
  finishPoint(p, t, false, 0);
  return p;
}

Point Runner::pointAtTau(double tau) const {
  switch (coords_) {
  case Coords::Ve: return pointAtSigma(tau);
  case Coords::Lambda: return pointAtLambda(tau);
  default: return pointAt(tau);
  }
}

Point Runner::pointAtSigma(double sigmaVe) const {
  const Manifest &m = sampler_.manifest;
  Point p{};
  if (m.str("process.kind") == "discrete") {
    // diffusers' _sigma_to_t over the table's float32 log sigmas: the
    // (fractional) timestep the network is called at for this noise level.
    finishPoint(p, tableSigmas_ ? tableSigmas_->timeAt(sigmaVe) : NAN, true, sigmaVe);
    return p;
  }
  auto ratio = [&](double t) { return sampler_.sigma(t) / sampler_.alpha(t); };
  // A process whose time is its VE sigma (alpha = 1, sigma = t) needs no
  // inverse; any other path inverts sigma/alpha over its domain (monotone
  // there), keeping the requested noise level exactly.
  if (ratio(sigmaVe) == sigmaVe)
    return pointAt(sigmaVe);
  p = pointAt(sampler_.tOfLambda ? timeAtLambda(-std::log(sigmaVe)) : invertTime(ratio, sigmaVe));
  p[DFS_POINT_S] = sigmaVe * p[DFS_POINT_A];
  if (coords_ == Coords::Ve)
    p[DFS_POINT_TAU] = sigmaVe;
  if (coords_ == Coords::Lambda)
    p[DFS_POINT_TAU] = -std::log(sigmaVe);
  if (models_[0].time == "sigma")
    p[DFS_POINT_TMODEL] = sigmaVe;
  if (models_[0].time == "c_noise")
    p[DFS_POINT_TMODEL] = 0.25 * std::log(sigmaVe);
  return p;
}

void Runner::SolverState::reset(size_t fields, size_t scalars, size_t n, Device *dev) {
  device = dev;
  host_.clear();
  device_.clear();
  bufs.clear();
  for (size_t k = 0; k < 2 * fields; ++k) {
    if (dev) {
      device_.push_back(std::make_unique<DeviceBuffer>(*dev, n * sizeof(double)));
      bufs.push_back(device_.back()->data);
    } else {
      host_.emplace_back(n);
      bufs.push_back(host_.back().data());
    }
  }
  sin.assign(scalars + 1, 0.0);
  sout.assign(scalars + 1, 0.0);
  pin.assign(bufs.begin(), bufs.begin() + (long)fields);
  pout.assign(bufs.begin() + (long)fields, bufs.end());
}

void Runner::SolverState::rotate() {
  pin = pout;
  freshOutputs();
  std::swap(sin, sout);
}

void Runner::SolverState::freshOutputs() {
  size_t next = 0;
  for (auto &p : pout) {
    while (holds(bufs[next]))
      ++next;
    p = bufs[next++];
  }
}

void Runner::stepOnce(const void *x, void *out, const Point &s, const Point &t) {
  // Benchmarks call this in a loop: the state buffers are made once (on
  // the device when there is one; x and out are then device memory).
  size_t nf = (size_t)manifest().num("state.fields"), ns = (size_t)manifest().num("state.scalars");
  if (benchState_.pin.size() != nf || benchState_.sin.size() != ns + 1 ||
      benchState_.device != device_.get())
    benchState_.reset(nf, ns, (size_t)(batch_ * dim_), device_.get());
  static const std::array<double, DFS_CTX_FIELDS> c{1, 10, 0, 0, 0};
  sampler_.step(&head_, batch_ * dim_, x, out, s.data(), t.data(), c.data(),
                benchState_.pin.data(), benchState_.pout.data(), benchState_.sin.data(),
                benchState_.sout.data());
  benchState_.rotate(); // as the step loop does (the step may re-point outputs)
}

size_t Runner::stepLoop(const std::vector<Step> &grid, SolverState &state,
                        std::vector<void *> &bufs, const std::function<void *()> &grow) {
  const int64_t n = batch_ * dim_;
  const double steps = (double)grid.size();
  size_t cur = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    step_ = i;
    size_t o = 0;
    while (o < bufs.size() && (o == cur || state.holds(bufs[o])))
      ++o;
    if (o == bufs.size())
      bufs.push_back(grow());
    std::array<double, DFS_CTX_FIELDS> c{(double)i, steps, i == 0 ? 1.0 : 0.0,
                                         i + 1 == grid.size() ? 1.0 : 0.0, 0.0};
    sampler_.step(&head_, n, bufs[cur], bufs[o], grid[i].s.data(), grid[i].t.data(), c.data(),
                  state.pin.data(), state.pout.data(), state.sin.data(), state.sout.data());
    cur = o;
    state.rotate();
    if (!device_ && std::getenv("DIFFUSE_TRACE")) {
      // Debugging aid: the first row of the state after each step.
      std::fprintf(stderr, "step %zu tau %.17g -> %.17g:", i, grid[i].s[DFS_POINT_TAU],
                   grid[i].t[DFS_POINT_TAU]);
      for (int64_t j = 0; j < dim_; ++j)
        std::fprintf(stderr, " %.17g",
                     f32_ ? (double)((const float *)bufs[cur])[j] : ((const double *)bufs[cur])[j]);
      std::fprintf(stderr, "\n");
    }
  }
  return cur;
}

Point Runner::pointAtLambda(double lambda) const {
  if (coords_ == Coords::Ve)
    return pointAtTau(std::exp(-lambda));
  Point p = pointAt(timeAtLambda(lambda));
  if (coords_ == Coords::Lambda)
    p[DFS_POINT_TAU] = lambda; // the requested time exactly
  return p;
}

double Runner::timeAtLambda(double lambda) const {
  auto [lo, hi] = timeRange();
  if (sampler_.tOfLambda) {
    double t = sampler_.tOfLambda(lambda);
    if (!std::isnan(t))
      return std::clamp(t, lo, hi);
  }
  auto lam = [&](double t) {
    Point p = pointAt(t);
    return std::log(p[DFS_POINT_A] / p[DFS_POINT_S]);
  };
  return invertTime(lam, lambda);
}

Point Runner::pointAtModelTime(double tm, int model) const {
  const ModelInfo &mi = models_[(size_t)model];
  const std::string &enc = mi.time;
  if (enc == "scaled")
    return pointAt((tm - mi.timeOffset) / mi.timeScale);
  if (enc == "sigma" || enc == "c_noise") {
    double sigmaVe = enc == "sigma" ? tm : std::exp(4 * tm);
    return pointAt(invertTime(
        [&](double t) {
          Point p = pointAt(t);
          return p[DFS_POINT_S] / p[DFS_POINT_A];
        },
        sigmaVe));
  }
  return pointAt(tm);
}

std::pair<double, double> Runner::timeRange() const {
  const Manifest &m = sampler_.manifest;
  if (m.str("process.kind") == "discrete")
    return {1.0 / (double)logAlpha_.size(), 1.0};
  std::vector<double> dom = m.nums("process.domain");
  if (dom.size() != 2)
    return {0.0, 1.0};
  return {dom[0], dom[1]};
}

double Runner::invertTime(const std::function<double(double)> &f, double target) const {
  auto [lo, hi] = timeRange();
  bool up = f(hi) > f(lo);
  for (int i = 0; i < 200 && lo < hi; ++i) {
    double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi)
      break;
    if ((f(mid) > target) == up)
      hi = mid;
    else
      lo = mid;
  }
  return 0.5 * (lo + hi);
}

bool Runner::setInput(int which, const std::vector<double> &values, std::string &err) {
  const char *what = which == DFS_INPUT_DATA ? "the known data" : "the mask";
  size_t n = (size_t)(batch_ * dim_);
  if (values.size() != n && values.size() != (size_t)dim_) {
    err = std::string(what) + " has " + std::to_string(values.size()) + " values; give " +
          std::to_string(dim_) + " (one for every sample) or batch x " + std::to_string(dim_) +
          " = " + std::to_string(n);
    return false;
  }
  std::vector<double> &in = inputs_[(size_t)which];
  in.assign(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double v = values[values.size() == n ? i : i % (size_t)dim_];
    if (f32_)
      reinterpret_cast<float *>(in.data())[i] = (float)v;
    else
      in[i] = v;
  }
  return true;
}

bool Runner::setCondition(const std::string &name, int set, std::vector<double> values,
                          std::string &err) {
  const InputSpec *spec = nullptr;
  std::string known;
  for (const ModelInfo &model : models_)
    for (const InputSpec &in : model.inputs) {
      if (in.name == name)
        spec = &in;
      known += (known.empty() ? "" : ", ") + in.name;
    }
  if (!spec) {
    err = "no model of the sampler takes a conditioning input named '" + name + "'" +
          (known.empty() ? std::string(" (its models take none)") : " (inputs: " + known + ")");
    return false;
  }
  if (set < -1) {
    err = "a condition set is -1 (none) or >= 0, got " + std::to_string(set);
    return false;
  }
  if ((int64_t)values.size() != spec->dim && (int64_t)values.size() != batch_ * spec->dim) {
    err = "input '" + name + "' takes " + std::to_string(spec->dim) + " values per sample (" +
          std::to_string(batch_) + " x " + std::to_string(spec->dim) +
          ", or one sample's that every sample shares), got " + std::to_string(values.size());
    return false;
  }
  conditions_[name][set] = std::move(values);
  for (auto &c : callConds_)
    c.key.clear();
  return true;
}

std::string Runner::checkInputs() const {
  const Manifest &m = sampler_.manifest;
  if (m.num("inpaint") != 0 && (inputs_[DFS_INPUT_DATA].empty() || inputs_[DFS_INPUT_MASK].empty()))
    return std::string("the sampler inpaints, but no ") +
           (inputs_[DFS_INPUT_DATA].empty() ? "known data" : "mask") +
           " was given (Runner::setInput; diffuse run --x-data D.npy --mask M.npy)";
  long models = (long)m.num("models", 1);
  for (long k = 1; k < models; ++k)
    if ((size_t)k >= nets_.size() || !nets_[(size_t)k])
      return "the sampler's guidance calls model '" + models_[(size_t)k].name +
             "', but no network was given for it (Runner::setNetwork(" + std::to_string(k) +
             ", ...))";
  // Label sets the guidance evaluates (cond(k)); set 0 may be absent (an
  // unconditional call then), but not a later one once set 0 is given.
  for (double cd : m.nums("guidance.eval_conds")) {
    size_t c = cd > 0 ? (size_t)cd : 0;
    if (c > 0 && !labels_.empty() && (c >= labels_.size() || labels_[c].empty()))
      return "the sampler's guidance evaluates label set " + std::to_string(c) + " (cond(" +
             std::to_string(c) + ")), but only " + std::to_string(labels_.size()) +
             " label set(s) were given";
  }
  // Every condition set a model with named inputs is called with.
  std::vector<std::pair<std::string, int>> calls; // (model name, set)
  std::vector<double> conds = m.nums("guidance.eval_conds");
  std::stringstream names(m.str("guidance.eval_models"));
  std::string nm;
  for (size_t i = 0; std::getline(names, nm, ',') && i < conds.size(); ++i)
    calls.push_back({nm, (int)conds[i]});
  if (!m.has("guidance.name") && m.num("model.conditional") != 0)
    calls.push_back({m.str("model.name"), 0});
  for (const ModelInfo &mi : models_) {
    const std::string &model = mi.name;
    for (const auto &[callee, set] : calls) {
      if (callee != model || set < 0)
        continue;
      for (const InputSpec &in : mi.inputs) {
        auto it = conditions_.find(in.name);
        if (it == conditions_.end() || !it->second.count(set))
          return "model '" + model + "' is called with " +
                 (set == 0 ? std::string("cond") : "cond(" + std::to_string(set) + ")") +
                 ", but its input '" + in.name + "' has no value for condition set " +
                 std::to_string(set) + " (Runner::setCondition(\"" + in.name + "\", " +
                 std::to_string(set) + ", ...); diffuse run --cond " + in.name +
                 (set == 0 ? "" : "." + std::to_string(set)) + "=FILE.npy)";
      }
    }
  }
  for (const auto &l : labels_)
    if (!l.empty() && (int64_t)l.size() != batch_)
      return "a label set has " + std::to_string(l.size()) + " labels for a batch of " +
             std::to_string(batch_);
  return "";
}

bool Runner::run(std::vector<double> &x, std::string &err) {
  std::vector<Step> grid = buildGrid(err);
  if (grid.empty()) {
    if (err.empty())
      err = "the time grid is empty";
    return false;
  }
  int64_t n = batch_ * dim_;
  if ((int64_t)x.size() != n) {
    err = "state has " + std::to_string(x.size()) + " elements, expected " + std::to_string(n);
    return false;
  }
  if (err = checkInputs(); !err.empty())
    return false;
  if (device_)
    return runOnDevice(x, grid, err);
  const bool adaptive = this->adaptive();
  SolverState state; // runAdaptive keeps its own
  if (!adaptive)
    state.reset((size_t)manifest().num("state.fields"), (size_t)manifest().num("state.scalars"),
                (size_t)n);
  // The step loop, on float64 or float32 state. A step may keep its input
  // x as state by pointing a state output at it (UniPC's x_last), so each
  // step writes into a buffer that is neither its x nor held by the state.
  auto loop = [&](auto &x0) -> bool {
    if (adaptive)
      return runAdaptive(x0, grid, err);
    using Buf = std::decay_t<decltype(x0)>;
    std::vector<Buf> store; // moving a Buf keeps its data where it is
    store.push_back(x0);
    store.emplace_back(x0.size());
    std::vector<void *> bufs{store[0].data(), store[1].data()};
    size_t cur = stepLoop(grid, state, bufs, [&] {
      store.emplace_back(x0.size());
      return (void *)store.back().data();
    });
    x0 = std::move(store[cur]);
    return true;
  };
  bool ok;
  if (f32_) {
    std::vector<float> xf(x.begin(), x.end());
    ok = loop(xf);
    x.assign(xf.begin(), xf.end());
  } else {
    ok = loop(x);
  }
  if (ok && !noiseError_.empty()) {
    err = noiseError_;
    return false;
  }
  return ok;
}

} // namespace diffuse::rt
