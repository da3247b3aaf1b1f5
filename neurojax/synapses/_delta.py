"""Delta synapse: an instantaneous jump of the postsynaptic membrane potential."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from ._base import AbstractSynapse


class DeltaState(NamedTuple):
    pass


class Delta(AbstractSynapse):
    """Each arriving spike of weight `w` (mV) moves the postsynaptic potential by `w`
    at the end of the step in which it arrives (the synapse of Brunel 2000, J Comput
    Neurosci 8:183). No state, no current: a `Network` adds the arrivals to `v` directly,
    after the postsynaptic neuron's threshold and reset in that step (so a neuron in its
    refractory period ignores them, as in Brunel's model)."""

    def init(self, shape=()):
        return DeltaState()

    def vector_field(self, state, v):
        return DeltaState()

    def on_arrival(self, state, x, dt):
        return state

    def current(self, state, v):
        return jnp.zeros_like(v)
