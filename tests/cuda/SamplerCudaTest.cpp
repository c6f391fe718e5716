//===- SamplerCudaTest.cpp - compiled samplers on the GPU equal the host --===//
//
// usage: DiffuseSamplerCudaTests OUTDIR [--no-kernels CPU.so] [--adaptive A.so] SAMPLER.so...
// Each shared object (built with `diffuse build --shared --device cuda`)
// samples the built-in 2-D mixture twice from the same start and seed: on
// the host, and with its tensors and kernels on the GPU. The results must
// agree to 1e-12 (relative to the largest value): the kernels do the same
// float operations in the same order (no contraction to FMA on either
// side), the network is the same host code, and the device draws the same
// counter-based noise up to its log/cos rounding. Deterministic samplers
// are expected to agree exactly; the test says which did.
//
// --no-kernels and --adaptive check the wording of what a GPU run refuses:
// a sampler built without --device cuda, and an adaptive solver.
//
// Needs a GPU: prints "skipped: no GPU" and exits 77 (ctest: skipped)
// where there is none.
//
//===----------------------------------------------------------------------===//
#include "diffuse/demo.h"
#include "diffuse/io.h"

#include <cmath>
#include <cstdio>
#include <cuda_runtime.h>
#include <filesystem>
#include <sstream>

using namespace diffuse::rt;

int main(int argc, char **argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("skipped: no GPU\n");
    return 77;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTDIR SAMPLER.so...\n", argv[0]);
    return 2;
  }
  std::string out = argv[1];
  std::filesystem::create_directories(out);
  std::string err;
  // An inpainting sampler's known data and mask: keep the first coordinate.
  if (!writeNpy(out + "/data.npy", {2}, {1.5, -0.5}, err) ||
      !writeNpy(out + "/mask.npy", {2}, {1.0, 0.0}, err)) {
    std::printf("FAIL: %s\n", err.c_str());
    return 1;
  }
  int passed = 0, failed = 0;
  auto expect = [&](const std::string &what, const std::string &got, const std::string &want) {
    bool ok = got == want;
    std::printf("%s %s: \"%s\"%s\n", ok ? "PASS" : "FAIL", what.c_str(), got.c_str(),
                ok ? "" : (" (expected \"" + want + "\")").c_str());
    (ok ? passed : failed)++;
  };
  int first = 2;
  for (; first + 1 < argc && argv[first][0] == '-'; first += 2) {
    std::string flag = argv[first], path = argv[first + 1];
    auto s = CompiledSampler::load(path, err);
    if (!s) {
      std::printf("FAIL %s: %s\n", path.c_str(), err.c_str());
      ++failed;
      continue;
    }
    auto dev = makeCudaDevice(*s, err);
    if (flag == "--no-kernels") {
      expect("a sampler without kernels", dev ? "" : err,
             "the sampler has no CUDA kernels; build it with --device cuda");
    } else if (flag == "--adaptive" && dev) {
      DemoOptions o;
      o.batch = 16;
      o.outDir = out + "/adaptive";
      o.device = std::move(dev);
      std::ostringstream log;
      runDemo(*s, o, log);
      expect("an adaptive solver on the GPU", log.str(),
             "error: adaptive solvers run on the CPU only (their error norm is computed on the "
             "host); leave out --device\n");
    }
  }
  for (int i = first; i < argc; ++i) {
    std::string path = argv[i], name = std::filesystem::path(path).stem().string();
    auto sampler = CompiledSampler::load(path, err);
    if (!sampler) {
      std::printf("FAIL %s: %s\n", name.c_str(), err.c_str());
      ++failed;
      continue;
    }
    DemoOptions o;
    o.batch = 4096;
    o.seed = 7;
    if (sampler->manifest.num("inpaint") != 0) {
      o.xData = out + "/data.npy";
      o.mask = out + "/mask.npy";
    }
    std::ostringstream hostLog, devLog;
    o.outDir = out + "/" + name + "-host";
    int rcHost = runDemo(*sampler, o, hostLog);
    o.device = makeCudaDevice(*sampler, err);
    if (!o.device) {
      std::printf("FAIL %s: %s\n", name.c_str(), err.c_str());
      ++failed;
      continue;
    }
    o.outDir = out + "/" + name + "-cuda";
    int rcDev = runDemo(*sampler, o, devLog);
    NpyArray a, b;
    if (rcHost != 0 || rcDev != 0 || !readNpy(out + "/" + name + "-host/samples.npy", a, err) ||
        !readNpy(out + "/" + name + "-cuda/samples.npy", b, err) || a.data.size() != b.data.size()) {
      std::printf("FAIL %s: host run %d, GPU run %d %s\n%s%s", name.c_str(), rcHost, rcDev,
                  err.c_str(), hostLog.str().c_str(), devLog.str().c_str());
      ++failed;
      continue;
    }
    double worst = 0, scale = 0;
    size_t differ = 0;
    for (size_t k = 0; k < a.data.size(); ++k) {
      worst = std::fmax(worst, std::fabs(a.data[k] - b.data[k]));
      scale = std::fmax(scale, std::fabs(a.data[k]));
      differ += a.data[k] != b.data[k];
    }
    double rel = worst / std::fmax(scale, 1e-300);
    bool ok = std::isfinite(rel) && rel <= 1e-12;
    std::string first = devLog.str().substr(0, devLog.str().find('\n'));
    std::printf("%s %s: GPU vs host max relative difference %.2e, %zu of %zu values differ (%s)\n",
                ok ? "PASS" : "FAIL", name.c_str(), rel, differ, a.data.size(),
                differ == 0 ? "identical" : "within rounding");
    std::printf("    %s\n", first.c_str());
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
