"""Removable singularities of rate functions, found with sympy and rewritten.

`N / (c·(exp(E) − 1))` where `N/E` cancels to an expression whose denominator does not
involve E's variables (e.g. hh.mod's `x/(exp(x/y) − 1)`, `0.1·(v+40)/(1 − exp(−(v+40)/10))`)
becomes `Safe(ratio = N/(c·E), z = E)`, evaluated as `ratio · z/(eᶻ − 1)` with the series
of `neurojax.channels.vtrap` near `z = 0`: finite value and gradient at the singular
point, the same value elsewhere to rounding. Divisions of any other form are left as
written (a true pole stays a pole, as in NEURON).
"""

from __future__ import annotations

from ._parse import (
    Assign,
    Bin,
    Block,
    Call,
    CallStmt,
    Compartment,
    Conserve,
    Diff,
    Func,
    If,
    Name,
    Num,
    Reaction,
    Safe,
    Unary,
)

_OPAQUE = "_nj_opaque_"


def _to_sympy(e, opaque: dict):
    import sympy

    if isinstance(e, Num):
        return sympy.Rational(repr(e.value)) if e.value == e.value else sympy.nan
    if isinstance(e, Name):
        return sympy.Symbol(e.id)
    if isinstance(e, Unary) and e.op == "-":
        return -_to_sympy(e.x, opaque)
    if isinstance(e, Bin) and e.op in "+-*/^":
        a, b = _to_sympy(e.lhs, opaque), _to_sympy(e.rhs, opaque)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "^": a**b}[e.op]
    if isinstance(e, Call) and e.fn == "exp" and len(e.args) == 1:
        return sympy.exp(_to_sympy(e.args[0], opaque))
    sym = sympy.Symbol(f"{_OPAQUE}{len(opaque)}")
    opaque[sym.name] = e
    return sym


def _from_sympy(s, opaque: dict, line: int):
    import sympy

    if s.is_Number:
        return Num(float(s), line)
    if s.is_Symbol:
        return opaque[s.name] if s.name in opaque else Name(s.name, line)
    if s.is_Add:
        args = [_from_sympy(a, opaque, line) for a in s.args]
        out = args[0]
        for a in args[1:]:
            out = Bin("+", out, a, line)
        return out
    if s.is_Mul:
        num, den = s.as_numer_denom()
        if den != 1:
            return Bin("/", _from_sympy(num, opaque, line), _from_sympy(den, opaque, line), line)
        args = [_from_sympy(a, opaque, line) for a in s.args]
        out = args[0]
        for a in args[1:]:
            out = Bin("*", out, a, line)
        return out
    if s.is_Pow:
        base, ex = s.args
        if ex.is_Number and ex < 0:
            return Bin("/", Num(1.0, line), _from_sympy(base**-ex, opaque, line), line)
        return Bin("^", _from_sympy(base, opaque, line), _from_sympy(ex, opaque, line), line)
    if isinstance(s, sympy.exp):
        return Call("exp", (_from_sympy(s.args[0], opaque, line),), line)
    raise ValueError(f"internal: cannot convert {s} back")  # pragma: no cover


def _rewrite_division(e: Bin):
    import sympy

    opaque: dict = {}
    d = sympy.expand(_to_sympy(e.rhs, opaque), deep=False)
    if not d.is_Add or len(d.args) != 2:
        return None
    exps = d.atoms(sympy.exp)
    if len(exps) != 1:
        return None
    x = next(iter(exps))
    k, t = d.as_independent(x, as_Add=True)
    c = sympy.simplify(t / x)
    if c.has(x) or c == 0 or sympy.simplify(c + k) != 0:
        return None
    z = x.args[0]
    if not z.free_symbols:
        return None
    n = _to_sympy(e.lhs, opaque)
    ratio = sympy.cancel(n / (c * z))
    if sympy.denom(ratio).free_symbols & z.free_symbols or ratio.has(sympy.zoo, sympy.nan):
        return None
    return Safe(_from_sympy(ratio, opaque, e.line), _from_sympy(z, opaque, e.line), e.line)


def expr(e):
    if isinstance(e, Bin):
        e = Bin(e.op, expr(e.lhs), expr(e.rhs), e.line)
        if e.op == "/":
            return _rewrite_division(e) or e
        return e
    if isinstance(e, Unary):
        return Unary(e.op, expr(e.x), e.line)
    if isinstance(e, Call):
        return Call(e.fn, tuple(expr(a) for a in e.args), e.line)
    return e


def stmts(body: tuple) -> tuple:
    out = []
    for s in body:
        if isinstance(s, Assign):
            s = Assign(s.target, expr(s.expr), s.line)
        elif isinstance(s, Diff):
            s = Diff(s.state, expr(s.expr), s.line)
        elif isinstance(s, CallStmt):
            s = CallStmt(expr(s.call), s.line)
        elif isinstance(s, If):
            s = If(expr(s.cond), stmts(s.body), stmts(s.orelse), s.line)
        elif isinstance(s, Reaction):
            s = Reaction(s.lhs, s.op, s.rhs, expr(s.kf), s.kb and expr(s.kb), s.line)
        elif isinstance(s, Conserve):
            s = Conserve(s.lhs, expr(s.rhs), s.line)
        elif isinstance(s, Compartment):
            s = Compartment(expr(s.volume), s.states, s.line)
        out.append(s)
    return tuple(out)


def program(prog):
    """Rewrite every expression of `prog` in place."""
    for f in prog.functions.values():
        f.body = stmts(f.body)
    for b in [*prog.blocks.values(), prog.initial, prog.breakpoint, prog.net_receive,
              getattr(prog, "watch_check", None)]:  # fmt: skip
        if b is not None:
            b.body = stmts(b.body)
    return prog


__all__ = ["program", "expr", "Func", "Block"]
