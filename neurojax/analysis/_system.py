"""A single neuron's vector field as a function `f(x, p)` on a flat vector, for analysis.

Every analysis routine (fixed points, phase planes, continuation) works on this view of a
model: the continuous state NamedTuple of one neuron (`model.init_state(())`) is flattened
to a vector; variables whose derivative is identically zero (bookkeeping variables a user
model keeps in its continuous state) are held fixed at their initial value and left out,
so `x` holds the *dynamical* variables only. Discrete state (`init_discrete`: refractory
timers) is never part of `x`; the model's `event_step` (threshold and reset) decides
which zeros of `f` are equilibria of the model (`System.post_step_changes`). `p` is the
bifurcation parameter: the injected current (the default) or one scalar parameter of the
model, selected the equinox way (`lambda m: m.g_k`).

All of this runs in float64 (`jax.enable_x64`), whatever the global setting, so that
equilibria and bifurcation points can be located to ~1e-10.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array

from .._model import AbstractModel, StepInfo
from ..cable._one_compartment import as_point_model, wrap_parameter
from ..solvers import RK4


@contextlib.contextmanager
def float64():
    """Run the analysis in double precision (restores the global setting on exit)."""
    with jax.enable_x64(True):
        yield


def to_float64(tree):
    """Every floating array leaf of `tree` cast to float64 (call inside `float64()`)."""

    def cast(x):
        if isinstance(x, (jax.Array, np.ndarray)) and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, dtype=jnp.float64)
        return x

    return jtu.tree_map(cast, tree)


class _Marker:
    """Stands in for the selected parameter to find its position among the model's leaves."""


def check_real(caller: str, name: str, value, unit: str = "") -> None:
    """`TypeError` for a value that `float()` would read but that is not a number: a string
    (`"1"` was parsed), a bool (`True` read as 1), None or a complex number."""
    if (
        value is None
        or isinstance(value, (str, bytes, bool, np.bool_))
        or np.iscomplexobj(value)
        or np.dtype(getattr(value, "dtype", None) or np.asarray(value).dtype).kind not in "iuf"
    ):
        raise TypeError(
            f"{caller}: {name} must be a real number{unit}, got {value!r} of type "
            f"{type(value).__name__}."
        )


def check_range(name: str, value, *, allow_none: bool = False) -> tuple[float, float] | None:
    """A search region `(low, high)`: two finite numbers with `low < high`."""
    if value is None and allow_none:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {value!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name}={value!r} must be finite numbers (low, high).")
    if not lo < hi:
        raise ValueError(
            f"{name}=({lo:g}, {hi:g}) is an empty or inverted region: give (low, high) "
            "with low < high."
        )
    return lo, hi


def parameter_index(model: AbstractModel, parameter: Callable | None) -> int | None:
    """Position of the selected parameter among `jtu.tree_leaves(model)`; `None` for the
    injected current. Raises a clear error unless `parameter` picks one scalar float array."""
    if parameter is None:
        return None
    if not callable(parameter):
        raise TypeError(
            "parameter must be None (the injected current) or a selector function such as "
            f"`lambda m: m.g_k`, got {parameter!r}."
        )
    name = type(model).__name__
    try:
        leaf = parameter(model)
    except Exception as e:  # noqa: BLE001 - re-raised with the fix
        raise ValueError(
            f"the parameter selector failed on {name} ({type(e).__name__}: {e}); it must "
            "return one scalar parameter of the model, e.g. `lambda m: m.g_k`."
        ) from None
    if not isinstance(leaf, (jax.Array, np.ndarray)):
        raise ValueError(
            f"the parameter selector must return one scalar parameter (a 0-d float array) of "
            f"{name}, e.g. `lambda m: m.g_k`; it returned {type(leaf).__name__} {leaf!r}."
        )
    if jnp.ndim(leaf) != 0:
        raise ValueError(
            f"the parameter selector must return one scalar parameter of {name}; it returned "
            f"an array of shape {jnp.shape(leaf)}. Bifurcation analysis varies one number: "
            "select a scalar (e.g. `lambda m: m.g_k`), or analyse one neuron at a time."
        )
    if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
        raise ValueError(
            f"the selected parameter of {name} must be a float array, got dtype "
            f"{jnp.result_type(leaf)}."
        )
    marked = eqx.tree_at(parameter, model, replace=_Marker())
    positions = [i for i, x in enumerate(jtu.tree_leaves(marked)) if isinstance(x, _Marker)]
    if len(positions) != 1:
        raise ValueError(
            f"the parameter selector must pick exactly one leaf of {name}, e.g. `lambda m: m.g_k`."
        )
    return positions[0]


def parameter_name(model: AbstractModel, parameter: Callable | None) -> str:
    """`"current"`, or the selected parameter's field name (`"g_k"`)."""
    if parameter is None:
        return "current"
    i = parameter_index(model, parameter)
    path = jtu.tree_flatten_with_path(model)[0][i][0]
    return jtu.keystr(path).lstrip(".")


class System(eqx.Module):
    """`f(x, p)`: the dynamical part of one neuron's vector field, in float64.

    - `model`: the model (float64 leaves).
    - `base`: the full flattened initial state; frozen variables keep these values.
    - `current`: the injected current, µA/cm² or nA (used when `p` is a model parameter).
    - `active`: indices (into the flat state) of the dynamical variables, i.e. `x`.
    - `names`: names of all state variables (`"v"`, `"n"`, ...).
    - `param`: index of the varied parameter among the model's leaves; `None` = current.
    - `v_index`: position of the membrane potential in `x` (from `model.voltage`).
    """

    model: AbstractModel
    base: Array
    current: Array
    treedef: Any = eqx.field(static=True)
    dtypes: tuple = eqx.field(static=True)
    active: tuple[int, ...] = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)
    param: int | None = eqx.field(static=True)
    v_index: int = eqx.field(static=True)

    @property
    def n(self) -> int:
        return len(self.active)

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the dynamical variables, in the order of `x`."""
        return tuple(self.names[i] for i in self.active)

    @property
    def frozen(self) -> tuple[str, ...]:
        return tuple(n for i, n in enumerate(self.names) if i not in self.active)

    @property
    def model_name(self) -> str:
        return type(self.model).__name__

    def p0(self) -> float:
        """The parameter's value in the model as given (or the base current)."""
        if self.param is None:
            return float(self.current)
        return float(jtu.tree_leaves(self.model)[self.param])

    def with_param(self, p) -> tuple[AbstractModel, Array]:
        """The model and the injected current at parameter value `p`."""
        if self.param is None:
            return self.model, p
        leaves, treedef = jtu.tree_flatten(self.model)
        leaves[self.param] = p
        return jtu.tree_unflatten(treedef, leaves), self.current

    def initial(self) -> Array:
        """The dynamical variables of `model.init_state(())`."""
        return jnp.asarray(self.base)[jnp.asarray(self.active)]

    def full(self, x: Array) -> Array:
        return self.base.at[jnp.asarray(self.active)].set(x)

    def state(self, x: Array):
        """The model's state NamedTuple for the dynamical variables `x`."""
        flat = self.full(x)
        leaves = [flat[i].astype(d) for i, d in enumerate(self.dtypes)]
        return jtu.tree_unflatten(self.treedef, leaves)

    def flatten(self, state) -> Array:
        """Dynamical variables of a state NamedTuple."""
        leaves = [jnp.asarray(x, dtype=jnp.float64) for x in jtu.tree_leaves(state)]
        return jnp.stack(leaves)[jnp.asarray(self.active)]

    def f(self, x: Array, p) -> Array:
        """`dx/dt` (per ms) at parameter value `p`."""
        model, current = self.with_param(p)
        dstate = model.vector_field(0.0, self.state(x), current)
        flat = jnp.stack([jnp.asarray(d, dtype=jnp.float64) for d in jtu.tree_leaves(dstate)])
        return flat[jnp.asarray(self.active)]

    def jac(self, x: Array, p) -> Array:
        return jax.jacfwd(self.f)(x, p)

    def f_p(self, x: Array, p) -> Array:
        return jax.jacfwd(self.f, argnums=1)(x, p)

    def post_step_changes(self, x: Array, p, dt: float = 1e-3) -> Array:
        """Whether the model's `event_step` (threshold/reset) would move the state `x`: an
        equilibrium of the ODE above an integrate-and-fire threshold is reset at once, so
        it is no equilibrium of the model."""
        model, _ = self.with_param(p)
        s = self.state(x)
        new = apply_events(model, s, dt)
        new = jnp.stack([jnp.asarray(d, dtype=jnp.float64) for d in jtu.tree_leaves(new)])
        old = self.full(x)
        return jnp.any(jnp.abs(new - old) > 1e-9 * (1.0 + jnp.abs(old)))


class FlatField(eqx.Module):
    """A `System` as a model a solver can step: `vector_field(t, x, p) = system.f(x, p)`,
    on the flat vector of dynamical variables, the parameter value as the step's input.
    Every trajectory of the analysis is integrated by a `neurojax.solvers` solver through
    this (one integrator for simulation and analysis)."""

    system: System

    def vector_field(self, t, x, p):
        return self.system.f(x, p)


SOLVER = RK4()
"""The solver of the analysis' trajectories and shooting (fixed step, fourth order: its
endpoint error is what the shooting's Richardson estimate assumes)."""


def flow_step(system: System, x, h, p):
    """One `SOLVER` step of `h` ms from `x` at parameter value `p`."""
    return SOLVER.step(FlatField(system), 0.0, x, p, h)


def trajectory(system: System, x0, p, dt, n_settle: int, n_window: int):
    """`SOLVER` from `x0` at fixed step `dt` (ms) and parameter `p`: settle `n_settle`
    steps, then return the `n_window` states after each of the following steps."""

    def one(x, _):
        y = flow_step(system, x, dt, p)
        return y, y

    x = jax.lax.fori_loop(0, n_settle, lambda _, x: flow_step(system, x, dt, p), x0)
    return jax.lax.scan(one, x, None, length=n_window)[1]


def apply_events(model, y, dt: float = 1e-3):
    """The continuous state after the model's `event_step` at `y` (a step that did not
    move), from the model's initial discrete state: an integrate-and-fire state above
    threshold comes back reset."""
    info = StepInfo(jnp.asarray(0), jnp.asarray(0.0), jnp.asarray(dt), None)
    new, _, _ = model.event_step(info, y, y, model.init_discrete(()), 0.0)
    return new


@eqx.filter_jit
def _probe(system: System, xs, ps):
    """The vector field at the rows of `xs`, and `∂V/∂x` (which variable is the voltage)."""
    dv = jax.grad(lambda x: jnp.asarray(system.model.voltage(system.state(x)), float))(xs[0])
    return jax.vmap(system.f)(xs, ps), dv


def _leaf_names(state) -> tuple[str, ...]:
    names = []
    for path, _ in jtu.tree_flatten_with_path(state)[0]:
        names.append(jtu.keystr(path).lstrip(".").replace("'", "").replace('"', ""))
    return tuple(names)


def check_point_model(model, caller: str) -> None:
    """`TypeError` unless `model` is a model of one point (a neuron, or a `Cell` with exactly
    one compartment — not a network or a multi-compartment cell); `ValueError` if a
    floating parameter is not finite."""
    if not isinstance(model, AbstractModel):
        raise TypeError(
            f"{caller} needs a neurojax model (an AbstractModel), got {type(model).__name__}."
        )
    from ..cable._one_compartment import OneCompartment, _is_cell, check_one_compartment
    from ..network import Network

    if _is_cell(model):  # a point neuron only with one compartment (else: TypeError)
        check_one_compartment(model, caller)
    elif isinstance(model, OneCompartment):
        check_one_compartment(model.cell, caller)
    from ..cable._reduced import ReducedCell

    kind = None
    if isinstance(model, Network):
        kind = "a network (populations coupled by synapses)"
    elif isinstance(model, ReducedCell):
        # was "non-finite parameters (threshold)": +inf is how a compartment without
        # dSpikes is stored, and its state is one voltage per compartment
        kind = (
            f"a reduced cell of {len(model.names)} compartment(s) {tuple(model.names)} "
            "(a voltage per compartment, dSpike timers); for its soma alone use "
            "neurojax.LIF with the soma's parameters"
        )
    if kind is not None:
        raise TypeError(
            f"{caller} analyses point neurons (one neuron's vector field, a handful of "
            f"variables), but {type(model).__name__} is {kind}. Analyse one of its neuron "
            "models instead (e.g. the population's neuron with scalar parameters), or "
            "simulate the whole model with neurojax.simulate."
        )
    bad = [
        jtu.keystr(path).lstrip(".")
        for path, leaf in jtu.tree_flatten_with_path(model)[0]
        if eqx.is_inexact_array(leaf) and not bool(jnp.all(jnp.isfinite(leaf)))
    ]
    if bad:
        raise ValueError(
            f"{caller}: {type(model).__name__} has non-finite parameters ({', '.join(bad)}); "
            "every parameter must be a finite number."
        )


def check_finite(caller: str, name: str, value) -> float:
    """`value` as a float, or a `ValueError` if it is not a finite number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{caller}: {name} must be a number, got {value!r}.") from None
    if not np.isfinite(out):
        raise ValueError(f"{caller}: {name} must be a finite number, got {out}.")
    return out


@eqx.filter_jit
def _init_state_jit(model):
    return model.init_state(())


def _initial_state(model):
    """`model.init_state(())`, compiled: a model that finds its rest by Newton (ReducedHH,
    INaPIK) otherwise runs ~40 eager operations, each compiled on first use (~1 s, measured
    on the shared 2-core machine); eagerly if it needs concrete values."""
    try:
        return _init_state_jit(model)
    except ValueError:
        raise
    except Exception:  # noqa: BLE001 - an init_state that reads concrete values
        return model.init_state(())


def _nonzero(current) -> bool:
    """Whether `current` reads as a number other than 0 (a value that cannot be read is
    left to `make_system`'s own checks)."""
    try:
        return bool(np.ndim(current) == 0 and float(current) != 0.0)
    except (TypeError, ValueError):
        return False


# the analyses whose parameter is the injected current when `parameter=None`
_CURRENT_IS_THE_PARAMETER = frozenset(
    {"continuation", "bifurcation_diagram", "limit_cycles", "find_cycle", "continue_cycle",
     "cycle_from_hopf"}
)  # fmt: skip


def make_system(
    model: AbstractModel,
    *,
    current=0.0,
    parameter: Callable | None = None,
    caller: str = "analysis",
) -> System:
    """Build the flat float64 view of `model` (call inside `float64()`).

    Dynamical variables are detected by evaluating the vector field at a few random states
    and currents near the initial state: a variable whose derivative is exactly zero at all
    of them (a bookkeeping variable of the continuous state) is frozen at its
    `init_state` value.
    """
    check_point_model(model, caller)
    # a one-compartment Cell: its point-neuron view (scalar state, current in nA)
    parameter = wrap_parameter(model, parameter)
    model = as_point_model(model, caller, x64=True)
    name = type(model).__name__
    param = parameter_index(model, parameter)
    if param is None and caller in _CURRENT_IS_THE_PARAMETER and _nonzero(current):
        # continuation(hh, 0, 200, current=10) followed the current from 0 as if `current`
        # were not given: it is the base current only when another parameter is varied
        raise ValueError(
            f"{caller}: current={current!r} is used only when another parameter is "
            "varied (parameter=lambda m: m.g_k); with parameter=None the injected current is "
            "the varied parameter itself, so give its values as the interval (start/stop, "
            "values, the cycle's value) and leave current out."
        )
    model = to_float64(model)
    try:
        state0 = _initial_state(model)
    except ValueError as e:
        raise ValueError(
            f"{caller} analyses one neuron, but {name} could not build a single-neuron state "
            f"({e}). Give the model scalar parameters (select one neuron with "
            "`jax.tree_util.tree_map(lambda x: x[i], model)`)."
        ) from None
    leaves, treedef = jtu.tree_flatten(state0)
    shapes = {n: jnp.shape(x) for n, x in zip(_leaf_names(state0), leaves, strict=True)}
    if any(s != () for s in shapes.values()):
        raise ValueError(
            f"{caller} analyses one neuron, but {name}'s state has shapes {shapes}: some "
            "parameters are arrays (a population). Give the model scalar parameters, e.g. "
            "`jax.tree_util.tree_map(lambda x: x[i], model)` for neuron i."
        )
    dtypes = tuple(jnp.result_type(x) for x in leaves)
    base = jnp.stack([jnp.asarray(x, dtype=jnp.float64) for x in leaves])
    names = _leaf_names(state0)
    check_real(caller, "current", current, " (µA/cm², nA, ...)")
    current = jnp.asarray(current, dtype=jnp.float64)
    if current.ndim != 0:
        raise ValueError(f"{caller}: current must be one number, got shape {current.shape}.")
    if not np.isfinite(float(current)):
        raise ValueError(f"{caller}: current must be finite, got {float(current)}.")
    n_all = len(leaves)
    floating = [jnp.issubdtype(d, jnp.floating) for d in dtypes]
    probe = System(
        model=model,
        base=base,
        current=current,
        treedef=treedef,
        dtypes=dtypes,
        active=tuple(i for i in range(n_all) if floating[i]),
        names=names,
        param=param,
        v_index=0,
    )
    rng = np.random.default_rng(0)
    xs = np.asarray(probe.flatten(state0))
    scale = 0.05 * (np.abs(xs) + 1.0)
    probes = xs + scale * rng.standard_normal((4, len(xs)))
    p0 = probe.p0()
    ps = p0 + (0.1 * abs(p0) + 1.0) * rng.standard_normal(4)
    probes[0], ps[0] = xs, p0
    derivs, grad_v = (np.asarray(a) for a in _probe(probe, jnp.asarray(probes), jnp.asarray(ps)))
    moving = np.any(derivs != 0.0, axis=0)
    keep = [k for k, m in enumerate(moving) if m]
    if not keep:
        raise ValueError(f"{name} has no dynamical variable: its vector field is identically 0.")
    active = tuple(probe.active[k] for k in keep)
    # which dynamical variable is the membrane potential: the one `model.voltage` reads
    grad_v = grad_v[keep]
    v_index = int(np.argmax(np.abs(grad_v))) if np.any(grad_v != 0) else 0
    return dataclasses.replace(probe, active=active, v_index=v_index)


def state_to_numpy(system: System, x) -> Any:
    """The model's state NamedTuple for `x`, with numpy float64 scalars."""
    flat = np.asarray(system.base, dtype=np.float64).copy()
    flat[list(system.active)] = np.asarray(x, dtype=np.float64)
    return jtu.tree_unflatten(system.treedef, [np.float64(v) for v in flat])
