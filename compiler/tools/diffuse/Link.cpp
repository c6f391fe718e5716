//===- Link.cpp - from a module to a loaded sampler -----------------------===//
//
// Object files are linked by the system C++ compiler driver (the same one
// that built Diffuse) into a shared object or an executable.
//
//===----------------------------------------------------------------------===//
#include "compiler/tools/diffuse/Driver.h"

#include "mlir/IR/MLIRContext.h"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace diffuse {

std::string stdlibDir() {
  if (const char *e = std::getenv("DIFFUSE_STDLIB"))
    return e;
  return DIFFUSE_STDLIB_DIR;
}

static std::string shellQuote(const std::string &s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

bool link(const std::vector<std::string> &args, DiagEngine &diag) {
  return runTool(DIFFUSE_CXX, args, diag);
}

bool runTool(const std::string &tool, const std::vector<std::string> &args, DiagEngine &diag) {
  std::string cmd = tool;
  for (const auto &a : args)
    cmd += " " + shellQuote(a);
  cmd += " 2>&1";
  FILE *p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p))
    out += buf;
  int rc = p ? pclose(p) : -1;
  if (rc != 0) {
    diag.error(Loc{"<link>", 0, 0}, "linking failed: " + cmd + "\n" + out);
    return false;
  }
  return true;
}

static std::string tempDir() {
  std::string tmpl = (fs::temp_directory_path() / "diffuse-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    return fs::temp_directory_path().string();
  return tmpl;
}

namespace {

/// Compiles the spec to `dir`/sampler.so; its path, or "" after reporting.
std::string compileSharedObject(const CompileOptions &opts, DiagEngine &diag,
                                const std::string &dir) {
  mlir::MLIRContext ctx;
  registerDialects(ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module;
  if (!compileToStage(ctx, opts, Stage::LLVMDialect, diag, module))
    return "";
  std::string obj = dir + "/sampler.o", so = dir + "/sampler.so";
  // A shared object needs no start-up files: the system linker alone is an
  // order of magnitude faster than going through the C++ driver.
  if (!emitObject(*module, obj, diag, opts.cuda) ||
      !runTool("ld", {"-shared", "-o", so, obj, "-lm"}, diag))
    return "";
  return so;
}

template <typename T>
std::unique_ptr<T> compileAndLoadAs(const CompileOptions &opts, DiagEngine &diag,
                                    const char *what) {
  std::string dir = tempDir();
  std::string so = compileSharedObject(opts, diag, dir);
  std::unique_ptr<T> s;
  if (!so.empty()) {
    std::string err;
    s = T::load(so, err);
    if (!s)
      diag.error(Loc{so, 0, 0}, std::string("cannot load the compiled ") + what + ": " + err);
  }
  fs::remove_all(dir);
  return s;
}

} // namespace

std::unique_ptr<rt::CompiledSampler> compileAndLoad(const CompileOptions &opts, DiagEngine &diag) {
  return compileAndLoadAs<rt::CompiledSampler>(opts, diag, "sampler");
}

std::unique_ptr<rt::CompiledTrainer> compileAndLoadTrainer(const CompileOptions &opts,
                                                           DiagEngine &diag) {
  return compileAndLoadAs<rt::CompiledTrainer>(opts, diag, "training spec");
}

} // namespace diffuse
