//===- StepBench.cpp - fused steps against the bandwidth floor ------------===//
//
// For Euler, DDIM, DPM-Solver++(2M) with CFG, UniPC and Heun, at several
// sizes, on 1 and 2 threads, in float32 and float64, measures per step:
//   - the fused step (all kernels of one step, network calls made to a
//     network that does nothing, so only Diffuse's own work is timed),
//   - the same step op by op (`--eager`, one pass per arithmetic op),
//   - a STREAM-triad floor a = b + s*c, measured in the same run,
// and reports bytes moved by the minimal schedule (each kernel reads each
// input once and writes each output once), achieved GB/s and percent of
// the triad's. Prints a table, writes CSV and an SVG plot.
//
// Usage: diffuse-bench [--out DIR] [--quick] [Google Benchmark flags]
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Driver.h"
#include "diffuse/runtime.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

using namespace diffuse;

namespace {

const char *kCommon = R"(
import "solvers/euler.dfs"
import "solvers/ddim.dfs"
import "solvers/heun.dfs"
import "solvers/dpmpp_2m.dfs"
import "solvers/unipc.dfs"
import "guidance/cfg.dfs"
process rf { alpha(t) = 1 - t  sigma(t) = t  domain = [0, 1] }
process sd { discrete = scaled_linear(beta_start = 0.00085, beta_end = 0.012, train_steps = 1000) }
model flow(x: @T@[64]) { predicts = velocity }
model unet(x: @T@[64]) { predicts = eps  cond = class }
sampler s_euler { process = rf  model = flow  solver = euler  grid = uniform(steps = 20) }
sampler s_ddim { process = sd  model = unet  solver = ddim  grid = leading(steps = 20, offset = 1) }
sampler s_dpmpp_2m_cfg { process = sd  model = unet  solver = dpmpp_2m  coords = native  guidance = cfg(w = 7.5)  grid = leading(steps = 20, offset = 1) }
sampler s_unipc { process = sd  model = unet  solver = unipc  grid = leading(steps = 20, offset = 1) }
sampler s_heun { process = sd  model = unet  solver = heun  grid = leading(steps = 20, offset = 1) }
)";

const char *kSolvers[] = {"euler", "ddim", "dpmpp_2m_cfg", "unipc", "heun"};
const int64_t kSizes[] = {16 << 10, 64 << 10, 512 << 10, 1 << 20, 16 << 20};

/// A network that returns at once: the benchmark times Diffuse, not a model.
struct NullNetwork : rt::Network {
  void evaluate(const dfs_net_call &) override {}
  bool acceptsRepeatedRows() const override { return true; }
};

struct Result {
  double seconds = 0; // per step
  double bytes = 0;
};

std::map<std::string, Result> results; // key: solver/dtype/size/threads/mode
std::string specDir;

std::unique_ptr<rt::CompiledSampler> compile(const std::string &solver, const std::string &dtype,
                                             bool eager) {
  std::string path = specDir + "/bench-" + dtype + ".dfs";
  CompileOptions o;
  o.specPath = path;
  o.samplerName = "s_" + solver;
  o.importPaths = {stdlibDir()};
  o.eager = eager;
  DiagEngine diag(std::cerr);
  return compileAndLoad(o, diag);
}

void triadTask(void *args, int64_t b, int64_t e) {
  auto **p = (double **)args;
  double *a = p[0], *x = p[1], *y = p[2];
  const double s = 0.5;
  for (int64_t i = b; i < e; ++i)
    a[i] = x[i] + s * y[i];
}

void benchTriad(benchmark::State &st, int64_t n, int threads) {
  std::vector<double> a(n, 0.0), x(n, 1.0), y(n, 2.0);
  rt::ThreadPool pool(threads, /*threshold=*/1 << 19);
  double *args[3] = {a.data(), x.data(), y.data()};
  pool.run(n, triadTask, args);
  for (auto _ : st) {
    pool.run(n, triadTask, args);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(24.0 * n, benchmark::Counter::kIsIterationInvariantRate);
}

void benchStep(benchmark::State &st, rt::CompiledSampler *s, int64_t n, int threads) {
  NullNetwork net;
  rt::Runner runner(*s, net, n / 64, 64);
  runner.setThreads(threads);
  runner.setLabels(std::vector<int32_t>(n / 64, 0));
  std::string err;
  auto grid = runner.buildGrid(err);
  const auto &step = grid.at(1);
  bool f32 = s->manifest.str("dtype") == "f32";
  size_t esz = f32 ? 4 : 8;
  std::vector<char> x(n * esz), out(n * esz);
  if (f32)
    std::fill((float *)x.data(), (float *)x.data() + n, 0.5f);
  else
    std::fill((double *)x.data(), (double *)x.data() + n, 0.5);
  runner.stepOnce(x.data(), out.data(), step.s, step.t); // allocate and touch buffers once
  for (auto _ : st) {
    runner.stepOnce(x.data(), out.data(), step.s, step.t);
    benchmark::DoNotOptimize(out.data());
  }
  double bytes = s->manifest.num("streams.max") * esz * n;
  st.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

/// A whole 20-step sampler with the do-nothing network: per-step time of the
/// run, grid building, dispatch and hooks included.
void benchSampler(benchmark::State &st, rt::CompiledSampler *s, int64_t n) {
  NullNetwork net;
  rt::Runner runner(*s, net, n / 64, 64);
  runner.setLabels(std::vector<int32_t>(n / 64, 0));
  std::vector<double> x(n, 0.5);
  std::string err;
  auto x0 = x;
  runner.run(x, err);
  for (auto _ : st) {
    x = x0;
    runner.run(x, err);
    benchmark::DoNotOptimize(x.data());
  }
  st.counters["per_step_us"] = benchmark::Counter(
      20e-6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

class Collector : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run> &runs) override {
    for (const auto &r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred)
        continue;
      std::string name = r.benchmark_name();
      name = name.substr(0, name.find("/min_time"));
      Result &res = results[name];
      res.seconds = r.GetAdjustedRealTime() * 1e-9; // time unit: ns
      auto it = r.counters.find("GB/s");
      if (it != r.counters.end())
        res.bytes = it->second.value * res.seconds;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::string fmt(double v, int prec = 1) {
  char b[32];
  snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string sizeName(int64_t n) {
  return n >= (1 << 20) ? std::to_string(n >> 20) + "M" : std::to_string(n >> 10) + "K";
}

void writeSvg(const std::string &path, const std::vector<std::string> &dtypes) {
  // GB/s against size (log), one line per solver (fused, 2 threads, f32),
  // the triad floor dashed.
  const int W = 760, H = 460, L = 70, R = 180, T = 40, B = 60;
  std::ofstream f(path);
  f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  double ymax = 1;
  for (auto &[k, r] : results)
    if (r.seconds > 0)
      ymax = std::max(ymax, r.bytes / r.seconds / 1e9);
  ymax = std::ceil(ymax / 10) * 10;
  auto X = [&](int i) { return L + (W - L - R) * i / 4.0; };
  auto Y = [&](double g) { return H - B - (H - T - B) * g / ymax; };
  f << "<text x='" << L << "' y='22' font-size='14'>Fused step vs. STREAM triad, 2 threads, "
    << dtypes.back() << " (GB/s; higher is better)</text>\n";
  for (int i = 0; i < 5; ++i)
    f << "<text x='" << X(i) - 12 << "' y='" << H - B + 18 << "'>" << sizeName(kSizes[i])
      << "</text>\n";
  f << "<text x='" << (W - R) / 2 << "' y='" << H - 20 << "'>elements</text>\n";
  for (int g = 0; g <= 4; ++g) {
    double v = ymax * g / 4;
    f << "<line x1='" << L << "' x2='" << W - R << "' y1='" << Y(v) << "' y2='" << Y(v)
      << "' stroke='#ddd'/><text x='" << L - 40 << "' y='" << Y(v) + 4 << "'>" << fmt(v, 0)
      << "</text>\n";
  }
  const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#000"};
  std::vector<std::string> series(std::begin(kSolvers), std::end(kSolvers));
  series.push_back("triad");
  for (size_t si = 0; si < series.size(); ++si) {
    std::string pts;
    for (int i = 0; i < 5; ++i) {
      std::string key = series[si] == "triad"
                            ? "triad/" + std::to_string(kSizes[i]) + "/2"
                            : series[si] + "/" + dtypes.back() + "/" + std::to_string(kSizes[i]) +
                                  "/2/fused";
      auto it = results.find(key);
      if (it == results.end() || it->second.seconds <= 0)
        continue;
      pts += fmt(X(i)) + "," + fmt(Y(it->second.bytes / it->second.seconds / 1e9)) + " ";
    }
    f << "<polyline fill='none' stroke-width='2' stroke='" << colors[si] << "' points='" << pts
      << "'" << (series[si] == "triad" ? " stroke-dasharray='6,4'" : "") << "/>\n";
    f << "<text x='" << W - R + 10 << "' y='" << T + 20 + 18 * si << "' fill='" << colors[si]
      << "'>" << series[si] << "</text>\n";
  }
  f << "</svg>\n";
}

} // namespace

int main(int argc, char **argv) {
  std::string outDir = ".";
  bool quick = false;
  std::vector<char *> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc)
      outDir = argv[++i];
    else if (a == "--quick")
      quick = true;
    else
      rest.push_back(argv[i]);
  }
  specDir = outDir;
  std::vector<std::string> dtypes = {"f64", "f32"};
  for (const auto &dt : dtypes) {
    std::string text = kCommon;
    for (size_t p; (p = text.find("@T@")) != std::string::npos;)
      text.replace(p, 3, dt);
    std::ofstream(specDir + "/bench-" + dt + ".dfs") << text;
  }

  // Compile every sampler, fused and eager, and time the compilation.
  std::map<std::string, std::unique_ptr<rt::CompiledSampler>> samplers;
  double compileMs = 0;
  int compiled = 0;
  for (const auto &dt : dtypes)
    for (const char *s : kSolvers)
      for (bool eager : {false, true}) {
        auto t0 = std::chrono::steady_clock::now();
        auto c = compile(s, dt, eager);
        compileMs +=
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ++compiled;
        if (!c)
          return 1;
        samplers[std::string(s) + "/" + dt + (eager ? "/eager" : "/fused")] = std::move(c);
      }

  std::vector<int64_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (int64_t n : sizes)
    for (int th : {1, 2}) {
      benchmark::RegisterBenchmark(("triad/" + std::to_string(n) + "/" + std::to_string(th)).c_str(),
                                   benchTriad, n, th)
          ->MinTime(quick ? 0.02 : 0.2);
      for (const auto &dt : dtypes)
        for (const char *s : kSolvers)
          for (const char *mode : {"fused", "eager"}) {
            if (quick && n > (1 << 20))
              continue;
            std::string key = std::string(s) + "/" + dt + "/" + std::to_string(n) + "/" +
                              std::to_string(th) + "/" + mode;
            benchmark::RegisterBenchmark(key.c_str(), benchStep,
                                         samplers[std::string(s) + "/" + dt + "/" + mode].get(),
                                         n, th)
                ->MinTime(quick ? 0.02 : 0.2);
          }
    }
  for (const auto &dt : dtypes)
    for (const char *s : kSolvers)
      benchmark::RegisterBenchmark(("sampler/" + std::string(s) + "/" + dt + "/16384").c_str(),
                                   benchSampler, samplers[std::string(s) + "/" + dt + "/fused"].get(),
                                   int64_t(16384))
          ->MinTime(quick ? 0.02 : 0.2);
  int rc = (int)rest.size();
  benchmark::Initialize(&rc, rest.data());
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);

  // The table and the CSV.
  std::ofstream csv(outDir + "/bench.csv");
  csv << "solver,dtype,elements,threads,fused_us,eager_us,bytes,fused_GBps,triad_GBps,"
         "percent_of_triad,speedup_vs_eager\n";
  std::printf("\n%-13s %-4s %6s %2s %10s %10s %8s %8s %6s %8s\n", "solver", "type", "size", "th",
              "fused us", "eager us", "GB/s", "triad", "%", "x eager");
  for (const char *s : kSolvers)
    for (const auto &dt : dtypes)
      for (int64_t n : sizes)
        for (int th : {1, 2}) {
          std::string base = std::string(s) + "/" + dt + "/" + std::to_string(n) + "/" +
                             std::to_string(th);
          auto f = results.find(base + "/fused"), e = results.find(base + "/eager");
          auto t = results.find("triad/" + std::to_string(n) + "/" + std::to_string(th));
          if (f == results.end() || e == results.end() || t == results.end())
            continue;
          double gbs = f->second.bytes / f->second.seconds / 1e9;
          double triad = t->second.bytes / t->second.seconds / 1e9;
          double speed = e->second.seconds / f->second.seconds;
          std::printf("%-13s %-4s %6s %2d %10.1f %10.1f %8.1f %8.1f %6.0f %8.1f\n", s, dt.c_str(),
                      sizeName(n).c_str(), th, f->second.seconds * 1e6, e->second.seconds * 1e6,
                      gbs, triad, 100 * gbs / triad, speed);
          csv << s << "," << dt << "," << n << "," << th << "," << f->second.seconds * 1e6 << ","
              << e->second.seconds * 1e6 << "," << f->second.bytes << "," << gbs << "," << triad
              << "," << 100 * gbs / triad << "," << speed << "\n";
        }
  std::printf("\nwhole 20-step sampler at 16K elements, do-nothing network, per step (us):\n");
  for (const char *s : kSolvers)
    for (const auto &dt : dtypes) {
      auto it = results.find("sampler/" + std::string(s) + "/" + dt + "/16384");
      if (it != results.end())
        std::printf("  %-13s %s %6.1f\n", s, dt.c_str(), it->second.seconds / 20 * 1e6);
    }
  std::printf("\ncompile (parse .. object .. linked .so .. loaded), mean of %d samplers: %.0f ms\n",
              compiled, compileMs / compiled);
  writeSvg(outDir + "/bench.svg", {"f32"});
  std::printf("wrote %s/bench.csv and %s/bench.svg\n", outDir.c_str(), outDir.c_str());
  return 0;
}
