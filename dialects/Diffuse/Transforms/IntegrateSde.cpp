//===- IntegrateSde.cpp - Gaussian marginals of a linear SDE --------------===//
//
// A process declared as the SDE dx = f(t) x dt + g(t) dW started from the
// data at t = 0 has Gaussian marginals x_t = alpha(t) x0 + sigma(t) eps with
//
//   alpha(t)   = exp(F(t)),            F(t) = int_0^t f,
//   sigma^2(t) = alpha(t)^2 I(t),      I(t) = int_0^t g^2 / alpha^2.
//
// This pass turns such a `diffuse.process "sde"` into a "path" by writing
// alpha(t) and sigma(t) as scalar functions.
//
// Closed form. Every value of f's and g's bodies is read as an exp-polynomial
// sum_k p_k(t) exp(q_k(t)) (polynomials p, q with constant coefficients),
// or as the square root of one (g = sqrt(beta(t)), so that g^2 = beta). Such a
// term has an elementary antiderivative R(t) exp(q(t)) with R a polynomial
// exactly when R' + R q' = p is solvable, which back substitution decides
// (Risch's algorithm restricted to this class). This covers VP (polynomial
// beta), sub-VP, VE (geometric sigma) and EDM (sigma = t). The results are
// written to keep relative precision at t -> 0: with q normalized to
// q(0) = 0, R(t) e^q - R(0) = (R(t) - R(0)) e^q + R(0) expm1(q).
//
// Quadrature otherwise: Gauss-Legendre on [0, t] (nested for I when F has no
// closed form), the number of nodes chosen here from {8, 12, 16, 24, 32} as
// the first whose estimate differs from the doubled rule's by at most 1e-11
// relative at nine times of the domain; that difference is recorded as the
// stated error. The derivatives then come from the SDE itself,
// alpha' = f alpha and sigma' = (2 f sigma^2 + g^2) / (2 sigma), instead of
// differentiating the quadrature.
//
// The process's config records which: `marginals = "closed form"` or
// "quadrature: N-point Gauss-Legendre, estimated relative error E".
//
//===----------------------------------------------------------------------===//
#include "dialects/Diffuse/IR/DiffuseDialect.h"
#include "dialects/Diffuse/Transforms/Passes.h"
#include "dialects/Diffuse/Transforms/ScalarFunctions.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>
#include <cstdio>
#include <optional>

namespace diffuse {
#define GEN_PASS_DEF_INTEGRATESDE
#include "dialects/Diffuse/Transforms/Passes.h.inc"
} // namespace diffuse

using namespace mlir;
using namespace diffuse;

namespace {

//===----------------------------------------------------------------------===//
// Exp-polynomials
//===----------------------------------------------------------------------===//

using Poly = std::vector<double>; // coefficients of 1, t, t^2, ...
constexpr size_t kMaxDegree = 24;

void trim(Poly &p) {
  while (!p.empty() && p.back() == 0)
    p.pop_back();
}
Poly padd(const Poly &a, const Poly &b, double sb = 1) {
  Poly r(std::max(a.size(), b.size()), 0.0);
  for (size_t i = 0; i < a.size(); ++i) r[i] += a[i];
  for (size_t i = 0; i < b.size(); ++i) r[i] += sb * b[i];
  trim(r);
  return r;
}
Poly pmul(const Poly &a, const Poly &b) {
  if (a.empty() || b.empty()) return {};
  Poly r(a.size() + b.size() - 1, 0.0);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j) r[i + j] += a[i] * b[j];
  trim(r);
  return r;
}
Poly pscale(const Poly &a, double s) {
  Poly r = a;
  for (double &c : r) c *= s;
  trim(r);
  return r;
}
Poly pderiv(const Poly &a) {
  Poly r;
  for (size_t i = 1; i < a.size(); ++i) r.push_back(a[i] * (double)i);
  trim(r);
  return r;
}
double pconst(const Poly &a) { return a.empty() ? 0.0 : a[0]; }
bool isConstant(const Poly &a) { return a.size() <= 1; }

/// p(t) exp(q(t)), q normalized so that q(0) = 0.
struct Term {
  Poly p, q;
};

/// A sum of terms, or (isSqrt) the square root of one.
struct Sym {
  std::vector<Term> terms;
  bool isSqrt = false;
};

void addTerm(std::vector<Term> &ts, Term t) {
  trim(t.p);
  trim(t.q);
  if (t.p.empty())
    return;
  if (!t.q.empty() && t.q[0] != 0) { // fold exp(q(0)) into p
    t.p = pscale(t.p, std::exp(t.q[0]));
    t.q[0] = 0;
    trim(t.q);
  }
  for (Term &o : ts)
    if (o.q == t.q) {
      o.p = padd(o.p, t.p);
      return;
    }
  ts.push_back(std::move(t));
}

Sym constant(double c) {
  Sym s;
  addTerm(s.terms, {{c}, {}});
  return s;
}
std::optional<double> asConstant(const Sym &s) {
  if (s.isSqrt) return std::nullopt;
  if (s.terms.empty()) return 0.0;
  if (s.terms.size() == 1 && s.terms[0].q.empty() && isConstant(s.terms[0].p))
    return pconst(s.terms[0].p);
  return std::nullopt;
}
/// The polynomial a sum is, when no term has an exponential.
std::optional<Poly> asPoly(const Sym &s) {
  if (s.isSqrt) return std::nullopt;
  Poly r;
  for (const Term &t : s.terms) {
    if (!t.q.empty()) return std::nullopt;
    r = padd(r, t.p);
  }
  return r;
}
bool tooLarge(const Sym &s) {
  for (const Term &t : s.terms)
    if (t.p.size() > kMaxDegree + 1 || t.q.size() > kMaxDegree + 1) return true;
  return s.terms.size() > 64;
}
Sym sum(const Sym &a, const Sym &b, double sb = 1) {
  Sym r = a;
  for (const Term &t : b.terms) addTerm(r.terms, {pscale(t.p, sb), t.q});
  return r;
}
Sym product(const Sym &a, const Sym &b) {
  Sym r;
  for (const Term &x : a.terms)
    for (const Term &y : b.terms) addTerm(r.terms, {pmul(x.p, y.p), padd(x.q, y.q)});
  return r;
}

/// The symbolic value of every op of a scalar function, or nothing where an
/// op leaves the class.
class SymbolicReader {
public:
  std::optional<Sym> read(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    vals[body.getArgument(0)] = Sym{{Term{{0.0, 1.0}, {}}}, false};
    for (Operation &op : body) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        auto it = vals.find(ret.getOperand(0));
        if (it == vals.end()) return std::nullopt;
        return it->second;
      }
      std::optional<Sym> v = rule(op);
      if (!v || tooLarge(*v)) return std::nullopt;
      vals[op.getResult(0)] = *v;
    }
    return std::nullopt;
  }

private:
  std::optional<Sym> get(Value v) {
    auto it = vals.find(v);
    if (it == vals.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Sym> sqrtOf(const Sym &u) {
    if (u.isSqrt) return std::nullopt;
    if (auto c = asConstant(u))
      return *c >= 0 ? std::optional<Sym>(constant(std::sqrt(*c))) : std::nullopt;
    Sym r = u;
    r.isSqrt = true;
    return r;
  }
  std::optional<Sym> expOf(const Sym &u) {
    auto q = asPoly(u);
    if (!q) return std::nullopt;
    Sym r;
    addTerm(r.terms, {{1.0}, *q});
    return r;
  }
  std::optional<Sym> mul(const Sym &a, const Sym &b) {
    if (!a.isSqrt && !b.isSqrt) return product(a, b);
    if (a.isSqrt && b.isSqrt) {
      Sym r = product(Sym{a.terms}, Sym{b.terms});
      r.isSqrt = true;
      return r;
    }
    const Sym &s = a.isSqrt ? a : b, &c = a.isSqrt ? b : a;
    auto k = asConstant(c);
    if (!k || *k < 0) return std::nullopt;
    Sym r = product(Sym{s.terms}, constant(*k * *k));
    r.isSqrt = true;
    return r;
  }
  std::optional<Sym> powOf(const Sym &base, const Sym &e) {
    if (auto n = asConstant(e)) {
      if (*n == 0.5) return sqrtOf(base);
      if (*n >= 0 && *n <= 16 && *n == std::floor(*n)) {
        Sym r = constant(1.0);
        for (int i = 0; i < (int)*n; ++i) {
          auto m = mul(r, base);
          if (!m || tooLarge(*m)) return std::nullopt;
          r = *m;
        }
        if (r.isSqrt && ((int)*n % 2 == 0)) r.isSqrt = false; // (sqrt u)^2k = u^k
        return r;
      }
    }
    // c^e = exp(log(c) e) for a positive constant c.
    if (auto c = asConstant(base); c && *c > 0) {
      auto q = asPoly(e);
      if (!q) return std::nullopt;
      return expOf(Sym{{Term{pscale(*q, std::log(*c)), {}}}});
    }
    return std::nullopt;
  }

  std::optional<Sym> rule(Operation &op) {
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      auto f = dyn_cast<FloatAttr>(c.getValue());
      if (!f) return std::nullopt;
      return constant(f.getValueAsDouble());
    }
    if (op.getNumResults() != 1) return std::nullopt;
    SmallVector<Sym, 2> a;
    for (Value v : op.getOperands()) {
      auto s = get(v);
      if (!s) return std::nullopt;
      a.push_back(*s);
    }
    auto plain = [&](size_t n) {
      for (size_t i = 0; i < n; ++i)
        if (a[i].isSqrt) return false;
      return true;
    };
    if (isa<arith::AddFOp>(op) && plain(2)) return sum(a[0], a[1]);
    if (isa<arith::SubFOp>(op) && plain(2)) return sum(a[0], a[1], -1);
    if (isa<arith::NegFOp>(op) && plain(1)) return sum(Sym{}, a[0], -1);
    if (isa<arith::MulFOp>(op)) return mul(a[0], a[1]);
    if (isa<arith::DivFOp>(op)) {
      // Division by a single term c exp(q): multiply by exp(-q) / c.
      const Sym &d = a[1];
      if (d.isSqrt || d.terms.size() != 1 || !isConstant(d.terms[0].p) ||
          pconst(d.terms[0].p) == 0)
        return std::nullopt;
      Sym inv;
      addTerm(inv.terms, {{1.0 / pconst(d.terms[0].p)}, pscale(d.terms[0].q, -1)});
      if (a[0].isSqrt) {
        auto c = asConstant(inv);
        if (!c || *c <= 0) return std::nullopt;
        return mul(a[0], constant(*c)); // sqrt(u) / d = sqrt(u / d^2)
      }
      return product(a[0], inv);
    }
    if (isa<math::ExpOp>(op) && plain(1)) return expOf(a[0]);
    if (isa<math::ExpM1Op>(op) && plain(1)) {
      auto e = expOf(a[0]);
      if (!e) return std::nullopt;
      return sum(*e, constant(1.0), -1);
    }
    if (isa<math::SqrtOp>(op)) return sqrtOf(a[0]);
    if (isa<math::LogOp>(op) && plain(1)) {
      // log(c exp(q)) = log c + q.
      const Sym &u = a[0];
      if (u.terms.size() != 1 || !isConstant(u.terms[0].p) || !(pconst(u.terms[0].p) > 0))
        return std::nullopt;
      return Sym{{Term{padd(u.terms[0].q, Poly{std::log(pconst(u.terms[0].p))}), {}}}};
    }
    if (isa<math::PowFOp>(op) && !a[1].isSqrt) return powOf(a[0], a[1]);
    return std::nullopt;
  }

  llvm::DenseMap<Value, Sym> vals;
};

/// An antiderivative R exp(q) of p exp(q), R a polynomial, if one exists.
std::optional<Poly> integrateTerm(const Term &t) {
  if (t.q.empty()) { // a polynomial
    Poly r(t.p.size() + 1, 0.0);
    for (size_t i = 0; i < t.p.size(); ++i) r[i + 1] = t.p[i] / (double)(i + 1);
    trim(r);
    return r;
  }
  Poly dq = pderiv(t.q);
  size_t m = dq.size() - 1; // deg q'
  if (t.p.size() < dq.size()) return std::nullopt;
  size_t r = t.p.size() - 1 - m; // deg R
  Poly R(r + 1, 0.0);
  for (size_t k = r + 1; k-- > 0;) {
    double c = t.p[k + m];
    for (size_t i = k + 1; i <= std::min(r, k + m); ++i) c -= R[i] * dq[k + m - i];
    if (k + m + 1 <= r) c -= (double)(k + m + 1) * R[k + m + 1];
    R[k] = c / dq[m];
  }
  // R' + R q' must equal p in every coefficient, the low ones included.
  Poly resid = padd(padd(pderiv(R), pmul(R, dq)), t.p, -1);
  double scale = 0;
  for (double c : t.p) scale = std::max(scale, std::fabs(c));
  for (double c : R) scale = std::max(scale, std::fabs(c));
  for (double c : resid)
    if (std::fabs(c) > 1e-12 * scale) return std::nullopt;
  trim(R);
  return R;
}

/// int_0^t of a sum: terms R_k exp(q_k) (minus their value at 0).
std::optional<std::vector<Term>> integrateSum(const Sym &s) {
  if (s.isSqrt) return std::nullopt;
  std::vector<Term> out;
  for (const Term &t : s.terms) {
    auto R = integrateTerm(t);
    if (!R) return std::nullopt;
    out.push_back({*R, t.q});
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Emission
//===----------------------------------------------------------------------===//

/// ScalarBuilder with the exp-polynomial forms of this pass.
class Emitter : public ScalarBuilder {
public:
  using ScalarBuilder::ScalarBuilder;

  /// Horner's rule; a null Value for the zero polynomial.
  Value poly(const Poly &p, Value t) {
    if (p.empty()) return {};
    Value r = cst(p.back());
    for (size_t i = p.size() - 1; i-- > 0;) {
      r = mul(r, t);
      if (p[i] != 0) r = add(r, cst(p[i]));
    }
    return r;
  }

  /// sum_k (R_k(t) e^{q_k(t)} - R_k(0)), times e^{shift(t)} if given,
  /// written without cancellation at small t.
  Value definite(const std::vector<Term> &anti, Value t, Value shift = {}) {
    Value acc;
    auto accumulate = [&](Value v) { acc = acc ? add(acc, v) : v; };
    for (const Term &a : anti) {
      Poly rest = a.p;
      double r0 = rest.empty() ? 0.0 : rest[0];
      if (!rest.empty()) rest[0] = 0;
      trim(rest);
      Value q = poly(a.q, t);
      if (!q) { // polynomial: R(t) - R(0)
        if (Value v = poly(rest, t)) accumulate(shift ? mul(v, exp(shift)) : v);
        continue;
      }
      if (Value v = poly(rest, t)) accumulate(mul(v, exp(shift ? add(q, shift) : q)));
      if (r0 != 0) {
        Value e = mul(cst(r0), b.create<math::ExpM1Op>(loc, q));
        accumulate(shift ? mul(e, exp(shift)) : e);
      }
    }
    return acc ? acc : cst(0);
  }
};

/// Gauss-Legendre nodes and weights on [-1, 1].
void gaussLegendre(int n, std::vector<double> &x, std::vector<double> &w) {
  x.assign(n, 0);
  w.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    double z = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 1;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        double p2 = ((2.0 * k - 1) * z * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      double dz = p1 / dp;
      z -= dz;
      if (std::fabs(dz) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * dp * dp);
  }
}

/// The quadrature rule of the fallback, in doubles (to choose its size) and
/// as IR (to emit it); F given in closed form when `closedF` is set.
struct Quadrature {
  func::FuncOp f, g;
  std::optional<std::vector<Term>> closedF;
  int n = 8;
  std::vector<double> x, w;

  void setNodes(int nodes) {
    n = nodes;
    gaussLegendre(n, x, w);
  }
  double evalPoly(const Poly &p, double t) const {
    double r = 0;
    for (size_t i = p.size(); i-- > 0;) r = r * t + p[i];
    return r;
  }
  std::optional<double> F(double t) const {
    if (closedF) {
      double r = 0;
      for (const Term &a : *closedF)
        r += evalPoly(a.p, t) * std::exp(evalPoly(a.q, t)) - pconst(a.p);
      return r;
    }
    double s = 0;
    for (int i = 0; i < n; ++i) {
      auto v = evaluate(f, t * (1 + x[i]) / 2);
      if (!v) return std::nullopt;
      s += w[i] * *v;
    }
    return s * t / 2;
  }
  /// (alpha, sigma^2) at t.
  std::optional<std::pair<double, double>> marginals(double t) const {
    auto Ft = F(t);
    if (!Ft) return std::nullopt;
    double I = 0;
    for (int j = 0; j < n; ++j) {
      double tau = t * (1 + x[j]) / 2;
      auto gv = evaluate(g, tau);
      auto Fv = F(tau);
      if (!gv || !Fv) return std::nullopt;
      I += w[j] * *gv * *gv * std::exp(-2 * *Fv);
    }
    I *= t / 2;
    return std::pair{std::exp(*Ft), std::exp(2 * *Ft) * I};
  }

  Value emitF(Emitter &e, Value t) const {
    if (closedF) return e.definite(*closedF, t);
    Value s;
    for (int i = 0; i < n; ++i) {
      Value tau = e.mul(t, e.cst((1 + x[i]) / 2));
      Value term = e.mul(e.cst(w[i] / 2), e.inlineAt(f, tau));
      s = s ? e.add(s, term) : term;
    }
    return e.mul(s, t);
  }
  /// sigma^2 at t, given F(t).
  Value emitSigma2(Emitter &e, Value t, Value Ft) const {
    Value s;
    for (int j = 0; j < n; ++j) {
      Value tau = e.mul(t, e.cst((1 + x[j]) / 2));
      Value g = e.inlineAt(this->g, tau);
      Value Fv = emitF(e, tau);
      Value term = e.mul(e.mul(e.cst(w[j] / 2), e.mul(g, g)),
                         e.exp(e.mul(e.cst(2), e.sub(Ft, Fv))));
      s = s ? e.add(s, term) : term;
    }
    return e.mul(s, t);
  }
};

struct IntegrateSdePass : diffuse::impl::IntegrateSdeBase<IntegrateSdePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (ProcessOp proc : llvm::to_vector(module.getOps<ProcessOp>()))
      if (proc.getKind() == "sde" && failed(integrate(proc, symbols)))
        return signalPassFailure();
  }

  func::FuncOp newFunc(OpBuilder &b, SymbolTable &symbols, Location loc, StringRef name,
                       Value &t) {
    auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType({b.getF64Type()},
                                                                  {b.getF64Type()}));
    symbols.insert(fn);
    Block *entry = fn.addEntryBlock();
    t = entry->getArgument(0);
    return fn;
  }

  LogicalResult integrate(ProcessOp proc, SymbolTable &symbols) {
    func::FuncOp f = processFunction(proc, "drift"), g = processFunction(proc, "diffusion");
    if (!f || !g)
      return proc.emitError("sde process needs drift and diffusion functions");
    Location loc = proc.getLoc();
    OpBuilder b(proc);
    NamedAttrList config(proc.getConfig());

    // Closed form where the class allows it.
    std::optional<std::vector<Term>> F, I;
    if (auto fs = SymbolicReader().read(f))
      F = integrateSum(*fs);
    std::optional<Poly> Fpoly;
    if (F) {
      Sym Fsum;
      for (const Term &a : *F) addTerm(Fsum.terms, a);
      Fpoly = asPoly(Fsum);
    }
    if (Fpoly) {
      if (auto gs = SymbolicReader().read(g)) {
        Sym g2 = *gs;
        if (g2.isSqrt) g2.isSqrt = false;
        else g2 = product(g2, g2);
        Sym integrand = product(g2, Sym{{Term{{1.0}, pscale(*Fpoly, -2)}}});
        if (!tooLarge(integrand)) I = integrateSum(integrand);
      }
    }

    Value t;
    if (F && I) {
      // alpha = exp(F), sigma = sqrt(sum_k (R_k e^{q_k} - R_k(0)) e^{2F}).
      auto alpha = newFunc(b, symbols, loc, "dfs_process_alpha", t);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&alpha.getBody().front());
        Emitter e(b, loc);
        b.create<func::ReturnOp>(loc, e.exp(e.definite(*F, t)));
      }
      b.setInsertionPoint(proc);
      auto sigma = newFunc(b, symbols, loc, "dfs_process_sigma", t);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&sigma.getBody().front());
        Emitter e(b, loc);
        Value twoF = e.mul(e.cst(2), e.definite(*F, t));
        b.create<func::ReturnOp>(loc, b.create<math::SqrtOp>(loc, e.definite(*I, t, twoF)).getResult());
      }
      config.set("alpha", SymbolRefAttr::get(alpha));
      config.set("sigma", SymbolRefAttr::get(sigma));
      config.set("marginals", b.getStringAttr("closed form"));
    } else {
      // Quadrature: the smallest rule that agrees with the doubled one.
      auto dom = proc.getConfig().getAs<ArrayAttr>("domain");
      double lo = 0, hi = 1;
      if (dom && dom.size() == 2) {
        lo = cast<FloatAttr>(dom[0]).getValueAsDouble();
        hi = cast<FloatAttr>(dom[1]).getValueAsDouble();
      }
      Quadrature q;
      q.f = f;
      q.g = g;
      q.closedF = F;
      Quadrature fine = q;
      double err = INFINITY;
      int chosen = 0;
      for (int n : {8, 12, 16, 24, 32}) {
        q.setNodes(n);
        fine.setNodes(2 * n);
        double worst = 0;
        for (int k = 0; k <= 8; ++k) {
          double tk = lo + (hi - lo) * k / 8;
          if (tk <= 0) continue;
          auto m = q.marginals(tk), mf = fine.marginals(tk);
          if (!m || !mf) return proc.emitError("cannot evaluate drift or diffusion");
          worst = std::max({worst, std::fabs(m->first - mf->first) / std::fabs(mf->first),
                            std::fabs(m->second - mf->second) / std::fabs(mf->second)});
        }
        if (!(worst <= 1e-11)) continue;
        chosen = n;
        err = worst;
        break;
      }
      if (!chosen) {
        InFlightDiagnostic d = proc.emitError(
            "cannot integrate the SDE's marginals to 1e-11 with up to 32 Gauss-Legendre nodes");
        d.attachNote() << "simplify drift(t) and diffusion(t), narrow the domain, or declare the "
                          "process by alpha(t) and sigma(t)";
        return d;
      }
      // alpha, sigma and, from the SDE, their derivatives.
      auto define = [&](StringRef name, StringRef key, auto body) {
        b.setInsertionPoint(proc);
        auto fn = newFunc(b, symbols, loc, name, t);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&fn.getBody().front());
        Emitter e(b, loc);
        b.create<func::ReturnOp>(loc, body(e, t));
        config.set(key, SymbolRefAttr::get(fn));
      };
      define("dfs_process_alpha", "alpha", [&](Emitter &e, Value t) { return e.exp(q.emitF(e, t)); });
      define("dfs_process_sigma", "sigma", [&](Emitter &e, Value t) -> Value {
        return b.create<math::SqrtOp>(loc, q.emitSigma2(e, t, q.emitF(e, t)));
      });
      define("dfs_process_alpha_d", "dalpha", [&](Emitter &e, Value t) {
        return e.mul(e.inlineAt(f, t), e.exp(q.emitF(e, t)));
      });
      define("dfs_process_sigma_d", "dsigma", [&](Emitter &e, Value t) -> Value {
        Value s2 = q.emitSigma2(e, t, q.emitF(e, t));
        Value gv = e.inlineAt(g, t);
        Value num = e.add(e.mul(e.mul(e.cst(2), e.inlineAt(f, t)), s2), e.mul(gv, gv));
        return e.div(num, e.mul(e.cst(2), b.create<math::SqrtOp>(loc, s2)));
      });
      char buf[128];
      std::snprintf(buf, sizeof buf,
                    "quadrature: %d-point Gauss-Legendre, estimated relative error %.1e", chosen,
                    err);
      config.set("marginals", b.getStringAttr(buf));
    }
    proc.setKind("path");
    proc.setConfigAttr(config.getDictionary(b.getContext()));
    return success();
  }
};

} // namespace
