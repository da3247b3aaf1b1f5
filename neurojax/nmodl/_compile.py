"""NMODL program → a cable density mechanism (`neurojax.cable.AbstractChannel`).

The parsed blocks are interpreted with `jax.numpy` while JAX traces (once per
compilation), so the mechanism is an ordinary differentiable function of its parameters.

Semantics, as NEURON's (`nocmodl`) for a density mechanism:

- `init(v, T)`: every STATE/ASSIGNED starts at 0, `INITIAL` runs, then `BREAKPOINT`'s
  statements once (NEURON's `finitialize` ends with a current evaluation).
- `current(v, gates)`: `BREAKPOINT` without its `SOLVE`; the sum of the currents written
  (`USEION … WRITE ix`, `NONSPECIFIC_CURRENT`), mA/cm² × 1000 → µA/cm², outward positive.
- `update(v, gates, dt, T)`: the `SOLVE`d block at the new voltage —
  `cnexp`: `x ← x + f(x)·(exp(b·dt) − 1)/b`, `b = ∂f/∂x` (exact for NEURON's
  equations linear in their own state; other equations are refused when built);
  `euler`: `x ← x + dt·f(x)`; `derivimplicit` and KINETIC `sparse`: backward Euler,
  `x = x₀ + dt·f(x)` by Newton's method (4 iterations, Jacobian by forward mode; the
  states one vector per compartment, a `lax.fori_loop`: `_newton`, small programs for
  13-state Markov schemes).
- "gates" = the STATEs plus the ASSIGNED/LOCAL variables whose value must survive from one
  call to the next (read before written in `current` or `update`), found by a
  read/write analysis of the blocks, and `celsius` if `BREAKPOINT` reads it.
- Ions (the contract: `neurojax.channels._ions`): the values READ (`ena`, `cai`, `ica`,
  …) come from the cell's shared ion pools (`neurojax.cable._ions`) at every call; the
  ion currents WRITTEN are returned to be
  summed into the ion's total; a concentration WRITTEN (`cai`, STATE or ASSIGNED) is the
  pool's, loaded before each call and returned after it (`init_ions`, `current_ions`,
  `update_ions`). The plain `init`/`current`/`update` use NEURON's default ion values.
  A POINT_PROCESS may READ e and concentrations, WRITE its ion current (nA; the cell
  adds `i·100/area` mA/cm² to the ion's total at its node) and WRITE a concentration
  (stored at its node, as NEURON's); it may not write a reversal potential or read the
  total current (refused when built).
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import re
import warnings
from collections import namedtuple
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import Domain, check_domains, parameter
from ..channels import AbstractChannel, AbstractPointProcess
from ..channels._ions import IonUse, default_value, ion_variables
from ..channels._rates import _SERIES, _even_coeffs, vtrap
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
    LinEq,
    Local,
    Name,
    Num,
    Program,
    Reaction,
    Safe,
    Solve,
    Unary,
    Verbatim,
    fail,
)

NEWTON_ITERATIONS = 4
NONLINEAR_ITERATIONS = 30  # `SOLVE` of a NONLINEAR block in INITIAL: Newton from the states
# pending self-events (`net_send` in a POINT_PROCESS) carried with its gates, and the
# NET_RECEIVE calls per step (one per slot, plus the step's external event)
SELF_EVENT_SLOTS = 8
_FREE = 1e30  # q_t<k> of a free slot (ms): never due
# `SOLVE proc` and `SOLVE proc METHOD after_cvode` (svclmp.mod): the PROCEDURE runs in the
# state update; after_cvode differs only under CVode (NEURON's fixed step runs it there)
_PROC_METHODS = ("", "after_cvode")

_SPECIAL = {"v", "celsius", "dt", "t"}
_RESERVED = {"init", "current", "update", "init_ions", "current_ions", "update_ions",
             "default_ions", "receive", "ion_use", "uses_time", "n_receive",
             "receive_time", "self_events", "receive_additive", "bind_pointer",
             "pointer_sites", "pointer_series", "pointer_dt", "spike_times",
             "receive_writes_v", "neuron_slope"}  # fmt: skip
_UNSUPPORTED_SPECIAL = {}
_GEOMETRY = ("area", "diam")  # the segment's area (µm²) and diameter (µm), from the cell

_EVENT_CALLS = ("net_send", "net_event", "net_move")
_RANDOM_SET = ("random_setseq", "random_setids", "set_seed")

_BUILTINS_1 = {
    "exp": (np.exp, jnp.exp), "log": (np.log, jnp.log), "log10": (np.log10, jnp.log10),
    "sqrt": (np.sqrt, jnp.sqrt), "fabs": (np.abs, jnp.abs), "sin": (np.sin, jnp.sin),
    "cos": (np.cos, jnp.cos), "tan": (np.tan, jnp.tan), "atan": (np.arctan, jnp.arctan),
    "asin": (np.arcsin, jnp.arcsin), "acos": (np.arccos, jnp.arccos),
    "sinh": (np.sinh, jnp.sinh), "cosh": (np.cosh, jnp.cosh), "tanh": (np.tanh, jnp.tanh),
    "floor": (np.floor, jnp.floor), "ceil": (np.ceil, jnp.ceil), "expm1": (np.expm1, jnp.expm1),
}  # fmt: skip
_BUILTINS_2 = {
    "pow": (np.power, jnp.power), "atan2": (np.arctan2, jnp.arctan2),
    "fmin": (np.fmin, jnp.fmin), "fmax": (np.fmax, jnp.fmax),
}  # fmt: skip


def _static(x) -> bool:
    return isinstance(x, (float, int, bool, np.generic))


def _weak(x):
    """numpy scalars → Python scalars, which JAX treats as weakly typed (no up-cast)."""
    return x.item() if isinstance(x, np.generic) else x


@jax.custom_jvp
def _vtrap1(z):
    """`z/(eᶻ − 1)` (`vtrap(z, 1)`) with its derivative written out: reverse mode through
    the closed form cost a second exponential's worth of divisions (`a/b`: three); here
    `v' = v·(1 − v)/z − v` (from `v = z/(eᶻ − 1)`; rounding ≤ ~4 ε at |z| ≥ 0.5, the
    closed form's branch), below it the series differentiated term by term. Hay cell, 1 s gradient:
    benchmarks/exp_hay_a2_levers.py."""
    return vtrap(z, 1.0)


@_vtrap1.defjvp
def _vtrap1_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    v = vtrap(z, 1.0)
    small = jnp.abs(z) < _SERIES
    # the series 1 − z/2 + Σ c_k z^(2k+2) differentiated term by term (Horner in z²)
    z2 = z * z
    odd = jnp.zeros_like(z)
    for k, c in reversed(list(enumerate(_even_coeffs(jnp.result_type(z))))):
        odd = odd * z2 + (2 * k + 2) * c
    zs = jnp.where(small, 1.0, z)
    return v, jnp.where(small, -0.5 + z * odd, v * (1.0 - v) / zs - v) * dz


def _vtrap(x, y):
    """`vtrap(x, y)` through `_vtrap1` for traced floating arrays."""
    if not isinstance(x, jax.Array) or not jnp.issubdtype(x.dtype, jnp.inexact):
        return vtrap(x, y)
    if isinstance(y, float) and y == 1.0:  # the importer's case: no `/ 1`, `1 ·` around it
        return _vtrap1(x)
    return y * _vtrap1(x / y)


def _exprelr(x):
    """NEURON's builtin `exprelr(x) = x/(exp(x) − 1)`, safe at 0."""
    return _vtrap(x, 1.0)


def _where(c, a, b):
    if _static(c):
        return a if bool(c) else b
    return jnp.where(c, _weak(a), _weak(b))


# ----------------------------------------------------------------------------- interpreter


_FTAB = "__ftab_"  # a FUNCTION_TABLE's bound (x, y) in the blocks' globals


class _Ctx:
    def __init__(self, spec, glob: dict, mode: str):
        self.spec = spec
        self.glob = glob
        self.mode = mode  # "init", "current", "update"
        self.derivs: dict = {}
        self.volumes: dict = {}
        self.conserve: list = []
        self.depth = 0
        self.react = None  # a linear kinetic step's states for the fluxes (`_derivatives`)
        self.cnexp_probe = None  # `_check_cnexp_linear`'s record of each cnexp equation


def _err(spec, line, what):
    return fail(spec.file, line, what)


def ev(e, frame: dict, ctx: _Ctx):
    spec = ctx.spec
    if isinstance(e, Num):
        return np.float64(e.value)
    if isinstance(e, Name):
        n = e.id
        if n in frame:
            return frame[n]
        if n in ctx.glob:
            return ctx.glob[n]
        if n in spec.constants:
            return np.float64(spec.constants[n])
        if n in spec.prog.randoms:  # a RANDOM stream's handle: only random_*() take it
            return np.float64(0.0)
        if n == "dt":
            raise _err(spec, e.line, "dt is only available in the SOLVEd block")
        if n == "t":
            raise _err(spec, e.line, "the time t is not available here (NET_RECEIVE, or a call "
                       "without t=)")  # fmt: skip
        if n in _UNSUPPORTED_SPECIAL:
            raise _err(spec, e.line, f"{_UNSUPPORTED_SPECIAL[n]} ({n}) is not supported")
        raise _err(spec, e.line, f"undefined name {n!r}")
    if isinstance(e, Unary):
        x = ev(e.x, frame, ctx)
        if e.op == "-":
            return -x
        return np.logical_not(x) if _static(x) else jnp.logical_not(x)
    if isinstance(e, Bin):
        a, b = ev(e.lhs, frame, ctx), ev(e.rhs, frame, ctx)
        op = e.op
        if _static(a) and _static(b):
            a, b = np.float64(a), np.float64(b)
            with np.errstate(all="ignore"):
                return _BINOPS_NP[op](a, b)
        return _BINOPS_JNP[op](_weak(a), _weak(b))
    if isinstance(e, Safe):
        r, z = ev(e.ratio, frame, ctx), ev(e.z, frame, ctx)
        if _static(z):
            z = np.float64(z)
            with np.errstate(all="ignore"):
                return r * (z / np.expm1(z) if z != 0 else np.float64(1.0))
        return _weak(r) * _vtrap(z, 1.0)
    if isinstance(e, Call):
        return call(e, frame, ctx)
    raise _err(spec, getattr(e, "line", 0), f"unsupported expression {e!r}")  # pragma: no cover


_BINOPS_NP = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "^": np.power,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "&&": np.logical_and, "||": np.logical_or,
}  # fmt: skip
_BINOPS_JNP = {
    **_BINOPS_NP, "^": jnp.power, "&&": jnp.logical_and, "||": jnp.logical_or,
    "<": jnp.less, ">": jnp.greater, "<=": jnp.less_equal, ">=": jnp.greater_equal,
    "==": jnp.equal, "!=": jnp.not_equal,
}  # fmt: skip


def call(e: Call, frame: dict, ctx: _Ctx):
    spec = ctx.spec
    args = [ev(a, frame, ctx) for a in e.args]
    fn = e.fn
    if fn in getattr(spec, "ftables", ()):
        return _function_table(spec, fn, args, ctx, e.line)
    if fn in spec.functions:
        f = spec.functions[fn]
        if len(args) != len(f.args):
            raise _err(spec, e.line, f"{fn} takes {len(f.args)} arguments, given {len(args)}")
        if ctx.depth > 64:
            raise _err(spec, e.line, f"recursion in {fn} deeper than 64 calls is not supported")
        inner = dict(zip(f.args, args, strict=True))
        if f.kind == "FUNCTION":
            inner[fn] = np.float64(0.0)
        ctx.depth += 1
        run(f.body, inner, ctx)
        ctx.depth -= 1
        return inner[fn] if f.kind == "FUNCTION" else np.float64(0.0)
    table = _BUILTINS_1 if len(args) == 1 else _BUILTINS_2 if len(args) == 2 else {}
    if fn in table:
        f_np, f_jnp = table[fn]
        if all(_static(a) for a in args):
            with np.errstate(all="ignore"):
                return f_np(*[np.float64(a) for a in args])
        return f_jnp(*[_weak(a) for a in args])
    if fn == "at_time" and len(args) == 1:  # a variable-step hint: 0 for fixed steps
        return np.float64(0.0)
    if fn == "net_send" and getattr(spec, "self_events", False):
        return _net_send(args, ctx, e.line)
    if fn == "__watch_reset":  # the first WATCH statement a NET_RECEIVE call runs
        rm = frame.get("_watch_rm", np.float64(0.0))
        for n in [k for k in ctx.glob if k.startswith("watch_on")]:
            ctx.glob[n] = _where(rm, ctx.glob[n], np.float64(0.0))
        frame["_watch_rm"] = np.float64(1.0)
        return np.float64(0.0)
    if fn == "net_event" and getattr(spec, "emits", False):
        return _net_event(args, ctx, e.line)
    if fn in _EVENT_CALLS:
        queue = getattr(ctx, "queue", None)
        if queue is None:
            raise _err(spec, e.line, f"{fn}() (self-events) is only supported in an "
                       "ARTIFICIAL_CELL (its spikes computed before the simulation)")  # fmt: skip
        return queue.call(fn, args, e.line)
    if fn in _RANDOM_SET:  # choosing a random stream draws nothing: NetStim's seed(0)
        return np.float64(0.0)
    if fn.startswith("random_") or fn in ("scop_random", "normrand", "exprand", "unirand"):
        raise _err(spec, e.line, f"{fn}(): random numbers inside a .mod file are not "
                   "supported (NEURON's streams cannot be reproduced, and a silently different "
                   "draw is not allowed); for NetStim use noise = 0, or draw spike times with "
                   "an explicit key (neurojax.stimuli's Poisson trains) and give them as events")  # fmt: skip  # noqa: E501
    if fn == "exprelr" and len(args) == 1:
        return _exprelr(jnp.asarray(_weak(args[0])))
    raise _err(spec, e.line, f"unknown or unsupported function {fn}()")


def _function_table(spec, fn, args, ctx, line):
    """A FUNCTION_TABLE's value, as NEURON's `hoc_func_table` for one argument: linear
    interpolation in the bound (x, y) samples, the end values outside them (a constant
    table: its value everywhere)."""
    if len(args) != 1:
        raise _err(spec, line, f"FUNCTION_TABLE {fn} takes 1 argument, given {len(args)}")
    tab = ctx.glob.get(_FTAB + fn)
    if tab is None:
        raise ValueError(
            f"{spec.file}: FUNCTION_TABLE {fn} of {spec.suffix} (line "
            f"{spec.ftables[fn][1]}) is not bound: mech = mech.bind_table({fn!r}, y, x) "
            f"(NEURON's hoc table_{fn}_{spec.suffix}(yvec, xvec)), or bind_table({fn!r}, "
            "y, xmin=..., xmax=...) for equally spaced samples, or bind_table("
            f"{fn!r}, value) for a constant"
        )
    x, y = tab
    if y.ndim == 0:
        return y
    return jnp.interp(_weak(args[0]), x, y)


def _net_send(args, ctx, line):
    """`net_send(delay, flag)` in a POINT_PROCESS's INITIAL or NET_RECEIVE: the event
    goes into the first free slot of the queue carried with the gates (`q_t<k>` its time,
    ms, 1e30 when free; `q_f<k>` its flag), under the same conditions as the call (the
    slots are ordinary variables of the block, merged by `jnp.where` across `if`s). No
    free slot sets `q_lost`, which turns the point process's state to NaN (see
    `NmodlPointProcess.receive`)."""
    spec, g = ctx.spec, ctx.glob
    if ctx.mode not in ("init", "receive"):
        raise _err(spec, line, "net_send() outside INITIAL and NET_RECEIVE is not supported")
    if len(args) != 2:
        raise _err(spec, line, "net_send(delay, flag) takes two arguments")
    delay, flag = args
    if _static(delay) and float(delay) < 0:
        raise _err(spec, line, f"net_send with a negative delay {float(delay):g} ms")
    when = _weak(g["t"]) + _weak(delay)
    placed = False
    for k in range(SELF_EVENT_SLOTS):
        free = (g[f"q_t{k}"] >= _FREE) & ~jnp.asarray(placed)
        g[f"q_t{k}"] = jnp.where(free, when, g[f"q_t{k}"])
        g[f"q_f{k}"] = jnp.where(free, _weak(flag), g[f"q_f{k}"])
        placed = free | placed
    g["q_lost"] = jnp.where(placed, g["q_lost"], 1.0)
    return np.float64(0.0)


def _net_event(args, ctx, line):
    """`net_event(t)` in a POINT_PROCESS's NET_RECEIVE (a spike detector, a point-process
    neuron): an output spike, counted in the gate `ne_n` with its time in `ne_t` (ms;
    `spike_times` reads them from a run saved at every step)."""
    spec, g = ctx.spec, ctx.glob
    if ctx.mode != "receive":
        raise _err(spec, line, "net_event() outside NET_RECEIVE is not supported")
    if len(args) > 1:
        raise _err(spec, line, "net_event(t) takes one argument")
    when = args[0] if args else g["t"]
    g["ne_n"] = g["ne_n"] + 1.0
    g["ne_t"] = _weak(when) + 0.0 * g["ne_t"]
    return np.float64(0.0)


def _assign(name, value, frame, ctx, line):
    spec = ctx.spec
    if name in frame:
        frame[name] = value
    elif name in spec.writable:
        ctx.glob[name] = value
    elif name in spec.param_names:
        raise _err(spec, line, f"assigning the PARAMETER {name} is not supported")
    else:
        raise _err(spec, line, f"assignment to {name!r}, which is not declared (or read-only)")


_ION_SELF_COPY = re.compile(r"\s*(\w+)\s*=\s*_ion_(\w+)\s*")


def _verbatim_noop(s, ctx) -> bool:
    """`VERBATIM cai = _ion_cai; ENDVERBATIM` in INITIAL (Santhakumar et al.'s tca.mod,
    LcaMig.mod, gskch.mod, ccanl.mod; one or more such statements): the mechanism's copy
    of an ion variable it uses set to the ion's own value, which nrn_init loaded into it
    before INITIAL — a no-op in NEURON unless INITIAL assigned the copy before it, which
    this restores. Only exactly these C statements (whitespace aside) with USEION
    variables of the file, in INITIAL; any other C code is refused."""
    spec = ctx.spec
    parts = s.text.split(";")
    if len(parts) < 2 or parts[-1].strip():
        return False
    names = {n for u in spec.prog.ions for n in (*u.read, *u.write)}
    copied = []
    for p in parts[:-1]:
        m = _ION_SELF_COPY.fullmatch(p)
        if m is None or m.group(1) != m.group(2) or m.group(1) not in names:
            return False
        copied.append(m.group(1))
    loaded = getattr(ctx, "loaded", None)
    if loaded is None or any(n not in loaded for n in copied):
        raise _err(spec, s.line, f"VERBATIM {s.text} ENDVERBATIM (the ion's value copied into "
                   "the mechanism's) is supported in INITIAL only")  # fmt: skip
    for n in copied:
        ctx.glob[n] = loaded[n]
    return True


def run(body, frame: dict, ctx: _Ctx):
    spec = ctx.spec
    for s in body:
        if isinstance(s, Assign):
            _assign(s.target, ev(s.expr, frame, ctx), frame, ctx, s.line)
        elif isinstance(s, Local):
            for n in s.names:
                frame[n] = np.float64(0.0)
        elif isinstance(s, Verbatim):
            if _verbatim_noop(s, ctx):
                continue
            raise _err(spec, s.line, "a VERBATIM block (C code) is run here: not supported")
        elif isinstance(s, CallStmt):
            call(s.call, frame, ctx)
        elif isinstance(s, If):
            c = ev(s.cond, frame, ctx)
            if _static(c):
                run(s.body if bool(c) else s.orelse, frame, ctx)
                continue
            f1, g1, d1 = dict(frame), dict(ctx.glob), dict(ctx.derivs)
            run(s.body, f1, _swap(ctx, g1, d1))
            f2, g2, d2 = dict(frame), dict(ctx.glob), dict(ctx.derivs)
            run(s.orelse, f2, _swap(ctx, g2, d2))
            for tgt, a, b in ((frame, f1, f2), (ctx.glob, g1, g2), (ctx.derivs, d1, d2)):
                for k in set(a) | set(b):
                    va, vb = a.get(k, np.float64(0.0)), b.get(k, np.float64(0.0))
                    if va is not vb:
                        tgt[k] = _where(c, va, vb)
        elif isinstance(s, Diff) and ctx.mode == "cnexp":
            _cnexp_in_place(s, frame, ctx)
        elif isinstance(s, Diff):
            if ctx.mode != "derivative":
                raise _err(spec, s.line, f"{s.state}' = ... outside a DERIVATIVE block")
            ctx.derivs[s.state] = ev(s.expr, frame, ctx)
        elif isinstance(s, Reaction):
            _reaction(s, frame, ctx)
        elif isinstance(s, Conserve):
            if ctx.mode != "derivative":
                raise _err(spec, s.line, "CONSERVE outside a KINETIC block")
            ctx.conserve.append((s.lhs, ev(s.rhs, frame, ctx), s.line))
        elif isinstance(s, Compartment):
            vol = ev(s.volume, frame, ctx)
            for st in s.states:
                ctx.volumes[st] = vol
        elif isinstance(s, LinEq):
            if ctx.mode != "linear":  # pragma: no cover (the parser puts them in LINEAR)
                raise _err(spec, s.line, "an equation (~ a = b) outside a LINEAR block")
            ctx.derivs[len(ctx.derivs)] = ev(s.lhs, frame, ctx) - ev(s.rhs, frame, ctx)
        elif isinstance(s, Solve) and s.block in spec.blocks and (
            spec.blocks[s.block].kind in ("LINEAR", "NONLINEAR")
        ):
            if ctx.mode == "current":
                continue
            _solve_linear(s, ctx)
        elif isinstance(s, Solve):
            if ctx.mode == "current":
                continue
            if ctx.mode == "init" and s.method.startswith("steadystate:"):
                _steady_state(s, ctx)
                continue
            if ctx.mode == "update":
                _solve(s, ctx)
                continue
            raise _err(spec, s.line, f"SOLVE {s.block} here is not supported")
        else:  # pragma: no cover
            raise _err(spec, getattr(s, "line", 0), f"unsupported statement {s!r}")


def _swap(ctx: _Ctx, glob, derivs):
    new = _Ctx(ctx.spec, glob, ctx.mode)
    new.derivs, new.volumes, new.conserve, new.depth = derivs, ctx.volumes, ctx.conserve, ctx.depth
    new.dt = getattr(ctx, "dt", None)
    new.loaded = getattr(ctx, "loaded", None)  # INITIAL's loaded ion values (VERBATIM copy)
    new.react = ctx.react
    new.cnexp_probe = ctx.cnexp_probe
    return new


def _reaction(s: Reaction, frame, ctx):
    spec = ctx.spec
    if ctx.mode != "derivative":
        raise _err(spec, s.line, "a reaction (~) outside a KINETIC block")
    # a reactant that is not a STATE (cabpump.mod's `cao`) is a constant factor of the
    # flux with no equation of its own, as in NEURON's kinetic schemes
    states = set(spec.state_names)

    react = ctx.react  # a linear scheme's step: rates frozen (`_derivatives`)

    def prod(side):
        out = np.float64(1.0)
        for k, st in side:
            if react is not None and st in react:
                x = react[st]
            else:
                x = ctx.glob[st] if st in states else ev(Name(st, s.line), frame, ctx)
            out = out * x**k if k != 1 else out * x
        return out

    d = ctx.derivs
    if s.op == "<<":
        st = s.lhs[0][1]
        if st not in states:
            raise _err(spec, s.line, f"~ {st} << (...): {st} is not a STATE")
        d[st] = d.get(st, 0.0) + ev(s.kf, frame, ctx)
        return
    kf = ev(s.kf, frame, ctx)
    fwd = kf * prod(s.lhs)
    bwd = ev(s.kb, frame, ctx) * prod(s.rhs) if s.op == "<->" else np.float64(0.0)
    frame["f_flux"], frame["b_flux"] = fwd, bwd
    for k, st in s.lhs:
        if st in states:
            d[st] = d.get(st, 0.0) - k * (fwd - bwd)
    for k, st in s.rhs:
        if st in states:
            d[st] = d.get(st, 0.0) + k * (fwd - bwd)


def _derivatives(spec, block, glob, states: dict, frozen: dict | None = None):
    """f(states) of a DERIVATIVE/KINETIC block, with everything else from `glob`.
    `frozen`: the block's statements (its rates) see these states, and only the
    reactions' fluxes see `states` (a linear kinetic scheme's step, as NEURON's)."""
    g = dict(glob)
    g.update(states if frozen is None else frozen)
    ctx = _Ctx(spec, g, "derivative")
    if frozen is not None:
        ctx.react = states
    run(block.body, {}, ctx)
    out = {}
    for name in spec.block_states[block.name]:
        f = ctx.derivs.get(name, np.float64(0.0))
        if name in ctx.volumes:
            f = f / ctx.volumes[name]
        out[name] = f
    return out, ctx


def _swap_mode(ctx: _Ctx, mode: str) -> _Ctx:
    c = _Ctx(ctx.spec, ctx.glob, mode)
    c.depth = ctx.depth
    return c


def _phi(z):
    """`φ(z) = (eᶻ − 1)/z` (`1 + z/2` below |z| = 1e-6)."""
    small = jnp.abs(z) < 1e-6
    zs = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2, jnp.expm1(zs) / zs)


def _phi_prime(z, phi):
    """`φ'(z)` given `φ(z)`: `(1 + (z − 1)·φ)/z` (from `eᶻ = 1 + z·φ`: no second
    exponential; rounding ~ε·max(20, |z|), as JAX's own through expm1' = 1 + expm1),
    below |z| = 0.1 the Taylor series
    `Σ (k+1)·zᵏ/(k+2)!` (10 terms in float64, 6 in float32: truncation < ε)."""
    n = 10 if z.dtype == jnp.float64 else 6
    series = jnp.zeros_like(z)
    for k in reversed(range(n)):
        series = series * z + (k + 1) / math.factorial(k + 2)
    small = jnp.abs(z) < 0.1
    zs = jnp.where(small, 1.0, z)
    return jnp.where(small, series, (1.0 + (z - 1.0) * phi) / zs)


@jax.custom_jvp
def _cnexp_update(x, fx, b, dt):
    """cnexp's `x + f·dt·φ(b·dt)`, its derivative written out (JAX's own went through
    `expm1`'s derivative, a second exponential, and the division's three):
    `u̇ = ẋ + dt·φ·ḟ + f·dt²·φ'·ḃ + f·(φ + z·φ')·dṫ`. Hay cell, 1 s gradient:
    benchmarks/exp_hay_a2_levers.py."""
    return x + fx * dt * _phi(b * dt)


def _cnexp_update_jvp(primals, tangents):
    # symbolic zeros: the terms of inputs not differentiated (dt, almost always) are left
    # out, not multiplied by an array of zeros — in a gradient those products were
    # evaluated in every step (XLA does not fold `x·0`: x may be inf) and were ~85 more
    # equations to trace (Hay's cell). The sum keeps its order, so the values are the
    # same bit for bit (adding an exact zero changes nothing).
    x, fx, b, dt = primals
    dx, dfx, db, ddt = (None if type(t) is jax.custom_derivatives.SymbolicZero else t
                        for t in tangents)  # fmt: skip
    z = b * dt
    p = _phi(z)
    out = x + fx * dt * p
    terms = []
    if dx is not None:
        terms.append(dx)
    if dfx is not None:
        terms.append(dt * p * dfx)
    if db is not None or ddt is not None:
        pp = _phi_prime(z, p)
        if db is not None:
            terms.append(fx * dt * dt * pp * db)
        if ddt is not None:
            terms.append(fx * (p + z * pp) * ddt)
    if not terms:
        return out, jax.custom_derivatives.SymbolicZero(jax.typeof(out).to_tangent_aval())
    tangent = terms[0]
    for t in terms[1:]:
        tangent = tangent + t
    if jnp.shape(tangent) != jnp.shape(out):  # x's zero tangent gave the shape before
        tangent = jnp.broadcast_to(tangent, jnp.shape(out))
    return out, tangent


_cnexp_update.defjvp(_cnexp_update_jvp, symbolic_zeros=True)


def _cnexp_in_place(s: Diff, frame, ctx: _Ctx):
    """`x' = f` under cnexp: `x ← x + f·dt·(e^{b·dt} − 1)/(b·dt)`, `b = ∂f/∂x` (forward
    mode) at the current values — exact for f linear in x (checked when built)."""
    spec, glob = ctx.spec, ctx.glob
    x = jnp.asarray(_weak(glob[s.state]), spec.dtype(glob))

    def f(xx):
        g2 = dict(glob)
        g2[s.state] = xx
        return jnp.asarray(_weak(ev(s.expr, dict(frame), _Ctx(spec, g2, "derivative"))))

    fx, b = jax.jvp(f, (x,), (jnp.ones_like(x),))
    if ctx.cnexp_probe is not None:  # the build-time check: ∂²f/∂x² with f as stepped here
        d2 = jax.jvp(lambda xx: jax.jvp(f, (xx,), (jnp.ones_like(xx),))[1], (x,),
                     (jnp.ones_like(x),))[1]  # fmt: skip
        ctx.cnexp_probe.append((s, fx, b, d2))
    glob[s.state] = _cnexp_update(x, fx, b, jnp.asarray(glob["dt"], x.dtype))


def _solve(s: Solve, ctx: _Ctx):
    spec, glob = ctx.spec, ctx.glob
    dt = glob["dt"]
    if s.block in spec.functions and s.method in _PROC_METHODS:
        call(Call(s.block, (), s.line), {}, ctx)
        return
    block = spec.blocks[s.block]
    if block.kind in ("LINEAR", "NONLINEAR"):  # solved at the new v (NEURON's nrn_state)
        _solve_linear(s, ctx)
        return
    names = spec.block_states[s.block]
    shape = jnp.shape(glob["v"])
    x0 = {n: jnp.broadcast_to(jnp.asarray(_weak(glob[n]), spec.dtype(glob)), shape) for n in names}

    def f(x):
        return _derivatives(spec, block, glob, x)[0]

    if s.method == "cnexp":
        # as nocmodl's cnexp code: the block's statements in order, each `x' = f` an
        # in-place exact step of x with the values of the moment (a state updated above
        # it is seen updated: GABAb's R' reads the new C)
        glob.update(x0)
        run(block.body, {}, _swap_mode(ctx, "cnexp"))
    elif s.method == "euler":
        fx = f(x0)
        for n in names:
            glob[n] = x0[n] + dt * fx[n]
        _keep_assigned(spec, block, glob, x0, names)
    elif s.method in ("derivimplicit", "sparse"):
        x = _implicit_step(spec, block, glob, x0, names, dt, sparse=s.method == "sparse")
        glob.update(x)
        # what the block assigns besides its states, as NEURON leaves it: scopmath's
        # `sparse` calls the block once more at the solution ("restore Dstate at t+dt"),
        # linear scheme or not (cadifeb4.mod's `cai = ca[0]` then carries the new ca[0]:
        # at the old states the pool lagged a step, 0.11 of cai's range); derivimplicit
        # as before (a linear KINETIC under it: the old states)
        _keep_assigned(spec, block, glob,
                       x0 if s.method != "sparse" and _linear_scheme(block) else x, names)
    else:  # checked at build time
        raise _err(spec, s.line, f"METHOD {s.method} is not supported")


def _keep_assigned(spec, block, glob, x, names):
    """What the block assigns besides its states (cabpump.mod's `cai = ca[0]` and
    `ica_pmp`, rates' `minf`), as NEURON leaves it after the solve: the block evaluated
    at the states it last saw (the old ones for cnexp/euler, the solution for the
    implicit methods)."""
    keep = spec.keep.get(block.name, ())
    if not keep:  # nothing read later: no extra evaluation in the step
        return
    _, c = _derivatives(spec, block, glob, x)
    for n in keep:
        if n in c.glob and c.glob[n] is not glob.get(n):
            glob[n] = c.glob[n]


def _newton(residual, x, names, iterations=NEWTON_ITERATIONS, converge=None):
    """Newton's method on `residual(x) = 0` per compartment, a fixed number of iterations.

    The program is built to stay small for large kinetic schemes (a 13-state Markov
    channel): the states are one vector `(..., n)`; each iteration is one
    `jax.linearize` of the residual (the block traced once) and the n columns of the
    Jacobian are that linear map `vmap`ped over the unit tangents (not n separate JVPs,
    each tracing the block again), then one small dense `jnp.linalg.solve` per
    compartment; the iterations are a `lax.fori_loop` (traced once, not unrolled). The
    block's code appears ~2 times in the program instead of `iterations·(n + 1)` times
    (13 states, 4 iterations, plus STEADYSTATE's 2×12: 392 → 4 copies). The iteration
    count is fixed rather than stopped on convergence (`neurojax._newton.root`) so that
    reverse-mode gradients pass through it.

    `converge` (KINETIC `sparse` with a nonlinear scheme): scopmath's `sparse` rule —
    after each iteration a state below 0 is set to 0, and the iterations stop once the
    sum of |Δstate| over the scheme (in the states' own units) is ≤ `converge`
    (`CONVERGE`, 1e-6): NEURON's solution, not the converged root (the NEURON book's
    cadifpmp.mod takes one iteration per step; four: 1.9e-7 mV from NEURON, one: 6.9e-11).
    Here the later iterations are masked (`jnp.where`), the count still fixed."""
    shape = jnp.shape(x[names[0]])
    n = len(names)
    X0 = jnp.stack([jnp.broadcast_to(x[m], shape) for m in names], -1)

    def R(X):
        r = residual({m: X[..., i] for i, m in enumerate(names)})
        return jnp.stack([jnp.broadcast_to(jnp.asarray(r[m], X.dtype), shape) for m in names], -1)

    # unit tangents, (column, ..., n): column j is e_j in every compartment
    basis = jnp.broadcast_to(
        jnp.eye(n, dtype=X0.dtype).reshape((n,) + (1,) * len(shape) + (n,)), (n,) + shape + (n,)
    )

    def newton_step(X):
        r, lin = jax.linearize(R, X)
        jac = jnp.moveaxis(jax.vmap(lin)(basis), 0, -1)  # (..., row, column)
        return jnp.linalg.solve(jac, r[..., None])[..., 0].astype(X.dtype)

    if converge is None:
        X = jax.lax.fori_loop(0, iterations, lambda _, X: X - newton_step(X), X0)
        return {m: X[..., i] for i, m in enumerate(names)}

    def body(_, carry):
        X, done = carry
        step = newton_step(X)
        new = jnp.maximum(X - step, 0.0)  # scopmath: `if (s < 0.) s = 0.`
        err = jnp.sum(jnp.abs(step), axis=-1)
        return jnp.where(done[..., None], X, new), done | (err <= converge)

    X, _ = jax.lax.fori_loop(0, iterations, body, (X0, jnp.zeros(shape, bool)))
    return {m: X[..., i] for i, m in enumerate(names)}


def _linear_scheme(block) -> bool:
    """A KINETIC block nocmodl compiles as linear (`_linmat = 1`): every reaction has at
    most one STATE-like term of stoichiometry 1 on each side (`~ c <-> o (a, b)`, `~ x
    << (flux)`), whatever its rate expressions read. NEURON's `sparse` then makes one
    linear solve per step with the block's statements (its rates) evaluated at the
    step's old states — not Newton's iterations on backward Euler, which differ when a
    rate reads a state of the scheme (Destexhe's Ca-regulated Ih, `iar`: `k3p =
    k4·(p1/Pc)^nexp`; 0.3 % of the states' range over 40 ms, measured)."""
    if block.kind != "KINETIC":
        return False

    def side_ok(side):
        return len(side) <= 1 and all(k == 1 for k, _ in side)

    found = []

    def visit(body):
        for st in body:
            if isinstance(st, Reaction):
                found.append(side_ok(st.lhs) and (st.op == "<<" or side_ok(st.rhs)))
            elif isinstance(st, If):
                visit(st.body)
                visit(st.orelse)

    visit(block.body)
    return all(found)


# scopmath's CONVERGE: `sparse` stops when the sum of |Δstate| is at most this
SPARSE_CONVERGE = 1e-6


def _implicit_step(spec, block, glob, x0, names, dt, iterations=NEWTON_ITERATIONS,
                   sparse=False):  # fmt: skip
    """Backward Euler `x = x₀ + dt·f(x)` by Newton's method; each CONSERVE replaces the
    equation of its last state by the conservation of the amounts (states × their
    COMPARTMENT volumes), as NEURON's `sparse`. A linear kinetic scheme (see
    `_linear_scheme`) is NEURON's single linear solve with its rates at `x0`: the
    residual is then linear in x and one Newton iteration solves it exactly. `sparse`:
    a nonlinear KINETIC scheme stepped by `METHOD sparse`, iterated as scopmath's
    `sparse` (see `_newton`'s `converge`)."""
    frozen = None
    converge = SPARSE_CONVERGE if sparse and block.kind == "KINETIC" else None
    if _linear_scheme(block):
        frozen, iterations, converge = x0, 1, None

    def residual(x):
        fx, c = _derivatives(spec, block, glob, x, frozen)
        r = {n: x[n] - x0[n] - dt * fx[n] for n in names}
        for lhs, total, _line in c.conserve:
            vol = c.volumes
            r[lhs[-1][1]] = sum(k * vol.get(st, 1.0) * x[st] for k, st in lhs) - total
        return r

    return _newton(residual, x0, names, iterations=iterations, converge=converge)


def _linear_unknowns(spec, block) -> list:
    """The STATEs a LINEAR block's equations name, in declaration order."""
    names: set = set()
    for st in block.body:
        if isinstance(st, LinEq):
            _names_in(st.lhs, names, [])
            _names_in(st.rhs, names, [])
    return [n for n in spec.state_names if n in names]


def _solve_linear(s: Solve, ctx: _Ctx):
    """`SOLVE name` of a LINEAR block (Allen's NaV.mod sets its 12-state scheme at
    equilibrium so in INITIAL): the block's statements, then its `~ lhs = rhs`
    equations — linear in the STATEs they name — solved exactly (one Newton step of
    the square system, per compartment). Not as many equations as unknowns, or a
    singular system (NaN), is refused at build time / visible as NaN."""
    spec, glob = ctx.spec, ctx.glob
    block = spec.blocks[s.block]
    names = _linear_unknowns(spec, block)
    shape = jnp.shape(glob["v"])
    dtype = spec.dtype(glob)
    if block.kind == "NONLINEAR":
        # NEURON's `newton` (scopmath): Newton's method from the states' current values
        # (INITIAL's, 0 if unset); a fixed NONLINEAR_ITERATIONS here (converged to
        # rounding for a well-posed system; a singular one gives NaN, never a value)
        x0 = {n: jnp.broadcast_to(jnp.asarray(_weak(glob.get(n, 0.0)), dtype), shape)
              for n in names}  # fmt: skip
        iterations = NONLINEAR_ITERATIONS
    else:
        x0 = {n: jnp.zeros(shape, dtype) for n in names}
        iterations = 1

    def residual(x):
        g = dict(glob)
        g.update(x)
        c = _Ctx(spec, g, "linear")
        run(block.body, {}, c)
        eqs = list(c.derivs.values())
        return {n: eqs[k] for k, n in enumerate(names)}

    glob.update(_newton(residual, x0, names, iterations=iterations))


# NEURON's STEADYSTATE (scopmath's _ss_sparse, _ss_derivimplicit): backward Euler steps
# of 1e9 ms from the current state — two for a nonlinear KINETIC block (`sparse`, then
# once more after its check that no state is negative), one for a linear scheme
# (`_linear_scheme`: `_ss_sparse`'s "iterate linear solution" branch, one `sparse` call;
# two steps left Schmidt-Hieber's 8-state Na 1.1e-7 mV from NEURON, one: 1.6e-11) and for a
# DERIVATIVE block — not a root of f: a reservoir slower than 1e9 ms (capmpr.mod's `tau`)
# is not at equilibrium after it
STEADY_DT = 1e9


def _steady_state(s: Solve, ctx: _Ctx):
    spec, glob = ctx.spec, ctx.glob
    if s.block not in spec.blocks:
        raise _err(spec, s.line, f"SOLVE {s.block} STEADYSTATE: no KINETIC/DERIVATIVE {s.block}")
    block = spec.blocks[s.block]
    names = spec.block_states[s.block]
    shape = jnp.shape(glob["v"])
    x0 = {n: jnp.broadcast_to(jnp.asarray(_weak(glob[n]), spec.dtype(glob)), shape) for n in names}

    x = x0
    linear = _linear_scheme(block)
    for _ in range(2 if block.kind == "KINETIC" and not linear else 1):
        # a negative state (< −1e-6) is set to 0 between NEURON's steps
        if block.kind == "KINETIC" and _ > 0:
            x = {n: jnp.where(x[n] < -1e-6, 0.0, x[n]) for n in names}
        x = _implicit_step(spec, block, glob, x, names, STEADY_DT, iterations=3 * NEWTON_ITERATIONS)
    glob.update(x)


# ----------------------------------------------------------------------------- analysis


def _all_names(tree) -> set:
    """Every `Name` id anywhere in a statement or expression tree (read or assigned)."""
    out = set()

    def visit(x):
        if isinstance(x, Name):
            out.add(x.id)
        elif isinstance(x, (list, tuple)):
            for y in x:
                visit(y)
        elif hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                visit(getattr(x, f))

    visit(tree)
    return out


def _names_in(e, out: set, calls: list):
    if isinstance(e, Name):
        out.add(e.id)
    elif isinstance(e, (Bin,)):
        _names_in(e.lhs, out, calls)
        _names_in(e.rhs, out, calls)
    elif isinstance(e, Unary):
        _names_in(e.x, out, calls)
    elif isinstance(e, Safe):
        _names_in(e.ratio, out, calls)
        _names_in(e.z, out, calls)
    elif isinstance(e, Call):
        for a in e.args:
            _names_in(a, out, calls)
        calls.append(e.fn)


class _RW:
    """Globals possibly read before definitely written; possibly/definitely written."""

    def __init__(self, prog: Program, blocks: dict):
        self.prog, self.blocks = prog, blocks
        self.memo: dict = {}

    def function(self, name):
        if name in self.memo:
            return self.memo[name] or (set(), set(), set())
        self.memo[name] = None  # recursion guard
        f = self.prog.functions[name]
        res = self.body(f.body, set(f.args) | {name}, set())
        self.memo[name] = res
        return res

    def expr(self, e, local, written, reads, maybe):
        names, calls = set(), []
        _names_in(e, names, calls)
        reads |= names - local - written
        for fn in calls:
            if fn in self.prog.functions:
                r, w_def, w_any = self.function(fn)
                reads |= r - written
                written |= w_def
                maybe |= w_any

    def body(self, body, local: set, written: set):
        local, reads, maybe = set(local), set(), set()
        for s in body:
            if isinstance(s, Local):
                local |= set(s.names)
            elif isinstance(s, Assign):
                self.expr(s.expr, local, written, reads, maybe)
                if s.target not in local:
                    written.add(s.target)
                    maybe.add(s.target)
            elif isinstance(s, (Diff,)):
                self.expr(s.expr, local, written, reads, maybe)
                reads |= {s.state} - written
            elif isinstance(s, CallStmt):
                self.expr(s.call, local, written, reads, maybe)
            elif isinstance(s, If):
                self.expr(s.cond, local, written, reads, maybe)
                r1, w1, m1 = self.body(s.body, local, set(written))
                r2, w2, m2 = self.body(s.orelse, local, set(written))
                reads |= (r1 | r2) - local
                written |= w1 & w2
                maybe |= m1 | m2
            elif isinstance(s, Reaction):
                for k in (s.kf, s.kb):
                    if k is not None:
                        self.expr(k, local | {"f_flux", "b_flux"}, written, reads, maybe)
                reads |= {st for _, st in (*s.lhs, *s.rhs)} - written
            elif isinstance(s, Conserve):
                self.expr(s.rhs, local, written, reads, maybe)
            elif isinstance(s, LinEq):
                self.expr(s.lhs, local, written, reads, maybe)
                self.expr(s.rhs, local, written, reads, maybe)
            elif isinstance(s, Compartment):
                self.expr(s.volume, local, written, reads, maybe)
            elif isinstance(s, Solve):
                if s.block in self.blocks:
                    r, w_def, w_any = self.body(self.blocks[s.block].body, set(), set(written))
                    reads |= r - written
                    written |= w_def
                    maybe |= w_any
                elif s.block in self.prog.functions:
                    r, w_def, w_any = self.function(s.block)
                    reads |= r - written
                    written |= w_def
                    maybe |= w_any
        return reads, written, maybe


# ----------------------------------------------------------------------------- spec


class Spec:
    """Everything static about an imported mechanism (hashable by identity)."""

    def dtype(self, glob):
        return jnp.result_type(_weak(glob["v"]))


def _parameters(prog, skip: set) -> dict:
    """`{name: (default, Domain, unit)}` of the PARAMETERs (not those in `skip`)."""
    file = prog.file
    params = {}
    for var in prog.parameters:
        n = var.name
        if n in _SPECIAL or n in skip or n in _GEOMETRY:
            continue
        if n in _UNSUPPORTED_SPECIAL:
            raise fail(file, var.line, f"PARAMETER {n}: {_UNSUPPORTED_SPECIAL[n]} is not supported")
        dom = Domain()
        # nocmodl writes a PARAMETER's default into the C code with printf's %g: six
        # significant digits (GrC_KA.mod's Kalpha_a = -23.32708 runs as -23.3271 in
        # NEURON, a NeuroML export's 0.018000001 as 0.018); the same here, so that a
        # file runs as it does in NEURON (constants in expressions and CONSTANTs keep
        # every digit there, and here)
        value = 0.0 if var.value is None else float(f"{var.value:g}")
        if var.limits is not None:
            # NEURON does not enforce `<lo, hi>` (GUI hints); the file's own default is
            # always accepted (release.mod's tauGen = 0 < 1e-6 means "instantaneous"), the
            # limits widened to it; a value the user passes outside is refused
            lo, hi = min(var.limits[0], value), max(var.limits[1], value)
            widened = "" if (lo, hi) == tuple(var.limits) else f", widened to the default {value:g}"
            dom = Domain(lo, hi, True, True,
                         why=f"NMODL limits <{var.limits[0]:g},{var.limits[1]:g}>{widened}")  # fmt: skip  # noqa: E501
        params[n] = (value, dom, var.unit)
    for n in params:
        if n in _RESERVED or n.startswith("_") or n in dir(eqx.Module):
            raise fail(file, 1, f"a parameter named {n!r} clashes with the mechanism's methods")
    return params


def build_spec(prog: Program, ions: dict | None = None) -> Spec:
    file = prog.file
    spec = Spec()
    spec.file = file
    spec.prog = prog
    if prog.kind == "ARTIFICIAL_CELL":
        return _artificial_spec(prog, spec)
    if prog.kind not in ("SUFFIX", "POINT_PROCESS"):
        raise fail(file, 1, "no NEURON { SUFFIX ... }, { POINT_PROCESS ... } or "
                   "{ ARTIFICIAL_CELL ... } block")  # fmt: skip
    spec.point = prog.kind == "POINT_PROCESS"
    for fn in _EVENT_CALLS:
        line = _first_call(prog, fn)
        if line and not (fn in ("net_send", "net_event") and spec.point):
            raise fail(file, line, f"{fn}() in a {prog.kind} is not supported (net_send "
                       "self-events and net_event spikes in a POINT_PROCESS, net_move in an "
                       "ARTIFICIAL_CELL only)")  # fmt: skip
    # net_event in a POINT_PROCESS: its output spikes, counted in the gates ne_n, ne_t
    spec.emits = spec.point and bool(_first_call(prog, "net_event"))
    # WATCH (STDP synapses) sends its self-events through the same queue
    spec.self_events = bool(_first_call(prog, "net_send")) or prog.watch_check is not None
    if prog.net_receive is not None and not spec.point:
        raise fail(file, prog.net_receive.line, "NET_RECEIVE in a density mechanism")
    if spec.point:
        # USEION in a POINT_PROCESS: it READs the reversal potential and concentrations
        # at its node and WRITEs its ion current (nA, added to the ion's total density
        # at the node as i·100/area mA/cm², NEURON's rule: `Cell`); the other uses refused
        for u in prog.ions:
            cur = ion_variables(u.ion)[3]
            if cur in u.read:
                raise fail(file, u.line, f"USEION {u.ion} READ {cur} in a POINT_PROCESS is not "
                           "supported (the ion's total current density at its node)")  # fmt: skip
            # a concentration it WRITEs (`cai`: an NMDA synapse's own Ca shell) is the
            # ion's value at its node, stored there after its INITIAL and state update as
            # NEURON's point process does (not scaled by the area, unlike its current);
            if ion_variables(u.ion)[0] in u.write:
                raise fail(file, u.line, f"USEION {u.ion} WRITE {ion_variables(u.ion)[0]} in a "
                           "POINT_PROCESS is not supported (a point process writing a reversal "
                           "potential)")  # fmt: skip
    spec.receive_args = prog.net_receive.args if prog.net_receive is not None else ()
    # NET_RECEIVE's arguments after the weight: the state of the point process's one
    # connection (NEURON: per NetCon), carried with the gates as `nc_<name>`
    spec.receive_state = tuple(spec.receive_args[1:])
    if prog.receive_initial is not None:
        ri_reads = _all_names(prog.receive_initial.body)
        if spec.receive_args and spec.receive_args[0] in ri_reads:
            raise fail(file, prog.receive_initial.line, f"NET_RECEIVE's INITIAL reads the "
                       f"weight {spec.receive_args[0]}: not supported (the weight is known "
                       "when an event arrives)")  # fmt: skip
    if prog.breakpoint is None:
        raise fail(file, prog.suffix_line, "no BREAKPOINT block")
    _no_current_breakpoint(prog)
    _before_step(prog)
    _verbatim_run_every_step(prog)
    spec.suffix = prog.suffix
    spec.functions = prog.functions
    spec.ftables = dict(prog.function_tables)  # FUNCTION_TABLE name -> (n args, line)
    spec.blocks = prog.blocks
    spec.constants = {**prog.unit_constants, **prog.constants}
    if ions:
        raise TypeError(
            f"{file}: ion values are the cell's, not the mechanism's: give them as "
            f"cable.Cell(..., ions={dict(ions)!r})"
        )

    # ions: the values READ come from the cell's ion pools at every call; the currents
    # WRITTEN are added to the ion's total; the concentrations WRITTEN go back to the pool
    ion_reads, currents, conc_written, ion_use, ion_currents = [], [], [], [], []
    rev_written = []
    for u in prog.ions:
        own = ion_variables(u.ion)
        for name in (*u.read, *u.write):
            if name not in own:
                raise fail(file, u.line, f"USEION {u.ion}: {name} is not one of its variables "
                           f"({', '.join(own)})")  # fmt: skip
        for name in u.read:
            # READ ica WRITE ica (cabpump.mod): `ica` read is the pool's total (in the state
            # update: every mechanism's current of the step, its own included), as NEURON
            # loads it; BREAKPOINT's `ica = …` is its own part, added to the total
            if name not in u.write or name == own[3]:
                ion_reads.append(name)
        for name in u.write:
            if name == own[3]:
                currents.append(name)
                ion_currents.append(name)
            elif name in own[1:3]:
                conc_written.append(name)
            else:  # a reversal potential (Santhakumar et al.'s ccanl.mod: enca = eca)
                rev_written.append((name, u.line))
        ion_use.append(IonUse(u.ion, u.valence, tuple(u.read), tuple(u.write)))
    if rev_written and (currents or prog.nonspecific or prog.electrode):
        name, line = rev_written[0]
        raise fail(file, line, f"WRITE {name} (a reversal potential) in a mechanism that also "
                   "writes a current is not supported (only in one writing no current, "
                   "whose BREAKPOINT runs in NEURON's nrn_state)")  # fmt: skip
    # a reversal potential WRITTEN (NEURON's nrn_promote(…, 3): e is then a STATE of the
    # ion, neither initialised nor advanced by Nernst where the mechanism is): given back
    # to the pool with the concentrations written, after INITIAL and each step
    conc_written += [n for n, _ in rev_written]
    currents += [n for n, _ in prog.nonspecific]
    # ELECTRODE_CURRENT (IClamp's i): injected, positive depolarises — the opposite sign
    spec.electrode = tuple(n for n, _ in prog.electrode)
    currents += list(spec.electrode)
    spec.currents = tuple(currents)
    spec.ion_currents = tuple(ion_currents)
    spec.ion_reads = tuple(ion_reads)
    spec.pool = tuple(conc_written)  # concentrations written: the cell's pool, not gates
    spec.ion_use = tuple(ion_use)
    spec.geometry = tuple(g for g in _GEOMETRY if _first_use(prog, g))
    if spec.point and spec.geometry:
        raise fail(file, _first_use(prog, spec.geometry[0]), f"{spec.geometry[0]} in a "
                   "POINT_PROCESS is not supported yet (NEURON reads the node's segment "
                   f"diameter or area: rename {spec.geometry[0]} in the file, declare it "
                   "a PARAMETER and give the segment's value)")  # fmt: skip
    spec.ion_inputs = tuple(dict.fromkeys((*ion_reads, *conc_written, *spec.geometry)))
    # POINTERs (gap junctions' vgap, a transmitter concentration C): values bound by the
    # user (`NmodlPointProcess.bind_pointer`: a site's voltage, a time series), read
    # at every call as the ion values are; never written here
    spec.pointers = tuple(n for n, _ in prog.pointers)
    # a POINTER no statement reads (Mergenthal et al.'s kmb_inh.mod declares kppt, kcpt
    # and never uses them): NEURON runs it unset; here it needs no binding (NaN if it
    # were ever read). Before, the cell refused to initialise without a binding.
    spec.pointers_unread = tuple(n for n in spec.pointers if not _first_use(prog, n))
    for n, line in prog.pointers:
        if prog.kind == "ARTIFICIAL_CELL":
            raise fail(file, line, f"POINTER {n} in an ARTIFICIAL_CELL is not supported")
        if not spec.point and prog.kind != "SUFFIX":  # pragma: no cover (SUFFIX/POINT/ART)
            raise fail(file, line, f"POINTER {n} in a {prog.kind} is not supported")
        if n in spec.ion_inputs or n in _SPECIAL or n in {s.name for s in prog.states}:
            raise fail(file, line, f"POINTER {n} is also an ion variable, a STATE or v/t")

    # parameters
    params = _parameters(prog, set(spec.ion_inputs) | set(ion_currents) | set(spec.pointers))
    spec.params = params
    # Python keywords (stim.mod's `del`) become fields with a trailing underscore
    spec.field_of = {n: n + "_" if keyword.iskeyword(n) else n for n in params}
    spec.param_names = set(params)
    spec.state_names = [s.name for s in prog.states]
    assigned = [
        a.name
        for a in prog.assigned
        if a.name not in _SPECIAL and a.name not in params and a.name not in spec.ion_inputs
        and a.name not in spec.pointers
    ]
    for a in prog.assigned:
        if a.name in _UNSUPPORTED_SPECIAL:
            raise fail(file, a.line, f"{_UNSUPPORTED_SPECIAL[a.name]} ({a.name}) is not supported")
    spec.assigned = [a for a in assigned if a not in spec.state_names]
    spec.module_locals = [v.name for v in prog.module_locals]
    spec.writable = (
        set(spec.state_names)
        | set(spec.assigned)
        | set(spec.module_locals)
        | set(spec.pool)
        | set(spec.ion_currents)
    )
    for c in spec.currents:
        if c not in spec.writable:
            raise fail(file, prog.suffix_line, f"current {c} is not declared ASSIGNED")

    # SOLVE statements of BREAKPOINT
    solves = [s for s in prog.breakpoint.body if isinstance(s, Solve)]
    _check_no_nested_solve(spec, prog.breakpoint.body, top=True)
    spec.block_states = {}
    for s in solves:
        if s.block in prog.functions and s.method in _PROC_METHODS:
            continue
        if s.block not in prog.blocks:
            raise fail(
                file, s.line, f"SOLVE {s.block}: no DERIVATIVE or KINETIC block of that name"
            )
        blk = prog.blocks[s.block]
        ok = {
            "DERIVATIVE": ("cnexp", "derivimplicit", "euler"),
            "KINETIC": ("sparse", "derivimplicit"),
            "LINEAR": (),
            "NONLINEAR": (),
        }
        if blk.kind == "LINEAR":  # not checked against NEURON in BREAKPOINT
            raise fail(file, s.line, f"SOLVE {s.block} (a LINEAR block) in BREAKPOINT is not "
                       "supported (in INITIAL it is)")  # fmt: skip
        if blk.kind == "NONLINEAR":
            # solved at every step's state update, at the new v, from the states' current
            # values (NEURON's nrn_state runs `newton`; measured with NEURON 9, the state
            # at step k solves the block's equations at v(t_k))
            if s.method not in ("", "newton"):
                raise fail(file, s.line, f"SOLVE {s.block} METHOD {s.method} is not supported "
                           f"for a NONLINEAR block (SOLVE {s.block} [METHOD newton])")  # fmt: skip
            continue
        if s.method not in ok[blk.kind]:
            raise fail(file, s.line, f"SOLVE {s.block} METHOD {s.method or '(none)'} is not "
                       f"supported for a {blk.kind} block (supported: {', '.join(ok[blk.kind])})")  # fmt: skip  # noqa: E501
    for name, blk in prog.blocks.items():
        found = []
        _states_of(blk.body, found, spec)
        spec.block_states[name] = [n for n in spec.state_names if n in found]
        if blk.kind in ("LINEAR", "NONLINEAR"):
            n_eq = sum(isinstance(x, LinEq) for x in blk.body)
            unknowns = _linear_unknowns(spec, blk)
            if n_eq != len(unknowns) or any(not isinstance(x, (LinEq, Assign, Local, CallStmt))
                                            for x in blk.body):  # fmt: skip
                raise fail(file, blk.line, f"{blk.kind} {name}: {n_eq} equations for the "
                           f"{len(unknowns)} STATEs they name ({', '.join(unknowns)}), or a "
                           "statement other than assignments and equations: not "
                           "supported")  # fmt: skip
    # a STATE that is an ion variable READ and not written (Mergenthal et al.'s m1.mod:
    # `USEION ACh READ AChi` with AChi in STATE, no equation for it): nocmodl loads it
    # from the ion at each entry point and never stores it, so it is the ion's value
    # throughout — not a gate (before, it was a gate started at 0, hiding the ion's value)
    ion_states = [n for n in spec.state_names if n in spec.ion_reads and n not in spec.pool]
    for n in ion_states:
        for name, found in spec.block_states.items():
            if n in found:
                raise fail(file, prog.blocks[name].line, f"{n} is a STATE integrated in "
                           f"{name} and an ion variable READ but not WRITTEN: not supported "
                           f"(NEURON reloads it from the ion at every step; WRITE {n} to make "
                           "it the mechanism's)")  # fmt: skip
    spec.state_names = [n for n in spec.state_names if n not in ion_states]

    # read/write analysis: which values carry over between calls
    rw = _RW(prog, prog.blocks)
    bp_body = tuple(s for s in prog.breakpoint.body if not isinstance(s, Solve))
    r_cur, _, w_cur = rw.body(bp_body, set(), set())
    r_upd, w_upd_def, w_upd = rw.body(tuple(solves), set(), set())
    r_ini, _, w_ini = rw.body(prog.initial.body if prog.initial else (), set(), set())
    if prog.net_receive is not None:
        recv_local = set(prog.net_receive.args) | {"flag"}
        r_rcv, _, w_rcv = rw.body(prog.net_receive.body, recv_local, set())
        if prog.receive_initial is not None:
            r_ri, _, w_ri = rw.body(prog.receive_initial.body, recv_local, set())
            r_rcv, w_rcv = r_rcv | r_ri, w_rcv | w_ri
        if prog.watch_check is not None:  # run by `receive` before the step's events
            r_w, _, w_w = rw.body(prog.watch_check.body, set(), set())
            r_rcv, w_rcv = r_rcv | r_w, w_rcv | w_w
    else:
        r_rcv, w_rcv = set(), set()
    _warn_initial_reads_leftover(spec, prog, rw, r_ini, r_cur | r_upd | r_rcv)
    if _first_use(prog, "flag") and prog.net_receive is not None and not spec.self_events:
        pass  # flag is 0 for every external event
    # v assigned in NET_RECEIVE (izhi2007b.mod's reset `v = c`): NEURON's point process
    # writes its node's voltage; the cell takes it from the gate `v_net` before the
    # step's currents.
    spec.receive_writes_v = spec.point and "v" in w_rcv
    # v assigned in a density mechanism's INITIAL or BREAKPOINT (Hay et al. 2011's
    # K_Pst.mod `v = v + 10 … v = v − 10` in its rates, NaTa_t.mod's guard `if (v == −38)
    # {v = v + 0.0001}`): in nocmodl's C, v is the instance's own copy, set from the
    # node's voltage at the start of each entry point (nrn_init, each of nrn_cur's two
    # `_nrn_current` runs, nrn_state); an assignment changes that copy for the rest of
    # the entry point (procedures called later, the caller after return), never the
    # membrane voltage. Here: `g["v"]` of the entry point's own dict, set afresh from the
    # voltage by `init_ions` (INITIAL, then again for the BREAKPOINT run), each
    # `current_ions`/`_breakpoint` run and `update_ions`. Blocks NEURON evaluates more
    # than once per entry point with the copy carried between evaluations (Newton's
    # iterations, STEADYSTATE) are refused (`_check_shadow_v_solves`).
    spec.shadow_v = False
    for w_set, where in ((w_ini, "INITIAL"), (w_cur | w_upd, "BREAKPOINT")):
        if "v" in w_set and spec.point:
            raise fail(file, _first_line(prog, lambda x: isinstance(x, Assign)
                                         and x.target == "v") or 1,
                       f"assigning v in {where} is not supported in a point process (it may "
                       "set its node's v in NET_RECEIVE; a density mechanism's "
                       "INITIAL/BREAKPOINT may change its own copy of v)")  # fmt: skip
        if "v" in w_set:
            spec.shadow_v = True
    if spec.shadow_v:
        _check_shadow_v_solves(spec, prog, rw)
    if spec.receive_writes_v or spec.shadow_v:
        spec.writable.add("v")
    for n in spec.pointers:
        if n in (w_ini | w_cur | w_upd | w_rcv):
            raise fail(file, _first_line(prog, lambda x, n=n: isinstance(x, Assign)
                                         and x.target == n) or 1,
                       f"assigning the POINTER {n} is not supported (writing another "
                       "mechanism's variable)")  # fmt: skip
    # NET_RECEIVE reads the time (an event's time, ms): the cell passes the step's time
    # and refuses event times off the dt grid (Cell.event_input); self-events carry theirs
    # NET_RECEIVE reading dt (Destexhe's AMPA_S, GABAa_S: `exp(-Beta*(t-dt-t0))`): NEURON's
    # fixed step dt, which the cell passes with t
    spec.receive_dt = "dt" in r_rcv
    spec.receive_time = "t" in r_rcv or spec.self_events or spec.emits or spec.receive_dt
    # the time: t + dt/2 in BREAKPOINT's currents, t + dt in the SOLVEd block, 0 at
    # INITIAL (NEURON's fixed step)
    spec.uses_time = "t" in (r_cur | r_upd | r_ini)
    if "dt" in r_cur:
        raise fail(
            file,
            _first_use(prog, "dt"),
            "dt read outside the SOLVEd block, INITIAL and NET_RECEIVE (in BREAKPOINT's "
            "currents) is not supported",
        )
    # dt read in INITIAL (na3.mod's trates(v) also computes its exp(-dt/tau) factors):
    # neurojax's init has no dt, so INITIAL sees NaN there; `_check_init_dt` refuses a
    # file whose initial state depends on it
    spec.init_reads_dt = "dt" in r_ini
    # PARAMETERs that a block assigns (Exp2Syn's INITIAL adjusts tau1) are per-instance
    # values that persist, as NEURON's range variables: carried with the gates
    spec.param_carried = [n for n in params if n in (w_ini | w_cur | w_upd | w_rcv)]
    spec.writable |= set(spec.param_carried)
    hidden = set(spec.assigned) | set(spec.module_locals) | set(spec.param_carried)
    carried = (r_cur | r_upd | r_rcv) & hidden
    # values BREAKPOINT assigns and the SOLVEd block reads (capmpr.mod's ica and
    # ipump_last, svclmp.mod's vc and on): NEURON's state update sees those of this step's
    # current evaluation (at the step's start voltage, mid-step time). The current
    # evaluation returns no state here, so the update runs BREAKPOINT's statements again
    # first, at the voltage carried from the previous update (`v_bp`) and t − dt/2.
    # values BREAKPOINT reads before it writes them (izhi2007b.mod's `u = u + delta*…`,
    # `t0 = t`): state kept across NEURON's current evaluations. NEURON's nrn_cur runs
    # the statements twice per step (at v + 0.001 mV, then at v, for the membrane
    # slope), each run's writes kept: so does `current_ions` and the update's re-run
    # (`_breakpoint`), the first run's voltage outside the slope as NEURON's difference.
    spec.bp_kept = sorted(r_cur & w_cur & hidden)
    spec.bp_carry = sorted(((r_upd & hidden) & (w_cur - w_upd)) | set(spec.bp_kept))
    spec.carry_v = bool(spec.bp_carry) and "v" in r_cur
    carried |= set(spec.bp_carry)
    # ... and the concentrations and reversal potentials those statements read, as the
    # current evaluation saw them (the pools at the step's start: NEURON's nrn_cur runs
    # before any nrn_state), not as the cell passes them to this update (already written
    # by the pools updated before it). Bush's kca.mod (ModelDB 52034) runs `rates(cai)`
    # before its SOLVE and its DERIVATIVE reads the rates: with the new cai, V differed
    # from NEURON's by 0.01 mV. Carried as `<name>_bp`, the values this mechanism's
    # previous update (or INITIAL) saw: NEURON updates the concentration writers first
    # (`nrn_writes_conc`), so those are the step's-start values.
    ion_conc = {n for u in prog.ions for n in ion_variables(u.ion)[:3]}
    spec.ion_bp = (sorted(r_cur & set(spec.ion_reads) & ion_conc - w_cur)
                   if spec.bp_carry else [])  # fmt: skip
    # a current assigned only in the SOLVEd block, INITIAL or NET_RECEIVE, never in
    # BREAKPOINT's statements (Kager et al.'s Na/K pump nakpump.mod computes ik, ina in
    # its KINETIC block): NEURON's nrn_cur adds the value left there (by the last state
    # update, or INITIAL before the first), its slope 0. Carried with the gates; before
    # this, such a current was silently 0.
    # an ion variable READ but not written, assigned in a block (Ait Ouares et al.'s
    # cdp5.mod: `ica = 0` in INITIAL, ica READ only): in nocmodl's C the mechanism's own
    # copy, loaded from the ion at the start of each entry point (nrn_init, nrn_cur,
    # nrn_state) and never stored back — as v's copy (`shadow_v`). Here: writable in
    # the entry point's own values, INITIAL's copy dropped before finitialize's current
    # evaluation. Before, such a file loaded and failed when the cell initialised.
    spec.ion_shadow = sorted((w_ini | w_cur | w_upd | w_rcv) & set(spec.ion_reads)
                             - set(spec.pool) - set(spec.ion_currents))  # fmt: skip
    spec.writable |= set(spec.ion_shadow)
    spec.currents_kept = sorted(c for c in spec.currents
                                if c not in w_cur and c in (w_upd | w_ini | w_rcv))  # fmt: skip
    carried |= set(spec.currents_kept) & hidden
    cur_conc = [n for n in spec.pool if n in w_cur]
    if cur_conc:
        raise fail(file, prog.breakpoint.line, f"BREAKPOINT assigns the concentration "
                   f"{cur_conc[0]} outside its SOLVE: not supported (write it in the SOLVEd "
                   "block or INITIAL)")  # fmt: skip
    order = spec.assigned + spec.module_locals + spec.param_carried
    spec.carried = [n for n in order if n in carried]
    spec.carry_celsius = "celsius" in r_cur
    # what a SOLVEd block assigns besides its states that is read later (carried values,
    # the concentrations it writes to the pool): `_keep_assigned`
    # or by another SOLVEd block
    spec.keep = {}
    rw_blocks = {name: rw.body(blk.body, set(), set()) for name, blk in prog.blocks.items()}
    for name in prog.blocks:
        later = set().union(*[r for m, (r, _, _) in rw_blocks.items() if m != name])
        spec.keep[name] = tuple(sorted((rw_blocks[name][2] - set(spec.block_states[name]))
                                       & (set(spec.carried) | set(spec.pool) | later)))  # fmt: skip
    own_states = [n for n in spec.state_names if n not in spec.pool]
    fields = own_states + spec.carried + (["celsius"] if spec.carry_celsius else [])
    if spec.carry_v:
        if "v_bp" in fields:
            raise fail(file, 1, "a variable named v_bp clashes with the carried voltage")
        fields.append("v_bp")
    for n in spec.ion_bp:
        if f"{n}_bp" in fields:
            raise fail(file, 1, f"a variable named {n}_bp clashes with the carried {n}")
        fields.append(f"{n}_bp")
    extra = [f"nc_{a}" for a in spec.receive_state]
    if spec.emits:
        extra += ["ne_n", "ne_t"]
    if spec.receive_writes_v:
        extra += ["v_net"]
    if spec.self_events:
        extra += ["nc_weight", "q_lost"]
        extra += [f"q_{x}{k}" for k in range(SELF_EVENT_SLOTS) for x in "tf"]
    for f in extra:
        if f in fields or f in params:
            raise fail(file, 1, f"a variable named {f} clashes with the point process's "
                       "connection state or self-event queue")  # fmt: skip
    fields += extra
    spec.gates = _gates_class(f"{_pyname(spec.suffix)}Gates", fields)
    spec.gate_names = tuple(fields)  # NMODL names, in the fields' order
    return spec


def _warn_initial_reads_leftover(spec, prog: Program, rw: _RW, r_ini: set,
                                 later_reads: set) -> None:
    """INITIAL reading an ASSIGNED (or a file's LOCAL) before it assigns it, where the
    value read reaches what outlives INITIAL (a STATE, a concentration, a value the
    BREAKPOINT, SOLVEd block or NET_RECEIVE reads before assigning it): Bezaire et al.
    2016's ch_KCaS.mod sets `q = qinf` before `rate(cai)` computes qinf. NEURON keeps
    such values from its previous run (the last step's or the previous INITIAL's), so
    its result depends on what ran before `finitialize`; neurojax starts them at 0, as
    NEURON's first run after the instances are made. Not refused (NEURON's first run is
    what a published simulation is); a UserWarning at import names the file, line and
    variable. A leftover read whose value is overwritten before use (Pospischil et al.'s
    IM_cortex.mod: `evaluate_fct(v)` computes tau_m from tau_peak, set just after, and
    the step recomputes tau_m before reading it) is no warning."""
    cands = r_ini & (set(spec.assigned) | set(spec.module_locals))
    if not cands or prog.initial is None:
        return
    written: set = set()
    tainted: dict = {}  # global -> {(leftover variable read, INITIAL's line), ...}

    def source(names, local_t, line):
        out = frozenset()
        for n in names:
            if n in local_t:
                out |= local_t[n] or frozenset()
            elif n in tainted:
                out |= tainted[n]
            elif n in cands and n not in written:
                out |= {(n, line)}
        return out or None

    def expr(e, local_t, line, depth):
        names, calls = set(), []
        _names_in(e, names, calls)
        src = None
        for fn in calls:
            if fn in prog.functions and depth < 16:
                f = prog.functions[fn]
                arg_src = source(names, local_t, line)  # an argument's (conservative)
                ret = body(f.body, {**{a: arg_src for a in f.args}, fn: None}, line, depth + 1)
                src = (src or frozenset()) | (ret.get(fn) or frozenset()) or None
        return (src or frozenset()) | (source(names, local_t, line) or frozenset()) or None

    def body(stmts, local_t, line, depth):
        nonlocal written
        local_t = dict(local_t)
        for st in stmts:
            ln = line if depth else st.line
            if isinstance(st, Local):
                local_t.update({n: None for n in st.names})
            elif isinstance(st, Assign):
                src = expr(st.expr, local_t, ln, depth)
                if st.target in local_t:
                    local_t[st.target] = src
                else:
                    written.add(st.target)
                    if src:
                        tainted[st.target] = src
                    else:
                        tainted.pop(st.target, None)
            elif isinstance(st, CallStmt):
                expr(st.call, local_t, ln, depth)
            elif isinstance(st, If):
                c = expr(st.cond, local_t, ln, depth)
                w0, t0 = set(written), dict(tainted)
                lt1 = body(st.body, local_t, ln, depth)
                w1, t1 = set(written), dict(tainted)
                written.clear(), written.update(w0), tainted.clear(), tainted.update(t0)
                lt2 = body(st.orelse, local_t, ln, depth)
                m_b = rw.body((st,), set(local_t), set())[2]
                written.intersection_update(w1)  # assigned on both paths
                for n, src1 in t1.items():  # left by either path
                    tainted[n] = tainted.get(n, frozenset()) | src1
                for n in m_b - set(local_t):  # assigned under a leftover condition
                    if c:
                        tainted[n] = tainted.get(n, frozenset()) | c
                for n in local_t:
                    merged = (lt1.get(n) or frozenset()) | (lt2.get(n) or frozenset())
                    local_t[n] = merged | (c if c and n in m_b else frozenset()) or None
            else:  # SOLVE, equations: what it writes depends on all it reads
                r, w_def, w_any = rw.body((st,), set(local_t), set(written))
                src = source(r, local_t, ln)
                for n in w_any - set(local_t):
                    if src:
                        tainted[n] = src
                written |= w_def
        return local_t

    body(prog.initial.body, {}, prog.initial.line, 0)
    sinks = set(spec.state_names) | set(spec.pool) | later_reads
    reached: dict = {}
    for n in sorted(set(tainted) & sinks):
        for src in tainted[n]:
            reached.setdefault(src, []).append(n)
    for (name, line), outs in sorted(reached.items(), key=lambda x: (x[0][1], x[0][0])):
        warnings.warn(
            f"{spec.file}:{line}: INITIAL reads {name} before it assigns it, and the value "
            f"reaches {', '.join(outs)}: NEURON keeps {name} from its previous run (the value "
            "left by the last step or INITIAL), so its result depends on what ran before "
            f"finitialize; neurojax starts {name} at 0, as NEURON's first run does. Assign "
            f"{name} before INITIAL reads it if another start is meant.",
            UserWarning,
            stacklevel=3,
        )


_BP_STATEMENTS = "_breakpoint_statements"


def _no_current_breakpoint(prog: Program) -> None:
    """A mechanism that writes no current (no NONSPECIFIC_CURRENT, ELECTRODE_CURRENT or
    ion current WRITE: a Ca pool, a second-messenger cascade) has nothing for NEURON's
    nrn_cur: nocmodl puts BREAKPOINT's statements other than SOLVE into nrn_state, run
    once per step after the SOLVEs, at the new v and t + dt, with dt (read in the
    generated `cadiff.cpp` of Nicoletti et al. 2024's `ca = ca + 10000*dt*(…)`, `cai = ca`,
    and of Traub et al. 2003's Ca pool clamping `cai` after its SOLVE). Rewritten here
    as that: the statements become a PROCEDURE solved after the others (`SOLVE proc`, as
    `_solve` runs it), so they may read dt and write the concentrations, and no current
    evaluation runs them (NEURON's INITIAL does not either)."""
    currents = {ion_variables(u.ion)[3] for u in prog.ions}
    if prog.nonspecific or prog.electrode or any(w in currents for u in prog.ions
                                                 for w in u.write):  # fmt: skip
        return
    body = prog.breakpoint.body
    rest = tuple(x for x in body if not isinstance(x, Solve))
    if not rest:
        return
    if _BP_STATEMENTS in prog.functions:  # pragma: no cover (a user name with _ prefix)
        raise fail(prog.file, prog.breakpoint.line, f"a PROCEDURE named {_BP_STATEMENTS}")
    line = rest[0].line if hasattr(rest[0], "line") else prog.breakpoint.line
    prog.functions[_BP_STATEMENTS] = Func("PROCEDURE", _BP_STATEMENTS, (), rest, line)
    solves = tuple(x for x in body if isinstance(x, Solve))
    bp = prog.breakpoint
    prog.breakpoint = Block(bp.kind, bp.name, bp.args,
                            (*solves, Solve(_BP_STATEMENTS, "", line)), bp.line)  # fmt: skip


def _verbatim_run_every_step(prog: Program) -> None:
    """C code (VERBATIM) written in BREAKPOINT itself (or BEFORE STEP) runs at every step:
    refused at load, naming its line (267355's undernai.mod samples nai in C there).
    Before, such a file loaded and failed at the first step. A VERBATIM inside a
    FUNCTION or PROCEDURE is still an error only when run (hoc-only helpers never are)."""
    bodies = [prog.breakpoint.body]
    bodies += [prog.functions[n].body for n in (_BP_STATEMENTS, _BEFORE_STEP)
               if n in prog.functions]  # fmt: skip

    def self_copy(text):  # `cai = _ion_cai;` statements: refused when run, saying why
        parts = text.split(";")
        return len(parts) >= 2 and not parts[-1].strip() and all(
            (m := _ION_SELF_COPY.fullmatch(p)) is not None and m.group(1) == m.group(2)
            for p in parts[:-1])

    def first(body):
        for x in body:
            if isinstance(x, Verbatim) and not self_copy(x.text):
                return x
            if isinstance(x, If):
                got = first(x.body) or first(x.orelse)
                if got is not None:
                    return got
        return None

    for body in bodies:
        vb = first(body)
        if vb is not None:
            raise fail(prog.file, vb.line, "a VERBATIM block (C code) in BREAKPOINT runs every "
                       "step: not supported (write it in NMODL statements)")  # fmt: skip


_BEFORE_STEP = "_before_step"


def _before_step(prog: Program) -> None:
    """`BEFORE STEP { ... }` (Migliore's tDCS CA1 channels, ModelDB 266900: a running
    average of v updated once a step). NEURON runs it at the end of every fixed step,
    after all mechanisms' state updates (`nonvint`), at the new v and t + dt
    (`fixed_record_continuous` calls `nrn_ba(nt, BEFORE_STEP)` before recording), and
    once at the end of finitialize, after every INITIAL. Rewritten here as a PROCEDURE
    solved after the mechanism's own SOLVEs (so it may read dt and its values persist as
    carried range variables) and called at the end of INITIAL. The same as NEURON's
    order unless the block reads what another mechanism's state update writes (an ion
    concentration): refused then, naming the block."""
    bs = prog.before_step
    if bs is None:
        return
    if _BEFORE_STEP in prog.functions:  # pragma: no cover (a user name with _ prefix)
        raise fail(prog.file, bs.line, f"a PROCEDURE named {_BEFORE_STEP}")
    conc = {n for u in prog.ions for n in ion_variables(u.ion)[:3]} & {
        n for u in prog.ions for n in u.read}
    read = _all_names(bs.body)
    if read & conc:
        raise fail(prog.file, bs.line, f"BEFORE STEP reads {sorted(read & conc)[0]}, an ion "
                   "variable another mechanism's state update may change before NEURON runs "
                   "the block: not supported")  # fmt: skip
    prog.functions[_BEFORE_STEP] = Func("PROCEDURE", _BEFORE_STEP, (), bs.body, bs.line)
    bp = prog.breakpoint
    body = list(bp.body)
    last = max((i for i, x in enumerate(body) if isinstance(x, Solve)), default=-1)
    body.insert(last + 1, Solve(_BEFORE_STEP, "", bs.line))
    prog.breakpoint = Block(bp.kind, bp.name, bp.args, tuple(body), bp.line)
    call = CallStmt(Call(_BEFORE_STEP, (), bs.line), bs.line)
    ini = prog.initial
    prog.initial = (Block("INITIAL", "INITIAL", (), (call,), bs.line) if ini is None
                    else Block(ini.kind, ini.name, ini.args, (*ini.body, call),
                               ini.line))  # fmt: skip


def _gates_class(name: str, fields: list):
    """The gates' namedtuple. A variable named as a Python keyword (Snudda's kv4 STATE
    `is`) is the field `is_` (as a PARAMETER `del` is the field `del_`); `_asdict()`
    gives the NMODL names, as the blocks read them."""
    py = [f + "_" if keyword.iskeyword(f) else f for f in fields]
    base = namedtuple(name, py)
    if py == list(fields):
        return base
    nmodl = tuple(fields)
    return type(name, (base,), {"__slots__": (), "__module__": __name__,
                                "_asdict": lambda self: dict(zip(nmodl, self, strict=True))})


def _first_line(prog, match) -> int:
    """Line of the first node of the program's blocks and functions for which
    `match(node)` holds (0 if none)."""
    lines = []

    def visit(x):
        if match(x):
            lines.append(x.line)
        if isinstance(x, (list, tuple)):
            for y in x:
                visit(y)
        elif hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                visit(getattr(x, f))

    for b in [*prog.functions.values(), *prog.blocks.values(), prog.initial, prog.breakpoint,
              prog.net_receive]:  # fmt: skip
        if b is not None:
            visit(b.body)
    return min(lines, default=0)


def _first_call(prog, fn) -> int:
    """Line of the first call of `fn` (0 if none)."""
    return _first_line(prog, lambda x: isinstance(x, Call) and x.fn == fn)


def _first_use(prog, name) -> int:
    """Line of the first `Name(name)` (0 if none)."""
    return _first_line(prog, lambda x: isinstance(x, Name) and x.id == name)


def _pyname(s):
    return "".join(c if c.isalnum() else "_" for c in s).capitalize()


def _check_shadow_v_solves(spec, prog, rw):
    """A density mechanism assigns v (its own copy, see build_spec): each SOLVEd block
    that assigns it (itself or in a procedure it calls) must be one NEURON evaluates once
    per entry point — METHOD cnexp in BREAKPOINT (nocmodl's `states()`: the statements
    once, in order) or a PROCEDURE. NEURON carries its changed copy from one evaluation
    to the next (Newton's iterations: derivimplicit, sparse, NONLINEAR, STEADYSTATE) or
    into a later SOLVE (euler), which neurojax's evaluations (each on a copy from the
    entry point's v) would not reproduce: refused rather than silently different."""
    found = []

    def visit(body, where):
        for s in body:
            if isinstance(s, Solve):
                found.append((s, where))
            elif isinstance(s, If):
                visit(s.body, where)
                visit(s.orelse, where)

    visit(prog.breakpoint.body, "BREAKPOINT")
    if prog.initial is not None:
        visit(prog.initial.body, "INITIAL")
    for s, where in found:
        if s.block not in prog.blocks:
            continue  # a PROCEDURE: run once, on the entry point's values
        if "v" not in rw.body(prog.blocks[s.block].body, set(), set())[2]:
            continue
        if where == "BREAKPOINT" and s.method == "cnexp":
            continue
        method = s.method.split(":")[0] if s.method else "(none)"
        raise fail(spec.file, s.line,
                   f"SOLVE {s.block} (METHOD {method}, in {where}) with v assigned in "
                   f"{s.block} or a procedure it calls: supported with METHOD cnexp only "
                   "(NEURON carries the changed copy of v from one evaluation of the block "
                   "to the next, Newton's iterations, or to a later SOLVE: not reproduced "
                   "here)")  # fmt: skip


def _check_no_nested_solve(spec, body, top):
    for s in body:
        if isinstance(s, Solve) and not top:
            raise _err(spec, s.line, "SOLVE inside an if is not supported")
        if isinstance(s, If):
            _check_no_nested_solve(spec, s.body + s.orelse, top=False)


def _states_of(body, found, spec):
    for s in body:
        if isinstance(s, Diff):
            if s.state not in spec.state_names:
                raise _err(spec, s.line, f"{s.state}' = ...: {s.state} is not a STATE")
            found.append(s.state)
        elif isinstance(s, Reaction):
            found += [st for _, st in (*s.lhs, *s.rhs)]
        elif isinstance(s, If):
            _states_of(s.body + s.orelse, found, spec)


# ----------------------------------------------------------------------------- channel


class NmodlChannel(AbstractChannel):
    """A density mechanism imported from NMODL (see `neurojax.nmodl.load_mod`). Its
    fields are the `.mod` file's PARAMETERs under their NMODL names and in NMODL units;
    the gates are its STATEs (plus any value that must persist between steps). The ion
    values it READs (`ena`, `cai`, `ica`, …) and the concentrations it WRITEs are the
    cell's shared ion pools (`neurojax.cable._ions`): in a `Cell` they come from there;
    the plain `init`/`current`/`update` use NEURON's default ion values."""

    _spec: ClassVar[Any] = None
    _scale: ClassVar[float] = 1000.0
    ion_use: ClassVar[tuple] = ()
    uses_time: ClassVar[bool] = False
    # NEURON's membrane slope `(i(v + 0.001) − i(v))/0.001` (nocmodl's nrn_cur) instead of
    # the exact dI/dV, for step-for-step comparisons with NEURON (`with_neuron_slope`); it
    # cuts the current's gradient with respect to the parameters
    neuron_slope: ClassVar[bool] = False

    # ------------------------------------------------------------------ ion-aware

    def _glob(self, v, celsius, ions, t=None, t_series=None):
        spec = self._spec
        g = {n: getattr(self, f) for n, f in spec.field_of.items()}
        g["v"] = v
        g["celsius"] = celsius
        if t is not None:
            g["t"] = t
        for n in spec.ion_inputs:
            if n not in ions:
                raise ValueError(f"{spec.file}: {spec.suffix} needs the ion value {n}")
            g[n] = ions[n]
        if getattr(spec, "ftables", ()):
            bound = {name: (None if x is None else jnp.asarray(np.asarray(x)), jnp.asarray(
                np.asarray(y))) for name, x, y in self.function_tables}  # fmt: skip
            for n in spec.ftables:
                # bound by `bind_table` (the load-time checks pass a probe one with the ions)
                g[_FTAB + n] = ions.get(_FTAB + n, bound.get(n))
        static_ptr = {name: (pdt, x) for name, pdt, x in getattr(self, "pointer_values", ())}
        for n in getattr(spec, "pointers", ()):
            if n in ions:  # bound to a site's voltage: the cell passes it with the ions
                g[n] = ions[n]
            elif n in getattr(self, "pointer_series", {}):
                g[n] = self._series(n, t if t_series is None else t_series)
            elif n in getattr(spec, "pointers_unread", ()) and n not in static_ptr:
                g[n] = np.float64(np.nan)  # declared, never read: NEURON leaves it unset
            elif n in static_ptr:  # a density mechanism's (`bind_pointer`: static values)
                pdt, x = static_ptr[n]
                g[n] = (np.float64(x) if pdt is None else
                        self._series(n, t if t_series is None else t_series,
                                     jnp.asarray(np.asarray(x)), pdt))  # fmt: skip
            else:
                raise ValueError(
                    f"{spec.file}: POINTER {n} of {spec.suffix} is not bound: "
                    + (f"pp = pp.bind_pointer({n!r}, v_at=(branch, x)) for a voltage in its "
                       f"cell, or bind_pointer({n!r}, values=..., dt=...) for a time series."
                       if spec.point else
                       f"mech = mech.bind_pointer({n!r}, value=...) for a constant, or "
                       f"bind_pointer({n!r}, values=..., dt=...) for a time series (NEURON "
                       "would read an unset pointer: with NEURON 9 a segmentation fault).")
                )  # fmt: skip
        return g

    def bind_pointer(self, name: str, *, value=None, values=None, dt=None):
        """This density mechanism with its POINTER `name` bound (NEURON's `h.setpointer`
        in every segment to one hoc variable): `value=` a constant, or `values=` (1-d)
        and `dt=` (ms) a time series played into that variable (`Vector.play(&var, dt)`:
        sample k from `k·dt` to `(k+1)·dt`, the last one after the end). The same value
        at every compartment; static values (numbers), not trainable leaves."""
        import dataclasses

        spec = self._spec
        if spec.point:  # pragma: no cover (NmodlPointProcess overrides it)
            raise TypeError("a point process's bind_pointer takes v_at= or values=/dt=")
        if name not in spec.pointers:
            raise ValueError(f"{spec.file}: {spec.suffix} has no POINTER {name!r}; its "
                             f"POINTERs: {', '.join(spec.pointers) or 'none'}")  # fmt: skip
        if (value is None) == (values is None):
            raise ValueError(f"bind_pointer({name!r}): give value= (a constant) or values= "
                             "and dt= (a time series)")  # fmt: skip
        if value is not None:
            if dt is not None:
                raise ValueError(f"bind_pointer({name!r}, value=...): a constant takes no dt")
            v = np.asarray(value, dtype=np.float64)
            if v.ndim != 0 or not np.isfinite(v):
                raise ValueError(f"bind_pointer({name!r}, value=...) takes one finite number, "
                                 f"got {value!r}")  # fmt: skip
            entry = (name, None, float(v))
        else:
            x = np.asarray(values, dtype=np.float64)
            if x.ndim != 1 or x.shape[0] < 1 or not np.all(np.isfinite(x)):
                raise ValueError(f"bind_pointer({name!r}, values=...) takes a 1-d array of "
                                 f"finite samples, got shape {x.shape}")  # fmt: skip
            if dt is None or not np.isfinite(float(dt)) or not float(dt) > 0:
                raise ValueError(f"bind_pointer({name!r}, values=...) needs dt > 0 (ms), "
                                 f"got {dt!r}")  # fmt: skip
            entry = (name, float(dt), tuple(float(a) for a in x))
        rest = tuple(e for e in self.pointer_values if e[0] != name)
        return dataclasses.replace(self, pointer_values=tuple(sorted(
            (*rest, entry), key=lambda e: e[0])))  # fmt: skip

    def bind_table(self, name: str, y, x=None, *, xmin=None, xmax=None):
        """This mechanism with its `FUNCTION_TABLE name` given values (NEURON's hoc
        `table_<name>_<suffix>(...)`, called before the run): `y` at the increasing
        arguments `x` (`table_f(yvec, xvec)`), or at `len(y)` equally spaced arguments
        from `xmin` to `xmax` (`table_f(&y, n, xmin, xmax)`), or a scalar `y` alone: the
        constant value (`table_f(value)`). Between samples the value is interpolated
        linearly, outside them it is the end sample's, as NEURON's `hoc_func_table`. The
        samples are static values (float64), not trainable leaves: two instances with
        other tables are evaluated separately in a Cell."""
        import dataclasses

        spec = self._spec
        ftables = getattr(spec, "ftables", {})
        if name not in ftables:
            raise ValueError(f"{spec.file}: {spec.suffix} has no FUNCTION_TABLE {name!r}; its "
                             f"FUNCTION_TABLEs: {', '.join(ftables) or 'none'}")  # fmt: skip
        if isinstance(y, jax.core.Tracer):
            raise TypeError(f"bind_table({name!r}): the samples are static values (numbers "
                            "or numpy arrays), not traced ones")  # fmt: skip
        yy = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(yy)):
            raise ValueError(f"bind_table({name!r}): y must be finite")
        if yy.ndim == 0:
            if x is not None or xmin is not None or xmax is not None:
                raise ValueError(f"bind_table({name!r}): a constant (scalar y) takes no x")
            xx = None
        elif yy.ndim != 1 or yy.shape[0] < 2:
            raise ValueError(f"bind_table({name!r}): y must be a scalar or a 1-d array of at "
                             f"least 2 samples, got shape {yy.shape}")  # fmt: skip
        elif x is not None:
            if xmin is not None or xmax is not None:
                raise ValueError(f"bind_table({name!r}): give x or xmin/xmax, not both")
            xx = np.asarray(x, dtype=np.float64)
            if xx.shape != yy.shape:
                raise ValueError(f"bind_table({name!r}): x and y differ in shape: {xx.shape} "
                                 f"and {yy.shape} (NEURON: 'Vector arguments not same size')")
            if not np.all(np.isfinite(xx)) or np.any(np.diff(xx) <= 0):
                raise ValueError(f"bind_table({name!r}): x must be finite and strictly "
                                 "increasing (NEURON's binary search assumes it)")
        else:
            if xmin is None or xmax is None:
                raise ValueError(f"bind_table({name!r}, y): give x=, or xmin= and xmax=")
            if not (np.isfinite(float(xmin)) and np.isfinite(float(xmax))
                    and float(xmin) < float(xmax)):
                raise ValueError(f"bind_table({name!r}): need finite xmin < xmax, got "
                                 f"{xmin!r}, {xmax!r}")  # fmt: skip
            xx = np.linspace(float(xmin), float(xmax), yy.shape[0])
        tables = {n: (x, yv) for n, x, yv in self.function_tables}
        tables[name] = (None if xx is None else tuple(float(a) for a in xx),
                        float(yy) if yy.ndim == 0 else tuple(float(a) for a in yy))  # fmt: skip
        return dataclasses.replace(self, function_tables=tuple(
            (n, *tables[n]) for n in sorted(tables)))  # fmt: skip

    def _series(self, name, t, x=None, pdt=None):
        """A time series bound to POINTER `name` (NEURON's `Vector.play(&var, Dt)`: sample
        k set at t = k·Dt, an event delivered at the start of the fixed step from t_s when
        k·Dt ≤ t_s + dt/2). Read at the step's middle t_s + dt/2 (the current's time; the
        state update passes t − dt/2): sample floor((t_s + dt/2)/Dt), the last one past the
        end. (Before, `floor(t/Dt − 0.25)` was right only for Dt = dt: a series with
        another Dt was read up to a quarter sample late.)"""
        if x is None:
            x, pdt = self.pointer_series[name], self.pointer_dt
        if t is None:  # NET_RECEIVE without the time: never a silently wrong value
            return jnp.full((), jnp.nan, x.dtype)
        k = jnp.floor(jnp.asarray(t) / pdt * (1 + 1e-12) + 1e-9).astype(jnp.int32)
        return x[jnp.clip(k, 0, x.shape[0] - 1)]

    def init_ions(self, v, temperature, ions, dt=None):
        """`(gates, {concentration: mM})` at `v` with the pools' `ions` (NEURON's
        `nrn_init`: INITIAL, then BREAKPOINT's statements once; t = 0). `dt`: only for
        the check that an INITIAL reading dt does not depend on it (NaN otherwise)."""
        spec = self._spec
        v = jnp.asarray(v)
        g = self._glob(v, temperature, ions, np.float64(0.0))
        zero = jnp.zeros_like(v)
        for n in [*spec.state_names, *spec.assigned, *spec.module_locals]:
            if n not in spec.pool:
                g[n] = zero
        for n in spec.state_names:  # NMODL: a STATE x starts at the PARAMETER x0 if any
            if n + "0" in spec.params and n not in spec.pool:
                g[n] = zero + g[n + "0"]
        if spec.init_reads_dt:
            if dt is None:  # NaN unless the initial state depends on dt (`dt_init`)
                dt = self.dt_init if type(self).init_depends_dt else np.float64(np.nan)
            g["dt"] = dt
        if spec.point:
            for a in spec.receive_state:
                g[f"nc_{a}"] = zero
            if spec.emits:  # no spike yet: count 0, time -1e30 ms
                g["ne_n"], g["ne_t"] = zero, zero - _FREE
            if spec.receive_writes_v:
                g["v_net"] = v
            if spec.self_events:
                g["nc_weight"], g["q_lost"] = zero, zero
                for k in range(SELF_EVENT_SLOTS):
                    g[f"q_t{k}"], g[f"q_f{k}"] = zero + _FREE, zero
        # the ion values nrn_init loaded (an INITIAL may change its copy: `ion_shadow`)
        loaded = {n: g[n] for n in getattr(spec, "ion_shadow", ())}
        if spec.prog.initial is not None:
            ctx = _Ctx(spec, g, "init")
            ctx.loaded = {n: g[n] for u in spec.prog.ions for n in (*u.read, *u.write) if n in g}
            run(spec.prog.initial.body, {}, ctx)
        if spec.point and spec.prog.receive_initial is not None:
            # NEURON: each NetCon's INITIAL, after the mechanisms' INITIAL blocks
            frame = {a: zero for a in spec.receive_args}
            frame["flag"] = np.float64(0.0)
            run(spec.prog.receive_initial.body, frame, _Ctx(spec, g, "init"))
            for a in spec.receive_state:
                g[f"nc_{a}"] = frame[a]
        g.pop("dt", None)
        g.update(loaded)  # nrn_cur loads the ion's values afresh
        written = {n: self._shape(g[n], v) for n in spec.pool}
        if getattr(spec, "shadow_v", False):  # nrn_init's copy of v ends; nrn_cur's is afresh
            g["v"] = v
        self._breakpoint(g)  # finitialize's current evaluation (two runs: `_breakpoint`)
        g["v_bp"] = v
        for n in spec.ion_bp:  # the first step's current evaluation sees these
            g[f"{n}_bp"] = g[n]
        return self._pack(g, v), written

    def current_ions(self, v, gates, temperature, ions, t=None):
        """`(i µA/cm², {ion current: mA/cm²})`: BREAKPOINT without its SOLVE (at time `t`,
        ms: NEURON evaluates it at mid-step)."""
        spec = self._spec
        g = self._glob(v, temperature, ions, t)
        g.update(gates._asdict())
        g["celsius"] = temperature
        for n in spec.assigned + spec.module_locals:
            g.setdefault(n, np.float64(0.0))
        if type(self).neuron_slope:  # NEURON's nrn_cur: a run at v + 0.001 mV, then at v
            sg = jax.lax.stop_gradient
            g1 = dict(g)
            g1["v"] = sg(jnp.asarray(_weak(v))) + 0.001
            run(spec.prog.breakpoint.body, {}, _Ctx(spec, g1, "current"))
            g.update({n: g1[n] for n in spec.bp_kept})
            run(spec.prog.breakpoint.body, {}, _Ctx(spec, g, "current"))
            i0, i1 = self._total(g, v), self._total(g1, v)
            i = sg(i0) + (v - sg(v)) * sg((i1 - i0) / 0.001)
        else:
            self._breakpoint(g)
            i = self._total(g, v)
        return i, {c: self._shape(g[c], v) for c in spec.ion_currents}

    def _total(self, g, v):
        """The membrane current of BREAKPOINT's run `g`: µA/cm² (density), nA (point)."""
        total = 0.0
        for c in self._spec.currents:
            total = total - g[c] if c in self._spec.electrode else total + g[c]
        return self._scale * jnp.broadcast_to(_weak(total), jnp.shape(v))

    def update_ions(self, v, gates, dt, temperature, ions, t=None):
        """`(gates, {concentration: mM})` after `dt`: the SOLVEd block at `v` (time `t`:
        the step's end)."""
        spec = self._spec
        if type(self).init_depends_dt:
            gates = self._check_dt(gates, dt)
        # a played POINTER series is read at the step's middle, as by its current
        g = self._glob(v, temperature, ions, t, None if t is None else t - dt / 2)
        g.update(gates._asdict())
        g["celsius"] = temperature
        g["dt"] = dt
        for n in spec.assigned + spec.module_locals:
            g.setdefault(n, np.float64(0.0))
        if spec.bp_carry:  # this step's current evaluation, again: see build_spec
            g_bp = dict(g)
            if spec.carry_v:
                g_bp["v"] = gates.v_bp
            if t is not None:
                g_bp["t"] = t - dt / 2
            for n in spec.ion_bp:
                g_bp[n] = g[f"{n}_bp"]
            del g_bp["dt"]
            self._breakpoint(g_bp)
            g.update({n: g_bp[n] for n in spec.bp_carry})
        ctx = _Ctx(spec, g, "update")
        for s in spec.prog.breakpoint.body:
            if isinstance(s, Solve):
                _solve(s, ctx)
        v = jnp.asarray(v)
        g["v_bp"] = v
        for n in spec.ion_bp:  # the next step's current evaluation sees these
            g[f"{n}_bp"] = g[n]
        return self._pack(g, v), {n: self._shape(g[n], v) for n in spec.pool}

    def _breakpoint(self, g):
        """BREAKPOINT's statements on `g` (in place). With state kept across calls
        (`bp_kept`), NEURON's two runs: at v + 0.001 mV (its writes kept; no slope
        through it, as NEURON's difference holds the first run's state), then at v."""
        spec = self._spec
        if spec.bp_kept:
            g1 = dict(g)
            g1["v"] = jax.lax.stop_gradient(jnp.asarray(_weak(g["v"]))) + 0.001
            run(spec.prog.breakpoint.body, {}, _Ctx(spec, g1, "current"))
            g.update({n: g1[n] for n in spec.bp_kept})
        run(spec.prog.breakpoint.body, {}, _Ctx(spec, g, "current"))

    def _check_dt(self, gates, dt):
        """A mechanism whose initial state depends on dt (INITIAL runs the step's own
        procedure: Poirazi's somacar.mod calls `states()`, `m += (1 − e^{−dt/τ})·(m∞ −
        m)`) was initialised with `dt_init` (NEURON's INITIAL sees h.dt): stepping it with
        another dt would be a silently different mechanism."""
        spec = self._spec
        msg = (f"{spec.file}: {spec.suffix}'s initial state depends on dt (INITIAL reads "
               f"it, line {_first_use(spec.prog, 'dt')}); it was initialised with dt_init = "
               f"{self.dt_init:g} ms but is stepped with another dt: load it with "
               f"load_mod(..., dt=<the simulation's dt>)")  # fmt: skip
        if _static(dt) or isinstance(dt, (int, float)):
            if not np.isclose(float(dt), self.dt_init, rtol=1e-12, atol=0.0):
                raise ValueError(msg)
            return gates
        bad = jnp.abs(jnp.asarray(dt) - self.dt_init) > 1e-12 * self.dt_init
        first = eqx.error_if(gates[0], bad, msg)
        return type(gates)(first, *gates[1:])

    # ------------------------------------------------------------------ plain contract

    def default_ions(self, v) -> dict:
        """NEURON's default ion values (`ena = 50`, `cai = 5e-5`, …; 0, 1, 1 mM for other
        ions; total currents 0), shaped like `v`."""
        spec = self._spec
        out = {}
        for u in spec.ion_use:
            for n in ion_variables(u.ion):
                if n in spec.ion_inputs:
                    out[n] = jnp.full(jnp.shape(v), default_value(n, u.ion))
        return out

    def _standalone(self, what):
        spec = self._spec
        if spec.geometry:
            raise ValueError(
                f"{spec.file}: {spec.suffix} reads {', '.join(spec.geometry)}: insert it in a "
                f"cable.Cell, or call {what}_ions(..., ions) with them (µm, µm²)."
            )
        if spec.pool:
            raise ValueError(
                f"{spec.file}: {spec.suffix} writes {', '.join(spec.pool)}, which lives in the "
                f"cell's ion pool: use {what}_ions(..., ions) or insert it in a cable.Cell."
            )

    def init(self, v, temperature):
        self._standalone("init")
        return self.init_ions(v, temperature, self.default_ions(v))[0]

    def current(self, v, gates, t=None):
        self._standalone("current")
        spec = self._spec
        celsius = gates.celsius if spec.carry_celsius else np.float64(np.nan)
        return self.current_ions(v, gates, celsius, self.default_ions(v), t)[0]

    def update(self, v, gates, dt, temperature, t=None):
        self._standalone("update")
        return self.update_ions(v, gates, dt, temperature, self.default_ions(v), t)[0]

    def _shape(self, x, v):
        return jnp.broadcast_to(jnp.asarray(_weak(x), v.dtype), v.shape)

    def _pack(self, g, v):
        spec = self._spec
        return spec.gates(*[self._shape(g[n], v) for n in spec.gate_names])


def with_neuron_slope(mech):
    """`mech` linearised as NEURON does (`neuron_slope`): the same mechanism whose
    membrane slope is NEURON's 0.001 mV difference, for comparisons with NEURON step for
    step (a current nonlinear in v — a Mg²⁺ block, GHK, Izhikevich's quadratic — differs
    by the slope rule alone). Not for fitting: the current's parameter gradient is cut."""
    cls = type(mech)
    sub = type(cls.__name__, (cls,), {"__module__": cls.__module__})
    for k, x in vars(cls).items():  # the class attributes make_class set
        if not k.startswith("__") and not callable(x) and k not in sub.__dict__:
            try:
                setattr(sub, k, x)
            except (AttributeError, TypeError):
                pass
    sub.neuron_slope = True
    return sub(**{f.name: getattr(mech, f.name) for f in dataclasses.fields(mech)})


class NmodlPointProcess(NmodlChannel, AbstractPointProcess):
    """A POINT_PROCESS imported from NMODL: one instance sits at one node; its current
    is nA (NMODL's `NONSPECIFIC_CURRENT i (nA)`), and `receive` runs its NET_RECEIVE
    block for an event of the given weight (the block's first argument; the others 0)."""

    _scale: ClassVar[float] = 1.0
    receive_time: ClassVar[bool] = False  # NET_RECEIVE reads t: receive needs t, dt
    self_events: ClassVar[bool] = False  # net_send: receive runs every step
    receive_additive: ClassVar[bool] = True  # events of one step may be merged

    def _receive_once(self, g, weight, flag, t):
        """NET_RECEIVE for one event (flag 0: from the connection; else a self-event)
        at time `t` (ms), on the variables `g` (updated in place)."""
        spec = self._spec
        frame = {a: g[f"nc_{a}"] for a in spec.receive_state}
        frame[spec.receive_args[0]] = weight
        frame["flag"] = flag
        if t is not None:
            g["t"] = t
        run(spec.prog.net_receive.body, frame, _Ctx(spec, g, "receive"))
        for a in spec.receive_state:
            g[f"nc_{a}"] = frame[a]

    def _set_v(self, g):
        """After NET_RECEIVE assigned v: the node's new voltage (`v_net`, which the cell
        takes) and the voltage of the step's current evaluation (`v_bp`)."""
        spec = self._spec
        if spec.receive_writes_v:
            g["v_net"] = g["v"]
            if spec.carry_v:
                g["v_bp"] = g["v"]

    def bind_pointer(self, name: str, *, v_at=None, values=None, dt=None):
        """This point process with its POINTER `name` bound (NEURON's `h.setpointer`):

        - `v_at=(branch, x)`: the membrane voltage at that site of the cell it is placed
          in (a gap junction's `vgap`); the cell reads it at the same time as its own v
          (current: the step's start, state update: the new voltages), as NEURON's
          pointer to the node's v does (the coupling is explicit in it, as NEURON's);
        - `values=` (1-d array) and `dt=` (ms): a time series, sample k held from
          `k·dt` to `(k+1)·dt` (NEURON's `Vector.play(&var, dt)` into the variable the
          pointer names), the last sample after the end; a differentiable leaf."""
        import dataclasses

        spec = self._spec
        if name not in spec.pointers:
            raise ValueError(f"{spec.file}: {spec.suffix} has no POINTER {name!r}; its "
                             f"POINTERs: {', '.join(spec.pointers) or 'none'}")  # fmt: skip
        if (v_at is None) == (values is None):
            raise ValueError(f"bind_pointer({name!r}): give v_at=(branch, x) or values=/dt=")
        sites = dict(self.pointer_sites)
        series = dict(self.pointer_series)
        sites.pop(name, None)
        series.pop(name, None)
        pdt = self.pointer_dt
        if v_at is not None:
            if (isinstance(v_at, (str, bytes)) or not hasattr(v_at, "__len__") or len(v_at) != 2):
                raise ValueError(f"bind_pointer({name!r}, v_at=...) takes a site (branch, x), "
                                 f"got {v_at!r}")  # fmt: skip
            sites[name] = (int(v_at[0]), float(v_at[1]))
        else:
            x = jnp.asarray(values)
            if x.ndim != 1 or x.shape[0] < 1:
                raise ValueError(f"bind_pointer({name!r}, values=...) takes a 1-d array of "
                                 f"samples, got shape {x.shape}")  # fmt: skip
            if dt is None or not float(dt) > 0:
                raise ValueError(f"bind_pointer({name!r}, values=...) needs dt > 0 (ms), "
                                 f"got {dt!r}")  # fmt: skip
            if pdt is not None and series and float(dt) != pdt:
                raise ValueError(f"bind_pointer({name!r}): every series of one point process "
                                 f"shares one dt ({pdt:g} ms already)")  # fmt: skip
            series[name] = x
            pdt = float(dt)
        return dataclasses.replace(self, pointer_sites=tuple(sorted(sites.items())),
                                   pointer_series=series, pointer_dt=pdt)  # fmt: skip

    def receive(self, v, gates, weight, t=None, dt=None, ions=None):
        """The gates after this step's events: NET_RECEIVE with `weight` (its first
        argument, the summed weight of the step's events from the connection; the other
        arguments are the connection's state `nc_<name>`). `t` (ms): the step's time,
        the events' time (needed when NET_RECEIVE reads t or sends self-events); `dt`:
        self-events due by `t + dt/2` are delivered too, in time order (NEURON's fixed
        step), then the external event at `t`. `ions`: the ion values it READs (USEION) at
        its node (a `Cell` gives its pools'; default: NEURON's default ion values)."""
        spec = self._spec
        v = jnp.asarray(v)
        g = self._glob(v, np.float64(np.nan), self.default_ions(v) if ions is None else ions, t)
        g.update(gates._asdict())
        if spec.receive_writes_v:  # the node's v unless NET_RECEIVE sets it
            g["v_net"] = v + 0.0 * g["v_net"]
        for n in spec.assigned + spec.module_locals:
            g.setdefault(n, np.float64(0.0))
        if spec.receive_time and t is None:
            raise ValueError(f"{spec.file}: {spec.suffix}'s NET_RECEIVE reads the time t (or "
                             "sends self-events): receive(..., t=, dt=) needs them")  # fmt: skip
        if getattr(spec, "receive_dt", False):
            if dt is None:
                raise ValueError(f"{spec.file}: {spec.suffix}'s NET_RECEIVE reads dt (line "
                                 f"{_first_use(spec.prog, 'dt')}): receive(..., t=, dt=) "
                                 "needs the step (ms)")  # fmt: skip
            g["dt"] = dt
        if not spec.self_events:
            self._receive_once(g, weight, np.float64(0.0), t)
            self._set_v(g)
            return self._pack(g, v)
        if dt is None:
            raise ValueError(f"{spec.file}: {spec.suffix} sends self-events: receive needs dt")
        dtype = v.dtype
        shape = jnp.broadcast_shapes(jnp.shape(v), jnp.shape(weight), jnp.shape(t))
        weight = jnp.broadcast_to(jnp.asarray(weight, dtype), shape)
        t_now = jnp.broadcast_to(jnp.asarray(t, dtype), shape)
        due_by = t_now + dt / 2
        names = spec.gate_names
        n = SELF_EVENT_SLOTS
        base_g = dict(g)

        def one_call(_, carry):
            # the earliest event due by t + dt/2 (a self-event, or the external one at t)
            gates, ext = carry
            times = jnp.stack([gates[f"q_t{k}"] for k in range(n)]
                              + [jnp.where(ext, t_now, _FREE)])  # fmt: skip
            k_min = jnp.argmin(times, axis=0)
            t_min = jnp.min(times, axis=0)
            due = t_min <= due_by
            is_ext = k_min == n
            flags = jnp.stack([gates[f"q_f{k}"] for k in range(n)] + [jnp.zeros(shape, dtype)])
            flag = jnp.take_along_axis(flags, k_min[None], axis=0)[0]
            h = dict(base_g)
            h.update(gates)
            if spec.receive_writes_v:  # v as set by this step's earlier calls
                h["v"] = gates["v_net"]
            for k in range(n):  # the delivered slot is free again
                h[f"q_t{k}"] = jnp.where(k_min == k, _FREE, gates[f"q_t{k}"])
            w = jnp.where(is_ext, weight, gates["nc_weight"])
            h["nc_weight"] = w
            self._receive_once(h, w, flag, jnp.where(due, t_min, t_now))
            self._set_v(h)
            out = {m: jnp.where(due, jnp.broadcast_to(jnp.asarray(_weak(h[m]), dtype), shape),
                                gates[m]) for m in names}  # fmt: skip
            return out, ext & ~(due & is_ext)

        if spec.prog.watch_check is not None:
            # WATCH: a condition turned true since the last check sends net_send(0, flag)
            # at this step's time (NEURON checks at the end of the previous step, then
            # delivers the events due by t + dt/2, this one among them)
            g["t"] = t_now
            run(spec.prog.watch_check.body, {}, _Ctx(spec, g, "receive"))
            base_g = dict(g)
        gates0 = {m: jnp.broadcast_to(jnp.asarray(_weak(g[m]), dtype), shape) for m in names}
        gates, ext = jax.lax.fori_loop(0, n + 1, one_call, (gates0, weight != 0))
        # more events due in this step than calls, or a full queue: NaN, never a silently
        # different synapse (raise SELF_EVENT_SLOTS)
        left = ext | jnp.any(jnp.stack([gates[f"q_t{k}"] <= due_by for k in range(n)]), axis=0)
        bad = left | (gates["q_lost"] != 0)
        out = spec.gates(*[gates[m] for m in names])
        return type(out)(*[jnp.where(bad, jnp.nan, x) for x in out])


def make_class(spec: Spec, name: str | None = None):
    annotations = {spec.field_of[n]: jax.Array for n in spec.params}
    ns: dict = {"__annotations__": annotations, "__module__": __name__}
    for n, (value, dom, _unit) in spec.params.items():
        ns[spec.field_of[n]] = parameter(value, dom)
    doc_params = ", ".join(
        f"`{n}` = {v:g}" + (f" ({u})" if u else "") for n, (v, _, u) in spec.params.items()
    )
    if not getattr(spec, "artificial", False):
        ns["__doc__"] = (
            f"NMODL mechanism `{spec.suffix}` imported from {spec.file}.\n\n"
            f"Parameters (NMODL units): {doc_params or 'none'}.\n"
            f"Gates: {', '.join(spec.gates._fields) or 'none'}."
        )
    if getattr(spec, "artificial", False):
        ns["__doc__"] = (f"NMODL ARTIFICIAL_CELL `{spec.suffix}` imported from {spec.file} "
                         f"(a spike source: `spike_times`).\n\nParameters (NMODL units): "
                         f"{doc_params or 'none'}.")  # fmt: skip
        cls = type(name or f"Nmodl_{_pyname(spec.suffix)}", (NmodlArtificialCell,), ns)
        cls._spec = spec
        return cls
    if spec.init_reads_dt:
        # the dt INITIAL sees, if the initial state depends on it (`_check_init_dt`):
        # NEURON's default h.dt; `load_mod(..., dt=...)` sets it
        ns["__annotations__"]["dt_init"] = float
        ns["dt_init"] = eqx.field(static=True, default=0.025)
    if getattr(spec, "ftables", ()):  # FUNCTION_TABLEs bound by `bind_table`
        # static, hashable ((name, x, y) with tuples of floats): instances with other
        # tables are other kinds for a Cell (not merged into one evaluation); the table
        # values are not trainable leaves
        ns["__annotations__"]["function_tables"] = tuple
        ns["function_tables"] = eqx.field(static=True, default=())
    if getattr(spec, "pointers", ()) and not spec.point:
        # a density mechanism's POINTERs (Snudda's neuromodulation `damod`): a constant or
        # a time series, the same at every compartment; static ((name, dt|None, values)),
        # so instances with other values are other kinds for a Cell (never merged)
        ns["__annotations__"]["pointer_values"] = tuple
        ns["pointer_values"] = eqx.field(static=True, default=())
    elif getattr(spec, "pointers", ()):  # POINTERs bound by `bind_pointer`
        ns["__annotations__"].update(pointer_sites=tuple, pointer_series=dict,
                                     pointer_dt=Any)  # fmt: skip
        ns["pointer_sites"] = eqx.field(static=True, default=())
        ns["pointer_series"] = eqx.field(default_factory=dict)
        ns["pointer_dt"] = eqx.field(static=True, default=None)
    base = NmodlPointProcess if spec.point else NmodlChannel
    cls = type(name or f"Nmodl_{_pyname(spec.suffix)}", (base,), ns)
    cls.init_depends_dt = False
    cls._spec = spec
    cls.ion_use = spec.ion_use
    # a POINTER bound to a time series reads it at the call's time
    cls.uses_time = spec.uses_time or bool(getattr(spec, "pointers", ()))
    cls.geometry_use = spec.geometry
    if spec.point:
        cls.n_receive = 1 if spec.prog.net_receive is not None else 0
        cls.receive_time = bool(getattr(spec, "receive_time", False))
        cls.self_events = bool(spec.self_events)
        cls.receive_writes_v = bool(spec.receive_writes_v)
        if cls.n_receive:
            cls.receive_additive = not spec.self_events and _receive_additive(cls)
    _check_cnexp_linear(cls)
    _check_init_dt(cls)
    return cls


def _probe_ions(mech, v):
    """Values for the load-time checks: NEURON's default ions, a diam/area, and every
    POINTER bound to a constant (unbound outside a cell)."""
    spec = mech._spec
    ions = mech.default_ions(v)
    ions.update({g: jnp.full(v.shape, 10.0 if g == "diam" else 314.0) for g in spec.geometry})
    ions.update({p: jnp.full(v.shape, 0.3) for p in getattr(spec, "pointers", ())})
    ions.update({_FTAB + n: (None, jnp.asarray(1.0)) for n in getattr(spec, "ftables", ())})
    return ions


def _check_init_dt(cls):
    """An INITIAL that reads dt: na3.mod computes `mexp = 1 - exp(-dt/mtau)` in the
    procedure it shares with the state update, unused at init (init at the defaults
    with dt = NaN gives what it gives with dt = 0.025 ms); Poirazi's somacar.mod runs a
    step `states()` in INITIAL, so its initial state depends on dt: the class is then
    marked `init_depends_dt`, INITIAL sees the instance's `dt_init` (NEURON's default
    h.dt, 0.025 ms; `load_mod(..., dt=...)`) and a step with another dt is refused."""
    spec = cls._spec
    if not spec.init_reads_dt:
        return
    with jax.ensure_compile_time_eval():
        mech = cls()
        v = jnp.array([-80.0, -65.0, -20.0])
        ions = _probe_ions(mech, v)
        with_dt = mech.init_ions(v, 6.3, ions, dt=np.float64(0.025))
        no_dt = mech.init_ions(v, 6.3, ions)
        for a, b in zip(jax.tree_util.tree_leaves(with_dt), jax.tree_util.tree_leaves(no_dt),
                        strict=True):  # fmt: skip
            if not bool(jnp.all(jnp.isnan(a) | ~jnp.isnan(b))):
                # INITIAL's dt is then the mechanism's `dt_init` (NEURON: h.dt), and
                # stepping with another dt is refused (`_check_dt`)
                cls.init_depends_dt = True
                return


def _check_cnexp_linear(cls):
    """cnexp is exact only for `x' = a + b·x` with a, b free of x: check ∂²f/∂x² = 0 at
    the defaults, at a few voltages and states off the steady state; a ValueError names
    the equation otherwise. f is the equation's right-hand side as nocmodl's cnexp code
    and `_cnexp_in_place` step it: the values the block's statements above it computed
    (a LOCAL, an ASSIGNED, a rate) are held at the step's start, only the state itself
    varies (Snudda's caldyn_ms.mod: `drive_pump = -kt*(cali-cainf)/(cali+kd)` and then
    `cali' = ... + pump*drive_pump + (cainf-cali)/taur`, linear in cali as written)."""
    spec = cls._spec
    solves = [s for s in spec.prog.breakpoint.body if isinstance(s, Solve) and s.method == "cnexp"]
    if not solves:
        return
    with jax.ensure_compile_time_eval():
        mech = cls()
        v = jnp.array([-80.0, -40.0, 10.0])
        ions = _probe_ions(mech, v)
        # an INITIAL reading dt (somacar.mod's pattern) sees NEURON's default h.dt here,
        # not NaN, or its NaN states would look nonlinear
        gates, written = mech.init_ions(v, 6.3, ions, dt=np.float64(0.025))
        glob = mech._glob(v, 6.3, ions)
        glob.update(gates._asdict())
        glob.update(written)
        for n in spec.assigned + spec.module_locals:
            glob.setdefault(n, np.float64(0.0))
        # the DERIVATIVE block may read dt (Destexhe's HH2.mod computes exp(-dt/tau)
        # factors in the procedure it calls): NEURON's dt there, any value for the check
        glob.setdefault("dt", np.float64(0.025))
        # ... and t (Destexhe's GABAb.mod stores `lastrelease = t` in the procedure its
        # DERIVATIVE block calls; the update passes t): any time for the check
        glob.setdefault("t", np.float64(1.0))
        for s in solves:
            block = spec.blocks[s.block]
            names = spec.block_states[s.block]
            g = dict(glob)
            g.update({n: jnp.asarray(glob[n], v.dtype) * 0.9 + 0.05 for n in names})
            ctx = _Ctx(spec, g, "cnexp")
            ctx.cnexp_probe = []
            run(block.body, {}, ctx)
            for d, fx, d1, d2 in ctx.cnexp_probe:
                scale = jnp.abs(d1) + jnp.abs(jnp.asarray(fx))
                if not bool(jnp.all(jnp.abs(d2) <= 1e-6 * scale + 1e-300)):
                    raise fail(spec.file, d.line, f"METHOD cnexp needs {d.state}' linear in "
                               f"{d.state} (nocmodl compiles it, but steps it as if linear: "
                               f"x += (1 - exp(b·dt))·(-a/b - x) with a = f(0), b = ∂f/∂x, "
                               "not reproduced here): use METHOD derivimplicit")  # fmt: skip


def _receive_additive(cls) -> bool:
    """Whether two events of w₁, w₂ in one step equal one of w₁ + w₂ (ExpSyn's `g = g +
    w`, Exp2Syn's), checked at a few states: the cell merges the events of a step into one
    NET_RECEIVE call, and refuses (`Cell.event_input`) two events in one step for a point
    process that is not additive (tmgsyn.mod's facilitation, a self-event synapse)."""
    with jax.ensure_compile_time_eval():
        mech = cls()
        v = jnp.array([-70.0, -20.0])
        ions = _probe_ions(mech, v)
        g0 = mech.init_ions(v, 6.3, ions)[0]
        g0 = type(g0)(*[x * 1.3 + 0.2 for x in g0])
        w1, w2 = jnp.array([0.3, 1.7]), jnp.array([0.9, 0.05])
        kw = {"t": np.float64(1.0), "dt": 0.025} if cls.receive_time else {}
        kw["ions"] = ions
        two = mech.receive(v, mech.receive(v, g0, w1, **kw), w2, **kw)
        one = mech.receive(v, g0, w1 + w2, **kw)
        return all(bool(jnp.allclose(a, b, rtol=1e-5, atol=1e-6))  # float32 rounding
                   for a, b in zip(two, one, strict=True))  # fmt: skip


def _diffs(body):
    for s in body:
        if isinstance(s, Diff):
            yield s
        elif isinstance(s, If):
            yield from _diffs(s.body + s.orelse)


# ----------------------------------------------------------------------------- artificial cells


def _artificial_spec(prog: Program, spec: Spec) -> Spec:
    """An ARTIFICIAL_CELL (NetStim, IntervalFire): no membrane, no continuous state; its
    INITIAL and NET_RECEIVE blocks run at the events' exact times (as NEURON's event
    queue does for artificial cells, even with the fixed step)."""
    file = prog.file
    for what, present in (("STATE", prog.states), ("BREAKPOINT", prog.breakpoint),
                          ("USEION", prog.ions), ("DERIVATIVE/KINETIC", prog.blocks)):  # fmt: skip
        if present:
            raise fail(file, prog.suffix_line, f"an ARTIFICIAL_CELL with {what} (integrated "
                       "between events) is not supported: its spikes are computed from its "
                       "events alone")  # fmt: skip
    if prog.net_receive is None:
        raise fail(file, prog.suffix_line, "an ARTIFICIAL_CELL without NET_RECEIVE")
    spec.point = False
    spec.artificial = True
    spec.suffix = prog.suffix
    spec.functions = prog.functions
    spec.blocks = {}
    spec.constants = {**prog.unit_constants, **prog.constants}
    params = _parameters(prog, set())
    spec.params = params
    spec.field_of = {n: n + "_" if keyword.iskeyword(n) else n for n in params}
    spec.param_names = set(params)
    spec.state_names = []
    spec.assigned = [a.name for a in prog.assigned if a.name not in _SPECIAL
                     and a.name not in params]  # fmt: skip
    spec.module_locals = [v.name for v in prog.module_locals]
    spec.receive_args = prog.net_receive.args
    # PARAMETERs assigned in a block (NetStim clips noise to [0, 1]) are per-instance
    spec.writable = set(spec.assigned) | set(spec.module_locals) | set(params)
    spec.pool, spec.geometry, spec.ion_inputs = (), (), ()
    return spec


class _Queue:
    """NEURON's event queue for one artificial cell: self-events (`net_send(delay,
    flag)`, `net_move(t)`) and the outputs (`net_event(t)`), concrete float64 times."""

    def __init__(self, spec, t):
        self.spec, self.t = spec, t
        self.pending: list = []  # [time, seq, flag, weight]
        self.seq = 0
        self.last_sent = None
        self.out: list = []

    def push(self, time, flag, weight):
        item = [float(time), self.seq, float(flag), float(weight)]
        self.seq += 1
        self.pending.append(item)
        return item

    def call(self, fn, args, line):
        vals = []
        for a in args:
            if not _static(a):
                raise fail(self.spec.file, line, f"{fn}() with a traced argument: an "
                           "ARTIFICIAL_CELL's event times are computed with concrete values")  # fmt: skip  # noqa: E501
            vals.append(float(a))
        if fn == "net_send":
            if len(vals) != 2:
                raise fail(self.spec.file, line, "net_send(delay, flag) takes two arguments")
            if vals[0] < 0:
                raise fail(self.spec.file, line, f"net_send with a negative delay {vals[0]:g} ms")
            # NEURON: delivered at t + delay (to the same instance, weight 0 for flag ≠ 0)
            self.last_sent = self.push(self.t + vals[0], vals[1], 0.0)
        elif fn == "net_move":
            item = self.last_sent
            if item is None or item not in self.pending:
                raise fail(self.spec.file, line, "net_move() without a pending net_send event")
            if vals[0] < self.t:
                raise fail(self.spec.file, line, f"net_move to {vals[0]:g} ms, before now")
            item[0] = vals[0]
        else:  # net_event(t): a spike at the time given (NEURON sends it at t)
            self.out.append(vals[0] if vals else self.t)
        return np.float64(0.0)


class NmodlArtificialCell(eqx.Module):
    """An ARTIFICIAL_CELL imported from NMODL (NetStim, IntervalFire): a spike source.
    Its fields are the file's PARAMETERs (NMODL names and units). `spike_times(t_stop)`
    runs INITIAL and NET_RECEIVE at the events' exact times (NEURON's event queue,
    `net_send`/`net_move` self-events with their `flag`) and returns the times (ms) of
    its `net_event`s, which drive a cell's point processes through
    `Cell.event_input([(times + delay, weight)], n_steps, dt)` as a NetCon does.

    The times are computed with concrete values before the simulation: not
    differentiable with respect to these parameters. Random numbers drawn in the file
    (NetStim with `noise > 0`) are an error, never a different stream."""

    _spec: ClassVar[Any] = None

    def __check_init__(self):
        check_domains(self)

    def spike_times(self, t_stop: float, events=(), max_events: int = 1_000_000) -> np.ndarray:
        """Output spike times (ms, float64) in `[0, t_stop]`. `events`: external input
        events `[(time ms, weight), ...]` (NET_RECEIVE with flag 0), e.g. to start or stop
        a NetStim."""
        spec = self._spec
        if isinstance(t_stop, (bool, str, bytes)) or np.ndim(t_stop) != 0 or (
            np.iscomplexobj(t_stop)
        ):
            raise TypeError(f"{spec.file}: spike_times(t_stop) takes a number of ms, got "
                            f"{t_stop!r}")  # fmt: skip
        if np.isnan(float(t_stop)):
            raise ValueError(f"{spec.file}: spike_times(t_stop) got NaN (ms)")
        g = {}
        for n, f in spec.field_of.items():
            x = getattr(self, f)
            if isinstance(x, jax.core.Tracer) or np.size(x) != 1:
                raise TypeError(f"{spec.file}: {spec.suffix}.{n} must be one concrete value to "
                                "compute spike times (not traced, not an array)")  # fmt: skip
            g[n] = np.float64(np.asarray(x).reshape(()))
        for n in spec.assigned + spec.module_locals:
            g[n] = np.float64(0.0)
        q = _Queue(spec, 0.0)
        g["t"] = np.float64(0.0)
        ctx = _Ctx(spec, g, "init")
        ctx.queue = q
        if spec.prog.initial is not None:
            run(spec.prog.initial.body, {}, ctx)
        for time, w in events:
            q.push(float(time), 0.0, float(w))
        count = 0
        while q.pending:
            item = min(q.pending, key=lambda it: (it[0], it[1]))
            if item[0] > t_stop:
                break
            q.pending.remove(item)
            count += 1
            if count > max_events:
                raise RuntimeError(f"{spec.file}: more than {max_events} events before "
                                   f"{t_stop} ms")  # fmt: skip
            q.t = item[0]
            g["t"] = np.float64(item[0])
            frame = {a: np.float64(0.0) for a in spec.receive_args}
            if spec.receive_args:
                frame[spec.receive_args[0]] = np.float64(item[3])
            frame["flag"] = np.float64(item[2])
            rctx = _Ctx(spec, g, "receive")
            rctx.queue = q
            run(spec.prog.net_receive.body, frame, rctx)
        return np.asarray([t for t in q.out if t <= t_stop], dtype=np.float64)


__all__ = ["build_spec", "make_class", "NmodlChannel", "NmodlPointProcess",
           "NmodlArtificialCell"]  # fmt: skip
