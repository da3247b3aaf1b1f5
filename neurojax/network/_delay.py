"""Conduction delays as ring buffers (discrete state, never integrated)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

# A delay within this fraction of a step of a multiple of dt counts as that multiple: it
# absorbs float rounding (0.3/0.1 = 2.9999999999999996) and nothing physical.
_REL_TOL = 1e-6


def delay_steps(delay, dt: float | int, *, what: str = "delay") -> int:
    """A homogeneous delay (ms) as a whole number of steps of `dt` (ms).

    0 means delivery in the step of the spike (no buffer). A delay shorter than `dt`, or
    not a multiple of `dt`, is an error (a silently rounded delay would shift every
    spike): choose `dt` dividing the delay, or pass `round_to_dt=True` where offered."""
    if isinstance(delay, (bool, np.bool_)) or np.asarray(delay).dtype.kind not in "iuf":
        raise TypeError(f"{what} must be a real number of ms, got {delay!r}.")
    d = float(delay)
    if not np.isfinite(d) or d < 0:
        raise ValueError(f"{what} must be a finite number of ms >= 0, got {delay!r}.")
    if d == 0:
        return 0
    n = d / dt
    k = round(n)
    if d < dt * (1 - _REL_TOL):
        raise ValueError(
            f"{what} = {d} ms is shorter than the time step dt = {dt} ms; a spike cannot "
            f"arrive sooner than the next step. Use delay=0 (same step) or a delay >= dt."
        )
    if abs(n - k) > _REL_TOL * max(1.0, n):
        raise ValueError(
            f"{what} = {d} ms is not a multiple of dt = {dt} ms ({n:.6g} steps). Choose a dt "
            "that divides the delay, or give per-synapse delays (an array), which are "
            "rounded to the nearest step."
        )
    return _check_ring_length(int(k), d, dt)


# The longest delay ring accepted, in steps (100 s at dt = 0.1 ms). A ring of k steps holds
# k rows of the population's spikes: 10⁹ ms at dt 0.1 was accepted and failed at run time
# on memory; beyond this a unit mistake (s for ms) is far likelier than an intent.
MAX_DELAY_STEPS = 10**6


def _check_ring_length(steps: int, delay_ms: float, dt) -> int:
    if steps > MAX_DELAY_STEPS:
        raise ValueError(
            f"a delay of {delay_ms:g} ms is {steps} steps of dt = {dt} ms; the delay ring "
            f"would hold {steps} rows of the population's spikes (at most {MAX_DELAY_STEPS} "
            "are accepted). Delays are in ms: check the units."
        )
    return steps


def heterogeneous_delay_steps(delays, dt: float | int) -> np.ndarray:
    """Per-synapse delays (ms) rounded to the *nearest* whole step (ties upwards:
    `floor(d/dt + 1/2)`). Delays below `dt/2` (that would round to 0, the same step) and
    negative or non-finite ones are errors."""
    d = np.asarray(delays, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError("per-synapse delays must be finite and >= 0 ms.")
    steps = np.floor(d / dt + 0.5 + _REL_TOL).astype(np.int64)
    if np.any((d > 0) & (steps < 1)):
        bad = float(d[(d > 0) & (steps < 1)].min())
        raise ValueError(
            f"a per-synapse delay of {bad} ms is shorter than dt/2 = {dt / 2} ms and would "
            "round to 0 steps; use delays >= dt (or exactly 0 for the same step)."
        )
    if steps.size:
        _check_ring_length(int(steps.max()), float(d.max()), dt)
    return steps


class RingState(NamedTuple):
    buffer: Array  # (length, *shape): the values of the last `length` steps


class Delay:
    """A homogeneous delay of `steps` steps on a vector of presynaptic values, optax style:
    `init(shape)` → `RingState`, `update(state, x, index)` → `(x delayed, state)`.

    The buffer holds `steps + 1` rows; step `index` first writes its value into row
    `index % (steps + 1)`, then reads row `(index + 1) % (steps + 1)`, written at step
    `index − steps`: a spike of step k is delivered at step k + steps, exactly. Writing
    before reading, into another row than the one read, lets XLA update the buffer in
    place: with `steps` rows (read, then overwrite the same row) the row read stays live
    across the write and XLA:CPU copied the whole buffer every step (2 × 8000 × 15 floats
    in the dendritic benchmark, ~10 % of its step)."""

    def __init__(self, steps: int):
        self.steps = int(steps)

    def init(self, shape, dtype=None) -> RingState | None:
        if self.steps == 0:
            return None
        dtype = dtype or jnp.result_type(float)
        return RingState(jnp.zeros((self.steps + 1, *shape), dtype))

    def update(self, state: RingState | None, x: Array, index) -> tuple[Array, RingState | None]:
        state = self.write(state, x, index)
        return self.read(state, x, index, self.steps), state

    def write(self, state: RingState | None, x: Array, index) -> RingState | None:
        """The ring with step `index`'s value `x` in row `index % (steps + 1)`."""
        if self.steps == 0:
            return state
        length = self.steps + 1
        index = jnp.asarray(index, jnp.int32)
        buffer = jax.lax.dynamic_update_index_in_dim(
            state.buffer, x.astype(state.buffer.dtype), index % length, 0
        )
        return RingState(buffer)

    def read(self, state: RingState | None, x: Array, index, steps: int) -> Array:
        """The value written `steps` steps before step `index` (`0 <= steps <=
        self.steps`; 0: `x` itself), from the ring after `write` of step `index`: row
        `(index − steps) % (self.steps + 1)`, zeros before anything was written there.
        One ring serves every delay up to its length (a population's projections of
        different delays share it)."""
        if not 0 <= steps <= self.steps:
            raise ValueError(f"a ring of {self.steps} steps cannot delay by {steps} steps.")
        if steps == 0:
            return x
        length = self.steps + 1
        row = (jnp.asarray(index, jnp.int32) + (length - steps)) % length
        return jax.lax.dynamic_index_in_dim(state.buffer, row, keepdims=False)


def ring_length(max_steps: int) -> int:
    """Slots needed for delays up to `max_steps` (written before reading the same step)."""
    return int(max_steps) + 1 if math.isfinite(max_steps) else 1
