//===- Diagnostics.cpp - located error messages ---------------------------===//
#include "compiler/Frontend/Diagnostics.h"

#include <algorithm>

namespace diffuse {

static std::string lineOf(const std::string &text, int line) {
  int cur = 1;
  size_t start = 0;
  while (cur < line) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos)
      return "";
    start = nl + 1;
    ++cur;
  }
  size_t end = text.find('\n', start);
  std::string l = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!l.empty() && l.back() == '\r')
    l.pop_back();
  if (l.size() > 200)
    l = l.substr(0, 200);
  // Keep the quote printable: control bytes become spaces.
  for (char &c : l) {
    if ((unsigned char)c < 32 && c != '\t')
      c = ' ';
    else if ((unsigned char)c >= 128)
      c = '?';
  }
  return l;
}

void DiagEngine::emit(const Loc &loc, const char *kind, const std::string &msg,
                      const std::string &fix) {
  if (loc.line > 0)
    os << loc.file << ":" << loc.line << ":" << loc.col << ": " << kind << ": " << msg << "\n";
  else
    os << loc.file << ": " << kind << ": " << msg << "\n";
  auto it = sources.find(loc.file);
  if (it != sources.end() && loc.line > 0) {
    std::string l = lineOf(it->second, loc.line);
    if (!l.empty() && loc.col - 1 <= (int)l.size()) {
      os << "  " << l << "\n  ";
      for (int i = 1; i < loc.col; ++i)
        os << (l[i - 1] == '\t' ? '\t' : ' ');
      os << "^\n";
    }
  }
  if (!fix.empty())
    os << "note: " << fix << "\n";
}

void DiagEngine::error(const Loc &loc, const std::string &msg, const std::string &fix) {
  // A pass that visits several compiled variants of one step (each `if`
  // path) may report the same source mistake more than once: say it once.
  std::string key = loc.file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col) +
                    "\n" + msg + "\n" + fix;
  if (!reported.insert(key).second)
    return;
  ++errors;
  emit(loc, "error", msg, fix);
}

void DiagEngine::note(const Loc &loc, const std::string &msg) { emit(loc, "note", msg, ""); }

static size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closestMatch(const std::string &name, const std::vector<std::string> &candidates) {
  std::string best;
  size_t bestD = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto &c : candidates) {
    size_t d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

} // namespace diffuse
