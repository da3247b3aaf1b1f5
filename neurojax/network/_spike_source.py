"""A population that emits given spike trains (the network's spike-train inputs)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import AbstractModel, Elementwise


class SpikeSourceState(NamedTuple):
    v: Array  # unused placeholder (mV), so the population has a voltage like any other


_BAD_COUNTS = (
    "SpikeSource inputs are spike counts per step: whole numbers >= 0 (1 where a source "
    "fires, 0 elsewhere); got a negative, fractional, NaN or infinite value. Check the spike "
    "trains given as this population's input."
)


class SpikeSource(AbstractModel):
    """Emits exactly the spikes given as its input: in a `Network`, the population's entry
    of the inputs dict, shaped `(n_steps, size)`, with 1 (or a count) at the steps where
    each source neuron fires and 0 elsewhere. Use it to drive a network with recorded or
    generated spike trains (e.g. `neurojax.stimuli` Poisson trains) or to place test
    spikes at exact steps. It has no dynamics and cannot be a postsynaptic target of
    conductance synapses in a meaningful way (its `v` stays 0).

    Inputs are spike counts: whole numbers >= 0. A negative or fractional entry is an
    error (`check_call`: before the run, or once at its start for traced inputs) — a "−1
    spike" would deliver a negative weight."""

    structure = Elementwise()

    def init_state(self, batch_shape=()):
        return SpikeSourceState(v=jnp.zeros(batch_shape, jnp.result_type(float)))

    def vector_field(self, t, y, inputs):
        return SpikeSourceState(v=jnp.zeros_like(y.v))

    def check_call(self, inputs, dt):
        if inputs is None:
            return ()
        if isinstance(inputs, jax.core.Tracer):
            bad = (inputs < 0) | (inputs != jnp.round(inputs)) | ~jnp.isfinite(inputs)
            return ((jnp.any(bad), _BAD_COUNTS),)
        x = np.asarray(inputs)  # numpy: no JAX operation compiled for a concrete check
        # (inf == round(inf): an infinite count passed here, left to simulate's generic check)
        if np.any((x < 0) | (x != np.round(x)) | ~np.isfinite(x)):
            raise ValueError(_BAD_COUNTS)
        return ()

    def event_step(self, info, y_old, y_new, z, inputs):
        spikes = jnp.broadcast_to(jnp.asarray(inputs, y_new.v.dtype), y_new.v.shape)
        return y_new, z, spikes


# Brian2's `timestep(t, dt) = int((t + 1e-3·dt)/dt)`: a spike time falls into the step
# that contains it, shifted by 10⁻³ step so that times on the grid are not lost to rounding.
_BIN_SHIFT = 1e-3


def spike_counts(indices, times, n_sources: int, n_steps: int, dt: float) -> np.ndarray:
    """The input of a `SpikeSource` population (spike counts, `(n_steps, n_sources)`) from
    spike trains given as `indices` (which source) and `times` (ms), Brian2's
    `SpikeGeneratorGroup(n_sources, indices, times)`: a spike at `t` is emitted in step
    `floor(t/dt + 10⁻³)` (Brian2's binning: the step that contains it), and delivered
    through a projection as that step's spike. Several spikes of one source in one step
    add up (Brian2 refuses them). Refused, naming the culprit: an index outside
    `[0, n_sources)`, a negative or non-finite time, a time at or after the run's end
    `n_steps·dt` (ms; a spike the run would never emit — often times given in seconds)."""
    idx = np.asarray(indices)
    if idx.size and idx.dtype.kind not in "iuf":  # bools (True: source 1), complex, strings
        raise TypeError(
            f"spike_counts: indices must be whole numbers (source indices), got dtype {idx.dtype}."
        )
    for what, x in (("n_sources", n_sources), ("n_steps", n_steps)):
        if (
            isinstance(x, (bool, np.bool_, str, bytes))
            or np.ndim(x) != 0
            or np.asarray(x).dtype.kind not in "iuf"
            or not np.isfinite(x)
            or x != np.round(x)
        ):
            raise ValueError(f"spike_counts: {what} must be a whole number, got {x!r}.")
    if (
        isinstance(dt, (bool, np.bool_, str, bytes))
        or np.ndim(dt) != 0
        or np.asarray(dt).dtype.kind not in "iuf"
    ):
        raise TypeError(f"spike_counts: dt must be a real number of ms, got {dt!r}.")
    t = np.asarray(times, dtype=float)
    if idx.ndim != 1 or t.shape != idx.shape:
        raise ValueError(
            f"spike_counts: indices and times must be 1-d and the same length, got shapes "
            f"{idx.shape} and {t.shape}."
        )
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        if not np.all(np.isfinite(idx.astype(float))) or np.any(idx != np.round(idx)):
            raise ValueError("spike_counts: indices must be whole numbers (source indices).")
        idx = idx.astype(np.int64)
    n_sources, n_steps, dt = int(n_sources), int(n_steps), float(dt)
    if n_sources < 1 or n_steps < 1 or not (np.isfinite(dt) and dt > 0):
        raise ValueError(
            f"spike_counts: n_sources ({n_sources}) and n_steps ({n_steps}) must be >= 1 and "
            f"dt ({dt} ms) > 0."
        )
    if idx.size and (idx.min() < 0 or idx.max() >= n_sources):
        bad = int(idx[(idx < 0) | (idx >= n_sources)][0])
        raise ValueError(
            f"spike_counts: source index {bad} is outside [0, {n_sources}) (n_sources)."
        )
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        bad = t[~np.isfinite(t) | (t < 0)][0]
        raise ValueError(f"spike_counts: spike time {bad} ms is negative or not finite.")
    steps = np.floor(t / dt + _BIN_SHIFT).astype(np.int64)
    if steps.size and steps.max() >= n_steps:
        k = int(np.argmax(steps))
        raise ValueError(
            f"spike_counts: a spike of source {int(idx[k])} at t = {t[k]:g} ms is at or after "
            f"the end of the run ({n_steps} steps of {dt:g} ms = {n_steps * dt:g} ms). Times "
            "are in ms; drop the spikes after the run or lengthen it."
        )
    out = np.zeros((n_steps, n_sources))
    np.add.at(out, (steps, idx), 1.0)
    return out
