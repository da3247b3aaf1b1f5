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
    "fires, 0 elsewhere); got a negative or fractional value. Check the spike trains given "
    "as this population's input."
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
            return ((jnp.any((inputs < 0) | (inputs != jnp.round(inputs))), _BAD_COUNTS),)
        x = np.asarray(inputs)  # numpy: no JAX operation compiled for a concrete check
        if np.any((x < 0) | (x != np.round(x))):
            raise ValueError(_BAD_COUNTS)
        return ()

    def event_step(self, info, y_old, y_new, z, inputs):
        spikes = jnp.broadcast_to(jnp.asarray(inputs, y_new.v.dtype), y_new.v.shape)
        return y_new, z, spikes
