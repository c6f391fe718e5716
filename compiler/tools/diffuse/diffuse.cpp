//===- diffuse.cpp - the Diffuse command-line tool ------------------------===//
//
//   diffuse check SPEC                     parse and check
//   diffuse fmt SPEC [-i]                  canonical layout
//   diffuse emit --emit=STAGE SPEC         ast | mlir | derived | fused | llvm-mlir | llvm
//   diffuse build SPEC -o EXE [--shared]   a standalone sampler (or a .so)
//   diffuse run SPEC [--out DIR] ...       compile, load and sample the built-in model
//   diffuse grid SPEC                      print the time grid
//   diffuse compat diffusers CLASS K=V ... a diffusers scheduler's configuration as a spec
//   diffuse conform DIR                    reproduce reference runs of other libraries
// Common options: --sampler NAME, --set DECL.KEY=VALUE (repeatable).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Sema.h"
#include "compiler/Pipelines/Pipeline.h"
#include "compiler/tools/diffuse/Compat.h"
#include "compiler/tools/diffuse/Driver.h"
#include "diffuse/likelihood.h"
#include "diffuse/demo.h"
#include "diffuse/runtime.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace diffuse;


namespace {

int usage(std::ostream &os, int rc) {
  os << "usage: diffuse <command> [options]\n"
        "  check SPEC                      parse and check a spec\n"
        "  fmt SPEC [-i]                   print the spec in canonical layout (-i: rewrite it)\n"
        "  emit --emit=STAGE SPEC          show a stage: ast, mlir, derived, latex, fused, "
        "llvm-mlir, llvm, ptx\n"
        "  build SPEC -o OUT [--shared]    compile to a standalone executable (or a shared "
        "object)\n"
        "  run SPEC [--out DIR] [--batch N] [--seed S] [--mixture M.json] [--x-init X.npy]\n"
        "           [--x-data D.npy]          (img2img: D noised to the grid's start, see strength)\n"
        "           [--mask M.npy]         an inpainting sampler's mask: 1 keeps --x-data there\n"
        "           [--noise Z.npy]        draws x batch x dim normals for noise(), replayed\n"
        "                                  compile, load and sample the built-in 2-D mixture\n"
        "                                  (or the mixture of M.json, e.g. a golden case)\n"
        "           [--labels 0,1,...]     a label set (cond, then cond(1), ...), cycled over\n"
        "                                  the batch; default: set k gives sample i (i + k) % 2\n"
        "           [--cond NAME[.K]=C.npy] a named conditioning input of the models, in\n"
        "                                  condition set K (default 0; .none: unconditional\n"
        "                                  rows, zeros unless given): [batch, ...] or [...]\n"
        "           [--mixture-for NAME=M.json]  the data another model of the guidance knows\n"
        "           [--network P.so]       the sampler's model is the network of a plugin (the\n"
        "                                  C ABI of diffuse/network.h), not the analytic one\n"
        "  schedule SPEC [--points N]      print t, alpha, sigma, their derivatives, lambda and\n"
        "                                  the closed-form t(lambda) of the sampler's process\n"
        "                                  (compiled), at N points; of a beta table, beta and\n"
        "                                  alphas_cumprod at N timesteps\n"
        "  grid SPEC                       print the sampler's time grid, step by step\n"
        "  likelihood SPEC [--steps N] [--probes K] [--batch B] [--seed S] [--network P.so]\n"
        "                                  PF-ODE log-likelihood (RK4, exact divergence or K\n"
        "                                  Hutchinson probes) of samples of the built-in 2-D\n"
        "                                  mixture at the domain's start, against the exact one\n"
        "  train SPEC [--train NAME] [--steps N] [--batch B] [--lr R] [--seed S]\n"
        "                                  compile a training spec and train a small model\n"
        "                                  on the built-in 2-D mixture (held-out loss before\n"
        "                                  and after); --points N prints t, the network's\n"
        "                                  time, the target's coefficients and the weight at\n"
        "                                  N quantiles of the draw instead\n"
        "  compat diffusers CLASS [KEY=VALUE ...] --steps N [--guidance W] [--name S]\n"
        "  compat diffusers --config scheduler_config.json --steps N ...\n"
        "  compat k-diffusion SAMPLE_FN GET_SIGMAS_FN [KEY=VALUE ...] --steps N ...\n"
        "  compat dpm-solver [KEY=VALUE ...] --steps N ...\n"
        "  compat flow_matching [KEY=VALUE ...] ...\n"
        "                                  print the spec that does what the peer library\n"
        "                                  does with that configuration (grid included);\n"
        "                                  run it with diffuse run\n"
        "  conform DIR [--filter S] [-v]   run reference cases (../shared/golden format);\n"
        "                                  --set applies after each case's own settings;\n"
        "                                  --dtype f32 runs them in float32 against the\n"
        "                                  peers' float32 runs\n"
        "options: --sampler NAME   --train NAME (a training spec instead of a sampler)\n"
        "         --set DECL.KEY=VALUE (repeatable)\n"
        "         --dtype f32|f64  every model's element type, whatever the spec declares\n"
        "         --eager          one pass over the tensors per arithmetic op (the baseline)\n"
        "         --device cuda    build: also compile the kernels for NVIDIA GPUs (PTX);\n"
        "                          run: keep the tensors on the GPU and run the kernels there\n";
  return rc;
}

struct Args {
  std::string command, spec, out, emit, outDir = ".", mixture, xInit, xData, mask, noise, network;
  bool shared = false;
  int64_t batch = 1000;
  long points = 11, steps = 2000, probes = 0;
  bool stepsSet = false;
  bool pointsSet = false, batchSet = false;
  double lr = 0.01;
  uint64_t seed = 0;
  std::vector<std::string> labels;      // --labels, one per label set
  std::vector<std::string> mixtureFor; // --mixture-for NAME=FILE
  std::vector<rt::DemoOptions::Condition> conditions; // --cond NAME[.SET]=FILE
  CompileOptions copts;
};

bool parseArgs(int argc, char **argv, Args &a, std::ostream &err) {
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&](std::string &dst) {
      if (i + 1 >= argc) {
        err << "error: " << s << " needs a value\n";
        return false;
      }
      dst = argv[++i];
      return true;
    };
    std::string v;
    if (s.rfind("--emit=", 0) == 0) a.emit = s.substr(7);
    else if (s == "-o") { if (!next(a.out)) return false; }
    else if (s == "--shared") a.shared = true;
    else if (s == "--eager") a.copts.eager = true;
    else if (s == "--device") {
      if (!next(v)) return false;
      if (v != "cpu" && v != "cuda") {
        err << "error: unknown device '" << v << "' (cpu or cuda)\n";
        return false;
      }
      a.copts.cuda = v == "cuda";
    }
    else if (s == "--dtype") {
      if (!next(v)) return false;
      if (v != "f64" && v != "f32") {
        err << "error: unknown element type '" << v << "' for --dtype (f64 or f32)\n";
        return false;
      }
      a.copts.dtype = v;
    }
    else if (s == "--sampler") { if (!next(a.copts.samplerName)) return false; }
    else if (s == "--train") { if (!next(a.copts.trainName)) return false; }
    else if (s == "--set") { if (!next(v)) return false; a.copts.overrides.push_back(v); }
    else if (s == "--out") { if (!next(a.outDir)) return false; }
    else if (s == "--mixture") { if (!next(a.mixture)) return false; }
    else if (s == "--network") { if (!next(a.network)) return false; }
    else if (s == "--labels") { if (!next(v)) return false; a.labels.push_back(v); }
    else if (s == "--cond") {
      if (!next(v)) return false;
      rt::DemoOptions::Condition c;
      std::string why;
      if (!rt::parseConditionOption(v, c, why)) {
        err << "error: " << why << "\n";
        return false;
      }
      a.conditions.push_back(c);
    }
    else if (s == "--mixture-for") { if (!next(v)) return false; a.mixtureFor.push_back(v); }
    else if (s == "--points") { if (!next(v)) return false; a.points = std::atol(v.c_str()); a.pointsSet = true; }
    else if (s == "--steps") { if (!next(v)) return false; a.steps = std::atol(v.c_str()); a.stepsSet = true; }
    else if (s == "--probes") { if (!next(v)) return false; a.probes = std::atol(v.c_str()); }
    else if (s == "--lr") { if (!next(v)) return false; a.lr = std::strtod(v.c_str(), nullptr); }
    else if (s == "--x-init") { if (!next(a.xInit)) return false; }
    else if (s == "--x-data") { if (!next(a.xData)) return false; }
    else if (s == "--mask") { if (!next(a.mask)) return false; }
    else if (s == "--noise") { if (!next(a.noise)) return false; }
    else if (s == "--batch") { if (!next(v)) return false; a.batch = std::atol(v.c_str()); a.batchSet = true; }
    else if (s == "--seed") { if (!next(v)) return false; a.seed = std::strtoull(v.c_str(), nullptr, 10); }
    else if (!s.empty() && s[0] == '-') {
      err << "error: unknown option '" << s << "'\n";
      return false;
    } else if (a.spec.empty()) a.spec = s;
    else {
      err << "error: unexpected argument '" << s << "'\n";
      return false;
    }
  }
  if (a.spec.empty()) {
    err << "error: " << a.command << " needs a spec file\n";
    return false;
  }
  a.copts.specPath = a.spec;
  a.copts.importPaths = {stdlibDir()};
  return true;
}

/// `diffuse fmt SPEC [-i]`: the spec in canonical layout, on stdout or in
/// place. Imports are not read; the file must parse.
int runFmt(int argc, char **argv) {
  std::string path;
  bool inPlace = false;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "-i")
      inPlace = true;
    else if (path.empty() && (s.empty() || s[0] != '-'))
      path = s;
    else {
      std::cerr << "error: fmt takes one spec and -i, not '" << s << "'\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "error: fmt needs a spec file\n";
    return 2;
  }
  DiagEngine diag(std::cerr);
  ast::Module m;
  ParseOptions po;
  po.resolveImports = false;
  if (!parseFile(path, po, diag, m))
    return 1;
  std::string text = ast::format(m);
  if (!inPlace) {
    std::cout << text;
    return 0;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "error: cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

/// `diffuse train`: compiles a training spec in process, then prints its
/// functions (--points) or trains the demo model.
int runTrain(Args &a, DiagEngine &diag) {
  if (a.copts.trainName.empty()) { // the last training spec of the file
    ast::Module m;
    if (!parseFile(a.spec, ParseOptions{a.copts.importPaths}, diag, m))
      return 1;
    for (const auto &d : m.decls)
      if (d.kind == "train")
        a.copts.trainName = d.name;
    if (a.copts.trainName.empty()) {
      diag.error(Loc{a.spec, 0, 0}, "the spec declares no training spec",
                 "add train NAME { process = ... model = ... time = uniform weight = uniform }");
      return 1;
    }
  }
  if (a.pointsSet && (a.points < 1 || a.points > 100000)) {
    std::cerr << "error: --points must be between 1 and 100000\n";
    return 2;
  }
  if (a.steps < 0 || a.steps > 10000000 || (a.batchSet && (a.batch < 1 || a.batch > 1000000)) ||
      !(a.lr > 0 && a.lr < 10)) {
    std::cerr << "error: --steps must be in [0, 1e7], --batch in [1, 1e6], --lr in (0, 10)\n";
    return 2;
  }
  auto tr = compileAndLoadTrainer(a.copts, diag);
  if (!tr)
    return 1;
  rt::TrainDemoOptions o;
  o.points = a.pointsSet ? a.points : 0;
  o.steps = a.steps;
  o.batch = a.batchSet ? a.batch : 256;
  o.seed = a.seed;
  o.learningRate = a.lr;
  return rt::runTrainDemo(*tr, o, std::cout);
}

/// `diffuse grid`: every step's two grid points as the compiled step sees
/// them (solver time, network time, alpha, sigma, sigma/alpha).
int printGrid(const rt::CompiledSampler &sampler) {
  struct NoNetwork : rt::Network {
    void evaluate(const dfs_net_call &) override {}
  } net;
  rt::Runner runner(sampler, net, 1, 1);
  std::string err;
  auto grid = runner.buildGrid(err);
  if (grid.empty()) {
    std::cerr << "error: " << err << "\n";
    return 1;
  }
  std::printf("%-6s %-24s %-24s %-24s %-24s %-24s %s\n", "step", "from", "to", "model time",
              "alpha", "sigma", "sigma/alpha");
  for (size_t i = 0; i < grid.size(); ++i) {
    const rt::Point &p = grid[i].s;
    std::printf("%-6zu %-24.17g %-24.17g %-24.17g %-24.17g %-24.17g %.17g\n", i,
                p[DFS_POINT_TAU], grid[i].t[DFS_POINT_TAU], p[DFS_POINT_TMODEL], p[DFS_POINT_A],
                p[DFS_POINT_S], p[DFS_POINT_S] / p[DFS_POINT_A]);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage(std::cerr, 2);
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help")
    return usage(std::cout, 0);
  if (cmd == "compat")
    return runCompat(argc, argv);
  if (cmd == "conform")
    return runConform(argc, argv);
  if (cmd == "fmt")
    return runFmt(argc, argv);
  if (cmd != "check" && cmd != "emit" && cmd != "build" && cmd != "run" && cmd != "schedule" &&
      cmd != "grid" && cmd != "train" && cmd != "likelihood") {
    std::cerr << "error: unknown command '" << cmd << "'\n";
    return usage(std::cerr, 2);
  }
  Args a;
  if (!parseArgs(argc, argv, a, std::cerr))
    return 2;
  DiagEngine diag(std::cerr);

  if (cmd == "check" || (cmd == "emit" && a.emit == "ast")) {
    ast::Module m;
    if (!parseFile(a.spec, ParseOptions{a.copts.importPaths}, diag, m))
      return 1;
    for (const auto &o : a.copts.overrides)
      if (!applyOverride(m, o, diag))
        return 1;
    if (!a.copts.dtype.empty())
      applyElementType(m, a.copts.dtype);
    if (cmd == "emit") {
      ast::print(std::cout, m);
      return 0;
    }
    if (!checkModule(m, diag))
      return 1;
    // The derivations too (an SDE's marginals, the primitives a solver
    // calls, each training spec's functions) for every sampler and training
    // spec, or the one --sampler / --train names, so that check finds every
    // error that build would.
    std::vector<CompileOptions> units;
    for (const auto &d : m.decls) {
      CompileOptions o = a.copts;
      if (d.kind == "sampler" && a.copts.trainName.empty() &&
          (a.copts.samplerName.empty() || a.copts.samplerName == d.name))
        o.samplerName = d.name;
      else if (d.kind == "train" && a.copts.samplerName.empty() &&
               (a.copts.trainName.empty() || a.copts.trainName == d.name))
        o.trainName = d.name;
      else
        continue;
      units.push_back(o);
    }
    if (units.empty() && (!a.copts.samplerName.empty() || !a.copts.trainName.empty()))
      units.push_back(a.copts); // reports the unknown name
    mlir::MLIRContext ctx;
    registerDialects(ctx);
    mlir::OwningOpRef<mlir::ModuleOp> module;
    int failed = 0; // each sampler's errors are its own: report them all
    for (const auto &o : units) {
      bool ok = compileToStage(ctx, o, Stage::Derived, diag, module);
      failed += diag.takeErrors() > 0 || !ok;
    }
    if (failed)
      return 1;
    std::cout << a.spec << ": ok\n";
    return 0;
  }

  if (cmd == "train")
    return runTrain(a, diag);

  mlir::MLIRContext ctx;
  registerDialects(ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module;

  if (cmd == "emit") {
    Stage st;
    if (a.emit == "mlir") st = Stage::MLIR;
    else if (a.emit == "derived") st = Stage::Derived;
    else if (a.emit == "fused") st = Stage::Fused;
    else if (a.emit == "llvm-mlir") st = Stage::LLVMDialect;
    else if (a.emit == "llvm") st = Stage::LLVMIR;
    else if (a.emit == "ptx") st = Stage::LLVMIR;
    else if (a.emit == "latex") st = Stage::Derived;
    else {
      std::cerr << "error: unknown --emit stage '" << a.emit
                << "'; use ast, mlir, derived, latex, fused, llvm-mlir or llvm\n";
      return 2;
    }
    Stage upTo = st == Stage::LLVMIR ? Stage::LLVMDialect : st;
    if (!compileToStage(ctx, a.copts, upTo, diag, module))
      return 1;
    if (a.emit == "latex") {
      std::string tex;
      if (!emitLatex(*module, tex, diag))
        return 1;
      std::cout << tex;
      return 0;
    }
    if (a.emit == "ptx") {
      std::string ptx;
      if (!emitPtx(*module, ptx, diag))
        return 1;
      std::cout << ptx;
      return 0;
    }
    if (st == Stage::LLVMIR) {
      std::string ir;
      if (!emitLLVMIR(*module, ir, diag))
        return 1;
      std::cout << ir;
      return 0;
    }
    mlir::OpPrintingFlags flags;
    module->print(llvm::outs(), flags);
    llvm::outs() << "\n";
    return 0;
  }

  if (cmd == "build") {
    if (a.out.empty()) {
      std::cerr << "error: build needs -o OUTPUT\n";
      return 2;
    }
    if (!a.copts.trainName.empty() && !a.shared) {
      std::cerr << "error: a training spec builds as a shared object for a C++ training loop; "
                   "add --shared\n";
      return 2;
    }
    if (!compileToStage(ctx, a.copts, Stage::LLVMDialect, diag, module))
      return 1;
    std::string obj = a.out + ".o";
    if (!emitObject(*module, obj, diag, a.copts.cuda))
      return 1;
    std::string lib = DIFFUSE_LIB_DIR;
    std::vector<std::string> args{"-o", a.out, obj};
#ifdef DIFFUSE_HAVE_CUDA
    // A standalone sampler built for CUDA takes --device cuda.
    if (a.copts.cuda)
      args.insert(args.end(), {lib + "/libDiffuseCudaMain.a", lib + "/libDiffuseCuda.a",
                               lib + "/libDiffuseRuntime.a", DIFFUSE_CUDART_STATIC, "-lrt"});
#else
    if (a.copts.cuda && !a.shared) {
      std::cerr << "error: this diffuse was built without the CUDA toolkit: a standalone "
                   "sampler cannot run on a GPU; build with --shared, or install CUDA and "
                   "rebuild diffuse\n";
      return 2;
    }
#endif
    if (!a.copts.cuda)
      args.insert(args.end(), {lib + "/libDiffuseMain.a", lib + "/libDiffuseRuntime.a"});
    args.insert(args.end(), {"-lpng", "-ldl", "-lm", "-pthread"});
    bool ok = a.shared ? runTool("ld", {"-shared", "-o", a.out, obj, "-lm"}, diag)
                       : link(args, diag);
    fs::remove(obj);
    return ok ? 0 : 1;
  }

  auto sampler = compileAndLoad(a.copts, diag);
  if (!sampler)
    return 1;
  if (cmd == "schedule") {
    // The compiled process functions (alpha, sigma and the symbolic
    // derivatives), evaluated over the domain.
    if (a.points < 2 || a.points > 100000) {
      std::cerr << "error: --points must be between 2 and 100000\n";
      return 2;
    }
    if (sampler->manifest.str("process.kind") == "discrete") {
      // A beta table: at N timesteps spread over the table (all of them
      // when N is at least its length), beta_n and alphas_cumprod as the
      // runtime computes them (float32, as diffusers), alpha and sigma.
      rt::BetaTable bt = rt::betaTable(sampler->manifest);
      long size = (long)bt.betas.size(), shown = std::min<long>(a.points, size);
      std::printf("%-8s %-16s %-16s %-24s %s\n", "n", "beta", "alphas_cumprod", "alpha",
                  "sigma");
      for (long i = 0; i < shown; ++i) {
        long k = shown == size ? i : (long)std::llround((double)i * (size - 1) / (shown - 1));
        double acp = bt.alphasCumprod[(size_t)k];
        std::printf("%-8ld %-16.9g %-16.9g %-24.17g %.17g\n", k, (double)bt.betas[(size_t)k], acp,
                    std::sqrt(acp), std::sqrt(1 - acp));
      }
      return 0;
    }
    if (sampler->manifest.str("process.kind") != "path" || !sampler->alpha) {
      std::cerr << "error: schedule prints Gaussian paths and beta tables; '"
                << sampler->manifest.str("process.name") << "' has no compiled alpha(t) and sigma(t)\n";
      return 1;
    }
    std::vector<double> dom = sampler->manifest.nums("process.domain");
    double t0 = dom.size() == 2 ? dom[0] : 0, t1 = dom.size() == 2 ? dom[1] : 1;
    // The last column is the compiled closed-form inverse t(lambda) applied
    // to the row's lambda ("-" where the process has none).
    std::printf("%-24s %-24s %-24s %-24s %-24s %-24s %s\n", "t", "alpha", "sigma", "dalpha/dt",
                "dsigma/dt", "lambda", "t(lambda)");
    for (long i = 0; i < a.points; ++i) {
      double t = t0 + (t1 - t0) * (double)i / (double)(a.points - 1);
      double al = sampler->alpha(t), sg = sampler->sigma(t), lam = std::log(al / sg);
      std::printf("%-24.17g %-24.17g %-24.17g %-24.17g %-24.17g %-24.17g ", t, al, sg,
                  sampler->dalpha(t), sampler->dsigma(t), lam);
      if (sampler->tOfLambda)
        std::printf("%.17g\n", sampler->tOfLambda(lam));
      else
        std::printf("-\n");
    }
    return 0;
  }
  if (cmd == "grid")
    return printGrid(*sampler);
  if (cmd == "likelihood") {
    long steps = a.stepsSet ? a.steps : 100;
    if (steps < 1 || steps > 100000 || a.probes < 0 || a.probes > 1000 ||
        (a.batchSet && (a.batch < 1 || a.batch > 1000000))) {
      std::cerr << "error: --steps must be in [1, 1e5], --probes in [0, 1000], --batch in "
                   "[1, 1e6]\n";
      return 2;
    }
    rt::LikelihoodDemoOptions o;
    o.batch = a.batchSet ? a.batch : 256;
    o.steps = (int)steps;
    o.probes = (int)a.probes;
    o.seed = a.seed;
    o.network = a.network;
    return rt::runLikelihoodDemo(*sampler, o, std::cout);
  }
  // run
  std::error_code ec;
  fs::create_directories(a.outDir, ec);
  rt::DemoOptions o;
  o.batch = a.batch;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.network = a.network;
  o.mixture = a.mixture;
  o.xInit = a.xInit;
  o.xData = a.xData;
  o.mask = a.mask;
  o.noise = a.noise;
  o.conditions = a.conditions;
  for (const std::string &l : a.labels) {
    std::vector<int32_t> set;
    std::stringstream ss(l);
    std::string item;
    while (std::getline(ss, item, ',')) {
      char *end = nullptr;
      long v = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end || v < 0 || v > 1000000) {
        std::cerr << "error: --labels takes class labels (integers >= 0) separated by commas, "
                     "got '" << l << "'\n";
        return 2;
      }
      set.push_back((int32_t)v);
    }
    if (set.empty()) {
      std::cerr << "error: --labels takes class labels (integers >= 0) separated by commas, "
                   "got nothing\n";
      return 2;
    }
    o.labels.push_back(set);
  }
  for (const std::string &m : a.mixtureFor) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      std::cerr << "error: --mixture-for takes NAME=FILE.json (a model's name and its "
                   "mixture), got '" << m << "'\n";
      return 2;
    }
    o.mixtureFor[m.substr(0, eq)] = m.substr(eq + 1);
  }
  if (a.copts.cuda) {
#ifdef DIFFUSE_HAVE_CUDA
    std::string err;
    o.device = rt::makeCudaDevice(*sampler, err);
    if (!o.device) {
      std::cerr << "error: cannot run on the GPU: " << err << "\n";
      return 1;
    }
#else
    std::cerr << "error: this diffuse was built without the CUDA toolkit; install it (nvcc) "
                 "and rebuild diffuse, or leave out --device cuda\n";
    return 1;
#endif
  }
  return rt::runDemo(*sampler, o, std::cout);
}
