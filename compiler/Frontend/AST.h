//===- AST.h - the Diffuse abstract syntax tree -----------------*- C++ -*-===//
//
// Plain data with a source location on every node. Built by Parser.cpp from
// the ANTLR parse tree; checked by Sema; consumed by MLIRGen.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_FRONTEND_AST_H
#define DIFFUSE_FRONTEND_AST_H

#include "compiler/Frontend/Diagnostics.h"

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace diffuse::ast {

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

struct Arg {
  std::string name; // empty when positional
  ExprPtr value;
  Loc nameLoc;      // the name (the value's location when positional)
};

struct Expr {
  enum Kind { Number, Ident, Neg, Not, Binary, Call, List } kind;
  Loc loc;
  double number = 0;       // Number
  bool isInt = false;      // Number written without a point or exponent
  std::string name;        // Ident, Call callee
  std::string text;        // Number: as written (for `diffuse fmt`)
  bool parens = false;     // written in parentheses (kept by `diffuse fmt`)
  /// Binary: + - * / ^, comparisons < > l (<=) g (>=) e (==) n (!=), & (and), | (or)
  char op = 0;
  std::vector<ExprPtr> ops; // Neg: 1, Binary: 2, List: n
  std::vector<Arg> args;   // Call
};

struct Stmt {
  enum Kind { Assign, Return, If } kind;
  Loc loc;
  std::string name; // Assign target
  ExprPtr value;    // Assign, Return; If: the condition
  std::vector<Stmt> thenBody, elseBody; // If
  bool hasElse = false;
  Loc end; // the last token
};

/// How a binary operator is written in Diffuse.
const char *opSpelling(char op);

/// Whether `pred` holds for `e` or any expression inside it.
bool anyOf(const Expr &e, const std::function<bool(const Expr &)> &pred);

struct Item {
  enum Kind { Func, Proc, Set, State } kind;
  Loc loc;
  std::string name;
  std::vector<std::string> params; // Func, Proc; State: the variables
  std::vector<std::string> types;  // State: "tensor" or "scalar" per variable
  std::vector<Loc> paramLocs;
  ExprPtr value;                   // Func, Set
  std::vector<Stmt> body;          // Proc
  Loc end;                         // the last token
};

struct Param {
  Loc loc;
  std::string name;
  std::string type;        // "" when untyped
  std::vector<long> shape; // f64[4] -> {4}
  ExprPtr defaultValue;    // may be null
};

struct Decl {
  Loc loc;
  Loc nameLoc;
  std::string kind; // process, model, guidance, solver, sampler
  std::string name;
  std::vector<Param> params;
  std::vector<Item> items;
  Loc end; // the closing brace

  const Item *find(const std::string &key) const {
    for (const auto &it : items)
      if (it.name == key)
        return &it;
    return nullptr;
  }
};

/// What `diffuse fmt` needs beyond the declarations: the top file's own
/// imports and comments, in source order.
struct Import {
  Loc loc;
  std::string path; // as written, without quotes
};
struct Comment {
  Loc loc;
  std::string text; // from "//" to the end of the line
};

struct Module {
  std::vector<Decl> decls;
  std::vector<Import> imports;   // the top file's
  std::vector<Comment> comments; // the top file's
};

/// The canonical formatting of a module parsed without its imports
/// (`diffuse fmt`): comments kept, numbers as written.
std::string format(const Module &m);

void print(std::ostream &os, const Module &m);
void print(std::ostream &os, const Expr &e);

} // namespace diffuse::ast

#endif
