"""The integrate-and-fire family's shared event step: threshold, reset, refractoriness."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ..surrogate import AbstractSurrogate
from ._base import AbstractNeuron, threshold_reset


class RefractoryState(NamedTuple):
    """Discrete state of an integrate-and-fire neuron."""

    refractory: Array  # refractory time left, ms (V is held at v_reset while > 0)


class AbstractIntegrateAndFire(AbstractNeuron):
    """An integrate-and-fire neuron: a smooth subthreshold ODE for `y` (with `y.v` in mV)
    and, written once here, the discrete part — when V reaches `v_th` a spike, V →
    `v_reset`, held there for `t_ref` ms (`round(t_ref/dt)` steps; the `dt/2` margin makes
    the count robust to rounding). The refractory timer is discrete state: solvers never
    integrate it. `after_spike(y, spike)` adds model-specific jumps (AdEx's `w += b`).
    """

    v_th: eqx.AbstractVar[Array]
    v_reset: eqx.AbstractVar[Array]
    t_ref: eqx.AbstractVar[Array]
    surrogate: eqx.AbstractVar[AbstractSurrogate]

    def init_discrete(self, batch_shape=()):
        return RefractoryState(refractory=self.full(0.0, batch_shape))

    def after_spike(self, y, spike):
        """Jumps other than the voltage reset, applied where `spike` is 1 (none here)."""
        return y

    def event_step(self, info, y_old, y_new, z, inputs):
        held = z.refractory > info.dt / 2
        v = jnp.where(held, self.v_reset, y_new.v)
        v, spike = threshold_reset(self.surrogate, v, self.v_th, self.v_reset)
        refractory = jnp.where(spike > 0, self.t_ref, jnp.maximum(z.refractory - info.dt, 0.0))
        y = self.after_spike(y_new._replace(v=v), spike)
        return y, RefractoryState(refractory.astype(z.refractory.dtype)), spike
