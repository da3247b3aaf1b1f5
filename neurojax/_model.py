"""`AbstractModel`: the contract every simulated thing satisfies (point neurons, cable cells,
networks), the structure a model declares to solvers, and parameter domains."""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray, Real

from ._units import UnitSystem

RealScalarLike = bool | int | float | Real[ArrayLike, ""]
"""A real scalar: a Python number or a 0-d (possibly traced) array — times, steps."""

State = Any
"""A model's continuous state: a pytree (a NamedTuple per model) of floating arrays,
integrated by the solvers."""

Discrete = Any
"""A model's discrete state: a pytree of arrays that solvers never see (refractory timers,
ring buffers, counters, keys), updated by `event_step` only; `None` when there is none."""


class StepInfo(NamedTuple):
    """What `event_step` knows about the step it closes.

    - `index`: the step's index `i` (int32 scalar, 0 for the first step of a run);
    - `t`: time at the start of the step, ms (`t0 + i·dt`, exact from the index);
    - `dt`: the step, ms;
    - `key`: `jax.random.fold_in(key, i)` when `simulate(..., key=key)` was given, else
      `None` — a fresh key per step for random drives, at no memory cost.
    """

    index: Array
    t: Array
    dt: Array
    key: PRNGKeyArray | None


class ModelState(NamedTuple):
    """The full state of a model during `simulate`: continuous `y` (what solvers integrate)
    and discrete `z` (what `event_step` updates). `Solution.final_state` is one, and so is
    an accepted `state0`."""

    y: State
    z: Discrete


# --------------------------------------------------------------------------------------
# Structure: what a model's Jacobian looks like, so a solver can say what it integrates.


class AbstractStructure(eqx.Module):
    """How the continuous state of a model couples to itself. Solvers list the structures
    they can integrate (`AbstractSolver.structures`) and `simulate` refuses a mismatch
    before tracing."""


class Elementwise(AbstractStructure):
    """Every element of every state leaf depends only on itself and on the *same element*
    of the other leaves (point neurons, populations of them, networks coupled through
    spike events). The Jacobian is then a small `k×k` block per element (`k` leaves), and
    each leaf's own derivative `∂fᵢ/∂xᵢ` is exactly one forward-mode JVP with a unit
    tangent — what the exponential solvers need."""


class Coupled(AbstractStructure):
    """Elements of a leaf couple to each other (a few compartments in one array, a rate
    network's `W @ f(u)`): the Jacobian is dense. Explicit solvers integrate it (subject to
    their stability limit), implicit ones with a dense linear solve; exponential solvers
    refuse it. The safe default for a user's `AbstractModel`."""


class Tree(AbstractStructure):
    """A cable cell: compartments coupled along a tree. Besides `vector_field` (its true
    derivative) the model provides `linearise(t, y, inputs, dt)` → its voltage equations
    as a `neurojax.solvers.TreeLinearisation` (a `TreeOperator`, O(N) to solve), and
    `advance_gates(t, linearisation, v, dt)` → the state at `t + dt` with its other
    states advanced at the new voltages; the implicit solvers compose the two."""


# --------------------------------------------------------------------------------------
# Parameters and their domains


class Domain(NamedTuple):
    """The physically valid set of a parameter: `lower < p < upper` (or `<=` where
    `closed`). Checked on construction for concrete values and inside `simulate` for traced
    ones."""

    lower: float = -math.inf
    upper: float = math.inf
    lower_closed: bool = False
    upper_closed: bool = False
    why: str = ""

    def contains(self, x):
        lo = (x >= self.lower) if self.lower_closed else (x > self.lower)
        hi = (x <= self.upper) if self.upper_closed else (x < self.upper)
        return lo & hi

    def describe(self) -> str:
        parts = []
        if self.lower > -math.inf:
            parts.append(f"{'>=' if self.lower_closed else '>'} {self.lower:g}")
        if self.upper < math.inf:
            parts.append(f"{'<=' if self.upper_closed else '<'} {self.upper:g}")
        return " and ".join(parts) if parts else "finite"


REAL = Domain()
POSITIVE = Domain(0.0)
NON_NEGATIVE = Domain(0.0, lower_closed=True)
UNIT_INTERVAL = Domain(0.0, 1.0, True, True)


def as_float(x) -> Array:
    """Field converter: parameters become floating arrays, so `jax.grad` and
    `eqx.filter_grad` reach them and integer literals (`v_rest=-65`) behave. Complex
    values (their imaginary part would be dropped) and booleans are refused."""
    if isinstance(x, str) or x is None:
        raise TypeError(f"a model parameter must be a number or an array, got {x!r}.")
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:  # True/False would silently become 1.0/0.0
        raise TypeError(
            f"a model parameter must be a real number or array, got the boolean {x}: "
            "pass a number (e.g. 1.0) instead."
        )
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"a model parameter must be real, got the complex value {x}.")
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def parameter(default: float, domain: Domain = REAL):
    """A model parameter: an array leaf with a published default and a physical domain."""
    return eqx.field(default=default, converter=as_float, metadata={"domain": domain})


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def parameter_fields(model) -> list[tuple[str, Any, Any]]:
    """`(name, value, field)` for every field of `model` declared as a parameter (with a
    physical domain), recursing into sub-modules (a network's populations, a cell's
    mechanisms), whatever the value holds."""
    out = []

    def visit(obj, prefix):
        if not isinstance(obj, eqx.Module):
            return
        for f in obj.__dataclass_fields__.values():
            value = getattr(obj, f.name, None)
            name = f"{prefix}{f.name}"
            if "domain" in f.metadata:
                out.append((name, value, f))
            elif isinstance(value, eqx.Module):
                visit(value, name + ".")
            elif isinstance(value, (tuple, list)):
                for i, v in enumerate(value):
                    visit(v, f"{name}[{i}].")
            elif isinstance(value, dict):
                for k, v in value.items():
                    visit(v, f"{name}[{k!r}].")

    visit(model, "")
    return out


def parameter_domains(model) -> list[tuple[str, Any, Domain]]:
    """`(name, value, domain)` for every parameter field of `model` holding an array
    (recursing into sub-modules, e.g. a network's populations)."""
    return [
        (name, value, f.metadata["domain"])
        for name, value, f in parameter_fields(model)
        if eqx.is_array(value)
    ]


def _domain_message(model, name, domain, value=None) -> str:
    shown = "" if value is None else f" (got {np.asarray(value).tolist()})"
    if value is not None and not np.all(np.isfinite(np.asarray(value, dtype=float))):
        # "must be >= 0 (got [inf])" read as a contradiction: inf is outside every domain
        shown = shown[:-1] + ": NaN and inf are outside every domain)"
    why = f" ({domain.why})" if domain.why else ""
    return (
        f"{type(model).__name__}.{name} must be {domain.describe()}{why}{shown}; "
        "pass a physically valid value."
    )


def check_domains(model) -> None:
    """Raise `ValueError` naming the first concrete parameter outside its domain (NaN and
    inf are outside every domain). Traced parameters are left to `error_if_outside`."""
    for name, value, domain in parameter_domains(model):
        if not _is_concrete(value):
            continue
        x = np.asarray(value)
        bad = ~(np.isfinite(x) & np.asarray(domain.contains(x)))
        if np.any(bad):
            raise ValueError(_domain_message(model, name, domain, x[bad].ravel()[:3]))


def traced_parameters(model) -> tuple[str, ...]:
    """The names (as in `parameter_domains`) of the parameters of `model` that are traced
    (not concrete): those `check_domains` could not check."""
    return tuple(name for name, value, _ in parameter_domains(model) if not _is_concrete(value))


def error_if_outside(model, x, names: tuple[str, ...] | None = None):
    """Tie `x` to a run-time check of the parameters of `model` named in `names`
    (default: `traced_parameters(model)`, those traced inside `jit`/`grad`/`vmap`): one
    `eqx.branched_error_if` for all of them, whose message names the first culprit.
    Concrete parameters were checked at construction.

    One check rather than one per parameter: each `eqx.error_if` walks and formats the
    Python stack when traced (measured: ~3 % of the test suite's CPU went to that walk,
    two thirds of the calls here)."""
    names = traced_parameters(model) if names is None else names
    traced = [(n, v, d) for n, v, d in parameter_domains(model) if n in names]
    if not traced:
        return x
    # Every value tested in one array per dtype (the parameters' values concatenated,
    # each value's domain bounds beside it as constants), not one reduction per parameter:
    # each was a kernel XLA compiles (44 of the Hay cell's gradient program,
    # benchmarks/README.md "Session 15"). The culprit named is the first parameter (in
    # `parameter_domains`' order) with a value outside its domain, as before.
    n = len(traced)
    first = None  # per dtype: the smallest index of a parameter with a bad value, or n
    by_dtype: dict = {}
    # integer and boolean values are compared as floats (an infinite bound cast to an
    # integer type would be INT_MIN: a review found valid integer values refused)
    as_float = jax.dtypes.canonicalize_dtype(np.float64)
    for i, (_, v, d) in enumerate(traced):
        v = jnp.asarray(v)
        if v.size:
            dtype = v.dtype if jnp.issubdtype(v.dtype, jnp.inexact) else as_float
            by_dtype.setdefault(dtype, []).append((i, v, d))
    for dtype, items in by_dtype.items():
        values = jnp.concatenate([jnp.ravel(v).astype(dtype) for _, v, _ in items])

        def spread(f, items=items, dt=dtype):
            return np.concatenate([np.full(v.size, f(i, d), dt) for i, v, d in items])

        lo, hi = spread(lambda i, d: d.lower), spread(lambda i, d: d.upper)
        lo_closed = spread(lambda i, d: d.lower_closed, dt=bool)
        hi_closed = spread(lambda i, d: d.upper_closed, dt=bool)
        ok = (
            jnp.isfinite(values)
            & jnp.where(lo_closed, values >= lo, values > lo)
            & jnp.where(hi_closed, values <= hi, values < hi)
        )
        owner = spread(lambda i, d: i, dt=np.int32)
        worst = jnp.min(jnp.where(ok, np.int32(n), owner))
        first = worst if first is None else jnp.minimum(first, worst)
    if first is None:  # no values at all
        return x
    messages = [_domain_message(model, name, domain) for name, _, domain in traced]
    return eqx.branched_error_if(x, first < n, jnp.minimum(first, n - 1), messages)


def check_precision(model, what: str | None = None) -> None:
    """Raise `TypeError` if any floating array of `model` (its parameters, at any depth)
    is in a precision below float32 (float16, bfloat16).

    Why refused rather than run: a membrane potential of −65 mV in float16 is resolved to
    0.03 mV, a step's update `dt·dV/dt` at dt = 0.025 ms is mostly below that resolution
    (silently lost), and the solvers' carries and linear solves mix the half-precision
    parameters with float32 times and fail deep inside JAX. Inputs may be any float: the
    models cast them to their own precision.

    The fix is in the message: cast the model to float32 (or float64 under x64)."""
    name = what or type(model).__name__
    for path, leaf in jtu.tree_flatten_with_path(model)[0]:
        if not eqx.is_inexact_array(leaf):
            continue
        dtype = jnp.dtype(leaf.dtype)
        if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize < 4:
            raise TypeError(
                f"{name}{jtu.keystr(path)} is {dtype}: neurojax simulates in float32 or "
                f"float64 only ({dtype} cannot resolve a step's voltage change). Cast the "
                "model: jax.tree.map(lambda x: x.astype(jnp.float32) if "
                "eqx.is_inexact_array(x) else x, model)."
            )


# --------------------------------------------------------------------------------------
# The contract


class AbstractModel(eqx.Module):
    """Anything `neurojax.simulate` steps: a pure-function equinox module whose array
    fields are its parameters.

    - `init_state(batch_shape)` → continuous state `y` (integrated by solvers) for inputs
      whose per-step batch shape is `batch_shape`; raises `ValueError` if it does not fit.
    - `init_discrete(batch_shape)` → discrete state `z` (never integrated; default `None`).
    - `vector_field(t, y, inputs)` → `dy/dt`, the smooth ODE part. `inputs` is this step's
      slice of the input pytree (the leading `n_steps` axis removed), held over the step.
    - `event_step(info, y_old, y_new, z, inputs)` → `(y, z, events)`: everything discrete
      after the solver step (threshold, reset, refractoriness, synaptic jumps, delay
      buffers), with the step's index, time, `dt` and key in `info` (`StepInfo`). `events`
      is a pytree (spikes, shaped like the population; `None` when the model has none).
    - `linear_part(t, y, inputs)` → optional per-variable linear rates for the exponential
      solvers (default `None`: autodiff diagonal).
    - `voltage(y)` → the membrane potential, mV (what `Solution.v` reads).
    - `batch_shape(inputs)` → the batch shape that one step of `inputs` implies.
    - `structure` (class variable) → `Elementwise()`, `Coupled()` or `Tree()`: what the
      solvers may assume about the Jacobian. `Coupled()` unless a subclass says otherwise.
    - `default_solver` (class variable or property) → the scheme `simulate(...,
      solver=None)` uses; `None` (default): one that fits `structure`
      (`neurojax.solvers.default_solver`: `Elementwise` → `ExponentialEuler`, `Coupled` →
      `RK4`, `Tree` → `TRBDF2`).
    - `units` (class variable) → the model's `UnitSystem` (voltage, time, current and
      conductance units, and the unit of each named field and state variable), read by
      `neurojax.analysis` for labels; `None` (default): undeclared, labelled without units.
    - `prepare_loop()` → the model the time loop reads, with loop-invariant arrays
      computed once per `simulate` call (default: itself); with
      `to_loop_state`/`from_loop_state`, the state in that model's own layout (default:
      unchanged; a `Cell`'s loop in chain-block order, each mechanism kind's gates joined).

    The minimal model is `init_state` and `vector_field`; it simulates with every default
    (`Coupled` structure, `RK4`), and `jax.grad`/`jax.vmap` go through it.

    Parameters declared with `parameter(default, domain)` are checked against their
    domain when the model is built (concrete values) and in `simulate` (traced values).
    """

    structure: ClassVar[AbstractStructure] = Coupled()
    default_solver: ClassVar[Any] = None
    units: ClassVar[UnitSystem | None] = None

    def __check_init__(self):
        check_domains(self)

    @abc.abstractmethod
    def init_state(self, batch_shape: tuple[int, ...] = ()) -> State: ...

    def init_discrete(self, batch_shape: tuple[int, ...] = ()) -> Discrete:
        return None

    @abc.abstractmethod
    def vector_field(self, t: ArrayLike, y: State, inputs: Any) -> State: ...

    def event_step(self, info: StepInfo, y_old: State, y_new: State, z: Discrete, inputs):
        """No events by default."""
        return y_new, z, None

    def linear_part(self, t: ArrayLike, y: State, inputs: Any) -> State | None:
        """The linear rate `λᵢ` (1/ms, ≤ 0) of each state variable, per element, that the
        exponential solvers treat exactly; `None` (default): the diagonal of the Jacobian
        by autodiff. A conductance-based model returns `−g_total/c_m` for V: the exact
        rate at fixed gates, always ≤ 0, so V stays between the reversal potentials at any
        `dt` — where `∂f/∂V` itself turns positive on an upstroke with instantaneous
        activation (reduced HH, Morris–Lecar) and would amplify the step."""
        return None

    def voltage(self, y: State) -> Array:
        return y.v

    def check_call(self, inputs: Any, dt: Any) -> tuple[tuple[Array, str], ...]:
        """Checks of one `simulate` call that the parameter domains cannot express (a
        network's `dt`, a cell's conductance inputs ≥ 0, dSpike timings in whole steps),
        called once before the run with the caller's `inputs` (sampled, one row per step)
        and `dt` (ms). Raise `ValueError` now for a concrete bad value; for traced values
        (under the caller's `jit` or `grad`) return `(bad, message)` pairs, `bad` a traced
        boolean scalar, which `simulate` checks once at the start of the run (one
        `eqx.branched_error_if`). Checked here rather than in the step: inside the run
        every value is traced, and a check in the step is a host callback compiled into
        every step, which costs compile and run time and keeps XLA from storing the run in
        JAX's persistent compilation cache. Default: nothing to check."""
        return ()

    def prepare_loop(self) -> AbstractModel:
        """The model as the time loop reads it: called by `simulate` once per call, after
        the checks and before the loop, inside the run's trace (so under `jit`, `grad`
        and `vmap` like the loop itself). A model returns itself with loop-invariant
        arrays derived from its parameters computed here rather than in every step (a
        `Cell`: each mechanism kind's parameters broadcast to their regions and
        concatenated, `cable._cell._groups`): in reverse mode their cotangents then
        accumulate in that layout over the steps and are mapped back to the parameters
        once, after the loop. It must not change any result (the same arithmetic, moved),
        and the model it returns is the loop's only: it never reaches the caller.
        Default: the model itself."""
        return self

    def to_loop_state(self, y: State) -> State:
        """The state `y` (as the caller sees it) in the layout of this model's time loop,
        called by `simulate` on the model `prepare_loop` returned, once, on the initial
        state. A model whose loop keeps its state in another layout permutes it here (a
        `Cell`: chain-block order, `cable._blocks`, and the gates of each mechanism kind's
        instances concatenated, `cable._cell._Group`, so that the step reads them without
        rearranging them in every step, forward and in reverse mode); `from_loop_state` is the
        inverse, applied to each saved state (before `SaveAt.fn`) and the final state, so
        that the caller never sees the loop's layout. Default: `y`."""
        return y

    def from_loop_state(self, y: State) -> State:
        """`to_loop_state`'s inverse. Default: `y`."""
        return y

    def batch_shape(self, inputs: Any) -> tuple[int, ...]:
        """The batch shape implied by one step of `inputs` (an array: its shape)."""
        leaves = jtu.tree_leaves(inputs)
        if len(leaves) != 1:
            raise ValueError(
                f"{type(self).__name__} takes one input array (the injected current) shaped "
                f"(n_steps, *batch); got a pytree with {len(leaves)} arrays."
            )
        return tuple(jnp.shape(leaves[0]))
