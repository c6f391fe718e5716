//===- RunnerTest.cpp - the runner with compiled samplers -----------------===//
//
// Compiles specs through the whole pipeline and checks what the runner does
// around the compiled step: a guided call passes its input once to networks
// that read repeated rows, and is copied to twice the batch for the others,
// with identical results; state re-pointed between steps instead of copied
// gives the same samples in the fused and the eager (op by op) build (the
// golden UniPC and DPM-Solver++ cases check the values themselves).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Diagnostics.h"
#include "compiler/Pipelines/Pipeline.h"
#include "compiler/tools/diffuse/Driver.h"
#include "diffuse/likelihood.h"
#include "diffuse/models.h"
#include "diffuse/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

using namespace diffuse;

namespace {

std::string writeSpec(const std::string &name, const std::string &text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::unique_ptr<rt::CompiledSampler> compile(const std::string &path, bool eager = false,
                                             const std::string &sampler = "") {
  CompileOptions o;
  o.specPath = path;
  o.importPaths = {stdlibDir()};
  o.eager = eager;
  o.samplerName = sampler;
  DiagEngine diag(std::cerr);
  return compileAndLoad(o, diag);
}

/// The mixture network, recording how many rows of x each call stored, and
/// accepting repeated rows or not (then the runner stages [x; x] itself).
struct RecordingNetwork : rt::Network {
  rt::GaussianMixtureNetwork &inner;
  bool repeated;
  int64_t rowsSeen = -1;
  RecordingNetwork(rt::GaussianMixtureNetwork &n, bool repeated) : inner(n), repeated(repeated) {}
  void evaluate(const dfs_net_call &call) override {
    rowsSeen = call.x_rows;
    inner.evaluate(call);
  }
  bool acceptsRepeatedRows() const override { return repeated; }
};

std::vector<double> sample(const rt::CompiledSampler &s, rt::Network &net, int64_t batch) {
  rt::Runner r(s, net, batch, 2);
  std::vector<int32_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i)
    labels[i] = (int32_t)(i % 2);
  r.setLabels(labels);
  std::vector<double> x((size_t)(batch * 2));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(1.0 + 3.7 * (double)i);
  std::string err;
  EXPECT_TRUE(r.run(x, err)) << err;
  return x;
}

rt::GaussianMixtureNetwork flowNetwork(rt::Runner *&self) {
  return rt::GaussianMixtureNetwork(
      rt::Mixture::ring2d(),
      [&self](double t) {
        rt::Point p = self->pointAt(t);
        return rt::TimeDecode{p[DFS_POINT_A], p[DFS_POINT_S], p[DFS_POINT_DA], p[DFS_POINT_DS]};
      },
      rt::Output::Velocity);
}

const char *kGuided = R"(
import "solvers/dpmpp_2m.dfs"
import "guidance/cfg.dfs"
process rf { alpha(t) = 1 - t  sigma(t) = t  domain = [0.001, 0.999] }
model v(x: f64[2]) { predicts = velocity  time = t  cond = class }
sampler q { process = rf  model = v  solver = dpmpp_2m  coords = native  guidance = cfg(w = 3)  grid = uniform(steps = 12) }
)";

const char *kState = R"(
import "solvers/unipc3.dfs"
process rf { alpha(t) = 1 - t  sigma(t) = t  domain = [0.001, 0.999] }
model v(x: f64[2]) { predicts = velocity  time = t }
sampler q { process = rf  model = v  solver = unipc3  coords = native  grid = uniform(steps = 12) }
)";

} // namespace

TEST(Runner, GuidedInputPassedOnceOrStagedGivesTheSameSamples) {
  auto s = compile(writeSpec("guided.dfs", kGuided));
  ASSERT_TRUE(s);
  const int64_t batch = 37;
  // The network decodes time through a runner over the same sampler.
  struct Null : rt::Network {
    void evaluate(const dfs_net_call &) override {}
  } null;
  rt::Runner clock(*s, null, 1, 2);
  rt::Runner *self = &clock;
  auto mix = flowNetwork(self);
  RecordingNetwork once(mix, /*repeated=*/true), staged(mix, /*repeated=*/false);
  auto a = sample(*s, once, batch);
  auto b = sample(*s, staged, batch);
  EXPECT_EQ(once.rowsSeen, batch);      // [x; x] passed as x, read twice
  EXPECT_EQ(staged.rowsSeen, 2 * batch); // copied out to 2 x batch rows
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i], b[i]) << i;
}

TEST(Runner, StateCarriedWithoutCopiesMatchesEager) {
  // UniPC-3 carries two saved outputs and re-points one of them each step.
  auto fused = compile(writeSpec("state.dfs", kState));
  auto eager = compile(writeSpec("state.dfs", kState), /*eager=*/true);
  ASSERT_TRUE(fused && eager);
  struct Null : rt::Network {
    void evaluate(const dfs_net_call &) override {}
  } null;
  rt::Runner clock(*fused, null, 1, 2);
  rt::Runner *self = &clock;
  auto mix = flowNetwork(self);
  auto a = sample(*fused, mix, 64);
  auto b = sample(*eager, mix, 64);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, 1e-12);
  EXPECT_TRUE(std::isfinite(a[0]));
}

TEST(Runner, RefusesASamplerBuiltForAnotherAbi) {
  // A stand-in for a sampler built by an older diffuse: its manifest says ABI 1.
  std::string src = writeSpec("old_abi.c", "void dfs_step(void) {}\n"
                                           "const char dfs_manifest[] = \"diffuse_abi=1\\n\";\n");
  std::string so = testing::TempDir() + "/old_abi.so";
  ASSERT_EQ(std::system(("cc -shared -fPIC -o " + so + " " + src).c_str()), 0);
  std::string err;
  EXPECT_EQ(rt::CompiledSampler::load(so, err), nullptr);
  EXPECT_EQ(err, so + " was compiled for the runtime ABI 1, this runtime has ABI 7; rebuild it "
                      "with this diffuse");
}

TEST(Runner, SaysWhichNetworkOrLabelSetAGuidanceLacks) {
  // Composable guidance over label sets 0 and 1, and autoguidance with a
  // second model: the runner refuses to start without what they evaluate.
  std::string path = writeSpec("evals.dfs", R"(
import "solvers/euler.dfs"
import "guidance/evaluations.dfs"
process rf { alpha(t) = 1 - t  sigma(t) = t  domain = [0.001, 0.999] }
model v(x: f64[2]) { predicts = velocity  cond = class }
model small(x: f64[2]) { predicts = velocity  cond = class }
sampler both { process = rf  model = v  solver = euler  guidance = compose  grid = uniform(steps = 2) }
sampler auto { process = rf  model = v  solver = euler  guidance = autoguidance(guide = small)  grid = uniform(steps = 2) }
)");
  auto s = compile(path, false, "both");
  ASSERT_TRUE(s);
  struct Null : rt::Network {
    void evaluate(const dfs_net_call &) override {}
  } null;
  std::vector<double> x(4, 0.5);
  std::string err;
  rt::Runner r(*s, null, 2, 2);
  r.setLabels({0, 1});
  EXPECT_FALSE(r.run(x, err));
  EXPECT_EQ(err, "the sampler's guidance evaluates label set 1 (cond(1)), but only 1 label "
                 "set(s) were given");
  r.setLabels({1, 0}, 1);
  EXPECT_TRUE(r.run(x, err)) << err;
  r.setLabels({1, 0, 1}, 1);
  EXPECT_FALSE(r.run(x, err));
  EXPECT_EQ(err, "a label set has 3 labels for a batch of 2");

  auto a = compile(path, false, "auto");
  ASSERT_TRUE(a);
  rt::Runner ra(*a, null, 2, 2);
  EXPECT_FALSE(ra.run(x, err));
  EXPECT_EQ(err, "the sampler's guidance calls model 'small', but no network was given for it "
                 "(Runner::setNetwork(1, ...))");
  ra.setNetwork(1, null);
  EXPECT_TRUE(ra.run(x, err)) << err;
}

TEST(Runner, PassesNamedConditioningInputsPerConditionSet) {
  // A model with two named inputs (one f32, one f64) and class labels, under
  // negative-prompt guidance: one call of 3 x batch rows (none, cond,
  // cond(1)), each block with its set's values.
  std::string path = writeSpec("inputs.dfs", R"(
import "solvers/euler.dfs"
import "guidance/evaluations.dfs"
process rf { alpha(t) = 1 - t  sigma(t) = t  domain = [0.001, 0.999] }
model v(x: f64[2], text: f32[2, 3], pooled: f64[2]) { predicts = velocity  cond = class }
model plain(x: f64[2]) { predicts = velocity }
sampler neg { process = rf  model = v  solver = euler  guidance = compose  grid = uniform(steps = 1) }
sampler unguided { process = rf  model = v  solver = euler  grid = uniform(steps = 1) }
sampler none { process = rf  model = plain  solver = euler  grid = uniform(steps = 1) }
)");
  auto s = compile(path, false, "neg");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->manifest.str("model.inputs"), "text:f32:2x3,pooled:f64:2");
  struct Capture : rt::Network {
    std::vector<std::string> names;
    std::vector<int64_t> dims;
    std::vector<dfs_dtype> dtypes;
    std::vector<std::vector<double>> values; // per input: rows x dim
    std::vector<int32_t> labels;
    void evaluate(const dfs_net_call &c) override {
      names.clear(), dims.clear(), dtypes.clear(), values.clear();
      for (int64_t k = 0; k < c.n_inputs; ++k) {
        const dfs_net_input &in = c.inputs[k];
        names.push_back(in.name);
        dims.push_back(in.dim);
        dtypes.push_back(in.dtype);
        std::vector<double> v;
        for (int64_t i = 0; i < c.batch * in.dim; ++i)
          v.push_back(in.dtype == DFS_F32 ? ((const float *)in.data)[i]
                                          : ((const double *)in.data)[i]);
        values.push_back(v);
      }
      labels.assign(c.labels, c.labels + c.batch);
      std::fill_n((double *)c.out, c.batch * c.dim, 0.0);
    }
  } net;
  rt::Runner r(*s, net, 2, 2);
  ASSERT_EQ(r.inputs(0).size(), 2u);
  EXPECT_EQ(r.inputs(0)[0].dim, 6);
  std::vector<double> x(4, 0.5);
  std::string err;
  r.setLabels({0, 1});
  r.setLabels({1, 0}, 1);
  EXPECT_FALSE(r.run(x, err));
  EXPECT_EQ(err, "model 'v' is called with cond, but its input 'text' has no value for "
                 "condition set 0 (Runner::setCondition(\"text\", 0, ...); diffuse run --cond "
                 "text=FILE.npy)");
  // Set 0 per sample, set 1 shared by the batch, none given for pooled only.
  std::vector<double> text0(12), text1(6);
  for (int i = 0; i < 12; ++i)
    text0[(size_t)i] = i + 1;
  for (int i = 0; i < 6; ++i)
    text1[(size_t)i] = -(i + 1);
  ASSERT_TRUE(r.setCondition("text", 0, text0, err)) << err;
  ASSERT_TRUE(r.setCondition("pooled", 0, {7, 8}, err)) << err;
  ASSERT_TRUE(r.setCondition("pooled", -1, {0.5, 0.25}, err)) << err;
  EXPECT_FALSE(r.run(x, err));
  EXPECT_EQ(err, "model 'v' is called with cond(1), but its input 'text' has no value for "
                 "condition set 1 (Runner::setCondition(\"text\", 1, ...); diffuse run --cond "
                 "text.1=FILE.npy)");
  ASSERT_TRUE(r.setCondition("text", 1, text1, err)) << err;
  ASSERT_TRUE(r.setCondition("pooled", 1, {9, 10, 11, 12}, err)) << err;
  ASSERT_TRUE(r.run(x, err)) << err;
  EXPECT_EQ(net.names, (std::vector<std::string>{"text", "pooled"}));
  EXPECT_EQ(net.dims, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(net.dtypes, (std::vector<dfs_dtype>{DFS_F32, DFS_F64}));
  std::vector<double> text(12, 0.0);                  // none: zeros
  text.insert(text.end(), text0.begin(), text0.end()); // cond: per sample
  text.insert(text.end(), text1.begin(), text1.end()); // cond(1): shared
  text.insert(text.end(), text1.begin(), text1.end());
  EXPECT_EQ(net.values[0], text);
  EXPECT_EQ(net.values[1], (std::vector<double>{0.5, 0.25, 0.5, 0.25, 7, 8, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(net.labels, (std::vector<int32_t>{-1, -1, 0, 1, 1, 0}));

  // Wrong names and sizes are refused where they are given.
  EXPECT_FALSE(r.setCondition("txt", 0, text0, err));
  EXPECT_EQ(err, "no model of the sampler takes a conditioning input named 'txt' (inputs: "
                 "text, pooled)");
  EXPECT_FALSE(r.setCondition("text", 0, {1, 2, 3}, err));
  EXPECT_EQ(err, "input 'text' takes 6 values per sample (2 x 6, or one sample's that every "
                 "sample shares), got 3");

  // Unguided: one call with set 0.
  auto u = compile(path, false, "unguided");
  ASSERT_TRUE(u);
  rt::Runner ru(*u, net, 2, 2);
  ASSERT_TRUE(ru.setCondition("text", 0, text1, err)) << err;
  EXPECT_FALSE(ru.run(x, err));
  EXPECT_EQ(err.substr(0, 68), "model 'v' is called with cond, but its input 'pooled' has no value f");
  ASSERT_TRUE(ru.setCondition("pooled", 0, {3, 4}, err)) << err;
  ASSERT_TRUE(ru.run(x, err)) << err;
  EXPECT_EQ(net.values[1], (std::vector<double>{3, 4, 3, 4}));
  EXPECT_EQ(net.labels, (std::vector<int32_t>{-1, -1})); // no label set given

  // A model without inputs: none passed, and a name is refused.
  auto n = compile(path, false, "none");
  ASSERT_TRUE(n);
  rt::Runner rn(*n, net, 2, 2);
  EXPECT_FALSE(rn.setCondition("text", 0, text1, err));
  EXPECT_EQ(err, "no model of the sampler takes a conditioning input named 'text' (its models "
                 "take none)");
  ASSERT_TRUE(rn.run(x, err)) << err;
  EXPECT_TRUE(net.names.empty());
}

TEST(Runner, LearnedVarianceSplitsTheNetworksRowsAndTakesTheConditionalOne) {
  // DDPM with a learned variance under CFG: one call of [uncond; cond]
  // rows, each row the eps channels and then v; the step takes the guided
  // eps and the conditional rows' v (Nichol & Dhariwal's learned_range).
  std::string path = writeSpec("learned.dfs", R"(
import "solvers/ddpm.dfs"
import "guidance/cfg.dfs"
process vp { discrete = linear(beta_start = 0.0001, beta_end = 0.02) }
model m(x: f64[3]) { predicts = eps  cond = class  variance = learned_range }
sampler q { process = vp  model = m  solver = ddpm_learned  guidance = cfg(w = 2)  grid = leading(steps = 4) }
)");
  auto s = compile(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->manifest.str("model.variance"), "learned_range");
  const int64_t batch = 2, dim = 3;
  struct TwoHalves : rt::Network {
    int64_t rows = 0;
    void evaluate(const dfs_net_call &c) override {
      rows = c.batch;
      double *o = (double *)c.out;
      for (int64_t r = 0; r < c.batch; ++r) {
        bool cond = r >= c.batch / 2;
        for (int64_t j = 0; j < c.dim; ++j) {
          o[r * 2 * c.dim + j] = cond ? 0.3 : 0.1;                      // eps
          o[r * 2 * c.dim + c.dim + j] = cond ? -0.5 + 0.25 * j : 0.9; // v
        }
      }
    }
  } net;
  rt::Runner r(*s, net, batch, dim);
  r.setLabels({0, 1});
  std::vector<std::vector<double>> ones(1, std::vector<double>(batch * dim, 1.0));
  r.setNoise(std::make_shared<rt::ReplayNoise>(ones));
  std::string err;
  auto grid = r.buildGrid(err);
  ASSERT_FALSE(grid.empty()) << err;
  std::vector<double> x(batch * dim), out(batch * dim);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.5 - 0.2 * (double)i;
  r.stepOnce(x.data(), out.data(), grid[0].s, grid[0].t);
  EXPECT_EQ(net.rows, 2 * batch);
  // diffusers' DDPMScheduler.step, variance_type = "learned_range".
  auto acp = rt::alphasCumprod(s->manifest);
  double at = acp[(size_t)grid[0].s[DFS_POINT_TMODEL]], ap = acp[(size_t)grid[0].t[DFS_POINT_TMODEL]];
  double beta = 1 - at / ap, eps = 0.1 + 2 * (0.3 - 0.1);
  double c0 = std::sqrt(ap) * beta / (1 - at), c1 = std::sqrt(at / ap) * (1 - ap) / (1 - at);
  double tilde = std::max((1 - ap) / (1 - at) * beta, 1e-20);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < dim; ++j) {
      double xi = x[i * dim + j], x0 = (xi - std::sqrt(1 - at) * eps) / std::sqrt(at);
      double frac = (-0.5 + 0.25 * j + 1) / 2;
      double lv = frac * std::log(beta) + (1 - frac) * std::log(tilde);
      double want = c0 * x0 + c1 * xi + std::exp(0.5 * lv);
      EXPECT_NEAR(out[i * dim + j], want, 1e-13 * std::fabs(want)) << i << "," << j;
    }
}

namespace {
/// The analytic network behind the C function ABI (no divergence offered).
int callAnalytic(void *user, const dfs_net_call *call) {
  static_cast<rt::Network *>(user)->evaluate(*call);
  return 0;
}
/// A trace that works once and then fails.
int onceTrace(void *user, const dfs_net_call *call, double *trace) {
  int &calls = *static_cast<int *>(user);
  std::fill_n(trace, call->batch, 0.0);
  return calls++ == 0 ? 0 : 1;
}
int zeros(void *, const dfs_net_call *call) {
  std::fill_n(static_cast<double *>(call->out), call->batch * call->dim, 0.0);
  return 0;
}
} // namespace

TEST(Likelihood, AxisDifferencesGiveTheExactTraceOfANetworkWithoutOne) {
  auto s = compile(writeSpec("lik.dfs", kState));
  ASSERT_TRUE(s);
  rt::Runner *self = nullptr;
  rt::GaussianMixtureNetwork net = flowNetwork(self);
  rt::Runner r(*s, net, 8, 2);
  self = &r;
  std::vector<double> x(16), own, fd;
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 2 * std::sin(0.3 + 1.7 * (double)i);
  rt::LikelihoodOptions o;
  std::string err;
  rt::DivergenceKind how;
  ASSERT_TRUE(rt::logLikelihood(r, *s, net, x, 8, 2, o, own, err, &how)) << err;
  EXPECT_EQ(how, rt::DivergenceKind::Network);
  rt::FunctionNetwork plain(callAnalytic, &net);
  ASSERT_TRUE(rt::logLikelihood(r, *s, plain, x, 8, 2, o, fd, err, &how)) << err;
  EXPECT_EQ(how, rt::DivergenceKind::Basis);
  for (size_t i = 0; i < own.size(); ++i)
    EXPECT_NEAR(fd[i], own[i], 1e-6 * (1 + std::fabs(own[i])));

  // More axes than a difference per axis is worth: Hutchinson instead.
  rt::FunctionNetwork wide(zeros, nullptr);
  rt::Runner rw(*s, wide, 1, 65);
  std::vector<double> xw(65, 0.1), out;
  EXPECT_FALSE(rt::logLikelihood(rw, *s, wide, xw, 1, 65, o, out, err));
  EXPECT_EQ(err, "the network gives no exact divergence, and with 65 dimensions (more than 64) "
                 "its Jacobian's trace by differences along each axis is too costly; use "
                 "Hutchinson probes (--probes K)");
  o.probes = 2;
  EXPECT_TRUE(rt::logLikelihood(rw, *s, wide, xw, 1, 65, o, out, err)) << err;
  EXPECT_EQ(rt::DivergenceKind::Hutchinson, (rt::logLikelihood(rw, *s, wide, xw, 1, 65, o, out,
                                                               err, &how), how));

  // A network's own trace that fails midway is an error, not a zero.
  int calls = 0;
  rt::FunctionNetwork flaky(zeros, &calls, onceTrace);
  o.probes = 0;
  EXPECT_FALSE(rt::logLikelihood(rw, *s, flaky, xw, 1, 65, o, out, err));
  EXPECT_EQ(err, "the network's divergence failed during the integration (it succeeded at the "
                 "first call); use Hutchinson probes (--probes K)");
}
