"""`simulate`: the one place that loops over time."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

from ._adjoint import AbstractAdjoint, CheckpointAdjoint
from ._errors import check_bool, check_instance
from ._model import (
    AbstractModel,
    Elementwise,
    ModelState,
    RealScalarLike,
    StepInfo,
    check_domains,
    check_precision,
    error_if_outside,
    parameter_fields,
    traced_parameters,
)
from ._population_adjoint import PopulationAdjoint, check_population_adjoint, population_loop
from ._progress import AbstractProgressMeter, NoProgress
from ._saveat import SaveAt
from ._solution import Solution
from .solvers import AbstractSolver, check_solver_fits, default_solver
from .stimuli import AbstractStimulus

# --------------------------------------------------------------------------------------
# XLA:CPU compiles a `while` loop (a `lax.scan`) into one function only when one iteration
# accesses fewer than `xla_cpu_small_while_loop_byte_threshold` bytes (default 1 kB);
# above, every fused operation of the body is dispatched as a separate "thunk" per step,
# ~0.1–1 µs each. A single HH neuron's forward step is just under 1 kB; its gradient
# step (forward replay + transpose) and the 2- and 4-stage solvers are above: their
# gradients took 50–350× the forward run, for dispatch alone (docs/architecture.md,
# "Gradient cost"). Raised to 16 MB, every loop that touches less than that per step
# (a neuron; HH populations up to ~10⁴ neurons) becomes one function, as on XLA:CPU
# before its thunk runtime (JAX ≤ 0.4.31): measured on 2 cores, HH ExponentialRK2 with
# 10³ neurons, gradient 2.3× faster than at 1 MB, and 10⁴ neurons forward
# 2.2× faster (wall clock) than as thunks. Larger populations keep the thunk runtime and its
# multi-threaded kernels. XLA reads XLA_FLAGS when JAX creates its first backend, so
# this must run before the first JAX computation: importing neurojax does it.
# Set NEUROJAX_XLA_FLAGS=0 to leave XLA_FLAGS alone; a threshold already in XLA_FLAGS
# is respected.
#
# XLA:CPU's legacy fusion emitters (`--xla_cpu_use_fusion_emitters=false`), which the test
# suite uses because small programs compile faster (tests/conftest.py), are NOT set here:
# measured on the cases users run (benchmarks/bench_xla_emitters.py, one process per case
# and setting, alternating, 3 rounds, CPU time, shared 2-core VM), they slowed the LIF
# 10⁵ population run by 19 % (every round), COBA by 9 % and HH 10⁴ by 6 %, left the HH
# gradient unchanged and sped the Hay cell up by 7 %; compile times 6–16 % shorter, HH's
# 11 % longer (benchmarks/README.md, "XLA:CPU's fusion emitters").

XLA_CPU_SMALL_LOOP_BYTES = 1 << 24
"""The `xla_cpu_small_while_loop_byte_threshold` neurojax sets at import (bytes)."""

_THRESHOLD = "xla_cpu_small_while_loop_byte_threshold"


def _with_small_loop_threshold(flags: str, threshold: int) -> str:
    """`flags` (an XLA_FLAGS string) with `threshold` added to `--xla_backend_extra_options`
    (merged into an existing one: a second occurrence would replace the first)."""
    if _THRESHOLD in flags:
        return flags
    tokens = flags.split()
    option = f"{_THRESHOLD}={threshold}"
    for k, tok in enumerate(tokens):
        if tok.startswith("--xla_backend_extra_options="):
            tokens[k] = f"{tok},{option}" if not tok.endswith("=") else tok + option
            return " ".join(tokens)
    return " ".join([*tokens, f"--xla_backend_extra_options={option}"])


# XLA:CPU's preferred vector width: on a CPU with AVX-512, neurojax asks XLA for 512-bit
# vectors (`--xla_cpu_prefer_vector_width=512`; XLA's default is 256). Measured on the
# benchmark cases (benchmarks/exp_pop_width.py, AMD EPYC with AVX-512, 7 alternating rounds,
# CPU time; benchmarks/results/exp_pop_width.md): HH 10⁴ forward 1.34–1.47× faster, HH 10³
# gradient 1.22×, LIF 10⁵ 1.12×, COBA 1.11×, the 2000-compartment cable 1.00×; compile
# times within noise; every output the same bit for bit. Set where the CPU reports
# `avx512f` only; a width already in XLA_FLAGS is respected, NEUROJAX_XLA_FLAGS=0 sets
# neither flag. (Some older Intel CPUs lower their clock under 512-bit instructions:
# measure there, and set the flag in XLA_FLAGS to choose.)

_VECTOR_WIDTH = "xla_cpu_prefer_vector_width"


def _cpu_has_avx512() -> bool:
    """Whether /proc/cpuinfo lists `avx512f` (False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


def _configure_xla_cpu() -> None:
    if os.environ.get("NEUROJAX_XLA_FLAGS", "1") == "0":
        return
    flags = os.environ.get("XLA_FLAGS", "")
    want_threshold = _THRESHOLD not in flags
    want_width = _VECTOR_WIDTH not in flags and _cpu_has_avx512()
    if not (want_threshold or want_width):
        return
    try:
        from jax._src import xla_bridge

        started = xla_bridge.backends_are_initialized()
    except Exception:  # private API: if it moved, assume not started
        started = False
    if started:
        if want_threshold:
            warnings.warn(
                "neurojax was imported after JAX had started its backend, so XLA:CPU keeps "
                "its default loop compilation and gradients through simulate run up to "
                "~100× slower on CPU. Import neurojax before the first JAX computation, or "
                f"set XLA_FLAGS='--xla_backend_extra_options={_THRESHOLD}="
                f"{XLA_CPU_SMALL_LOOP_BYTES}' before starting Python.",
                stacklevel=3,
            )
        return
    if want_threshold:
        flags = _with_small_loop_threshold(flags, XLA_CPU_SMALL_LOOP_BYTES)
    if want_width:
        flags = f"{flags} --{_VECTOR_WIDTH}=512".strip()
    os.environ["XLA_FLAGS"] = flags


_configure_xla_cpu()


def _is_tracer(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _under_jit(leaves) -> bool:
    """Whether any leaf is traced by a jit (staging) trace, possibly under grad/jvp/vmap
    tracers, which hold their primal values in `primal` / `val`. Unknown tracer types
    count as staged (then the run is inlined, as it always was)."""
    for x in leaves:
        depth = 0
        while _is_tracer(x) and depth < 64:
            name = type(x).__name__
            if name in ("JVPTracer", "LinearizeTracer"):
                x = x.primal
            elif name == "BatchTracer":
                x = x.val
            else:
                return True
            depth += 1
        if _is_tracer(x):
            return True
    return False


def check_finite(x, what: str, fix: str, anchor=None):
    """Raise if the pytree `x` holds a NaN or inf: at once when concrete, through
    `eqx.error_if` at run time when traced. Returns `anchor` (default `x`) tied to the
    check: tying a small anchor (the initial state) instead of large inputs keeps XLA from
    copying the inputs through the check."""
    anchor = x if anchor is None else anchor
    leaves = [leaf for leaf in jtu.tree_leaves(x) if eqx.is_array(leaf)]
    leaves = [leaf for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    if not leaves:
        return anchor
    if not any(_is_tracer(leaf) for leaf in leaves):
        # numpy, not jnp: inside a jit trace even an operation on constants is traced
        if not all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves):
            raise ValueError(f"{what} contains NaN or inf; {fix}")
        return anchor
    bad = jnp.stack([~jnp.all(jnp.isfinite(leaf)) for leaf in leaves]).any()
    return eqx.error_if(anchor, bad, f"{what} contains NaN or inf; {fix}")


def _check_representable(value, cast, name: str) -> None:
    """A concrete `dt`/`t0` that the run's float type turns into 0 or inf (`dt=1e-50` is
    0 in float32: every step at t = t0; `dt=1e39` is inf, reported as a NaN state)."""
    if _is_tracer(cast):
        return
    x = float(cast)
    if math.isinf(x) or (name == "dt" and x == 0.0):
        raise ValueError(
            f"{name}={value!r} ms is {x:g} in the model's {jnp.dtype(cast.dtype).name}: out "
            f"of its range. Pass a {name} in ms within it (or build the model in float64 "
            "with jax_enable_x64)."
        )


# the coarsest float spacing of the run's times accepted, as a fraction of dt. Beyond
# dt/2 two consecutive times t0 + k·dt, each rounded by up to half the spacing, may
# differ by less than half a step or more than 1.5 steps, and a time read by a model be
# off by more than a quarter step: the grid is no longer dt's. float32 reaches it at
# t ≈ 0.5·dt·2²³ ≈ 4.2e6·dt (a run of 10⁶ steps from t0 = 0 stays below it whatever dt;
# t0 = 1e6 ms at dt = 0.025 is 2.5 steps per spacing), float64 at ≈ 2.3e15·dt. A
# stricter fraction (1e-3) would refuse ordinary float32 runs: 1 s at dt = 0.025 ms
# already has a spacing of 0.24 % of dt.
_TIME_RESOLUTION = 0.5


def _check_time_resolution(t0, dt, n_steps: int) -> None:
    """A concrete `t0`/`dt` whose run reaches times that the run's float type cannot
    resolve to `_TIME_RESOLUTION·dt`: `t0 = 1e6` ms in float32 (spacing 0.0625 ms) gave
    `Solution.t = 1e6 + [0, 0.0625, 0.0625, 0.125, ...]` at dt = 0.025, and `t0 = 1e15`
    in float64 steps of 0.125, 0, 0.125 ms at dt = 0.1 — and so the `t` that
    time-dependent models read. Traced values are not checked."""
    if _is_tracer(t0) or _is_tracer(dt):
        return
    dtype = np.dtype(t0.dtype)
    step = float(dt)
    t_far = max(abs(float(t0)), abs(float(t0) + n_steps * step))
    spacing = float(np.spacing(dtype.type(t_far)))
    if spacing > _TIME_RESOLUTION * step:
        wider = (
            ", or run in float64 (jax.config.update('jax_enable_x64', True) and a float64 model)"
            if dtype.itemsize < 8
            else ""
        )
        raise ValueError(
            f"t0={float(t0):g} ms with dt={step:g} ms and {n_steps} steps reaches |t| = "
            f"{t_far:g} ms, where {dtype.name} spaces times {spacing:g} ms apart, more than "
            f"{_TIME_RESOLUTION:g}·dt: the run's times t0 + k·dt (Solution.t, and the t a "
            "time-dependent model reads) would be rounded by up to half that. Start at a "
            "smaller t0 (e.g. t0=0, adding the offset to Solution.t yourself in float64), "
            f"or run fewer steps per call{wider}."
        )


def check_parameter_types(model) -> None:
    """Every parameter field of `model` (those with a physical domain, at any depth) must
    hold a real number or array: a field replaced after construction (`eqx.tree_at`,
    which skips the converters) by a bool was read as 0/1, by a string or None failed
    inside JAX naming no parameter, by a complex number lost its imaginary part."""
    for name, value, field in parameter_fields(model):
        if not (value is None and _optional(field)):
            _check_parameter_value(model, name, value)
            _check_python_number_domain(model, name, value, field)


def _check_python_number_domain(model, name, value, field) -> None:
    """A parameter replaced after construction (`eqx.tree_at`) by a plain Python or NumPy
    number is not an array leaf, so the domain check (`check_domains`, which reads array
    leaves) skipped it: `tree_at(lambda m: m.t_ref, lif, -1.0)` (or NaN) ran with no
    refractory period, `r = inf` spiked at every step — no error (session-12 probes).
    Checked here against the field's declared domain, with the same message."""
    if not isinstance(value, (int, float, np.number)) or isinstance(value, (bool, np.bool_)):
        return
    domain = field.metadata.get("domain")
    if domain is None:
        return
    x = float(value)
    if not (np.isfinite(x) and bool(domain.contains(x))):
        why = f" ({domain.why})" if domain.why else ""
        raise ValueError(
            f"{type(model).__name__}.{name} must be {domain.describe()}{why} (got {x!r}, set "
            "after construction, e.g. by eqx.tree_at, which skips the checks); pass a "
            "physically valid value."
        )


def _optional(field) -> bool:
    """A parameter that may be None (a current-based synapse's `e_rev`)."""
    return field.default is None


def _check_parameter_value(model, name, value) -> None:
    where = f"{type(model).__name__}.{name}"
    if _is_tracer(value):
        dtype = value.dtype
    elif isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        dtype = None
    elif isinstance(value, (int, float, np.number, np.ndarray, jax.Array)):
        dtype = np.asarray(value).dtype if not isinstance(value, jax.Array) else value.dtype
    else:
        dtype = None
    if (
        dtype is None
        or not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))
        or jnp.issubdtype(dtype, jnp.bool_)
    ):
        raise TypeError(
            f"{where} must be a real number or array, got {value!r} (set after construction, "
            "e.g. by eqx.tree_at, which skips the checks). Pass a float array such as "
            "jnp.asarray(10.0)."
        )


def check_time(value, name: str, positive: bool):
    """`dt` / `t0`: a real number (or a traced scalar); `dt > 0`. Errors say what to pass."""
    if value is None or isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number in ms, got {value!r}.")
    arr = value if _is_tracer(value) else np.asarray(value)
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(f"{name} must be a real number in ms, got {value!r}.")
    if jnp.ndim(arr) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(arr)}.")
    ok_msg = f"{name} must be a finite time {'> 0 ' if positive else ''}in ms"
    if not _is_tracer(arr):
        x = float(arr)
        if not np.isfinite(x) or (positive and x <= 0):
            raise ValueError(f"{ok_msg}, got {name}={value!r}.")
        return value
    bad = ~jnp.isfinite(arr)
    if positive:
        bad = bad | (arr <= 0)
    return eqx.error_if(arr, bad, f"{ok_msg}; got a traced value outside that range.")


def prepare_inputs(inputs, dt) -> Any:
    """Sample stimuli at `dt` and return the inputs as a pytree of floating arrays that
    share a leading `n_steps >= 1` axis. Checks `dt` (when concrete) first."""
    check_time(dt, "dt", positive=True)
    inputs = jtu.tree_map(
        lambda x: x.sample(dt) if isinstance(x, AbstractStimulus) else x,
        inputs,
        is_leaf=lambda x: isinstance(x, AbstractStimulus),
    )
    if (
        isinstance(inputs, (list, tuple))
        and inputs
        and all(isinstance(v, (int, float, np.number)) for v in inputs)
    ):  # a pytree of scalars: each would be read as a separate input
        raise TypeError(
            f"inputs is a Python {type(inputs).__name__} of {len(inputs)} numbers; pass an "
            "array shaped (n_steps, *batch), e.g. jnp.asarray(inputs)."
        )
    leaves, treedef = jtu.tree_flatten(inputs)
    if not leaves:
        raise ValueError(
            "inputs is empty: pass arrays shaped (n_steps, *batch). A Network driven only "
            "by its Poisson drives still needs one entry to set n_steps, e.g. "
            "{name: jnp.zeros((n_steps, 1))}."
        )
    out = []
    for leaf in leaves:
        if isinstance(leaf, (str, bytes)) or leaf is None:
            raise TypeError(f"inputs must be arrays or stimuli, got {leaf!r}.")
        x = jnp.asarray(leaf)
        if jnp.issubdtype(x.dtype, jnp.complexfloating):
            raise TypeError(
                "inputs must be real; got complex values (their imaginary part would be "
                "dropped). Pass the real part explicitly if that is what you mean."
            )
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(
                f"inputs must be shaped (n_steps, *batch) with n_steps >= 1, got shape "
                f"{x.shape}. For a constant current I over T ms use jnp.full(int(T / dt), I); "
                "for a protocol of several current steps, (n_steps, n_sweeps)."
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        out.append(x)
    n = {x.shape[0] for x in out}
    if len(n) > 1:
        raise ValueError(
            f"every input array must have the same number of steps (leading axis); got {n}."
        )
    return jtu.tree_unflatten(treedef, out)


def n_steps_of(inputs) -> int:
    return jtu.tree_leaves(inputs)[0].shape[0]


def check_every(n_steps: int, every: int) -> None:
    if n_steps % every:
        raise ValueError(
            f"SaveAt(every={every}) must divide n_steps={n_steps}; trim or pad the inputs "
            "to a multiple of it."
        )


def _check_gates(model, y) -> None:
    """A concrete `state0`'s gating variables (the model's `gate_fields`, HH's m, h, n:
    open fractions) within [0, 1] — 1e-6 of slack for rounding in a saved final state.
    m = 1.5 ran silently (a 49 mV spike from rest with no input)."""
    for name in getattr(model, "gate_fields", None) or ():
        x = getattr(y, name, None)
        if x is None or _is_tracer(x):
            continue
        x = np.asarray(x)
        if x.size and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
            raise ValueError(
                f"state0's gate {name} of {type(model).__name__} lies in [{x.min():.6g}, "
                f"{x.max():.6g}]; a gating variable is an open fraction in [0, 1]. Start from "
                "model.init_state(batch_shape) or a Solution's final_state."
            )


def _one_step(inputs):
    return jtu.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), inputs)


def state_template(model: AbstractModel, inputs) -> ModelState:
    """The structure, shapes and dtypes (`jax.ShapeDtypeStruct` leaves) of the model's
    initial state for these inputs, without computing it: the state itself is computed
    inside the compiled run, where its operations cost no compilations of their own
    (evaluated here, HH's steady-state gates compiled 17 one-operation programs per new
    input shape)."""
    batch = model.batch_shape(_one_step(inputs))
    # through the jitted function `simulate` calls next: its trace is cached, so the
    # model's init_state is traced once per run, not twice (inside a gradient's trace,
    # Hay's cell: ~600 equations)
    return jax.eval_shape(functools.partial(_model_state_jit, batch_shape=batch), model)


def initial_state(model: AbstractModel, inputs, state0, template=None) -> ModelState | None:
    """`state0` as a `ModelState(y0, z0)` (a `ModelState`, or a continuous state `y` with
    the default discrete state), checked against the structure and shapes the model
    expects for these inputs; `None` for `state0=None` (the model's own initial state,
    computed inside the run)."""
    if state0 is None:
        return None
    ref = state_template(model, inputs) if template is None else template
    if not isinstance(state0, ModelState):
        state0 = ModelState(state0, model.init_discrete(model.batch_shape(_one_step(inputs))))
    state0 = _state0_as_arrays(model, state0)
    for part, want_tree, got in (("state", ref.y, state0.y), ("discrete state", ref.z, state0.z)):
        want = jtu.tree_structure(want_tree)
        if jtu.tree_structure(got) != want:
            raise ValueError(
                f"state0 does not match {type(model).__name__}'s {part}: expected the "
                f"structure {want}, got {jtu.tree_structure(got)}. Start from "
                "model.init_state(batch_shape) or a Solution's final_state."
            )
        for a, b in zip(jtu.tree_leaves(want_tree), jtu.tree_leaves(got), strict=True):
            if jnp.shape(a) != jnp.shape(b):
                raise ValueError(
                    f"state0's {part} has a leaf of shape {jnp.shape(b)} where "
                    f"{type(model).__name__} with these inputs needs {jnp.shape(a)}."
                )
    return state0


def _state0_as_arrays(model, state0: ModelState) -> ModelState:
    """`state0`'s continuous leaves as arrays, refusing what is not a real number (session-12
    probes): a Python number was not an array leaf, so a NaN one (`init_state()._replace(
    m=nan)`) escaped the NaN and gate checks and was reported as a NaN *parameter or
    input*; a complex leaf ran and returned a complex voltage; a bool leaf failed in
    JAX's "scan body function carry input and carry output must have equal types"."""

    def leaf(path, x):
        if x is None or _is_tracer(x):
            return x
        where = f"state0.y{jtu.keystr(path)} of {type(model).__name__}"
        if isinstance(x, (str, bytes)):
            raise TypeError(f"{where} must be a real number or array, got {x!r}.")
        a = np.asarray(x) if not isinstance(x, jax.Array) else x
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.extended):  # a typed PRNG key
            return x
        if jnp.issubdtype(a.dtype, jnp.complexfloating) or jnp.issubdtype(a.dtype, jnp.bool_):
            raise TypeError(
                f"{where} is {a.dtype}; a state holds real numbers (mV, open fractions, "
                "...). Start from model.init_state(batch_shape) or a Solution's final_state."
            )
        if not (jnp.issubdtype(a.dtype, jnp.number) or jnp.issubdtype(a.dtype, jnp.bool_)):
            raise TypeError(f"{where} must be a real number or array, got {x!r}.")
        return jnp.asarray(x) if isinstance(x, (int, float, np.number)) else x

    # the continuous state only: the discrete state may hold flags, counters and keys
    return ModelState(jtu.tree_map_with_path(leaf, state0.y), state0.z)


def _named_leaves(tree) -> list[tuple[str, Any]]:
    """`(".v", leaf)` pairs of the floating array leaves of a pytree (arrays, tracers or
    `jax.ShapeDtypeStruct`s), with printable paths."""
    return [
        (jtu.keystr(path), leaf)
        for path, leaf in jtu.tree_flatten_with_path(tree)[0]
        if hasattr(leaf, "dtype")
        and hasattr(leaf, "shape")
        and jnp.issubdtype(leaf.dtype, jnp.inexact)
    ]


def simulate(
    model: AbstractModel,
    inputs: Any,
    *,
    dt: RealScalarLike,
    solver: AbstractSolver | None = None,
    state0: Any = None,
    t0: RealScalarLike = 0.0,
    saveat: SaveAt = SaveAt(),
    adjoint: AbstractAdjoint = CheckpointAdjoint(),
    progress_meter: AbstractProgressMeter = NoProgress(),
    key: PRNGKeyArray | None = None,
    throw: bool = True,
) -> Solution:
    """Simulate `model` driven by `inputs` with time step `dt` (ms).

    **Arguments**

    - `model`: a neuron, cell or network (any `AbstractModel`).
    - `inputs`: a pytree of arrays (or `neurojax.stimuli` objects, sampled at `dt`) with a
      leading `n_steps` axis, held constant over each step. For a point neuron, one array
      of injected current shaped `(n_steps, *batch)` (µA/cm² for HH-type models, nA for
      integrate-and-fire models): `(n_steps, N)` simulates N neurons. Cells and networks
      document their own input pytree (sites, populations).
    - `dt`: time step, ms, > 0.
    - `solver`: an `AbstractSolver`; default `neurojax.solvers.default_solver(model)` (the
      model's declared `default_solver`, else one that fits its structure). A solver that cannot
      integrate the model's structure is refused here, naming one that can.
    - `state0`: initial state — `None` (the model's rest), a `ModelState(y, z)` such as a
      previous `Solution.final_state`, or a continuous state `y`.
    - `t0`: time at the start of the first step, ms.
    - `saveat`: what to keep (`SaveAt`): every k-th step, which variables, or a function.
    - `adjoint`: what `jax.grad` / `jax.jvp` through the run do. `CheckpointAdjoint()`
      (default; reverse mode, √n checkpointing above 10⁴ saved steps, or
      `CheckpointAdjoint(every=k)`), `DirectAdjoint()` (reverse mode, a state stored per
      step), `ForwardMode()` (forward mode only: `jax.jvp` / `jax.jacfwd` store nothing
      per step; `jax.grad` / `jax.vjp` raise a `TypeError` saying what to use instead),
      `PopulationAdjoint()` (reverse mode for `LIF` populations with `ExponentialEuler`:
      hand-written forward sensitivities, nothing stored per step; no `jax.jvp`).
    - `progress_meter`: `NoProgress()` or `TextProgress()`.
    - `key`: a PRNG key for models with random drives; step `i` sees
      `jax.random.fold_in(key, i)` in `StepInfo.key`, `i` counting from 0 in every call:
      a run continued in pieces (`state0=sol.final_state`) needs a new key per piece
      (`jax.random.fold_in(key, piece)`), or it replays the first piece's draws.
    - `throw`: raise if the run produced NaN or inf, naming the variable and the time
      (default). With `False` the values are returned as they are (`fit` uses this).

    Works under `jax.jit`, `jax.grad`, `jax.jvp` and `jax.vmap`; compiles once per input
    shape and option set (parameter values, `dt` and `t0` do not trigger recompilation),
    also for `jax.grad(...)` called outside any `jit` (the run is one cached compiled
    function there; inside the caller's `jit` it is inlined).

    **Errors**: every argument is checked before anything is compiled; traced values
    (parameters, `dt`, `inputs` inside `jit`) are checked at run time with
    `eqx.error_if`, whose message names the culprit.
    """
    check_instance("model", model, AbstractModel, "neurojax.HodgkinHuxley()")
    check_bool("throw", throw)
    check_parameter_types(model)
    if solver is None:
        solver = default_solver(model)
    check_instance("solver", solver, AbstractSolver, "neurojax.ExponentialEuler()")
    check_solver_fits(solver, model)
    check_instance("saveat", saveat, SaveAt, "neurojax.SaveAt(every=10)")
    check_instance("adjoint", adjoint, AbstractAdjoint, "neurojax.CheckpointAdjoint()")
    check_instance(
        "progress_meter", progress_meter, AbstractProgressMeter, "neurojax.TextProgress()"
    )
    check_domains(model)
    check_precision(model)
    inputs = prepare_inputs(inputs, dt)
    t0 = check_time(t0, "t0", positive=False)
    n_steps = n_steps_of(inputs)
    check_every(n_steps, saveat.every)
    template = state_template(model, inputs)
    state = initial_state(model, inputs, state0, template)
    given = state is not None
    if saveat.vars is not None:
        fields = getattr(template.y, "_fields", None)
        bad = [v for v in saveat.vars if fields is None or v not in fields]
        if bad:
            raise ValueError(
                f"SaveAt(vars=...) names {bad}, but {type(model).__name__} has state "
                f"variables {fields}."
            )
    if saveat.fn is not None:
        _check_saveat_fn(saveat.fn, template.y)
    if key is not None and not (eqx.is_array(key) or _is_tracer(key)):
        raise TypeError(f"key must be a jax.random key, got {key!r}.")

    # Concrete values are checked here, now; traced ones inside the run (`_Checks`), so
    # that a derivative taken outside `jit` does not evaluate (and compile) each check's
    # operations one by one.
    call = tuple(model.check_call(inputs, dt))  # concrete: raises now; traced: below
    checks = _Checks(
        state=given and _any_tracer(state),
        inputs=_any_tracer(inputs),
        parameters=traced_parameters(model),
        call=tuple(jnp.asarray(bad, bool) for bad, _ in call),
        call_messages=tuple(message for _, message in call),
    )
    if given and not checks.state:
        check_finite(state, *_STATE0_CHECK)
        _check_gates(model, state.y)
    if not checks.inputs:
        check_finite(inputs, *_INPUTS_CHECK)
    ftype = jnp.promote_types(
        jnp.result_type(*[x.dtype for x in jtu.tree_leaves(template.y)] or [float]),
        jnp.float32,
    )
    dt_ = jnp.asarray(check_time(dt, "dt", positive=True), ftype)
    t0_ = jnp.asarray(t0, ftype)
    _check_representable(dt, dt_, "dt")
    _check_representable(t0, t0_, "t0")
    _check_time_resolution(t0_, dt_, n_steps)
    if not given:  # after every check: nothing is compiled for a call that will be refused
        state = _model_state_jit(model, batch_shape=model.batch_shape(_one_step(inputs)))
    # parameters are widened to the population only where a derivative w.r.t. the model
    # is being taken (`_broadcast_parameters`); a static flag, so each case compiles once
    widen = _differentiated(jtu.tree_leaves(model))
    # any derivative being taken (the adjoint's memory-based checkpointing applies then)
    differentiated = widen or _differentiated(jtu.tree_leaves((inputs, state, dt_, t0_)))
    args = (
        model, solver, inputs, state, dt_, t0_, key, saveat, adjoint, progress_meter, widen,
        differentiated, checks,
    )  # fmt: skip
    # Called eagerly, or under transformations evaluated eagerly (jax.grad, jax.jvp,
    # jax.vmap outside any jit), the run goes through one cached compiled function
    # (`_run_jit`) that also holds the NaN/inf checks: inlined, the scan would be traced
    # afresh on every call and compiled again (1–3 s per gradient), while JAX caches the
    # derivative of a jitted function. Eager evaluation materialises every output of the
    # run anyway, so the jit boundary costs no memory there. Inside the caller's own jit
    # it is inlined instead: a jit boundary there would keep every saved output alive,
    # even those the caller never uses (measured: the gradient of mean(v²) over 10⁴ HH
    # steps needed 527 kB instead of 207 kB).
    messages = _nonfinite_messages(model, template)
    with _explain_precision_drift(model):
        if _under_jit(jtu.tree_leaves(args)):
            sol = _integrate(*args)
            return _tie_nonfinite_errors(sol, messages) if throw else sol
        if not throw:
            return _run_jit(*args, finish=None)
        if _any_tracer(args):  # grad/jvp/vmap outside jit: the checks are tied to the outputs
            return _run_jit(*args, finish=messages)
        sol, report = _run_jit(*args, finish="report")
    _raise_if_nonfinite(model, sol, jax.device_get(report), float(t0_ + 1.5 * dt_))
    return sol


def _check_saveat_fn(fn, y_template) -> None:
    """`SaveAt(fn=...)` evaluated on the state's shapes (no computation): what it returns
    must be arrays (a pytree of them). A string or other object failed inside the scan
    with JAX's "function block ... traced for scan returned a value of type <class 'str'>"
    naming neither SaveAt nor fn."""
    try:
        jax.eval_shape(fn, y_template)
    except TypeError as e:
        if "not a valid JAX type" not in str(e):
            raise
        raise TypeError(
            f"SaveAt(fn={getattr(fn, '__name__', fn)!r}) must return arrays (or a pytree of "
            "arrays, e.g. a dict or tuple of them) computed from the state, such as "
            f"`lambda y: y.v[..., :10]`; JAX said: {e}"
        ) from None


@contextlib.contextmanager
def _explain_precision_drift(model):
    """JAX's "scan body function carry input and carry output must have equal types ...
    float32 ... float64" (a model mixing float32 and float64 arrays: built before x64 was
    turned on, or with float32 arrays put in under x64, so that a step promotes its state)
    re-raised saying what happened and what to do."""
    try:
        yield
    except TypeError as e:
        text = str(e)
        if "carry input and carry output must have equal types" not in text or not (
            "float32" in text and "float64" in text
        ):
            raise
        raise TypeError(
            f"{type(model).__name__} mixes float32 and float64 arrays, so a step turns its "
            "float32 state into float64 — typically a model built before "
            "jax.config.update('jax_enable_x64', True) (or outside jax.enable_x64()) and "
            "simulated with it on. Build the model with x64 already on, or cast it: "
            "jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else "
            "x, model). (JAX's message follows.)"
        ) from e


def _model_state(model, batch_shape) -> ModelState:
    return ModelState(model.init_state(batch_shape), model.init_discrete(batch_shape))


# The model's own initial state as one compiled program per model type and batch shape,
# whatever the run's length: evaluated op by op, HH's steady-state gates compiled 17
# one-operation programs per new shape; inlined into the run, a model whose rest state is
# a Newton solve (FitzHugh–Nagumo, Morris–Lecar) compiled that solve into every run
# (measured: +50–90 % compile time for each new run length).
_model_state_jit = eqx.filter_jit(_model_state)


class _Checks(NamedTuple):
    """Which run-time checks `_integrate` ties to the initial state (static): the
    concrete values were checked before the run."""

    state: bool  # state0 is traced: finite?
    inputs: bool  # the inputs are traced: finite?
    parameters: tuple[str, ...]  # the traced parameters: in their domains?
    call: tuple = ()  # `model.check_call`'s traced flags (True: bad), ...
    call_messages: tuple[str, ...] = ()  # ... and their messages


_STATE0_CHECK = ("state0", "start from model.init_state(...) or a finite Solution.final_state.")
_INPUTS_CHECK = ("inputs", "check the stimulus (e.g. jnp.isfinite(inputs).all()).")


def _any_tracer(tree) -> bool:
    return any(_is_tracer(leaf) for leaf in jtu.tree_leaves(tree))


def _run(*args, finish):
    """`_integrate` and its NaN/inf checks in one program: `finish="report"` returns the
    solution and `_nonfinite_report`'s arrays (a concrete run: the Python side raises),
    a tuple of messages ties `eqx.branched_error_if` to the outputs (a traced run), `None`
    returns the solution unchecked (`throw=False`)."""
    sol = _integrate(*args)
    if finish is None:
        return sol
    if finish == "report":
        return sol, _nonfinite_report(sol)
    return _tie_nonfinite_errors(sol, finish)


_run_jit = eqx.filter_jit(_run)


_ADVICE = (
    "Try a smaller dt, or a solver that is stable at larger steps: for point neurons "
    "neurojax.ExponentialRK2() or neurojax.ExponentialEuler(), for coupled models and "
    "cables neurojax.Rosenbrock2() or neurojax.BackwardEuler(); and check the inputs and "
    "parameters for extreme values. Pass throw=False to get the values anyway."
)


_ADVICE_FIRST_STEP = (
    "That is within the first step, before any instability could have grown: the "
    "likely cause is a parameter, an input or a mechanism's rate that is NaN or inf from "
    "the start (an exp() of a large argument, a division by zero at the initial "
    "voltage), not the step size. Check those first; a smaller dt helps only if the "
    "first step itself overshoots. Pass throw=False to get the values anyway."
)


def _nonfinite_messages(model, template: ModelState) -> tuple[str, ...]:
    """One message per floating leaf of the final state, in `_named_leaves` order."""
    return tuple(
        f"{type(model).__name__}: the state variable {name} became NaN or inf during the "
        f"run. {_ADVICE}"
        for name, _ in _named_leaves(template.y)
    )


def _nonfinite_report(sol: Solution):
    """`(bad_rows, final_bad)`: for the kept trajectories (leading axis = the saved
    times), whether each saved row holds a NaN/inf in any of them; whether the final
    state holds one. Computed inside the run's own program as one row reduction
    (`Σ x·0` is NaN exactly where `x` has a NaN or inf), with no boolean array the size of
    the recording (which cost ~100 MB on a 400 MB one). XLA:CPU compiles each reduction as
    a kernel of its own, at ~40 ms each on 2 cores: a NaN/inf test, a max and an argmax
    per trajectory, as before, cost 0.3 s of compilation per new input shape (0.08 s
    now), as much as an LIF run's own."""
    kept = [leaf for _, leaf in _named_leaves(sol.states) if leaf.ndim >= 1]
    finals = [leaf for _, leaf in _named_leaves(sol.final_state.y)]
    n = sol.t.shape[0]
    rows = sum((jnp.sum(x.reshape(n, -1) * 0, axis=1) for x in kept), jnp.zeros(n))
    final = sum((jnp.sum(x * 0) for x in finals), jnp.zeros(()))
    return jnp.isnan(rows), jnp.isnan(final)


def _tie_nonfinite_errors(sol: Solution, messages: tuple[str, ...]) -> Solution:
    """`eqx.branched_error_if` on each inexact output: raises at run time with the
    message of the first final-state leaf that holds a NaN/inf. Tied to each output
    separately, so outputs the caller does not use (and their check) are still removed by
    XLA instead of being kept alive by the check. Traced, only the final state (any NaN/inf
    in a run almost always persists to the end), so the check adds no memory to the run."""
    finals = [leaf for _, leaf in _named_leaves(sol.final_state.y)]
    if not finals:
        return sol
    bad = jnp.stack([~jnp.all(jnp.isfinite(leaf)) for leaf in finals])

    def tie(x):
        if not eqx.is_inexact_array(x):
            return x
        return eqx.branched_error_if(x, bad.any(), jnp.argmax(bad), messages)

    return jtu.tree_map(tie, sol)


def _raise_if_nonfinite(model, sol: Solution, report, first_step_end: float) -> None:
    """Raise for a concrete run from `_nonfinite_report`'s values, naming the first kept
    variable that went bad and when, else the first bad final-state leaf. A variable bad
    by `first_step_end` (t0 + 1.5 dt) was not made so by a growing instability: the
    advice then names parameters, inputs and rates first, not the step size."""
    bad_rows, final_bad = report
    if bad_rows.any():
        row = int(np.argmax(bad_rows))
        advice = _ADVICE if float(sol.t[row]) > first_step_end else _ADVICE_FIRST_STEP
        for name, leaf in _named_leaves(sol.states):
            if leaf.ndim >= 1 and not np.all(np.isfinite(np.asarray(leaf[row]))):
                raise FloatingPointError(
                    f"{type(model).__name__}: the state variable {name} became NaN or inf, "
                    f"first at t = {float(sol.t[row]):.6g} ms. {advice}"
                )
    if final_bad:
        for name, leaf in _named_leaves(sol.final_state.y):
            if not np.all(np.isfinite(np.asarray(leaf))):
                raise FloatingPointError(
                    f"{type(model).__name__}: the state variable {name} became NaN or inf "
                    f"by the end of the run (t = {float(sol.t[-1]):.6g} ms). {_ADVICE}"
                )


def _broadcast_parameters(model, inputs):
    """A point-neuron population with its parameters broadcast to the population shape.

    Reverse mode accumulates the cotangent of every parameter the time loop reads in the
    loop itself: a scalar parameter of N neurons costs a sum over N per step (its
    broadcast transposed), a broadcast one an elementwise add, summed once after the loop.
    Measured: HH ExponentialRK2, 10³ neurons, gradient 20 % faster. The values are
    unchanged; models without `population_shape` (cells, networks) are left as they are.

    Only in runs differentiated w.r.t. the model (`simulate`'s `widen`): a forward run
    reads scalar parameters as scalars. Widened there too, every step read each one as an
    array of N: LIF, 10⁵ neurons, 1000 steps, 1080 → 228 ms (memory-bound)."""
    population_shape = getattr(model, "population_shape", None)
    if population_shape is None:
        return model
    shape = population_shape(model.batch_shape(_one_step(inputs)))
    if not shape:
        return model

    def widen(x):
        if not eqx.is_inexact_array(x) or x.shape == shape:
            return x
        return jnp.broadcast_to(x, jnp.broadcast_shapes(x.shape, shape))

    return jtu.tree_map(widen, model)


def _differentiated(leaves) -> bool:
    """Whether any leaf carries a forward/reverse-mode derivative (a JVP or linearize
    tracer, possibly inside vmap's batch tracers) at the time `simulate` is called.
    Unknown tracer types count as differentiated. A derivative applied later to a
    staged trace (`jax.grad` of a `lax.scan` or `jax.checkpoint` that calls `simulate`)
    is not seen: that gradient is as correct, and slower (see `_broadcast_parameters`)."""
    for x in leaves:
        depth = 0
        while _is_tracer(x) and depth < 64:
            name = type(x).__name__
            if name in ("JVPTracer", "LinearizeTracer"):
                return True
            if name == "BatchTracer":
                x = x.val
            elif name == "DynamicJaxprTracer":
                break
            else:
                return True
            depth += 1
    return False


def _integrate(
    model,
    solver,
    inputs,
    state,
    dt,
    t0,
    key,
    saveat,
    adjoint,
    progress_meter,
    widen=True,
    differentiated=True,
    checks=None,
):
    # what the adjoint says about differentiation (ForwardMode: forward mode only)
    model, inputs, state, dt, t0 = adjoint.prepare((model, inputs, state, dt, t0))
    if checks is not None:  # the traced values' checks, tied to the initial state
        if checks.state:
            state = check_finite(state, *_STATE0_CHECK)
        if checks.inputs:
            state = check_finite(inputs, *_INPUTS_CHECK, anchor=state)
        if checks.parameters:
            state = error_if_outside(model, state, checks.parameters)
        if checks.call:
            bad = jnp.stack([jnp.any(b) for b in checks.call])
            state = eqx.branched_error_if(state, bad.any(), jnp.argmax(bad), checks.call_messages)
    if isinstance(adjoint, PopulationAdjoint):
        # what it differentiates, checked whether or not this trace is differentiated
        # (under `jax.grad(jax.jit(f))` it is not: a review found a HodgkinHuxley run
        # accepted there, silently by the ordinary loop)
        check_population_adjoint(model, solver, key, saveat, progress_meter)
    if differentiated and isinstance(adjoint, PopulationAdjoint):
        # its own reverse pass: parameters stay as given (no widening, see there)
        model = model.prepare_loop()
        return population_loop(model, solver, inputs, state, dt, t0, saveat)
    if widen and adjoint.recompute_steps():
        model = _broadcast_parameters(model, inputs)
    # loop-invariant arrays the model derives from its parameters, once per call
    # (`AbstractModel.prepare_loop`; a `Cell`'s merged mechanism parameters)
    model = model.prepare_loop()
    size = _population_block(
        model, solver, inputs, state, key, saveat, progress_meter, differentiated
    )
    if size is not None:
        return _blocked_loop(size, model, solver, inputs, state, dt, t0, saveat, adjoint)
    return _loop(
        model, solver, inputs, state, dt, t0, key, saveat, adjoint, progress_meter, differentiated
    )


def _with_tangents(y, anchor):
    """`y` unchanged, every floating leaf given a tangent that JAX cannot prove zero, when
    some leaf of `anchor` is being differentiated: `select(True, y, a)` with `a` one value
    of a differentiated leaf. The select is the identity on values and its derivative
    w.r.t. `a` is exactly zero (a select, not `0·ȧ`: no NaN from an infinite cotangent);
    XLA folds it away.

    Why: `lax.scan`'s JVP and linearize rules find which carries have nonzero tangents by
    a fixpoint — the body is differentiated with the initial carry's pattern, and again
    with the union when the body's outputs have more. A model whose initial state does not
    depend on the differentiated parameters (Hay's cell: its gates start at their steady
    state at `v_init`, which reads no density) had its whole step differentiated twice
    while a gradient was traced (0.4 of ~3 CPU-s of tracing; benchmarks/README.md, Hay
    section, "Session 14"). With every floating carry differentiated from the start, the
    first pass is the fixpoint. A carry whose tangent would have stayed zero through the
    step (a fixed concentration) is carried as zeros instead."""
    a = next((x for x in jtu.tree_leaves(anchor) if _differentiated([x]) and jnp.size(x)
              and jnp.issubdtype(x.dtype, jnp.floating)), None)  # fmt: skip
    if a is None:
        return y
    a = jnp.ravel(a)[0]
    keep = jnp.ones((), bool)

    def tie(x):
        if not (eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.inexact)) or _differentiated([x]):
            return x
        return jax.lax.select(keep, x, jnp.broadcast_to(a.astype(x.dtype), x.shape))

    return jtu.tree_map(tie, y)


def _loop(
    model, solver, inputs, state, dt, t0, key, saveat, adjoint, progress_meter, differentiated
):
    """The time loop proper: `lax.scan` over blocks of `saveat.every` steps."""
    n_steps = n_steps_of(inputs)
    every = saveat.every
    n_blocks = n_steps // every

    def keep(y):
        y = model.from_loop_state(y)  # the caller's layout (`AbstractModel.to_loop_state`)
        if saveat.fn is not None:
            return saveat.fn(y)
        if saveat.vars is not None:
            return y._replace(**{f: None for f in y._fields if f not in saveat.vars})
        return y

    def step(carry, x):
        i, y, z = carry
        t = t0 + i.astype(t0.dtype) * dt  # from the index: long runs accumulate no rounding
        y_new = solver.step(model, t, y, x, dt)
        k = None if key is None else jax.random.fold_in(key, i)
        y_new, z, events = model.event_step(StepInfo(i, t, dt, k), y, y_new, z, x)
        return (i + 1, y_new, z), events

    if adjoint.recompute_steps():
        # store the state per step, recompute the step's intermediates in the backward
        # pass (AbstractAdjoint.recompute_steps); no effect on the forward run.
        # prevent_cse=False: inside a scan, CSE cannot merge the replay with the forward.
        step = jax.checkpoint(step, prevent_cse=False)

    def block(carry, xs):
        if every == 1:
            carry, events = step(carry, xs)
        else:
            # Events are summed in the carry: stacking (every, *batch) spikes and summing
            # afterwards was up to 16x slower for 10^5 neurons on CPU (benchmarks/).
            def counted(c, x):
                carry, count = c
                carry, events = step(carry, x)
                return (carry, jtu.tree_map(jnp.add, count, events)), None

            shape = jax.eval_shape(step, carry, jtu.tree_map(lambda a: a[0], xs))[1]
            count = jtu.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
            (carry, events), _ = jax.lax.scan(counted, (carry, count), xs)
        progress_meter.report(carry[0] // every - 1, n_blocks)
        if not saveat.spikes:
            events = None
        elif saveat.spike_dtype is not None:
            events = jtu.tree_map(lambda e: e.astype(saveat.spike_dtype), events)
        return carry, (keep(carry[1]), events)

    # every == 1 scans the inputs as they are: a (n, 1, ...) reshape made XLA copy them
    # (another layout), 381 MiB for 10⁴ LIF × 10⁴ steps (benchmarks/README.md)
    if every == 1:
        xs = inputs
    else:
        xs = jtu.tree_map(lambda a: a.reshape(n_blocks, every, *a.shape[1:]), inputs)
    y0 = model.to_loop_state(state.y)
    if differentiated:
        y0 = _with_tangents(y0, (model, inputs, dt, t0))
    carry = (jnp.asarray(0, dtype=jnp.int32), y0, state.z)
    state_bytes = sum(
        x.size * x.dtype.itemsize for x in jtu.tree_leaves((state.y, state.z)) if eqx.is_array(x)
    )
    chunk = adjoint.checkpoint_every(n_blocks, every, state_bytes if differentiated else 0)
    if chunk is None or chunk >= n_blocks:
        carry, ys = jax.lax.scan(block, carry, xs)
    else:
        n_chunks = n_blocks // chunk
        head = jtu.tree_map(
            lambda a: a[: n_chunks * chunk].reshape(n_chunks, chunk, *a.shape[1:]), xs
        )

        @jax.checkpoint
        def chunk_fn(carry, xs_chunk):
            return jax.lax.scan(block, carry, xs_chunk)

        carry, ys = jax.lax.scan(chunk_fn, carry, head)
        ys = jtu.tree_map(lambda y: y.reshape(n_chunks * chunk, *y.shape[2:]), ys)
        if n_chunks * chunk < n_blocks:
            tail = jtu.tree_map(lambda a: a[n_chunks * chunk :], xs)
            carry, ys_tail = jax.lax.scan(block, carry, tail)
            ys = jtu.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, ys_tail)
    states, events = ys
    steps = every * jnp.arange(1, n_blocks + 1, dtype=jnp.int32)
    t = t0 + steps.astype(t0.dtype) * dt
    final = ModelState(model.from_loop_state(carry[1]), carry[2])

    return Solution(t=t, states=states, spikes=events, final_state=final)


# --------------------------------------------------------------------------------------
# Forward runs of large point-neuron populations on CPU are run in blocks of neurons, each
# block's whole time loop at once (loop tiling): a population's step is a few elementwise
# passes over its state (XLA:CPU makes one pass per output and copies the loop-carried
# arrays), and at 10⁵ LIF neurons (~2 MB of state and temporaries) every pass streamed
# through the L3 cache; a block of ~1000 neurons stays in L1/L2 for all its steps.
# Measured (LIF 10⁵ × 1000 steps, SaveAt(every=100), CPU time, one process, shared 2-core
# VM): see BLOCK_BYTES. The results are the same bit for bit (each neuron's arithmetic is
# unchanged). Only where it cannot change a result: an `Elementwise` model with a
# `population_shape` (point neurons; not networks, whose events couple neurons), a 1-D
# population, every parameter, input, state and event leaf either shared or shaped like
# the population, no PRNG key (a block would draw other numbers), no `SaveAt.fn` (it may
# reduce over neurons), no progress meter, and not differentiated (reverse mode keeps the
# checkpointed loop; a derivative taken later of a staged trace still works: the loop over
# blocks is differentiable; blocks measured no faster for HH gradients: 700 → 650 ms at
# 10⁴ neurons, within the noise). And only where it pays: on CPU (GPUs want the whole
# population in one kernel) with one device (a sharded population keeps one loop), above
# `BLOCK_ABOVE`, for recordings of at most every `BLOCK_MIN_EVERY`-th step.

BLOCK_BYTES = 1 << 15
"""Bytes of per-neuron state, parameters and inputs per block of a blocked population run
(`_population_block`): with LIF's 20 B per neuron (V and the refractory timer count
twice, carried and saved; `v_rest`), blocks of 1638 neurons. Measured, LIF 10⁵ × 1000 steps,
CPU time per run, one process, alternating, shared 2-core VM at load 4–5: one loop
148 ms; blocks of 16, 32 and 64 kB 94, 92 and 101 ms (1.6×); 3·10⁴ neurons 34 → 30 ms
(10⁴, below `BLOCK_ABOVE`: 10.7 ms as one loop, 10.0 in blocks)."""

BLOCK_MIN = 256
"""The smallest block (neurons): below, the loop's per-step overhead dominates."""

BLOCK_MIN_EVERY = 10
"""Blocked runs only for `SaveAt(every=k)` with `k` at least this: each block's recording
is copied into the population's once more, which costs more than the blocks gain when
most steps are kept (LIF 3·10⁴ × 1000 steps, CPU: every step kept 217 ms as one loop,
281 ms in blocks; every 2nd 137 / 166 ms; every 10th 44 / 41 ms)."""

BLOCK_ABOVE = 1 << 19
"""Populations whose per-neuron bytes (as `BLOCK_BYTES`) total less run as one loop: their
arrays stay in the L2 cache anyway, and a compute-bound model gains nothing from blocks
(HH, 10⁴ neurons, 360 kB: 149 → 160 ms CPU blocked; 10⁵: 1439 → 1391 ms)."""


def _population_block(
    model, solver, inputs, state, key, saveat, progress_meter, differentiated
) -> int | None:
    """The block size (neurons) for a blocked forward run, or `None` for one loop."""
    if differentiated or key is not None or saveat.fn is not None:
        return None
    if saveat.every < BLOCK_MIN_EVERY:
        return None
    if not isinstance(progress_meter, NoProgress) or jax.default_backend() != "cpu":
        return None
    if jax.device_count() > 1:  # a population split over devices (sharding): one loop
        return None
    population_shape = getattr(model, "population_shape", None)
    if population_shape is None or not isinstance(model.structure, Elementwise):
        return None
    shape = tuple(population_shape(model.batch_shape(_one_step(inputs))))
    if len(shape) != 1:
        return None
    (n,) = shape
    n_steps = n_steps_of(inputs)
    per_neuron = 0
    for x in jtu.tree_leaves(model):
        if not eqx.is_array(x):
            continue
        if x.shape == shape:
            per_neuron += x.dtype.itemsize
        elif x.shape != ():
            return None
    for x in jtu.tree_leaves(inputs):
        if x.shape == (n_steps, n):
            per_neuron += x.dtype.itemsize
        elif x.shape != (n_steps,):
            return None
    for x in jtu.tree_leaves((state.y, state.z)):
        if not eqx.is_array(x) or x.shape != shape:
            return None
        per_neuron += 2 * x.dtype.itemsize  # carried and saved (or a spike count)
    size = max(BLOCK_MIN, BLOCK_BYTES // max(per_neuron, 1))
    if n * per_neuron < BLOCK_ABOVE or n < 2 * size:
        return None

    # every event leaf one per neuron (a model's event_step could return a population sum)
    def one_step(y, z, x):
        y_new = solver.step(model, t0, y, x, dt)
        return model.event_step(StepInfo(jnp.asarray(0), t0, dt, None), y, y_new, z, x)

    t0 = dt = jnp.asarray(0.1, jnp.result_type(*jtu.tree_leaves(state.y)))
    out = jax.eval_shape(one_step, state.y, state.z, jtu.tree_map(lambda a: a[0], inputs))
    if any(leaf.shape != shape for leaf in jtu.tree_leaves(out)):
        return None
    return size


def _blocked_loop(size, model, solver, inputs, state, dt, t0, saveat, adjoint) -> Solution:
    """`_loop` over blocks of `size` neurons in turn (`_population_block` says when), each
    block's outputs written in place into the whole population's (no copy of the inputs or
    of the recording). A last partial block is the population's last `size` neurons: the
    neurons it shares with the previous block are computed twice, identically."""
    (n,) = jtu.tree_leaves(state.y)[0].shape
    n_blocks = -(-n // size)

    def per_neuron(x):
        return eqx.is_array(x) and x.ndim >= 1

    def one(start):
        def take(x, axis):
            return jax.lax.dynamic_slice_in_dim(x, start, size, axis=axis)

        block_model = jtu.tree_map(lambda x: take(x, 0) if per_neuron(x) else x, model)
        block_inputs = jtu.tree_map(lambda x: take(x, 1) if x.ndim == 2 else x, inputs)
        block_state = jtu.tree_map(lambda x: take(x, 0), state)
        sol = _loop(
            block_model, solver, block_inputs, block_state, dt, t0, None, saveat, adjoint,
            NoProgress(), False,
        )  # fmt: skip
        return sol.states, sol.spikes, sol.final_state

    def start_of(b):
        return jnp.minimum(b * size, n - size)

    # the population axis is the last of every output leaf: (n_saved, size) or (size,)
    shapes = jax.eval_shape(one, jnp.asarray(0))
    out = jtu.tree_map(lambda x: jnp.zeros((*x.shape[:-1], n), x.dtype), shapes)

    def body(b, out):
        start = start_of(b)
        block = one(start)
        return jtu.tree_map(
            lambda o, x: jax.lax.dynamic_update_slice_in_dim(o, x, start, axis=x.ndim - 1),
            out,
            block,
        )

    states, spikes, final = jax.lax.fori_loop(0, n_blocks, body, out)
    n_saved = n_steps_of(inputs) // saveat.every
    steps = saveat.every * jnp.arange(1, n_saved + 1, dtype=jnp.int32)
    return Solution(
        t=t0 + steps.astype(t0.dtype) * dt, states=states, spikes=spikes, final_state=final
    )


_integrate_jit = eqx.filter_jit(_integrate)
