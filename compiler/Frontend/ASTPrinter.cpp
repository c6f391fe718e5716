//===- ASTPrinter.cpp - `diffuse emit --emit=ast` -------------------------===//
#include "compiler/Frontend/AST.h"

#include <sstream>

namespace diffuse::ast {

static std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

bool anyOf(const Expr &e, const std::function<bool(const Expr &)> &pred) {
  if (pred(e))
    return true;
  for (const auto &o : e.ops)
    if (anyOf(*o, pred))
      return true;
  for (const auto &a : e.args)
    if (anyOf(*a.value, pred))
      return true;
  return false;
}

const char *opSpelling(char op) {
  switch (op) {
  case 'l': return "<=";
  case 'g': return ">=";
  case 'e': return "==";
  case 'n': return "!=";
  case '&': return "and";
  case '|': return "or";
  case '<': return "<";
  case '>': return ">";
  case '+': return "+";
  case '-': return "-";
  case '*': return "*";
  case '/': return "/";
  default: return "^";
  }
}

static void printStmts(std::ostream &os, const std::vector<Stmt> &body, int indent) {
  for (const auto &s : body) {
    os << std::string(indent, ' ');
    if (s.kind == Stmt::If) {
      os << "if ";
      print(os, *s.value);
      os << "\n";
      printStmts(os, s.thenBody, indent + 2);
      if (s.hasElse) {
        os << std::string(indent, ' ') << "else\n";
        printStmts(os, s.elseBody, indent + 2);
      }
      continue;
    }
    os << (s.kind == Stmt::Return ? "return " : s.name + " = ");
    print(os, *s.value);
    os << "\n";
  }
}

void print(std::ostream &os, const Expr &e) {
  switch (e.kind) {
  case Expr::Number: os << num(e.number); break;
  case Expr::Ident: os << e.name; break;
  case Expr::Neg: os << "(neg "; print(os, *e.ops[0]); os << ")"; break;
  case Expr::Not: os << "(not "; print(os, *e.ops[0]); os << ")"; break;
  case Expr::Binary:
    os << "(" << opSpelling(e.op) << " ";
    print(os, *e.ops[0]);
    os << " ";
    print(os, *e.ops[1]);
    os << ")";
    break;
  case Expr::Call:
    os << "(call " << e.name;
    for (const auto &a : e.args) {
      os << " ";
      if (!a.name.empty())
        os << a.name << "=";
      print(os, *a.value);
    }
    os << ")";
    break;
  case Expr::List:
    os << "[";
    for (size_t i = 0; i < e.ops.size(); ++i) {
      if (i) os << " ";
      print(os, *e.ops[i]);
    }
    os << "]";
    break;
  }
}

void print(std::ostream &os, const Module &m) {
  for (const auto &d : m.decls) {
    os << d.kind << " " << d.name << " @" << d.loc.line << ":" << d.loc.col;
    if (!d.params.empty()) {
      os << " params(";
      for (size_t i = 0; i < d.params.size(); ++i) {
        const auto &p = d.params[i];
        os << (i ? ", " : "") << p.name;
        if (!p.type.empty()) {
          os << ": " << p.type;
          for (long s : p.shape)
            os << "[" << s << "]";
        }
        if (p.defaultValue) {
          os << " = ";
          print(os, *p.defaultValue);
        }
      }
      os << ")";
    }
    os << "\n";
    for (const auto &it : d.items) {
      if (it.kind == Item::State) {
        os << "  state";
        for (size_t i = 0; i < it.params.size(); ++i)
          os << (i ? ", " : " ") << it.params[i] << ": " << it.types[i];
        os << " @" << it.loc.line << ":" << it.loc.col << "\n";
        continue;
      }
      os << "  " << (it.kind == Item::Set ? "set " : it.kind == Item::Func ? "func " : "proc ")
         << it.name;
      if (it.kind != Item::Set) {
        os << "(";
        for (size_t i = 0; i < it.params.size(); ++i)
          os << (i ? ", " : "") << it.params[i];
        os << ")";
      }
      os << " @" << it.loc.line << ":" << it.loc.col;
      if (it.value) {
        os << " = ";
        print(os, *it.value);
      }
      os << "\n";
      printStmts(os, it.body, 4);
    }
  }
}

} // namespace diffuse::ast
