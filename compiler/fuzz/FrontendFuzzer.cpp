//===- FrontendFuzzer.cpp - libFuzzer target for the front end ------------===//
//
// Feeds arbitrary bytes to the parser, the checks and the sampler planning.
// Any crash, hang, sanitizer report or uncaught exception is a bug: bad
// input must end in diagnostics. Run with scripts/fuzz.sh (not part of the
// test suite).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Sema.h"

#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  std::ostringstream sink;
  diffuse::DiagEngine diag(sink);
  diffuse::ast::Module m;
  diffuse::ParseOptions opts; // no import paths: imports resolve next to "fuzz.dfs" only
  if (!diffuse::parseText("fuzz.dfs", text, opts, diag, m))
    return 0;
  if (!diffuse::checkModule(m, diag))
    return 0;
  for (const auto &d : m.decls)
    if (d.kind == "sampler") {
      diffuse::SamplerPlan plan;
      diffuse::planSampler(m, d.name, diag, plan);
    }
  return 0;
}
