//===- Diagnostics.h - located error messages -------------------*- C++ -*-===//
//
// Every user error is reported as
//   file:line:col: error: what is wrong
//     <the source line>
//     ^
//   note: how to fix it
// Source buffers are kept here so that any stage (parser, Sema, MLIR passes)
// can quote the line.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_FRONTEND_DIAGNOSTICS_H
#define DIFFUSE_FRONTEND_DIAGNOSTICS_H

#include <map>
#include <set>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace diffuse {

struct Loc {
  std::string file;
  int line = 0; // 1-based
  int col = 0;  // 1-based
};

class DiagEngine {
public:
  explicit DiagEngine(std::ostream &os) : os(os) {}

  /// Remember a file's text for quoting.
  void addSource(const std::string &file, const std::string &text) { sources[file] = text; }

  void error(const Loc &loc, const std::string &msg, const std::string &fix = "");
  void note(const Loc &loc, const std::string &msg);
  int errorCount() const { return errors; }
  /// The errors so far, and a fresh count: a driver that checks independent
  /// units (each sampler of a file) runs each from zero. An error already
  /// printed is not printed again.
  int takeErrors() { return std::exchange(errors, 0); }

private:
  void emit(const Loc &loc, const char *kind, const std::string &msg, const std::string &fix);
  std::ostream &os;
  std::map<std::string, std::string> sources;
  std::set<std::string> reported; // errors already printed (location, message, fix)
  int errors = 0;
};

/// The closest candidate to `name` by edit distance, or "" if none is close.
std::string closestMatch(const std::string &name, const std::vector<std::string> &candidates);

} // namespace diffuse

#endif
