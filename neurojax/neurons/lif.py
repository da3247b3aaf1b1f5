from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import parameter
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, threshold_reset


class LIFState(NamedTuple):
    v: Array  # membrane potential, mV
    refractory: Array  # refractory time left, ms (V is held at v_reset while > 0)


class LIF(AbstractNeuron):
    r"""Leaky integrate-and-fire neuron (Lapicque 1907; Gerstner et al. 2014, ch. 1).

    $$\tau \frac{dV}{dt} = -(V - v_{rest}) + R I$$

    When V reaches `v_th` it spikes, is reset to `v_reset` and held there for `t_ref`.

    Units: mV, ms, `r` in MΩ, current in nA (MΩ·nA = mV).

    Reference: Gerstner, Kistler, Naud & Paninski (2014) *Neuronal Dynamics*, §1.3.
    """

    tau: Array = parameter(10.0)
    v_rest: Array = parameter(-65.0)
    v_reset: Array = parameter(-65.0)
    v_th: Array = parameter(-50.0)
    r: Array = parameter(10.0)
    t_ref: Array = parameter(2.0)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def init_state(self, batch_shape=()):
        return LIFState(
            v=self.full(self.v_rest, batch_shape), refractory=self.full(0.0, batch_shape)
        )

    def vector_field(self, t, state, current):
        return LIFState(
            v=(-(state.v - self.v_rest) + self.r * current) / self.tau,
            refractory=jnp.zeros_like(state.refractory),
        )

    def post_step(self, t, state, new_state, dt):
        return refractory_reset(
            self.surrogate, state, new_state, dt, self.v_th, self.v_reset, self.t_ref
        )


def refractory_reset(surrogate, state, new_state, dt, v_th, v_reset, t_ref):
    """Threshold, reset and absolute refractoriness for IF models whose state has `v` and
    `refractory` (time left, ms). While refractory, V is held at `v_reset`; the hold lasts
    `round(t_ref/dt)` steps (the `dt/2` margin makes the count robust to rounding)."""
    held = state.refractory > dt / 2
    v = jnp.where(held, v_reset, new_state.v)
    v, spike = threshold_reset(surrogate, v, v_th, v_reset)
    refractory = jnp.where(spike > 0, t_ref, jnp.maximum(state.refractory - dt, 0.0))
    return new_state._replace(v=v, refractory=refractory), spike
