//===- FrontendFuzzer.cpp - libFuzzer target for the front end ------------===//
//
// Feeds arbitrary bytes to the parser, the checks and the sampler and
// training-spec planning,
// and checks `diffuse fmt` on whatever parses: its output must parse and
// format to itself. Any crash, hang, sanitizer report, uncaught exception
// or formatting that is not idempotent is a bug: bad input must end in
// diagnostics. Run with scripts/fuzz.sh (not part of the
// test suite).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Parser.h"
#include "compiler/Frontend/Sema.h"

#include <cstdlib>
#include <sstream>
#include <string>

namespace {
/// fmt(fmt(x)) == fmt(x) for any x that parses (imports not read).
void checkFormat(const std::string &text) {
  std::ostringstream sink;
  diffuse::DiagEngine diag(sink);
  diffuse::ParseOptions opts;
  opts.resolveImports = false;
  diffuse::ast::Module m;
  if (!diffuse::parseText("fmt.dfs", text, opts, diag, m))
    return;
  std::string once = diffuse::ast::format(m);
  diffuse::ast::Module again;
  if (!diffuse::parseText("fmt.dfs", once, opts, diag, again) ||
      diffuse::ast::format(again) != once)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  checkFormat(text);
  std::ostringstream sink;
  diffuse::DiagEngine diag(sink);
  diffuse::ast::Module m;
  diffuse::ParseOptions opts; // no import paths: imports resolve next to "fuzz.dfs" only
  if (!diffuse::parseText("fuzz.dfs", text, opts, diag, m))
    return 0;
  if (!diffuse::checkModule(m, diag))
    return 0;
  for (const auto &d : m.decls) {
    diffuse::SamplerPlan plan;
    if (d.kind == "sampler")
      diffuse::planSampler(m, d.name, diag, plan);
    else if (d.kind == "train")
      diffuse::planTrain(m, d.name, diag, plan);
  }
  return 0;
}
