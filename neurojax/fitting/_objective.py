"""`Objective`: the loss of a simulation as a function of the trainable parameters, with
every input check done once, in Python, before anything is compiled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike

from .._adjoint import AbstractAdjoint, CheckpointAdjoint, ForwardMode
from .._adjoint import forward_value_and_grad as forward_value_and_grad
from .._errors import check_instance, did_you_mean
from .._model import AbstractModel, Tree
from .._saveat import SaveAt
from .._simulate import (
    _one_step,
    check_every,
    check_finite,
    n_steps_of,
    prepare_inputs,
    simulate,
)
from .._solution import Solution
from ..solvers import AbstractSolver
from ..stimuli import AbstractStimulus
from ._losses import AbstractLoss, TraceMSE, loss_requires
from ._recording import Recording
from ._transforms import AbstractConstraint, default_constraint

FORWARD_MODE_MAX = 16
"""With `adjoint=None`, `fit` uses `ForwardMode()` up to this many trainable scalars and
`CheckpointAdjoint()` above. Forward mode is one batched JVP (all tangents in one scan):
for one HH neuron, 2400 steps, its value and gradient took 0.87 / 0.84 ms for 3 / 7
parameters against 1.5 / 1.2 ms in reverse mode (2 loaded CPU cores); it also needs no
memory per time step."""

FORWARD_MODE_MAX_TREE = 3
"""The same limit for multicompartment cells (`structure = Tree()`, e.g. `cable.Cell`): their
steps are rematerialised in the backward pass, so reverse mode costs only ~4–6 simulations.
Measured (value and gradient, 2 CPU cores): 27 compartments × 800 steps, reverse vs forward
0.025 vs 0.019 s for 2 parameters, 0.052 vs 0.103 s for 8; 84 compartments × 4000 steps,
0.44 vs 0.55 s for 2, 0.70 vs 1.33 s for 8, 0.72 vs 2.2 s for 12."""


def default_adjoint(n_scalars: int, model=None) -> AbstractAdjoint:
    """The gradient strategy `fit` uses when `adjoint=None`: forward mode up to
    `FORWARD_MODE_MAX` trainable scalars (`FORWARD_MODE_MAX_TREE` for a multicompartment
    `model`), checkpointed reverse mode above."""
    limit = FORWARD_MODE_MAX
    if model is not None and isinstance(getattr(type(model), "structure", None), Tree):
        limit = FORWARD_MODE_MAX_TREE
    return ForwardMode() if n_scalars <= limit else CheckpointAdjoint()


def _describe(x) -> str:
    if isinstance(x, (jax.Array, np.ndarray)):
        return f"an array of dtype {x.dtype}"
    return f"{x!r} (a {type(x).__name__})"


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _as_array(x, what, voltage: bool = False):
    try:
        x = jnp.asarray(x)
    except TypeError:
        raise TypeError(
            f"target {what} must be an array (or a pytree of arrays shaped like what the "
            f"simulation records); got {type(x).__name__}."
        ) from None
    _check_target_dtype(x, what, voltage)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _check_target_dtype(x, what, voltage: bool):
    """Before the cast to a floating type: a complex target lost its imaginary part, and
    a boolean one compared with a simulated voltage read as 0/1 mV (both were fitted
    without a word; tests/test_bad_inputs_s9_fitting.py). `voltage`: the simulation
    records the voltage (no `SaveAt(fn=...)`, whose record may be boolean)."""
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(
            f"target {what} is complex ({x.dtype}); the simulation records real values. "
            "Pass the real part (jnp.real) if that is what was measured."
        )
    if voltage and x.dtype == jnp.bool_:
        raise TypeError(
            f"target {what} is boolean, but the simulation records the voltage (mV). A "
            "spike raster goes in Recording(spikes=...) (Recording.from_spike_times); a "
            "boolean quantity is recorded with SaveAt(fn=...)."
        )


def _as_tree(x, what, voltage: bool = False):
    """A target field as a pytree of floating arrays (`None` stays `None`)."""
    if x is None:
        return None
    return jtu.tree_map(lambda a: _as_array(a, what, voltage), x)


def _solution_record(sol: Solution, saveat: SaveAt):
    """What a `Solution` holds of the recorded quantity: what `SaveAt(fn=...)` returned,
    else the voltage (`None` where it has none)."""
    if saveat.fn is not None:
        return sol.states
    try:
        return sol.v
    except AttributeError:
        return None


def _as_recording(target, dt_rows: float, t0: float, saveat: SaveAt = SaveAt()) -> Recording:
    voltage = saveat.fn is None  # the recorded v is the voltage, mV
    if isinstance(target, Recording):
        if target.dt is not None and not np.isclose(target.dt, dt_rows):
            raise ValueError(
                f"the target Recording has dt={target.dt} ms between rows but the simulation "
                f"records every dt·saveat.every = {dt_rows} ms; resample the target or change "
                "SaveAt(every=...)."
            )
        if target.t0 != 0 and not np.isclose(target.t0, t0):
            # was dropped without a word: the rows were read at the simulation's times, so
            # a loss window (or latency) given on the recording's clock hit other rows
            raise ValueError(
                f"the target Recording starts at t0={target.t0:g} ms but the simulation at "
                f"t0={t0:g} ms; pass t0={target.t0:g} to fit/make_objective (the times of "
                "its loss windows are then the recording's), or build the Recording with "
                f"t0={t0:g}."
            )
        if target.v is None and target.spikes is None:
            raise ValueError("the target Recording holds neither v nor spikes.")
        return Recording(
            v=_as_tree(target.v, "v", voltage),
            spikes=_as_tree(target.spikes, "spikes"),
            dt=dt_rows,
            t0=t0,
        )
    if isinstance(target, Solution):
        return Recording(
            v=_as_tree(_solution_record(target, saveat), "v"),
            spikes=_as_tree(target.spikes, "spikes"),
            dt=dt_rows,
            t0=t0,
        )
    if isinstance(target, (dict, list, tuple)):
        # a pytree of recorded arrays (e.g. {"E": v_E} for a network)
        return Recording(v=_as_tree(target, "v", voltage), spikes=None, dt=dt_rows, t0=t0)
    try:
        v = jnp.asarray(target)
    except TypeError:
        raise TypeError(
            "target must be a voltage trace (an array shaped like the simulated v), what "
            "SaveAt(fn=...) records (an array or a pytree of arrays), a neurojax.Solution or "
            f"a neurojax.fitting.Recording; got {type(target).__name__}."
        ) from None
    _check_target_dtype(v, "v", voltage)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.result_type(float))
    return Recording(v=v, spikes=None, dt=dt_rows, t0=t0)


def flatten_record(tree, keys: tuple | None = None):
    """A recorded pytree as one array the losses compare: a single array as it is;
    several (a network's populations, several outputs of `SaveAt(fn=...)`) each reshaped to
    `(n_rows, -1)` and concatenated along axis 1, in `jax.tree_util` order. `keys`: keep
    only these entries of a dict first (the target's populations)."""
    if tree is None:
        return None
    if keys is not None:
        tree = {k: tree[k] for k in keys}
    leaves = jtu.tree_leaves(tree)
    if len(leaves) == 1:
        return leaves[0]
    return jnp.concatenate([x.reshape(x.shape[0], -1) for x in leaves], axis=1)


def _describe_shapes(tree) -> str:
    flat = jtu.tree_flatten_with_path(tree)[0]
    if len(flat) == 1 and not flat[0][0]:
        return str(tuple(flat[0][1].shape))
    return "{" + ", ".join(f"{jtu.keystr(p)}: {tuple(x.shape)}" for p, x in flat) + "}"


def _match_target(name: str, got, expected, save_every: int):
    """Check a target field (a pytree) against what the simulation records (a pytree of
    `ShapeDtypeStruct`); return `(flattened target, keys)` where `keys` is the subset of
    a recorded dict that the target holds (`None`: all of it)."""
    if expected is None or not jtu.tree_leaves(expected):
        raise ValueError(
            f"the target has {name}, but the simulation records no {name}"
            + (
                " (SaveAt(spikes=False), or the model has no spikes)"
                if name == "spikes"
                else " (SaveAt(vars=...) without 'v'?)"
            )
            + f". Give the target without {name}, or record it."
        )
    keys = None
    got_leaves = jtu.tree_leaves(got)
    if isinstance(got, dict) and isinstance(expected, dict):
        unknown = [k for k in got if k not in expected]
        if unknown:
            raise ValueError(
                f"target {name} has entries {unknown} that the simulation does not record; it "
                f"records {list(expected)}."
            )
        if set(got) != set(expected):
            keys = tuple(sorted(got))
            expected = {k: expected[k] for k in keys}
        if jtu.tree_structure(got) != jtu.tree_structure(expected):
            raise ValueError(
                f"target {name} is structured {_describe_shapes(got)} but the simulation "
                f"records {_describe_shapes(expected)}."
            )
        for (path, x), e in zip(
            jtu.tree_flatten_with_path(got)[0], jtu.tree_leaves(expected), strict=True
        ):
            _check_target_values(f"{name}{jtu.keystr(path)}", x, tuple(e.shape), save_every)
        return flatten_record(got), keys
    exp_leaves = jtu.tree_leaves(expected)
    if len(got_leaves) == 1 and (not isinstance(got, (dict, list, tuple))):
        flat_shape = (
            tuple(exp_leaves[0].shape)
            if len(exp_leaves) == 1
            else (
                exp_leaves[0].shape[0],
                sum(int(np.prod(e.shape[1:], dtype=int)) for e in exp_leaves),
            )
        )
        try:
            _check_target_values(name, got_leaves[0], flat_shape, save_every)
        except ValueError as e:
            if len(exp_leaves) == 1:
                raise
            raise ValueError(
                f"{e} The simulation records {_describe_shapes(expected)}: give the target "
                f"{name} as that pytree, or as one array of those, each reshaped to "
                "(n_rows, -1), concatenated along axis 1 (in jax.tree_util order)."
            ) from None
        return got_leaves[0], None
    if jtu.tree_structure(got) != jtu.tree_structure(expected):
        raise ValueError(
            f"target {name} is structured {_describe_shapes(got)} but the simulation records "
            f"{_describe_shapes(expected)}."
        )
    for (path, x), e in zip(jtu.tree_flatten_with_path(got)[0], exp_leaves, strict=True):
        _check_target_values(f"{name}{jtu.keystr(path)}", x, tuple(e.shape), save_every)
    return flatten_record(got), None


def _check_target_values(name: str, x, expected: tuple[int, ...], save_every: int):
    if tuple(x.shape) != expected:
        hint = ""
        if len(x.shape) == len(expected) - 1 and tuple(x.shape) == expected[:1] + expected[2:]:
            hint = " (is a sweep/neuron axis missing? add it with target[:, None])"
        elif x.shape and expected and x.shape[0] != expected[0]:
            hint = (
                f" (its {x.shape[0]} rows should be n_steps // saveat.every = {expected[0]}, "
                f"every={save_every})"
            )
        raise ValueError(
            f"target {name} has shape {tuple(x.shape)} but the simulation records {name} "
            f"shaped {expected} (rows × population){hint}. The target must be sampled like "
            "what the simulation records (Solution.v, or what SaveAt(fn=...) returns): one "
            "row per recorded step (after each step), then the recorded axes."
        )
    if _is_concrete(x):
        bad = ~np.isfinite(np.asarray(x))
        if bad.any():
            first = np.argwhere(bad)[0]
            raise ValueError(
                f"target {name} contains {int(bad.sum())} NaN/inf value(s), the first at "
                f"index {tuple(int(i) for i in first)}. Replace them (e.g. jnp.nan_to_num) and "
                "give those samples zero weight: TraceMSE(weights=mask)."
            )


class _Marker:
    """Stands in for leaf number `index` of a model while `trainable` is traced, so that
    the selected fields are identified by their place in the model, not by the identity
    of the arrays (two fields may share one array)."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self):
        return f"<leaf {self.index}>"


def _float_dtype(model) -> Any:
    """The model's float dtype: that of its floating array leaves (the promoted one if they
    differ), or the default float if it has none."""
    dtypes = [x.dtype for x in jtu.tree_leaves(model) if eqx.is_inexact_array(x)]
    return jnp.result_type(*dtypes) if dtypes else jnp.result_type(float)


def _is_number(x) -> bool:
    """A real number that is not an array leaf: a Python int/float, a NumPy scalar or a
    NumPy array of a real (not bool) dtype — what `eqx.tree_at(..., 168.0)` leaves."""
    if isinstance(x, bool) or isinstance(x, (jax.Array, jax.core.Tracer)):
        return False
    if isinstance(x, (int, float)):
        return True
    if isinstance(x, (np.ndarray, np.generic)):
        return np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    return False


def _resolve_selection(trainable, model) -> tuple[Any, Any, tuple, list]:
    """`(model, treedef, paths, leaves)` for `trainable`: the key paths (in
    `jax.tree_util.tree_flatten_with_path(model)`) of the selected leaves, in selection
    order, and the selected values. Python numbers among them (left by
    `eqx.tree_at(lambda m: m.g_na, model, 168.0)`) are converted to arrays of the model's
    float dtype, in the returned `model`. Raises `ValueError`/`TypeError` saying what to
    select instead."""
    if not callable(trainable):
        raise TypeError(
            "trainable must be a function selecting the fitted parameters of the model, e.g. "
            f"trainable=lambda m: (m.g_na, m.g_k); got {_describe(trainable)}."
        )
    try:
        selected = trainable(model)
    except AttributeError as e:
        fields = [f for f in getattr(model, "__dataclass_fields__", {})]
        name = str(e).split("'")[-2] if "'" in str(e) else ""
        raise ValueError(
            f"trainable could not select from {type(model).__name__}: {e}."
            f"{did_you_mean(name, fields)} "
            f"Its fields are: {', '.join(fields)}."
        ) from None
    leaves, treedef = jtu.tree_flatten(selected)
    if not leaves:
        raise ValueError(
            f"trainable selects nothing from {type(model).__name__} (it returned "
            f"{selected!r}, which holds no array). Select parameter fields, e.g. "
            "trainable=lambda m: (m.g_na, m.g_k)."
        )
    flat, model_def = jtu.tree_flatten_with_path(model)
    marked = jtu.tree_unflatten(model_def, [_Marker(i) for i in range(len(flat))])
    computed = ValueError(
        "trainable must select fields of the model (e.g. lambda m: (m.g_na, m.g_k)), not "
        "compute new values from them."
    )
    try:
        marks = jtu.tree_leaves(trainable(marked))
    except Exception:  # arithmetic on a selected field: it computes, it does not select
        raise computed from None
    if len(marks) != len(leaves):
        raise computed
    indices = []
    for i, (mark, leaf) in enumerate(zip(marks, leaves, strict=True)):
        if not isinstance(mark, _Marker):
            if eqx.is_array(leaf) or _is_number(leaf) and not isinstance(leaf, (int, float)):
                raise computed
            raise ValueError(
                f"trainable selects {_describe(leaf)} (item {i}), which is not a floating "
                "array parameter and cannot be fitted. Only parameter fields (float arrays "
                "such as m.g_na) can be trainable; static settings (surrogate slope, solver "
                "options) cannot."
            )
        indices.append(mark.index)
    seen = {}
    for i, k in enumerate(indices):
        if k in seen:
            raise ValueError(
                f"trainable selects the same parameter twice (items {seen[k]} and {i}); "
                "select each parameter once, e.g. trainable=lambda m: (m.g_na, m.g_k)."
            )
        seen[k] = i
    values = [leaf for _, leaf in flat]
    dtype = None
    for i, k in enumerate(indices):
        leaf = values[k]
        if _is_number(leaf):  # eqx.tree_at(lambda m: m.g_na, model, 168.0)
            dtype = _float_dtype(model) if dtype is None else dtype
            values[k] = jnp.asarray(leaf, dtype=dtype)
        elif not eqx.is_inexact_array(values[k]):
            raise ValueError(
                f"trainable selects {_describe(leaf)} (item {i}, {jtu.keystr(flat[k][0])}), "
                "which is not a floating array parameter and cannot be fitted. Only "
                "parameter fields (float arrays such as m.g_na) can be trainable."
            )
    if dtype is not None:
        model = jtu.tree_unflatten(model_def, values)
    paths = tuple(flat[k][0] for k in indices)
    return model, treedef, paths, [values[k] for k in indices]


def _selection(trainable, model) -> tuple[Any, list]:
    """`(treedef, leaves)` of `trainable(model)`, checked (see `_resolve_selection`)."""
    _, treedef, _, leaves = _resolve_selection(trainable, model)
    return treedef, leaves


def _leaves_at(model, paths: tuple) -> tuple:
    """The leaves of `model` at the key `paths`, in that order."""
    by_path = dict(jtu.tree_flatten_with_path(model)[0])
    return tuple(by_path[p] for p in paths)


def _replace_at(model, paths: tuple, values) -> Any:
    """`model` with the leaves at the key `paths` replaced by `values`."""
    new = dict(zip(paths, values, strict=True))
    flat, model_def = jtu.tree_flatten_with_path(model)
    return jtu.tree_unflatten(model_def, [new.get(p, leaf) for p, leaf in flat])


class PathSelector:
    """A `trainable` function rebuilt from key paths: `selector(model)` returns the leaves
    at `paths`, structured by `treedef`. Equal (and hashing equal) for equal paths and
    structure, so caches keyed on it (jit) hit for equal-meaning selections."""

    __slots__ = ("treedef", "paths")

    def __init__(self, treedef, paths: tuple):
        self.treedef = treedef
        self.paths = tuple(paths)

    def __call__(self, model):
        return jtu.tree_unflatten(self.treedef, _leaves_at(model, self.paths))

    def __eq__(self, other):
        return (
            isinstance(other, PathSelector)
            and self.treedef == other.treedef
            and self.paths == other.paths
        )

    def __hash__(self):
        return hash((self.treedef, self.paths))

    def __repr__(self):
        return f"PathSelector({', '.join(parameter_name(p) for p in self.paths)})"


def parameter_name(path) -> str:
    """A readable name of a key path: `g_na`, `mechanisms[0].g_na`."""
    return jtu.keystr(path).lstrip(".")


def _constraints_for(constraints, selected_tree, leaves) -> list[AbstractConstraint]:
    """One constraint per selected leaf, from `None`, one constraint, or a sequence aligned
    with the top level of the selection (each entry covers all leaves of its item)."""
    is_c = lambda c: isinstance(c, AbstractConstraint)  # noqa: E731
    if constraints is None:
        return [default_constraint(p) for p in leaves]
    if is_c(constraints):
        return [constraints] * len(leaves)
    if not isinstance(constraints, (tuple, list)):
        raise TypeError(
            "constraints must be None, one constraint (Positive(), Bounded(lo, hi), "
            f"Unconstrained()) or a tuple of them aligned with trainable; got {constraints!r}."
        )
    items = selected_tree if isinstance(selected_tree, (tuple, list)) else (selected_tree,)
    if len(constraints) != len(items):
        raise ValueError(
            f"constraints has {len(constraints)} entries but trainable selects {len(items)} "
            "item(s); give one constraint (or None for the default) per selected parameter."
        )
    out = []
    for c, item in zip(constraints, items, strict=True):
        if c is not None and not is_c(c):
            raise TypeError(f"constraints entries must be constraints or None, got {c!r}.")
        for p in jtu.tree_leaves(item):
            out.append(default_constraint(p) if c is None else c)
    return out


class Objective(eqx.Module):
    """The loss of `simulate(model with params, inputs)` against `target`, as a function of
    the trainable parameters. Built (and every input checked) by `make_objective`; used by
    `neurojax.fit`, and handy for any other optimiser: it is a pytree, so `jax.jit`,
    `jax.grad` and `jax.vmap` apply.

    - `obj(params)`: the loss for parameter values `params` (structured like
      `trainable(model)`, e.g. a tuple `(g_na, g_k, g_l)`).
    - `obj.unconstrained(u)`: the same loss of the unconstrained coordinates (a list, one
      per selected array) that `fit` optimises.
    - `obj.simulate(params)`, `obj.with_params(params)`, `obj.params0` (initial values),
      `obj.names` (the selected fields, e.g. `("g_na", "g_k")`).

    The selection is stored as the key paths of the selected leaves in `model` (`paths`,
    static and hashable), not as the `trainable` function: two fits selecting the same
    fields with different `lambda`s share one compiled optimisation step.
    """

    model: AbstractModel
    inputs: Any
    target: Recording
    loss: Callable
    transforms: tuple[AbstractConstraint, ...]
    treedef: Any = eqx.field(static=True)
    paths: tuple = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    solver: AbstractSolver | None
    saveat: SaveAt
    adjoint: AbstractAdjoint
    t0: float = eqx.field(static=True)
    v_keys: tuple | None = eqx.field(static=True, default=None)
    spike_keys: tuple | None = eqx.field(static=True, default=None)
    key: Any = None

    def _where(self, m):
        return _leaves_at(m, self.paths)

    @property
    def trainable(self) -> Callable:
        """A function selecting the trainable parameters of a model of this structure,
        structured like the `trainable` given to `make_objective`."""
        return PathSelector(self.treedef, self.paths)

    @property
    def names(self) -> tuple[str, ...]:
        """The selected fields, one per leaf: `("g_na", "g_k")`, `("mechanisms[0].g_na",)`."""
        return tuple(parameter_name(p) for p in self.paths)

    @property
    def params0(self):
        """The initial values of the trainable parameters (from `model`)."""
        return self.trainable(self.model)

    def with_params(self, params) -> AbstractModel:
        """`model` with the trainable parameters replaced by `params`."""
        leaves = jtu.tree_leaves(params)
        old = self._where(self.model)
        if len(leaves) != len(old):
            raise ValueError(
                f"params has {len(leaves)} leaves but {len(old)} parameters are trainable "
                f"({', '.join(self.names)})."
            )
        leaves = [jnp.asarray(p, dtype=o.dtype) for p, o in zip(leaves, old, strict=True)]
        return _replace_at(self.model, self.paths, leaves)

    def simulate(self, params=None) -> Solution:
        model = self.model if params is None else self.with_params(params)
        return simulate(
            model,
            self.inputs,
            dt=self.dt,
            solver=self.solver,
            t0=self.t0,
            saveat=self.saveat,
            adjoint=self.adjoint,
            key=self.key,
            throw=False,  # fit handles a non-finite loss itself (skips, or stops and says why)
        )

    def prediction(self, params=None) -> Recording:
        """The simulated `Recording` that the loss compares with the target: `v` is the
        voltage, or what `SaveAt(fn=...)` records; `spikes` the spike counts; a pytree of
        several arrays (a network's populations) flattened by `flatten_record`, restricted
        to the entries the target holds."""
        sol = self.simulate(params)
        return Recording(
            v=flatten_record(_solution_record(sol, self.saveat), self.v_keys),
            spikes=flatten_record(sol.spikes, self.spike_keys),
            dt=self.target.dt,
            t0=self.t0,
        )

    def __call__(self, params) -> Array:
        return self.loss(self.prediction(params), self.target)

    def from_unconstrained(self, u):
        leaves = [t.forward(x) for t, x in zip(self.transforms, u, strict=True)]
        return jtu.tree_unflatten(self.treedef, leaves)

    def to_unconstrained(self, params) -> list:
        return [
            t.inverse(jnp.asarray(p))
            for t, p in zip(self.transforms, jtu.tree_leaves(params), strict=True)
        ]

    def unconstrained_loss(self, u) -> Array:
        """The loss of the unconstrained coordinates `u`, in the optimiser's dtype (the
        default float, whatever the model's precision). Differentiable as `adjoint` says:
        with `ForwardMode()` only in forward mode (`jax.jvp`, `jax.jacfwd`);
        `self.adjoint.value_and_grad(obj.unconstrained_loss, u)` works for every adjoint."""
        return self(self.from_unconstrained(u)).astype(jnp.result_type(float))

    def unconstrained_residuals(self, u) -> Array:
        """The loss's residual vector at the unconstrained coordinates `u` (`Σ r² =
        unconstrained_loss(u)`; `AbstractLoss.residuals`), in the optimiser's dtype.
        Raises `TypeError` where the loss is not a sum of squares."""
        residuals = getattr(self.loss, "residuals", None)
        pred = self.prediction(self.from_unconstrained(u))
        r = residuals(pred, self.target) if residuals is not None else None
        if r is None:
            raise TypeError(
                f"{type(self.loss).__name__} is not a sum of squares (its residuals() is "
                "None): use a gradient optimiser such as optax.lbfgs() or optax.adam()."
            )
        return r.astype(jnp.result_type(float))

    def unconstrained(self, u) -> Array:
        """`unconstrained_loss`, differentiable by `jax.grad` whatever the adjoint: the
        gradient is computed in the adjoint's mode (`adjoint.reverse_differentiable`:
        with `ForwardMode()` one batched JVP inside a custom VJP)."""
        return self.adjoint.reverse_differentiable(self.unconstrained_loss)(u)


def _check_loss_against_recording(loss, rec: Recording) -> None:
    """Refuse a loss term that cannot see the recording, before compiling (held-out
    checks): a `window` holding no recorded row made the loss 0 and the fit "converged"
    at its start; `TraceMSE` weights not broadcastable to the trace failed deep inside
    the simulation with a bare broadcasting error."""
    terms = loss.terms() if isinstance(loss, AbstractLoss) else ()
    n = rec.n_rows
    t = rec.t0 + rec.dt * np.arange(1, n + 1) if rec.dt is not None else None
    for _, term in terms:
        name = type(term).__name__
        window = getattr(term, "window", None)
        if t is not None and isinstance(window, (tuple, list)) and len(window) == 2:
            lo, hi = float(window[0]), float(window[1])
            if not np.any((t >= lo) & (t < hi)):
                raise ValueError(
                    f"{name}: window ({lo:g}, {hi:g}) ms holds no recorded row (the rows are "
                    f"at {t[0]:g} … {t[-1]:g} ms, every {rec.dt:g} ms), so this term would be "
                    "0 whatever the parameters. Give a window inside the recording."
                )
        weights = getattr(term, "weights", None)
        if isinstance(term, TraceMSE) and weights is not None and rec.v is not None:
            v_shape = tuple(jnp.shape(rec.v))
            w_shape = tuple(jnp.shape(weights))
            try:
                ok = np.broadcast_shapes(w_shape, v_shape) == v_shape
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"TraceMSE weights shaped {w_shape} do not broadcast to the recorded trace "
                    f"{v_shape} (rows × recorded axes): per-row weights are (n_rows, 1), "
                    "per-sweep (n_sweeps,), per-sample the trace's own shape."
                )


def make_objective(
    model: AbstractModel,
    inputs: ArrayLike | AbstractStimulus,
    target,
    *,
    dt: float,
    trainable: Callable,
    loss: Callable | None = None,
    constraints=None,
    solver: AbstractSolver | None = None,
    saveat: SaveAt = SaveAt(),
    adjoint: AbstractAdjoint | None = None,
    t0: float = 0.0,
    simulation_key=None,
) -> Objective:
    """Check the fitting problem and return its `Objective`. Arguments as `neurojax.fit`.

    Everything that can be wrong with the inputs raises here, before any compilation:
    inputs the model does not take (checked as `simulate` checks them: structure, a
    leading `n_steps` axis, finite), a target shaped otherwise than what the simulation
    records (its shapes come from `jax.eval_shape` of the simulation: traced, not run)
    or with NaNs, a `trainable` selecting nothing or a non-parameter, constraints
    that do not match, a loss needing target spikes that the target lacks.
    """
    if not isinstance(model, AbstractModel):
        raise TypeError(
            f"fit needs a neurojax model (an AbstractModel), got {type(model).__name__}."
        )
    if not _is_concrete(dt):
        raise TypeError("fit: dt must be a Python number (ms), not a traced value.")
    check_instance("saveat", saveat, SaveAt, "neurojax.SaveAt(every=10)")
    if adjoint is not None:
        check_instance("adjoint", adjoint, AbstractAdjoint, "neurojax.ForwardMode()")
    if simulation_key is not None and not eqx.is_array(simulation_key):
        raise TypeError(
            f"simulation_key must be a jax.random key (jax.random.key(0)), got {simulation_key!r}."
        )
    # inputs: any pytree simulate takes (a Cell's {"i_clamp", "g_syn", "v_clamp"}, a
    # Network's {population: current}), checked as simulate checks them
    inputs = prepare_inputs(inputs, dt)
    n_steps = n_steps_of(inputs)
    save_every = saveat.every
    check_every(n_steps, save_every)
    if all(_is_concrete(x) for x in jtu.tree_leaves(inputs)):
        check_finite(
            inputs, "inputs", "the inputs (currents, conductances, commands) must be finite."
        )
    # the model says what one step of inputs implies (a Cell's last axis is its sites)
    model.batch_shape(_one_step(inputs))

    # what the simulation records, without simulating (traced, not compiled)
    def recorded(m, x):
        sol = simulate(
            m, x, dt=dt, solver=solver, t0=t0, saveat=saveat, key=simulation_key, throw=False
        )
        return _solution_record(sol, saveat), sol.spikes

    rec_shape, spike_shape = jax.eval_shape(recorded, model, inputs)
    dt_rows = float(dt) * save_every
    rec = _as_recording(target, dt_rows, float(t0), saveat)
    v_keys = spike_keys = None
    target_v = target_spikes = None
    if rec.v is not None:
        target_v, v_keys = _match_target("v", rec.v, rec_shape, save_every)
    if rec.spikes is not None:
        target_spikes, spike_keys = _match_target("spikes", rec.spikes, spike_shape, save_every)
    rec = Recording(v=target_v, spikes=target_spikes, dt=dt_rows, t0=float(t0))

    if loss is None:
        loss = TraceMSE()
    if not callable(loss):
        raise TypeError(f"loss must be a loss object such as TraceMSE(), got {loss!r}.")
    for field in loss_requires(loss):
        produced = rec_shape if field == "v" else spike_shape
        if produced is None or not jtu.tree_leaves(produced):
            raise ValueError(
                f"{type(loss).__name__} compares {field}, but the simulation of "
                f"{type(model).__name__} records no {field}"
                + (
                    " (it has no spikes, or SaveAt(spikes=False)): use a loss on the "
                    "recorded trace, such as TraceMSE()."
                    if field == "spikes"
                    else " (SaveAt(vars=...) without 'v'): record it, or use a spike loss."
                )
            )
        if getattr(rec, field) is None:
            raise ValueError(
                f"{type(loss).__name__} compares the target's {field}, but the target has no "
                f"{field}. Pass a neurojax.Solution, or a Recording with {field}: "
                "Recording.from_voltage(v, dt, v_th=...) detects spikes in a voltage trace, "
                "Recording.from_spike_times(times, n_rows, dt) builds a spike train."
            )

    _check_loss_against_recording(loss, rec)

    model, treedef, paths, leaves = _resolve_selection(trainable, model)
    n_scalars = sum(int(np.size(p)) for p in leaves)
    if adjoint is None:
        adjoint = default_adjoint(n_scalars, model)
    selected = jtu.tree_unflatten(treedef, leaves)
    transforms = []
    for i, (c, p) in enumerate(
        zip(_constraints_for(constraints, selected, leaves), leaves, strict=True)
    ):
        try:
            transforms.append(c.bind(p))
        except ValueError as e:
            # was the constraint's message alone, naming no parameter (held-out probe,
            # session 13: g_k started on the edge of Bounded(20, 40))
            raise ValueError(
                f"trainable item {i} ({jtu.keystr(paths[i])} of {type(model).__name__}): {e} "
                "Start it inside its constraint, or widen the constraint."
            ) from None
    obj = Objective(
        model=model,
        inputs=inputs,
        target=rec,
        loss=loss,
        transforms=tuple(transforms),
        treedef=treedef,
        paths=paths,
        dt=float(dt),
        solver=solver,
        saveat=saveat,
        adjoint=adjoint,
        t0=float(t0),
        v_keys=v_keys,
        spike_keys=spike_keys,
        key=simulation_key,
    )
    for i, p in enumerate(leaves):
        if _is_concrete(p) and not np.all(np.isfinite(np.asarray(p))):
            # was "... (nan) is on the boundary of its constraint Unconstrained"
            raise ValueError(
                f"the initial value of trainable item {i} ({jtu.keystr(paths[i])} of "
                f"{type(model).__name__}) is {np.asarray(p)}: a fit starts from finite "
                "values. Set it to a number (check what set it: eqx.tree_at, a previous fit)."
            )
    u0 = obj.to_unconstrained(leaves)
    for i, u in enumerate(u0):
        if _is_concrete(u) and not np.all(np.isfinite(np.asarray(u))):
            raise ValueError(
                f"the initial value of trainable item {i} ({np.asarray(leaves[i])}) is on the "
                f"boundary of its constraint {type(obj.transforms[i]).__name__}."
            )
    return obj
