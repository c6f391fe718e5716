//===- Main.cpp - main() of a standalone sampler made by `diffuse build` --===//
//
// Linked with the sampler's object file. Samples the built-in analytic 2-D
// mixture (the network adapters of DESIGN §5 plug in here).
//
//===----------------------------------------------------------------------===//
#include "diffuse/demo.h"

#include <cstring>
#include <iostream>

extern "C" {
void dfs_step(dfs_ctx *, int64_t, const void *, void *, const double *, const double *,
              const double *, void *const *, void **, const double *, double *);
extern const char dfs_manifest[];
double dfs_process_alpha(double) __attribute__((weak));
double dfs_process_sigma(double) __attribute__((weak));
double dfs_process_alpha_d(double) __attribute__((weak));
double dfs_process_sigma_d(double) __attribute__((weak));
double dfs_process_t_of_lambda(double) __attribute__((weak));
double dfs_ode_coef_x(double) __attribute__((weak));
double dfs_ode_coef_net(double) __attribute__((weak));
double dfs_ode_coef_in(double) __attribute__((weak));
extern const char dfs_cuda_ptx[] __attribute__((weak));
extern const dfs_cuda_task dfs_cuda_tasks[] __attribute__((weak));
extern const int64_t dfs_cuda_task_count __attribute__((weak));
}

int main(int argc, char **argv) {
  diffuse::rt::DemoOptions o;
  std::string device = "cpu";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "error: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--batch") o.batch = std::atol(next().c_str());
    else if (a == "--seed") o.seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--out") o.outDir = next();
    else if (a == "--x-init") o.xInit = next();
    else if (a == "--mixture") o.mixture = next();
    else if (a == "--network") o.network = next();
    else if (a == "--device") device = next();
    else if (a == "--cond") {
      diffuse::rt::DemoOptions::Condition c;
      std::string err;
      if (!diffuse::rt::parseConditionOption(next(), c, err)) {
        std::cerr << "error: " << err << "\n";
        return 2;
      }
      o.conditions.push_back(c);
    }
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: " << argv[0]
                << " [--batch N] [--seed S] [--out DIR] [--x-init X.npy] [--mixture M.json]"
                   " [--network PLUGIN.so] [--device cpu|cuda] [--cond NAME[.K]=C.npy]\n";
      return 0;
    } else {
      std::cerr << "error: unknown option '" << a << "' (see --help)\n";
      return 2;
    }
  }
  if (o.batch < 1 || o.batch > 100000000) {
    std::cerr << "error: --batch must be between 1 and 1e8\n";
    return 2;
  }
  diffuse::rt::CompiledSampler s;
  s.step = dfs_step;
  s.manifest = diffuse::rt::Manifest::parse(dfs_manifest);
  s.alpha = dfs_process_alpha;
  s.sigma = dfs_process_sigma;
  s.dalpha = dfs_process_alpha_d;
  s.dsigma = dfs_process_sigma_d;
  s.tOfLambda = dfs_process_t_of_lambda;
  s.odeCoefX = dfs_ode_coef_x;
  s.odeCoefNet = dfs_ode_coef_net;
  s.odeCoefIn = dfs_ode_coef_in;
  s.cudaPtx = dfs_cuda_ptx;
  s.cudaTasks = dfs_cuda_tasks;
  s.cudaTaskCount = &dfs_cuda_task_count ? dfs_cuda_task_count : 0;
  if (device == "cuda") {
#ifdef DIFFUSE_HAVE_CUDA
    std::string err;
    o.device = diffuse::rt::makeCudaDevice(s, err);
    if (!o.device) {
      std::cerr << "error: cannot run on the GPU: " << err << "\n";
      return 1;
    }
#else
    std::cerr << "error: this sampler was built without CUDA; build it with "
                 "`diffuse build --device cuda`\n";
    return 2;
#endif
  } else if (device != "cpu") {
    std::cerr << "error: unknown device '" << device << "' (cpu or cuda)\n";
    return 2;
  }
  return diffuse::rt::runDemo(s, o, std::cout);
}
