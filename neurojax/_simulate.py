"""`simulate`: the one place that loops over time."""

from __future__ import annotations

import difflib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax import core as _core
from jaxtyping import Array, ArrayLike

from ._model import AbstractModel
from ._solution import Solution
from .solvers import AbstractSolver
from .stimuli import AbstractStimulus

_OPTIONS = ("dt", "solver", "state0", "t0", "record", "save_every", "checkpoint_every", "progress")


def _is_concrete(x) -> bool:
    return not isinstance(x, _core.Tracer)


def check_parameters(model: AbstractModel, state0):
    """Raise if a parameter is NaN/inf: at once for concrete values, and through
    `eqx.error_if` at run time for traced ones (inside `jit`/`grad`/`vmap`). Returns
    `state0`, tied to the run-time check."""
    traced, names = [], []
    for path, leaf in jtu.tree_flatten_with_path(eqx.filter(model, eqx.is_array))[0]:
        if not _is_concrete(leaf):
            traced.append(jnp.all(jnp.isfinite(leaf)))
            names.append(jtu.keystr(path))
        elif not np.all(np.isfinite(np.asarray(leaf))):
            raise ValueError(
                f"{type(model).__name__}{jtu.keystr(path)} is not finite ({np.asarray(leaf)}); "
                "every parameter must be a finite number."
            )
    if traced:
        state0 = eqx.error_if(
            state0,
            ~jnp.all(jnp.stack(traced)),
            f"a parameter of {type(model).__name__} (one of {', '.join(names)}) is not "
            "finite (NaN or inf); every parameter must be a finite number.",
        )
    return state0


def _progress_printer(n_blocks: int):
    def report(i):
        i = int(i) + 1
        end = "\n" if i >= n_blocks else ""
        print(
            f"\rneurojax.simulate: {100 * i / n_blocks:5.1f}% ({i}/{n_blocks})",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return report


def prepare_inputs(inputs, dt) -> Array:
    """Check `dt` (when concrete), sample a stimulus at `dt`, and return the injected
    current as a floating array `(n_steps, *batch)` with `n_steps >= 1`."""
    if _is_concrete(dt) and not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite time step > 0 in ms, got dt={dt!r}.")
    if isinstance(inputs, AbstractStimulus):
        inputs = inputs.sample(dt)
    inputs = jnp.asarray(inputs)
    if inputs.ndim == 0 or inputs.shape[0] == 0:
        raise ValueError(
            f"inputs must be shaped (n_steps, *batch) with n_steps >= 1, got shape {inputs.shape}. "
            "For a constant current I over T ms use jnp.full(int(T / dt), I); for a protocol "
            "of several current steps, (n_steps, n_sweeps)."
        )
    if not jnp.issubdtype(inputs.dtype, jnp.floating):
        inputs = inputs.astype(jnp.result_type(float))
    return inputs


def check_saving(n_steps: int, save_every, checkpoint_every) -> tuple[int, int | None]:
    """`save_every` must divide `n_steps`; `checkpoint_every` (or `None`) must be a
    multiple of it. Returns both as ints."""
    save_every = int(save_every)
    if save_every < 1 or n_steps % save_every:
        raise ValueError(
            f"save_every={save_every} must be a positive divisor of n_steps={n_steps}; "
            "trim or pad the inputs to a multiple of it."
        )
    if checkpoint_every is not None:
        checkpoint_every = int(checkpoint_every)
        if checkpoint_every < 1 or checkpoint_every % save_every:
            raise ValueError(
                f"checkpoint_every={checkpoint_every} must be a positive multiple of "
                f"save_every={save_every}."
            )
    return save_every, checkpoint_every


def simulate(
    model: AbstractModel,
    inputs: ArrayLike | AbstractStimulus,
    *,
    dt: float,
    solver: AbstractSolver | None = None,
    state0=None,
    t0: float = 0.0,
    record: tuple[str, ...] | None = None,
    save_every: int = 1,
    checkpoint_every: int | None = None,
    progress: bool = False,
    **unknown,
) -> Solution:
    """Simulate `model` driven by `inputs` with time step `dt` (ms).

    **Arguments**

    - `model`: a neuron, cell or network (any `AbstractModel`).
    - `inputs`: injected current, shaped `(n_steps, *batch)` (µA/cm² for HH-type models,
      nA for integrate-and-fire models), held constant over each step; or a stimulus object
      from `neurojax.stimuli`, sampled at `dt`. `batch` must broadcast with the parameter
      shapes: `(n_steps, N)` simulates N neurons.
    - `dt`: time step in ms, > 0.
    - `solver`: an `AbstractSolver` instance; default `model.default_solver`.
    - `state0`: initial state (default `model.init_state(batch)`: rest).
    - `t0`: time of the first step, ms.
    - `record`: names of state variables to keep in `Solution.states` (default all);
      `v` and `spikes` are always recorded.
    - `save_every`: keep every k-th step only (must divide `n_steps`); spikes are summed over
      the k steps so none is lost.
    - `checkpoint_every`: gradient checkpointing over chunks of this many steps (a multiple
      of `save_every`): reverse-mode memory falls from O(n_steps) model states to
      O(n_steps/chunk + chunk), at the price of one extra forward pass. √n_steps is a good
      choice for long runs.
    - `progress`: print a progress line to stderr during the run; when `False` no callback
      is compiled in at all.

    Works under `jax.jit`, `jax.grad` and `jax.vmap`; compiles once per input shape.
    """
    if unknown:
        name = next(iter(unknown))
        close = difflib.get_close_matches(name, _OPTIONS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(
            f"simulate() got an unknown option {name!r}.{hint} "
            f"Valid options: {', '.join(_OPTIONS)}."
        )
    if not isinstance(model, AbstractModel):
        raise TypeError(
            f"simulate() needs a neurojax model (an AbstractModel), got {type(model).__name__}."
        )
    if solver is None:
        solver = model.default_solver
    elif not isinstance(solver, AbstractSolver):
        known = {n.lower(): n for n in ("Euler", "ExponentialEuler", "ExponentialRK2", "RK4")}
        name = known.get(str(solver).lower().replace("_", ""))
        hint = f" Did you mean solver=neurojax.{name}()?" if name else ""
        raise TypeError(
            f"solver must be a solver object such as neurojax.ExponentialEuler(), got "
            f"{solver!r}.{hint}"
        )
    inputs = prepare_inputs(inputs, dt)
    n_steps, batch = inputs.shape[0], inputs.shape[1:]
    save_every, checkpoint_every = check_saving(n_steps, save_every, checkpoint_every)
    n_blocks = n_steps // save_every
    chunk = None if checkpoint_every is None else checkpoint_every // save_every
    if state0 is None:
        state0 = model.init_state(batch)
    else:
        model.init_state(batch)  # validates the input shape against the model
    state0 = check_parameters(model, state0)
    fields = getattr(state0, "_fields", None)
    if record is not None:
        record = (record,) if isinstance(record, str) else tuple(record)
        bad = [r for r in record if fields is None or r not in fields]
        if bad:
            raise ValueError(
                f"cannot record {bad}: {type(model).__name__} has state variables {fields}."
            )

    def keep(state):
        if record is None:
            return state
        return state._replace(**{f: None for f in fields if f not in record})

    t0 = jnp.asarray(t0, dtype=inputs.dtype)

    def step(carry, current):
        i, state = carry
        t = t0 + i * dt  # from the step index, so long runs do not accumulate rounding
        new_state = solver.step(model, t, state, current, dt)
        new_state, spikes = model.post_step(t, state, new_state, dt)
        return (i + 1, new_state), spikes

    def block(carry, currents):
        if save_every == 1:
            carry, spikes = step(carry, currents[0])
        else:
            # Sum spikes in the carry: stacking (save_every, *batch) spikes and summing
            # afterwards was up to 16x slower for 10^5 neurons on CPU (benchmarks/).
            def counted(c, current):
                carry, count = c
                carry, spikes = step(carry, current)
                return (carry, count + spikes), None

            shape = jax.eval_shape(step, carry, currents[0])[1]
            count = jnp.zeros(shape.shape, shape.dtype)
            (carry, spikes), _ = jax.lax.scan(counted, (carry, count), currents)
        if progress:
            report = _progress_printer(n_blocks)
            stride = max(n_blocks // 100, 1)
            k = carry[0] // save_every - 1
            jax.lax.cond(
                (k % stride == 0) | (k == n_blocks - 1),
                lambda: jax.debug.callback(report, k),
                lambda: None,
            )
        state = carry[1]
        return carry, (model.voltage(state), spikes, keep(state))

    xs = inputs.reshape(n_blocks, save_every, *batch)
    carry = (jnp.asarray(0, dtype=jnp.int32), state0)
    if chunk is None or chunk >= n_blocks:
        carry, ys = jax.lax.scan(block, carry, xs)
    else:
        n_chunks = n_blocks // chunk
        head = xs[: n_chunks * chunk].reshape(n_chunks, chunk, *xs.shape[1:])

        @jax.checkpoint
        def chunk_fn(carry, xs_chunk):
            return jax.lax.scan(block, carry, xs_chunk)

        carry, ys = jax.lax.scan(chunk_fn, carry, head)
        ys = jtu.tree_map(lambda y: y.reshape(n_chunks * chunk, *y.shape[2:]), ys)
        if n_chunks * chunk < n_blocks:
            carry, ys_tail = jax.lax.scan(block, carry, xs[n_chunks * chunk :])
            ys = jtu.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, ys_tail)
    v, spikes, states = ys
    t = t0 + dt * save_every * jnp.arange(1, n_blocks + 1, dtype=inputs.dtype)
    return Solution(t=t, v=v, spikes=spikes, states=states, final_state=carry[1])
