//===- Parser.h - Diffuse source to AST -------------------------*- C++ -*-===//
#ifndef DIFFUSE_FRONTEND_PARSER_H
#define DIFFUSE_FRONTEND_PARSER_H

#include "compiler/Frontend/AST.h"
#include "compiler/Frontend/Diagnostics.h"

namespace diffuse {

struct ParseOptions {
  /// Where `import "x.dfs"` looks after the importing file's own folder
  /// (the stdlib folder first).
  std::vector<std::string> importPaths;
  /// False: record the top file's imports without reading them (`fmt`).
  bool resolveImports = true;
};

/// Parse `path` and, recursively, its imports into `out` (imports first).
/// Returns false after reporting errors.
bool parseFile(const std::string &path, const ParseOptions &opts, DiagEngine &diag,
               ast::Module &out);
/// Same, for text held in memory under the name `name`.
bool parseText(const std::string &name, const std::string &text, const ParseOptions &opts,
               DiagEngine &diag, ast::Module &out);

/// Apply one `--set decl.key=value` override: replaces (or adds) the
/// setting `key` of declaration `decl`, or a parameter default of `decl`.
bool applyOverride(ast::Module &m, const std::string &setting, DiagEngine &diag);

/// Apply `--dtype f32|f64`: every model's per-sample element type becomes
/// `dtype`, whatever its `x` parameter declares (the shape is kept). A
/// wrong name is reported by the caller; this only rewrites.
void applyElementType(ast::Module &m, const std::string &dtype);

} // namespace diffuse

#endif
