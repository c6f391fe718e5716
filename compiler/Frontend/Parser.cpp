//===- Parser.cpp - Diffuse source to AST ---------------------------------===//
//
// Runs the ANTLR-generated lexer and parser, reports syntax errors through
// DiagEngine (file:line:col with a caret), and converts the parse tree into
// the AST of AST.h. `import` is resolved here: relative to the importing
// file, then along ParseOptions::importPaths; cycles are reported.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/Parser.h"

#include "DiffuseLexer.h"
#include "DiffuseParser.h"
#include "antlr4-runtime.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace diffuse_grammar;

namespace diffuse {
namespace {

/// Sends ANTLR's syntax errors to DiagEngine with a friendlier wording.
class ErrorListener : public antlr4::BaseErrorListener {
public:
  ErrorListener(DiagEngine &diag, std::string file) : diag(diag), file(std::move(file)) {}
  void syntaxError(antlr4::Recognizer *, antlr4::Token *tok, size_t line, size_t col,
                   const std::string &msg, std::exception_ptr) override {
    if (++count > 20)
      return; // one bad byte sequence should not print thousands of lines
    std::string text = tok ? tok->getText() : "";
    std::string what = msg;
    std::string fix;
    if (tok && tok->getType() == antlr4::Token::EOF) {
      what = "unexpected end of file";
      fix = "a '{' or '(' is not closed";
    } else if (tok && tok->getType() == DiffuseLexer::ERRCHAR) {
      what = "unexpected character '" + printable(text) + "'";
      fix = "Diffuse uses letters, digits, _ and + - * / ^ = ( ) [ ] { } , : and \"strings\"";
    } else if (!tok) {
      // Lexer error.
      what = "unexpected character";
    } else if (msg.rfind("missing ", 0) == 0) {
      size_t at = msg.rfind(" at ");
      what = msg.substr(0, at) + " before '" + printable(text) + "'";
    } else {
      what = "unexpected '" + printable(text) + "'";
      if (msg.find("expecting") != std::string::npos)
        fix = msg.substr(msg.find("expecting"));
    }
    diag.error(Loc{file, (int)line, (int)col + 1}, "syntax error: " + what, fix);
  }

private:
  static std::string printable(const std::string &s) {
    std::string out;
    for (unsigned char c : s.substr(0, 40)) {
      if (c >= 32 && c < 127) {
        out += (char)c;
      } else {
        char buf[8];
        snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      }
    }
    return out;
  }
  DiagEngine &diag;
  std::string file;
  int count = 0;
};

class Builder {
public:
  Builder(std::string file, DiagEngine &diag) : file(std::move(file)), diag(diag) {}

  Loc loc(antlr4::ParserRuleContext *ctx) { return loc(ctx->getStart()); }
  Loc loc(antlr4::Token *t) {
    return Loc{file, (int)t->getLine(), (int)t->getCharPositionInLine() + 1};
  }
  Loc loc(antlr4::tree::TerminalNode *n) { return loc(n->getSymbol()); }

  ast::ExprPtr expr(DiffuseParser::ExprContext *ctx) {
    auto e = std::make_shared<ast::Expr>();
    e->loc = loc(ctx);
    if (auto c = dynamic_cast<DiffuseParser::NegExprContext *>(ctx)) {
      e->kind = ast::Expr::Neg;
      e->ops.push_back(expr(c->expr()));
    } else if (auto c = dynamic_cast<DiffuseParser::PowExprContext *>(ctx)) {
      binary(*e, '^', c->expr(0), c->expr(1));
    } else if (auto c = dynamic_cast<DiffuseParser::MulExprContext *>(ctx)) {
      binary(*e, c->op->getText()[0], c->expr(0), c->expr(1));
      e->loc = loc(c->op);
    } else if (auto c = dynamic_cast<DiffuseParser::AddExprContext *>(ctx)) {
      binary(*e, c->op->getText()[0], c->expr(0), c->expr(1));
      e->loc = loc(c->op);
    } else if (auto c = dynamic_cast<DiffuseParser::CmpExprContext *>(ctx)) {
      std::string o = c->op->getText();
      char code = o == "<" ? '<' : o == ">" ? '>' : o == "<=" ? 'l' : o == ">=" ? 'g'
                  : o == "==" ? 'e' : 'n';
      binary(*e, code, c->expr(0), c->expr(1));
      e->loc = loc(c->op);
    } else if (auto c = dynamic_cast<DiffuseParser::NotExprContext *>(ctx)) {
      e->kind = ast::Expr::Not;
      e->ops.push_back(expr(c->expr()));
    } else if (auto c = dynamic_cast<DiffuseParser::AndExprContext *>(ctx)) {
      binary(*e, '&', c->expr(0), c->expr(1));
    } else if (auto c = dynamic_cast<DiffuseParser::OrExprContext *>(ctx)) {
      binary(*e, '|', c->expr(0), c->expr(1));
    } else if (auto c = dynamic_cast<DiffuseParser::CallExprContext *>(ctx)) {
      e->kind = ast::Expr::Call;
      e->name = c->ID()->getText();
      if (c->args())
        for (auto *a : c->args()->arg())
          e->args.push_back({a->ID() ? a->ID()->getText() : "", expr(a->expr()),
                             a->ID() ? loc(a->ID()) : loc(a->expr())});
    } else if (auto c = dynamic_cast<DiffuseParser::ListExprContext *>(ctx)) {
      e->kind = ast::Expr::List;
      for (auto *x : c->expr())
        e->ops.push_back(expr(x));
    } else if (auto c = dynamic_cast<DiffuseParser::ParenExprContext *>(ctx)) {
      ast::ExprPtr inner = expr(c->expr());
      inner->parens = true;
      return inner;
    } else if (auto c = dynamic_cast<DiffuseParser::NumExprContext *>(ctx)) {
      e->kind = ast::Expr::Number;
      e->text = c->getText();
      e->number = std::strtod(c->getText().c_str(), nullptr);
      checkFinite(*e, c->getText());
    } else if (auto c = dynamic_cast<DiffuseParser::IntExprContext *>(ctx)) {
      e->kind = ast::Expr::Number;
      e->text = c->getText();
      e->isInt = true;
      e->number = std::strtod(c->getText().c_str(), nullptr);
      checkFinite(*e, c->getText());
    } else if (auto c = dynamic_cast<DiffuseParser::IdExprContext *>(ctx)) {
      e->kind = ast::Expr::Ident;
      e->name = c->getText();
    }
    return e;
  }

  void binary(ast::Expr &e, char op, DiffuseParser::ExprContext *l,
              DiffuseParser::ExprContext *r) {
    e.kind = ast::Expr::Binary;
    e.op = op;
    e.ops.push_back(expr(l));
    e.ops.push_back(expr(r));
  }

  ast::Stmt stmt(DiffuseParser::StmtContext *sc) {
    ast::Stmt s;
    s.loc = loc(sc);
    s.end = loc(sc->getStop());
    if (auto a = dynamic_cast<DiffuseParser::AssignStmtContext *>(sc)) {
      s.kind = ast::Stmt::Assign;
      s.name = a->ID()->getText();
      s.value = expr(a->expr());
    } else if (auto r = dynamic_cast<DiffuseParser::ReturnStmtContext *>(sc)) {
      s.kind = ast::Stmt::Return;
      s.value = expr(r->expr());
    } else if (auto i = dynamic_cast<DiffuseParser::IfStmtContext *>(sc)) {
      s.kind = ast::Stmt::If;
      s.value = expr(i->expr());
      for (auto *t : i->thenBody)
        s.thenBody.push_back(stmt(t));
      for (auto *t : i->elseBody)
        s.elseBody.push_back(stmt(t));
      for (auto *child : i->children)
        if (child->getText() == "else")
          s.hasElse = true;
    }
    return s;
  }

  ast::Decl decl(DiffuseParser::BlockDeclContext *c) {
    ast::Decl d;
    d.loc = loc(c->kind);
    d.nameLoc = loc(c->name);
    d.kind = c->kind->getText();
    d.name = c->name->getText();
    d.end = loc(c->getStop());
    if (c->params())
      for (auto *p : c->params()->param()) {
        ast::Param param;
        param.loc = loc(p);
        param.name = p->ID()->getText();
        if (p->type()) {
          param.type = p->type()->ID()->getText();
          for (auto *n : p->type()->INT())
            param.shape.push_back(std::strtol(n->getText().c_str(), nullptr, 10));
        }
        if (p->expr())
          param.defaultValue = expr(p->expr());
        d.params.push_back(std::move(param));
      }
    for (auto *ic : c->item()) {
      ast::Item item;
      item.loc = loc(ic);
      item.end = loc(ic->getStop());
      auto idList = [&](DiffuseParser::IdListContext *l) {
        if (!l)
          return;
        for (auto *id : l->ID()) {
          item.params.push_back(id->getText());
          item.paramLocs.push_back(loc(id));
        }
      };
      if (auto f = dynamic_cast<DiffuseParser::FuncItemContext *>(ic)) {
        item.kind = ast::Item::Func;
        item.name = f->ID()->getText();
        idList(f->idList());
        item.value = expr(f->expr());
      } else if (auto p = dynamic_cast<DiffuseParser::ProcItemContext *>(ic)) {
        item.kind = ast::Item::Proc;
        item.name = p->ID()->getText();
        idList(p->idList());
        for (auto *sc : p->stmt())
          item.body.push_back(stmt(sc));
      } else if (auto st = dynamic_cast<DiffuseParser::StateItemContext *>(ic)) {
        item.kind = ast::Item::State;
        item.name = "state";
        for (auto *v : st->stateVar()) {
          item.params.push_back(v->ID(0)->getText());
          item.types.push_back(v->ID(1)->getText());
          item.paramLocs.push_back(loc(v->ID(1)));
        }
      } else if (auto s = dynamic_cast<DiffuseParser::SetItemContext *>(ic)) {
        item.kind = ast::Item::Set;
        item.name = s->ID()->getText();
        item.value = expr(s->expr());
      }
      d.items.push_back(std::move(item));
    }
    return d;
  }

private:
  void checkFinite(const ast::Expr &e, const std::string &text) {
    if (!std::isfinite(e.number))
      diag.error(e.loc, "number '" + text.substr(0, 40) + "' is out of range",
                 "numbers are 64-bit floating point (at most about 1.8e308)");
  }
  std::string file;
  DiagEngine &diag;
};

struct ParseState {
  const ParseOptions &opts;
  DiagEngine &diag;
  ast::Module &out;
  std::vector<std::string> stack; // files being parsed (import cycle check)
  std::set<std::string> done;
};

bool readFile(const std::string &path, std::string &text, std::string &why) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    why = "is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot be opened";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

bool parseInto(ParseState &st, const std::string &name, const std::string &text);

bool resolveImport(ParseState &st, const std::string &from, const std::string &rel,
                   const Loc &where) {
  std::vector<fs::path> candidates;
  candidates.push_back(fs::path(from).parent_path() / rel);
  for (const auto &p : st.opts.importPaths)
    candidates.push_back(fs::path(p) / rel);
  for (const auto &c : candidates) {
    std::error_code ec;
    if (!fs::is_regular_file(c, ec))
      continue;
    std::string canon = fs::weakly_canonical(c, ec).string();
    for (const auto &s : st.stack)
      if (s == canon) {
        st.diag.error(where, "import cycle: \"" + rel + "\" imports itself through its imports",
                      "remove one of the imports in the cycle");
        return false;
      }
    if (st.done.count(canon))
      return true;
    std::string text, why;
    if (!readFile(canon, text, why)) {
      st.diag.error(where, "cannot import \"" + rel + "\": it " + why);
      return false;
    }
    st.stack.push_back(canon);
    bool ok = parseInto(st, canon, text);
    st.stack.pop_back();
    st.done.insert(canon);
    return ok;
  }
  st.diag.error(where, "cannot find import \"" + rel + "\"",
                "imports are looked up next to the importing file and in the stdlib folder");
  return false;
}

/// Rejects what the ANTLR runtime cannot take (invalid UTF-8, NUL bytes) or
/// would recurse on without bound (deep nesting), with a located error.
bool precheck(ParseState &st, const std::string &name, const std::string &text) {
  int line = 1, col = 1, depth = 0;
  bool inComment = false;
  const int kMaxDepth = 256;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = (unsigned char)text[i];
    Loc here{name, line, col};
    // Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code
    // points above U+10FFFF, which ANTLR's decoder would throw on.
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len != 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k)
      ok = ((unsigned char)text[i + k] >> 6) == 2;
    if (ok && len > 1) {
      unsigned char c1 = (unsigned char)text[i + 1];
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
          (c == 0xF4 && c1 > 0x8F))
        ok = false;
    }
    if (!ok) {
      char buf[8];
      snprintf(buf, sizeof buf, "0x%02x", c);
      st.diag.error(here, std::string("invalid UTF-8 byte ") + buf,
                    "a spec is UTF-8 text; is this a binary file?");
      return false;
    }
    if (c == 0) {
      st.diag.error(here, "NUL byte in the spec", "a spec is text; is this a binary file?");
      return false;
    }
    if (inComment) {
      // Comments are checked for valid UTF-8 too, but their brackets do not count.
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        st.diag.error(here, "brackets nested deeper than " + std::to_string(kMaxDepth) +
                                " levels", "split the expression with named intermediate values");
        return false;
      }
    } else if (c == ')' || c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      inComment = true;
    }
    if (c == '\n') {
      inComment = false;
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += len;
  }
  return true;
}

bool parseInto(ParseState &st, const std::string &name, const std::string &text) {
  st.diag.addSource(name, text);
  int before = st.diag.errorCount();
  if (!precheck(st, name, text))
    return false;
  // ANTLR's objects live until the AST is built from its tree.
  std::unique_ptr<antlr4::ANTLRInputStream> input;
  std::unique_ptr<DiffuseLexer> lexer;
  std::unique_ptr<antlr4::CommonTokenStream> tokens;
  std::unique_ptr<DiffuseParser> parser;
  ErrorListener listener(st.diag, name);
  DiffuseParser::SpecContext *tree = nullptr;
  try {
    input = std::make_unique<antlr4::ANTLRInputStream>(text);
    lexer = std::make_unique<DiffuseLexer>(input.get());
    lexer->removeErrorListeners();
    lexer->addErrorListener(&listener);
    tokens = std::make_unique<antlr4::CommonTokenStream>(lexer.get());
    parser = std::make_unique<DiffuseParser>(tokens.get());
    parser->removeErrorListeners();
    parser->addErrorListener(&listener);
    tree = parser->spec();
  } catch (const std::exception &e) {
    st.diag.error(Loc{name, 0, 0}, std::string("the parser failed: ") + e.what(),
                  "please report this input");
    return false;
  }
  if (st.diag.errorCount() != before)
    return false;
  Builder b(name, st.diag);
  bool ok = true;
  bool top = st.stack.size() == 1;
  if (top) {
    tokens->fill();
    for (antlr4::Token *t : tokens->getTokens())
      if (t->getType() == DiffuseLexer::COMMENT)
        st.out.comments.push_back({b.loc(t), t->getText()});
  }
  for (auto *dc : tree->decl()) {
    if (auto imp = dynamic_cast<DiffuseParser::ImportDeclContext *>(dc)) {
      std::string rel = imp->STRING()->getText();
      rel = rel.substr(1, rel.size() - 2);
      if (top)
        st.out.imports.push_back({b.loc(imp), rel});
      if (st.opts.resolveImports)
        ok &= resolveImport(st, name, rel, b.loc(imp->STRING()));
    } else if (auto bd = dynamic_cast<DiffuseParser::BlockDeclContext *>(dc)) {
      st.out.decls.push_back(b.decl(bd));
    }
  }
  return ok && st.diag.errorCount() == before;
}

} // namespace

bool parseText(const std::string &name, const std::string &text, const ParseOptions &opts,
               DiagEngine &diag, ast::Module &out) {
  ParseState st{opts, diag, out, {}, {}};
  std::error_code ec;
  st.stack.push_back(fs::weakly_canonical(name, ec).string());
  return parseInto(st, name, text);
}

bool parseFile(const std::string &path, const ParseOptions &opts, DiagEngine &diag,
               ast::Module &out) {
  std::string text, why;
  if (!readFile(path, text, why)) {
    diag.error(Loc{path, 0, 0}, "the spec file " + why, "give the path of a .dfs file");
    return false;
  }
  return parseText(path, text, opts, diag, out);
}

bool applyOverride(ast::Module &m, const std::string &setting, DiagEngine &diag) {
  Loc where{"--set " + setting, 0, 0};
  size_t eq = setting.find('=');
  size_t dot = setting.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    diag.error(where, "expected --set DECL.KEY=VALUE", "for example --set cfg.w=3");
    return false;
  }
  std::string declName = setting.substr(0, dot);
  std::string key = setting.substr(dot + 1, eq - dot - 1);
  std::string value = setting.substr(eq + 1);
  ast::Module tmp;
  std::string text = "override __o { " + key + " = " + value + " }";
  if (!parseText("--set " + setting, text, ParseOptions{}, diag, tmp) ||
      tmp.decls.size() != 1 || tmp.decls[0].items.size() != 1) {
    diag.error(where, "cannot parse the value of --set " + setting);
    return false;
  }
  ast::ExprPtr e = tmp.decls[0].items[0].value;
  std::vector<std::string> names;
  for (auto &d : m.decls) {
    names.push_back(d.name);
    if (d.name != declName)
      continue;
    for (auto &p : d.params)
      if (p.name == key) {
        p.defaultValue = e;
        return true;
      }
    for (auto &it : d.items)
      if (it.name == key && it.kind == ast::Item::Set) {
        it.value = e;
        return true;
      }
    ast::Item item;
    item.kind = ast::Item::Set;
    item.loc = where;
    item.name = key;
    item.value = e;
    d.items.push_back(item);
    return true;
  }
  std::string near = closestMatch(declName, names);
  diag.error(where, "--set names no declaration '" + declName + "'",
             near.empty() ? "" : "did you mean '" + near + "'?");
  return false;
}

void applyElementType(ast::Module &m, const std::string &dtype) {
  for (auto &d : m.decls) {
    if (d.kind != "model")
      continue;
    auto x = std::find_if(d.params.begin(), d.params.end(),
                          [](const ast::Param &p) { return p.name == "x"; });
    if (x != d.params.end()) {
      x->type = dtype;
      continue;
    }
    ast::Param p;
    p.loc = d.nameLoc;
    p.name = "x";
    p.type = dtype;
    d.params.push_back(p);
  }
}

} // namespace diffuse
