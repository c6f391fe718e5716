//===- Format.cpp - `diffuse fmt`: the canonical layout of a spec ---------===//
//
// Prints a module parsed without its imports back as Diffuse: two-space
// indentation; a declaration without step bodies that was written on one
// line stays on one line while it fits in 100 columns and holds no comment,
// otherwise one item per line; `state` lists continue under their first
// variable past 100 columns; binary operators spaced except `^`; the
// parentheses as written, plus those precedence needs; numbers as written; comments where they were (before the next item or
// statement, or at the end of its line); at most one blank line where the
// source had any. Formatting a formatted spec changes nothing
// (tests/Frontend/fmt.test checks this on the whole stdlib).
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/AST.h"

#include <algorithm>
#include <sstream>

namespace diffuse::ast {
namespace {

bool before(const Loc &a, const Loc &b) {
  return a.line < b.line || (a.line == b.line && a.col < b.col);
}

int precedence(const Expr &e) {
  switch (e.kind) {
  case Expr::Binary:
    switch (e.op) {
    case '|': return 1;
    case '&': return 2;
    case '+': case '-': return 5;
    case '*': case '/': return 6;
    case '^': return 8;
    default: return 4; // comparisons
    }
  case Expr::Not: return 3;
  case Expr::Neg: return 7;
  default: return 9;
  }
}

std::string number(const Expr &e) {
  if (!e.text.empty())
    return e.text;
  std::ostringstream os;
  os.precision(17);
  os << e.number;
  return os.str();
}

std::string bare(const Expr &e);

/// An expression with the parentheses it was written with.
std::string expr(const Expr &e) { return e.parens ? "(" + bare(e) + ")" : bare(e); }

/// An operand: parenthesized as written, or where precedence needs it.
std::string operand(const Expr &e, int minPrec) {
  return !e.parens && precedence(e) < minPrec ? "(" + bare(e) + ")" : expr(e);
}

std::string bare(const Expr &e) {
  switch (e.kind) {
  case Expr::Number: return number(e);
  case Expr::Ident: return e.name;
  case Expr::Neg: return "-" + operand(*e.ops[0], 7);
  case Expr::Not: return "not " + operand(*e.ops[0], 3);
  case Expr::Binary: {
    int p = precedence(e);
    bool right = e.op == '^'; // right-associative
    std::string l = operand(*e.ops[0], right ? p + 1 : p);
    std::string r = operand(*e.ops[1], right ? p : p + 1);
    if (e.op == '^')
      return l + "^" + r;
    return l + " " + opSpelling(e.op) + " " + r;
  }
  case Expr::Call: {
    std::string s = e.name + "(";
    for (size_t i = 0; i < e.args.size(); ++i)
      s += (i ? ", " : "") + (e.args[i].name.empty() ? "" : e.args[i].name + " = ") +
           expr(*e.args[i].value);
    return s + ")";
  }
  case Expr::List: {
    std::string s = "[";
    for (size_t i = 0; i < e.ops.size(); ++i)
      s += (i ? ", " : "") + expr(*e.ops[i]);
    return s + "]";
  }
  }
  return "";
}

std::string names(const std::vector<std::string> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + v[i];
  return s;
}

class Formatter {
public:
  explicit Formatter(const Module &m) : comments(m.comments) {
    std::sort(comments.begin(), comments.end(),
              [](const Comment &a, const Comment &b) { return before(a.loc, b.loc); });
  }

  std::string run(const Module &m) {
    // Imports and declarations in source order.
    struct Entry {
      Loc loc;
      const Import *imp;
      const Decl *decl;
    };
    std::vector<Entry> entries;
    for (const auto &i : m.imports)
      entries.push_back({i.loc, &i, nullptr});
    for (const auto &d : m.decls)
      entries.push_back({d.loc, nullptr, &d});
    std::sort(entries.begin(), entries.end(),
              [](const Entry &a, const Entry &b) { return before(a.loc, b.loc); });
    bool prevDecl = false;
    for (const auto &e : entries) {
      // A declaration is set off by a blank line (before its own comments).
      bool force = prevDecl || (e.decl && printedAny);
      size_t first = next;
      comment(e.loc, 0, force);
      blankBefore(e.loc.line, force && next == first);
      if (e.imp) {
        line(0, "import \"" + e.imp->path + "\"");
        trailing(e.loc);
        lastLine = e.loc.line;
      } else {
        decl(*e.decl);
      }
      prevDecl = e.decl != nullptr;
    }
    comment(Loc{"", 1 << 30, 0}, 0, prevDecl);
    return out.str();
  }

private:
  std::vector<Comment> comments;
  size_t next = 0;     // the first comment not printed yet
  int lastLine = 0;    // the last source line printed
  static constexpr int kBlockStart = 1 << 29; // lastLine right after a `{`: no blank line
  bool printedAny = false;
  bool pendingBlank = false;
  std::ostringstream out;

  void line(int indent, const std::string &text) {
    if (pendingBlank && printedAny)
      out << "\n";
    pendingBlank = false;
    out << std::string(indent, ' ') << text;
    printedAny = true;
  }
  void endLine() { out << "\n"; }

  /// One blank line before something at source line `l` if the source had
  /// one (or `force`), but never at the start of a block.
  void blankBefore(int l, bool force) {
    if (force && printedAny) {
      pendingBlank = true;
      return;
    }
    if (force || (lastLine > 0 && l > lastLine + 1))
      pendingBlank = true;
  }

  /// Prints the comments before `pos` on their own lines.
  void comment(const Loc &pos, int indent, bool forceBlankFirst) {
    bool first = true;
    while (next < comments.size() && before(comments[next].loc, pos)) {
      const Comment &c = comments[next++];
      blankBefore(c.loc.line, first && forceBlankFirst);
      first = false;
      line(indent, c.text);
      endLine();
      lastLine = c.loc.line;
    }
  }

  /// A comment on the same source line after `end` (and before `limit`,
  /// the next thing printed on its own line) ends the line; then the newline.
  void trailing(const Loc &end, const Loc &limit = Loc{"", 1 << 30, 0}) {
    if (next < comments.size() && comments[next].loc.line == end.line &&
        before(end, comments[next].loc) && before(comments[next].loc, limit))
      out << "  " << comments[next++].text;
    endLine();
  }

  bool commentWithin(const Loc &a, const Loc &b) const {
    for (size_t i = next; i < comments.size(); ++i)
      if (!before(comments[i].loc, a) && before(comments[i].loc, b))
        return true;
    return false;
  }

  std::string header(const Decl &d) {
    std::string s = d.kind + " " + d.name;
    if (!d.params.empty()) {
      s += "(";
      for (size_t i = 0; i < d.params.size(); ++i) {
        const Param &p = d.params[i];
        s += (i ? ", " : "") + p.name;
        if (!p.type.empty()) {
          s += ": " + p.type;
          if (!p.shape.empty()) {
            s += "[";
            for (size_t k = 0; k < p.shape.size(); ++k)
              s += (k ? ", " : "") + std::to_string(p.shape[k]);
            s += "]";
          }
        }
        if (p.defaultValue)
          s += " = " + expr(*p.defaultValue);
      }
      s += ")";
    }
    return s;
  }

  /// `state a: tensor, ...`, continued under its first variable past 100 columns.
  static std::string stateItem(const Item &it, int indent) {
    std::string s = "state ", lineSoFar = std::string(indent, ' ') + s;
    for (size_t i = 0; i < it.params.size(); ++i) {
      std::string v = it.params[i] + ": " + it.types[i] + (i + 1 < it.params.size() ? "," : "");
      if (i > 0 && lineSoFar.size() + 1 + v.size() > 100) {
        s += "\n" + std::string(indent + 6, ' ');
        lineSoFar = std::string(indent + 6, ' ');
      } else if (i > 0) {
        s += " ";
        lineSoFar += " ";
      }
      s += v;
      lineSoFar += v;
    }
    return s;
  }

  static std::string simpleItem(const Item &it) {
    switch (it.kind) {
    case Item::Func: return it.name + "(" + names(it.params) + ") = " + expr(*it.value);
    case Item::Set: return it.name + " = " + expr(*it.value);
    case Item::State: {
      std::string s = "state ";
      for (size_t i = 0; i < it.params.size(); ++i)
        s += (i ? ", " : "") + it.params[i] + ": " + it.types[i];
      return s;
    }
    case Item::Proc: break;
    }
    return "";
  }

  void decl(const Decl &d) {
    bool simple = std::none_of(d.items.begin(), d.items.end(),
                               [](const Item &i) { return i.kind == Item::Proc; });
    // One line if it was written on one line and still fits.
    if (simple && d.end.line == d.loc.line && !commentWithin(d.loc, d.end)) {
      std::string s = header(d) + " {";
      for (const auto &it : d.items)
        s += (&it == &d.items.front() ? " " : "  ") + simpleItem(it);
      s += d.items.empty() ? "}" : " }";
      if (s.size() <= 100) {
        line(0, s);
        trailing(d.end);
        lastLine = d.end.line;
        return;
      }
    }
    line(0, header(d) + " {");
    trailing(d.loc, d.items.empty() ? d.end : d.items.front().loc);
    lastLine = kBlockStart;
    for (size_t k = 0; k < d.items.size(); ++k) {
      const Item &it = d.items[k];
      Loc following = k + 1 < d.items.size() ? d.items[k + 1].loc : d.end;
      comment(it.loc, 2, false);
      blankBefore(it.loc.line, false);
      if (it.kind == Item::Proc) {
        line(2, it.name + "(" + names(it.params) + ") {");
        trailing(it.loc, it.body.empty() ? it.end : it.body.front().loc);
        lastLine = kBlockStart;
        stmts(it.body, 4);
        comment(it.end, 4, false);
        line(2, "}");
        trailing(it.end, following);
      } else {
        line(2, it.kind == Item::State ? stateItem(it, 2) : simpleItem(it));
        trailing(it.end, following);
      }
      lastLine = it.end.line;
    }
    comment(d.end, 2, false);
    line(0, "}");
    trailing(d.end);
    lastLine = d.end.line;
  }

  void stmts(const std::vector<Stmt> &body, int indent) {
    for (size_t k = 0; k < body.size(); ++k) {
      const Stmt &s = body[k];
      Loc following = k + 1 < body.size() ? body[k + 1].loc : Loc{"", 1 << 30, 0};
      comment(s.loc, indent, false);
      blankBefore(s.loc.line, false);
      switch (s.kind) {
      case Stmt::Assign:
        line(indent, s.name + " = " + expr(*s.value));
        trailing(s.end, following);
        break;
      case Stmt::Return:
        line(indent, "return " + expr(*s.value));
        trailing(s.end, following);
        break;
      case Stmt::If: {
        line(indent, "if " + expr(*s.value) + " {");
        trailing(s.loc, !s.thenBody.empty()   ? s.thenBody.front().loc
                        : !s.elseBody.empty() ? s.elseBody.front().loc
                                              : s.end);
        lastLine = kBlockStart;
        stmts(s.thenBody, indent + 2);
        if (s.hasElse) {
          // Comments between the branches go to the top of the else branch.
          line(indent, "} else {");
          endLine();
          lastLine = kBlockStart;
          stmts(s.elseBody, indent + 2);
        }
        comment(s.end, indent + 2, false);
        line(indent, "}");
        trailing(s.end, following);
        break;
      }
      }
      lastLine = s.end.line;
    }
  }
};

} // namespace

std::string format(const Module &m) { return Formatter(m).run(m); }

} // namespace diffuse::ast
