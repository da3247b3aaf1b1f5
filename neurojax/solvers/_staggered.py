from __future__ import annotations

from typing import Any

from .._model import Elementwise
from ._base import AbstractSolver
from ._exponential_euler import exponential_step, gate_step, linear_rates


def gate_fields(model, y) -> tuple[str, ...]:
    """The state fields `model` declares as gates (`model.gate_fields`), checked against
    its state; `TypeError` saying what to do when the model declares none."""
    gates = getattr(model, "gate_fields", None)
    fields = getattr(y, "_fields", None)
    if not gates or fields is None:
        raise TypeError(
            f"Staggered cannot integrate {type(model).__name__}: the scheme needs a "
            "conductance-based model that names its gating variables (a class variable "
            "`gate_fields = ('m', 'h', 'n')` on a model whose state is a NamedTuple; "
            "neurojax.HodgkinHuxley does). Use neurojax.ExponentialRK2() for this model."
        )
    bad = [g for g in gates if g not in fields]
    if bad or len(set(gates)) == len(fields):
        raise TypeError(
            f"{type(model).__name__}.gate_fields = {tuple(gates)} must name some, not all, "
            f"of its state variables {fields} (unknown: {bad})."
        )
    return tuple(gates)


class Staggered(AbstractSolver):
    r"""NEURON's staggered scheme for conductance-based point neurons, with exact
    exponential updates: second order at one rate evaluation per step (the cost of
    `ExponentialEuler`).

    The gates live at half steps. Each step

    1. advances every gate `x` from `t − dt/2` to `t + dt/2` exactly for V frozen at its
       value at `t` (the midpoint of that interval):
       `x ← x∞(V) + (x − x∞(V))·e^{−(α+β)·dt}`;
    2. advances V from `t` to `t + dt` exactly for the gates frozen at `t + dt/2` (the
       midpoint of *that* interval): at fixed gates `c_m dV/dt = I − g_total·(V − V∞)` is
       linear in V, so `V ← V∞ + (V − V∞)·e^{−g_total·dt/c_m}` with
       `V∞ = (Σ g·E + I)/g_total`.

    Each variable is thus advanced by the exponential midpoint rule with its coupling
    partner taken at the midpoint of its own interval: second order (the leapfrog
    argument) and unconditionally stable for the decaying gates and V. At any `dt` each
    gate is a convex combination of its old value and `x∞ ∈ [0, 1]`, and V one of its old
    value and `V∞`: it moves towards `V∞` and never past it (no current injected: it
    stays between the reversal potentials). NEURON's
    `secondorder = 2` uses the same staggering with Crank–Nicolson for V (and `cnexp`
    for the gates); its default `secondorder = 0` backward Euler for V (first order).

    **Which model**: one that sets `gate_fields` (a class variable naming its gating
    variables: `HodgkinHuxley` has `("m", "h", "n")`) — each gate's rate depends only on
    V and on itself, linearly (`dx/dt = α(V)(1 − x) − β(V)x`), and V's rate is linear in
    V at fixed gates (currents of the form `g(gates)·(V − E)`). Every other state
    variable is advanced with V. The rates are the model's `linear_part` (or the
    autodiff diagonal). Any other model is refused with a `TypeError`.

    **What the state means**: V is at whole steps as with every solver (`Solution.v[i]`
    is V at `t0 + (i + 1)·dt`); **the gates held in the state are half a step behind**:
    `Solution.states.m[i]` is m at `t0 + (i + ½)·dt`, and `Solution.final_state`'s
    gates at `t_end − dt/2`, so a run continued from it with `Staggered` and the same
    `dt` is the same as one long run. The initial state's gates are taken to be at
    `t0 − dt/2`: exact for a model at rest (`init_state`: gates at their steady state),
    and otherwise an O(dt) error in the start (as in NEURON, whose `finitialize` sets the
    gates at t = 0). Spike detection reads V only and is unaffected. Code that builds
    states at whole steps and starts runs from them must shift the gates: `fit`'s
    `MultipleShooting` does (its windows start from gates reconstructed at `t − dt/2`).

    Accuracy (HH, 10 µA/cm² for 95 ms, 7 spikes, against a converged solution;
    `tests/test_hh_neuron.py`): spike times within 0.029 ms at dt = 0.025 ms and
    0.46 ms at dt = 0.1, V 0.62 and 8.8 mV RMS (`ExponentialRK2`: 0.072 and 0.88 ms,
    1.5 and 14.6 mV; NEURON's Crank–Nicolson at dt = 0.025: 0.015 ms, 0.31 mV; its
    default 0.42 ms). Cost: one evaluation of the rates per step, as `ExponentialEuler`
    (HH, 10⁴ neurons, CPU time: 1.03–1.07× its throughput forward, 0.9–0.94× for the
    gradient; `ExponentialRK2` 0.42–0.45× and 0.28–0.31×; `benchmarks/exp_pop_hh.py`,
    `benchmarks/bench_hh_solvers.py`, `benchmarks/README.md`).

    Why V is updated exponentially and not by Crank–Nicolson as in NEURON: measured, the
    Crank–Nicolson variant reproduces NEURON's `secondorder = 2` (0.0148 ms at
    dt = 0.025, 0.23 ms at dt = 0.1: twice as accurate on that run) but is not L-stable:
    where `g_total·dt/c_m > 2` it steps past V∞ and rings (HH with `g_l = 100` mS/cm² at
    dt = 0.1 after a current step: −38.6, −48.1, −41.8, −46.0, … mV around −44.3; this
    scheme lands on −44.3 in one step), and V can leave the range of the reversal
    potentials. The exponential update cannot.

    Reference: Hines (1984) Int J Bio-Med Comput 15:69–76 (the staggered scheme);
    Carnevale & Hines (2006) *The NEURON Book*, ch. 4; Hochbruck & Ostermann (2010)
    Acta Numerica 19:209–286 (the exponential midpoint rule).
    """

    structures = (Elementwise,)

    def step(self, model, t, y: Any, inputs, dt):
        gates = gate_fields(model, y)
        # 1. the gates, t − dt/2 → t + dt/2, with V at t (only their components are used:
        #    XLA drops V's rate here)
        f, lam = linear_rates(model, t, y, inputs)
        moved = {g: gate_step(getattr(y, g), getattr(f, g), getattr(lam, g), dt) for g in gates}
        mid = y._replace(**moved)
        # 2. V (and any non-gate variable), t → t + dt, with the gates at t + dt/2 (the
        #    gates' rates are dropped here: no second evaluation of the rate functions)
        f, lam = linear_rates(model, t + 0.5 * dt, mid, inputs)
        rest = {
            k: exponential_step(getattr(y, k), getattr(f, k), getattr(lam, k), dt)
            for k in y._fields
            if k not in gates
        }
        return mid._replace(**rest)
