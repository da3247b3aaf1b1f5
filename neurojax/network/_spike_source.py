"""A population that emits given spike trains (the network's spike-train inputs)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array

from .._model import AbstractModel, Elementwise


class SpikeSourceState(NamedTuple):
    v: Array  # unused placeholder (mV), so the population has a voltage like any other


class SpikeSource(AbstractModel):
    """Emits exactly the spikes given as its input: in a `Network`, the population's entry
    of the inputs dict, shaped `(n_steps, size)`, with 1 (or a count) at the steps where
    each source neuron fires and 0 elsewhere. Use it to drive a network with recorded or
    generated spike trains (e.g. `neurojax.stimuli` Poisson trains) or to place test
    spikes at exact steps. It has no dynamics and cannot be a postsynaptic target of
    conductance synapses in a meaningful way (its `v` stays 0)."""

    structure = Elementwise()

    def init_state(self, batch_shape=()):
        return SpikeSourceState(v=jnp.zeros(batch_shape, jnp.result_type(float)))

    def vector_field(self, t, y, inputs):
        return SpikeSourceState(v=jnp.zeros_like(y.v))

    def event_step(self, info, y_old, y_new, z, inputs):
        spikes = jnp.broadcast_to(jnp.asarray(inputs, y_new.v.dtype), y_new.v.shape)
        return y_new, z, spikes
