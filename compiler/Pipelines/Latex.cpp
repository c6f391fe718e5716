//===- Latex.cpp - `diffuse emit --emit=latex` ----------------------------===//
//
// The derived mathematics as LaTeX, read off the module after
// `diffuse-derive`: the process functions and their symbolic derivatives,
// the SDE coefficients they imply, and each step variant's update as the
// compiler will compute it (network calls, noise draws and values used more
// than once get names; constants are shown as folded).
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/Pipeline.h"
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseMap.h"

#include <cmath>
#include <sstream>

using namespace mlir;

namespace diffuse {
namespace {

/// A printed expression and how tightly it binds: 0 sum, 1 product,
/// 2 unary minus, 3 atom (safe anywhere).
struct Tex {
  std::string s;
  int prec;
};

std::string number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::ostringstream os;
    os << (long long)v;
    return os.str();
  }
  // The shortest decimal that reads back as the same double.
  std::string s;
  for (int digits = 1; digits <= 17; ++digits) {
    std::ostringstream os;
    os.precision(digits);
    os << v;
    s = os.str();
    if (std::stod(s) == v)
      break;
  }
  size_t e = s.find('e');
  if (e == std::string::npos)
    return s;
  return s.substr(0, e) + " \\times 10^{" + std::to_string(std::stoi(s.substr(e + 1))) + "}";
}

class Printer {
public:
  Printer(std::ostream &os, std::string coords, std::string mainModel)
      : os(os), coords(std::move(coords)), mainModel(std::move(mainModel)) {}

  /// alpha(t) = ..., from a function of one f64 argument named `t`.
  void scalarFunction(func::FuncOp f, const std::string &lhs, const std::string &arg = "t") {
    names.clear();
    lets.clear();
    shared.clear();
    names[f.getArgument(0)] = Tex{arg, 3};
    auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
    Tex r = expr(ret.getOperand(0));
    for (auto &l : lets)
      os << "  " << l << " \\\\\n";
    lets.clear();
    os << "  " << lhs << " &= " << r.s;
  }

  void step(func::FuncOp f) {
    names.clear();
    lets.clear();
    shared.clear();
    counter = 0;
    Block &b = f.getBody().front();
    names[b.getArgument(0)] = Tex{"x", 3};
    names[b.getArgument(1)] = Tex{"s", 3};
    names[b.getArgument(2)] = Tex{"t", 3};
    int field = 0, scalar = 0;
    for (unsigned i = 3; i < b.getNumArguments(); ++i) {
      bool isField = isa<FieldType>(b.getArgument(i).getType());
      names[b.getArgument(i)] =
          Tex{isField ? "S_{" + std::to_string(++field) + "}" : "h_{" + std::to_string(++scalar) + "}",
              3};
    }
    // Values used more than once are named where they are defined.
    for (Operation &op : b.without_terminator())
      for (Value r : op.getResults())
        if (!r.hasOneUse() && !r.use_empty() && !isa<PointOp, arith::ConstantOp>(op))
          shared.insert(r);
    auto ret = cast<func::ReturnOp>(b.getTerminator());
    std::vector<std::string> outs;
    field = scalar = 0;
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      std::string lhs = i == 0 ? "x_{t}"
                        : isa<FieldType>(v.getType()) ? "S_{" + std::to_string(++field) + "}'"
                                                      : "h_{" + std::to_string(++scalar) + "}'";
      outs.push_back("  " + lhs + " &= " + expr(v).s);
    }
    for (auto &l : lets)
      os << "  " << l << " \\\\\n";
    for (size_t i = 0; i < outs.size(); ++i)
      os << outs[i] << (i + 1 < outs.size() ? " \\\\\n" : "\n");
  }

private:
  std::ostream &os;
  std::string coords; // the solver's: native, ve or lambda
  std::string mainModel; // the sampler's model; others are named in F_{...}
  llvm::DenseMap<Value, Tex> names;
  llvm::DenseSet<Value> shared;
  std::vector<std::string> lets;
  int counter = 0;

  static std::string wrap(const Tex &t, int minPrec) {
    return t.prec < minPrec ? "\\left(" + t.s + "\\right)" : t.s;
  }

  std::string name(const std::string &base) { return base + "_{" + std::to_string(++counter) + "}"; }
  /// An identifier as LaTeX text (underscores escaped).
  static std::string texIdent(StringRef id) {
    std::string s;
    for (char c : id)
      s += c == '_' ? std::string("\\_") : std::string(1, c);
    return s;
  }

  std::string timeName(Value t) { return expr(t).s; }

  Tex point(PointOp p) {
    std::string at = timeName(p.getTime());
    StringRef f = p.getField();
    if (f == "a") return {"\\alpha_{" + at + "}", 3};
    if (f == "s") return {"\\sigma_{" + at + "}", 3};
    if (f == "da") return {"\\alpha'_{" + at + "}", 3};
    if (f == "ds") return {"\\sigma'_{" + at + "}", 3};
    if (f == "beta") return {"\\beta_{" + at + "}", 3};
    if (f == "tau")
      return {coords == "ve"       ? "\\tau_{" + at + "}"
              : coords == "lambda" ? "\\lambda_{" + at + "}"
                                   : at,
              3};
    return {"t^{\\mathrm{net}}_{" + at + "}", 3};
  }

  Tex expr(Value v) {
    auto it = names.find(v);
    if (it != names.end())
      return it->second;
    Tex t = compute(v);
    Operation *def = v.getDefiningOp();
    if (shared.count(v) && def &&
        !isa<PointOp, arith::ConstantOp, ModelCallOp, NoiseOp, InputOp, AtOp, StepCtxOp>(def)) {
      std::string n = name("v");
      lets.push_back(n + " &= " + t.s);
      t = Tex{n, 3};
    }
    names[v] = t;
    return t;
  }

  Tex bin(char op, Value a, Value b) {
    Tex l = expr(a), r = expr(b);
    switch (op) {
    case '+':
      if (r.prec == 2) // a + (-b) reads a - b
        return {l.s + " - " + r.s.substr(1), 0};
      return {l.s + " + " + wrap(r, 0), 0};
    case '-':
      if (!r.s.empty() && r.s[0] == '-') // a - (-b c), not a - -b c
        return {l.s + " - \\left(" + r.s + "\\right)", 0};
      return {l.s + " - " + wrap(r, r.prec == 2 ? 3 : 1), 0};
    case '*': return {wrap(l, 1) + " \\, " + wrap(r, 3), 1};
    default: return {"\\frac{" + l.s + "}{" + r.s + "}", 3};
    }
  }

  Tex fn(const std::string &f, Value a, const std::string &pre = "",
         const std::string &post = "") {
    return {f + "\\left(" + pre + expr(a).s + post + "\\right)", 3};
  }

  /// x when `op` is max(x, 0) + log1p(exp(-|x|)), the overflow-free
  /// log(1 + e^x) that diffuse-invert-lambda writes.
  static Value softplusArgument(Operation *op) {
    auto add = dyn_cast<arith::AddFOp>(op);
    if (!add)
      return {};
    auto max = add.getLhs().getDefiningOp<arith::MaximumFOp>();
    auto l1p = add.getRhs().getDefiningOp<math::Log1pOp>();
    if (!max || !l1p)
      return {};
    auto exp = l1p.getOperand().getDefiningOp<math::ExpOp>();
    auto neg = exp ? exp.getOperand().getDefiningOp<arith::NegFOp>() : arith::NegFOp();
    auto abs = neg ? neg.getOperand().getDefiningOp<math::AbsFOp>() : math::AbsFOp();
    auto zero = max.getRhs().getDefiningOp<arith::ConstantOp>();
    if (!abs || abs.getOperand() != max.getLhs() || !zero)
      return {};
    auto z = dyn_cast<FloatAttr>(zero.getValue());
    return z && z.getValueAsDouble() == 0 ? max.getLhs() : Value();
  }

  Tex compute(Value v) {
    Operation *op = v.getDefiningOp();
    if (!op)
      return {"?", 3};
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      double d = cast<FloatAttr>(c.getValue()).getValueAsDouble();
      return {number(d), d < 0 ? 2 : 3};
    }
    if (auto p = dyn_cast<PointOp>(op))
      return point(p);
    if (Value x = softplusArgument(op))
      return fn("\\log", x, "1 + e^{", "}");
    if (isa<arith::AddFOp, AddOp>(op)) return bin('+', op->getOperand(0), op->getOperand(1));
    if (isa<arith::SubFOp, SubOp>(op)) return bin('-', op->getOperand(0), op->getOperand(1));
    if (isa<arith::MulFOp, MulOp>(op)) return bin('*', op->getOperand(0), op->getOperand(1));
    if (isa<arith::DivFOp, DivOp>(op)) return bin('/', op->getOperand(0), op->getOperand(1));
    if (isa<arith::NegFOp, NegOp>(op)) return {"-" + wrap(expr(op->getOperand(0)), 2), 2};
    if (isa<math::ExpOp>(op)) return {"e^{" + expr(op->getOperand(0)).s + "}", 3};
    if (isa<math::ExpM1Op>(op)) return {"\\left(e^{" + expr(op->getOperand(0)).s + "} - 1\\right)", 3};
    if (isa<math::LogOp>(op)) return fn("\\log", op->getOperand(0));
    if (isa<math::Log1pOp>(op)) return fn("\\log1p", op->getOperand(0));
    if (isa<math::SqrtOp>(op)) return {"\\sqrt{" + expr(op->getOperand(0)).s + "}", 3};
    if (isa<math::SinOp>(op)) return fn("\\sin", op->getOperand(0));
    if (isa<math::CosOp>(op)) return fn("\\cos", op->getOperand(0));
    if (isa<math::TanOp>(op)) return fn("\\tan", op->getOperand(0));
    if (isa<math::TanhOp>(op)) return fn("\\tanh", op->getOperand(0));
    if (isa<math::AcosOp>(op)) return fn("\\arccos", op->getOperand(0));
    if (isa<math::AsinOp>(op)) return fn("\\arcsin", op->getOperand(0));
    if (isa<math::AtanOp>(op)) return fn("\\arctan", op->getOperand(0));
    if (isa<math::AsinhOp>(op)) return fn("\\operatorname{arsinh}", op->getOperand(0));
    if (isa<math::AtanhOp>(op)) return fn("\\operatorname{artanh}", op->getOperand(0));
    if (isa<math::AbsFOp>(op)) return {"\\left|" + expr(op->getOperand(0)).s + "\\right|", 3};
    if (isa<math::FloorOp>(op)) return {"\\lfloor " + expr(op->getOperand(0)).s + " \\rfloor", 3};
    if (isa<arith::TruncFOp>(op)) return fn("\\operatorname{f32}", op->getOperand(0));
    if (isa<arith::ExtFOp>(op)) return expr(op->getOperand(0));
    if (isa<math::PowFOp>(op))
      return {"{" + wrap(expr(op->getOperand(0)), 3) + "}^{" + expr(op->getOperand(1)).s + "}", 3};
    if (isa<AbsOp>(op)) return {"\\left|" + expr(op->getOperand(0)).s + "\\right|", 3};
    if (auto m = dyn_cast<MathOp>(op)) { // as the scalar functions above
      std::string a = expr(m.getOperand()).s, f = m.getFn().str();
      if (f == "exp") return {"e^{" + a + "}", 3};
      if (f == "expm1") return {"\\left(e^{" + a + "} - 1\\right)", 3};
      if (f == "sqrt") return {"\\sqrt{" + a + "}", 3};
      if (f == "floor") return {"\\lfloor " + a + " \\rfloor", 3};
      return fn("\\" + f, m.getOperand());
    }
    if (isa<arith::MinimumFOp, arith::MinNumFOp, MinOp>(op))
      return {"\\min\\left(" + expr(op->getOperand(0)).s + ", " + expr(op->getOperand(1)).s +
                  "\\right)", 3};
    if (isa<arith::MaximumFOp, arith::MaxNumFOp, MaxOp>(op))
      return {"\\max\\left(" + expr(op->getOperand(0)).s + ", " + expr(op->getOperand(1)).s +
                  "\\right)", 3};
    if (auto m = dyn_cast<ModelCallOp>(op)) {
      // Name every output of a call at once: F_theta for the sampler's
      // model, F_{name} for another one; the condition after the time.
      std::string x = expr(m.getInput()).s, t = timeName(m.getTime());
      bool own = m.getModel() == mainModel;
      std::string base = (own ? std::string("F_{\\theta}") : "F_{\\mathrm{" + texIdent(m.getModel()) + "}}") +
                         "\\left(" + x + ", " + t;
      // With learned variance the second half are the variance channels,
      // nu_theta (Nichol & Dhariwal's v).
      auto outs = m.getOutputs();
      size_t nc = m.getConds().size();
      for (auto [i, o] : llvm::enumerate(outs)) {
        bool variance = i >= nc;
        std::string n = name(variance ? "\\nu" : "m");
        int32_t c = m.getConds()[i % nc];
        std::string arg = nc == 1 && own ? ""
                          : c < 0        ? ", \\varnothing"
                          : c == 0       ? ", c"
                                         : ", c_{" + std::to_string(c) + "}";
        std::string head = variance ? "\\nu" + base.substr(base.find('_')) : base;
        lets.push_back(n + " &= " + head + arg + "\\right)");
        names[o] = Tex{n, 3};
      }
      return names[v];
    }
    if (isa<NoiseOp>(op)) {
      std::string n = name("z");
      lets.push_back(n + " &\\sim \\mathcal{N}(0, I)");
      return {n, 3};
    }
    if (auto a = dyn_cast<AtOp>(op)) {
      std::string n = name("u");
      lets.push_back(n + " &= " + (a.getLambda() ? "\\lambda^{-1}\\left(" : "\\tau^{-1}\\left(") +
                     expr(a.getValue()).s + "\\right)");
      return {n, 3};
    }
    if (auto c = dyn_cast<StepCtxOp>(op))
      return {"\\mathrm{" + c.getName().str() + "}", 3};
    if (auto in = dyn_cast<InputOp>(op)) // the kept data and its mask
      return {in.getName() == "data" ? "x_0^{\\mathrm{known}}" : "m", 3};
    return {"\\mathrm{" + op->getName().getStringRef().str() + "}", 3};
  }
};

} // namespace

bool emitLatex(ModuleOp module, std::string &out, DiagEngine &) {
  std::ostringstream os;
  SamplerOp sampler;
  for (auto s : module.getOps<SamplerOp>())
    sampler = s;
  DictionaryAttr cfg = sampler ? sampler.getConfig() : DictionaryAttr();
  auto str = [&](StringRef k) {
    if (!cfg)
      return std::string();
    if (auto s = cfg.getAs<StringAttr>(k))
      return s.getValue().str();
    if (auto s = cfg.getAs<FlatSymbolRefAttr>(k))
      return s.getValue().str();
    return std::string();
  };
  os << "% Diffuse: sampler " << (sampler ? sampler.getSymName().str() : "?") << ", process "
     << str("process") << ", model " << str("model") << ", solver " << str("solver")
     << ", coordinates " << str("coords") << "\n";
  Printer p(os, str("coords"), str("model"));
  SymbolTable symbols(module);
  // A process declared as an SDE shows its declaration and how its
  // marginals were found (diffuse-integrate-sde); a quadrature's alpha and
  // sigma are sums over nodes, shown by their definition instead.
  ProcessOp process;
  if (!str("process").empty())
    process = symbols.lookup<ProcessOp>(str("process"));
  DictionaryAttr pcfg = process ? process.getConfig() : DictionaryAttr();
  auto funcOf = [&](StringRef key) {
    return process ? processFunction(process, key) : func::FuncOp();
  };
  auto marginals = pcfg ? pcfg.getAs<StringAttr>("marginals") : StringAttr();
  bool sde = marginals && funcOf("drift") && funcOf("diffusion");
  bool quadrature = sde && marginals.getValue().starts_with("quadrature");
  if (sde) {
    os << "% Declared as the SDE dx = f(t) x dt + g(t) dW from the data at t = 0; marginals: "
       << marginals.getValue().str() << ".\n\\begin{align*}\n";
    p.scalarFunction(funcOf("drift"), "f(t)");
    os << " \\\\\n";
    p.scalarFunction(funcOf("diffusion"), "g(t)");
    os << "\n\\end{align*}\n";
  }
  const char *fns[][2] = {{"alpha", "\\alpha(t)"},
                          {"sigma", "\\sigma(t)"},
                          {"dalpha", "\\alpha'(t)"},
                          {"dsigma", "\\sigma'(t)"}};
  bool any = false;
  if (quadrature) {
    os << "% The marginals (by quadrature) and their derivatives (from the SDE).\n"
          "\\begin{align*}\n"
          "  \\alpha(t) &= \\exp\\int_0^t f(u)\\,du, \\quad "
          "\\sigma^2(t) = \\alpha^2(t) \\int_0^t \\frac{g^2(u)}{\\alpha^2(u)}\\,du \\\\\n"
          "  \\alpha'(t) &= f(t)\\,\\alpha(t), \\quad "
          "\\sigma'(t) = \\frac{2 f(t) \\sigma^2(t) + g^2(t)}{2 \\sigma(t)}";
    any = true;
  } else {
    for (auto &[key, lhs] : fns)
      if (auto f = funcOf(key)) {
        os << (any ? " \\\\\n" : "% The process and its derivatives (constants folded).\n"
                                  "\\begin{align*}\n");
        p.scalarFunction(f, lhs);
        any = true;
      }
  }
  if (any) {
    os << " \\\\\n  \\lambda(t) &= \\log\\frac{\\alpha(t)}{\\sigma(t)}";
    if (auto inv = funcOf("t_of_lambda")) {
      os << " \\\\\n";
      p.scalarFunction(inv, "t(\\lambda)", "\\lambda");
    }
    if (!sde)
      os << " \\\\\n  f(t) &= \\frac{\\alpha'(t)}{\\alpha(t)}, \\quad g^2(t) = "
            "2\\sigma(t)\\sigma'(t) - 2 f(t) \\sigma(t)^2";
    os << "\n\\end{align*}\n";
  }
  if (str("coords") == "ve")
    os << "% ve coordinates: the state is x / alpha and the time tau = sigma / alpha.\n";
  if (str("coords") == "lambda")
    os << "% lambda coordinates: the state is x and the time lambda = log(alpha / sigma).\n";
  for (auto f : module.getOps<func::FuncOp>()) {
    auto k = f->getAttrOfType<IntegerAttr>("diffuse.step");
    if (!k || f->hasAttr("diffuse.drift")) // the adaptive controller's own evaluation
      continue;
    os << "% Step variant " << k.getInt() << " from s to t: F_theta is the network, S the state.\n"
       << "\\begin{align*}\n";
    p.step(f);
    os << "\\end{align*}\n";
  }
  out = os.str();
  return true;
}

} // namespace diffuse
