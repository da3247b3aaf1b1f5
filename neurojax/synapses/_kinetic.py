"""Kinetic AMPA and GABA_A receptors (Destexhe, Mainen & Sejnowski 1994)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, parameter
from ._base import AbstractSynapse, zeros


class KineticState(NamedTuple):
    r: Array  # fraction of open receptors, 0..1
    c: Array  # transmitter concentration of the current pulse, mM (held, not integrated)
    t_left: Array  # time left of the transmitter pulse, ms (held, not integrated)


class _AbstractKinetic(AbstractSynapse):
    r"""Two-state receptor driven by a square pulse of transmitter:

    $$\frac{dr}{dt} = \alpha\,[T](1 - r) - \beta r,\qquad I = g_{max}\, r\,(E - V)$$

    On arrival of presynaptic spikes with summed weight `x` (dimensionless, 1 for one
    release at unit weight), the transmitter concentration becomes `[T] = t_max·x` (mM) for
    `t_pulse` ms (`round(t_pulse/dt)` steps), then 0. A new arrival restarts the pulse.

    Lumping: one `r` per postsynaptic neuron stands for all its synapses of this kind, the
    usual mean-field reduction; exact for a single synapse. Because the kinetics saturate
    (`1 − r`), weights act on the transmitter, not on a conductance.

    Units: `alpha` 1/(mM·ms), `beta` 1/ms, `t_max` mM, `t_pulse` ms, `g_max` µS, `e_rev` mV.
    Reference: Destexhe, Mainen & Sejnowski (1994) J Comput Neurosci 1:195; rate constants
    from Destexhe, Mainen & Sejnowski (1998) in *Methods in Neuronal Modeling*, 2nd ed.,
    ch. 1, table 1.
    """

    alpha: Array
    beta: Array
    e_rev: Array
    g_max: Array
    t_max: Array
    t_pulse: Array

    def init(self, shape=()):
        return KineticState(r=zeros(shape), c=zeros(shape), t_left=zeros(shape))

    def check_call(self, dt):
        """A pulse shorter than half a step would last 0 steps: no response at all."""
        message = (
            f"{type(self).__name__}.t_pulse is shorter than half a step: the transmitter "
            "pulse would last 0 steps and the synapse would never open. Use dt <= 2·t_pulse "
            "(or a longer t_pulse)."
        )
        if isinstance(dt, jax.core.Tracer) or isinstance(self.t_pulse, jax.core.Tracer):
            return ((jnp.any(self.t_pulse < dt / 2), message),)
        if np.any(np.asarray(self.t_pulse) < float(dt) / 2):
            raise ValueError(message)
        return ()

    def vector_field(self, state, v):
        t = jnp.where(state.t_left > 0, state.c, 0.0)
        return KineticState(
            r=self.alpha * t * (1.0 - state.r) - self.beta * state.r,
            c=jnp.zeros_like(state.c),
            t_left=jnp.zeros_like(state.t_left),
        )

    def on_arrival(self, state, x, dt):
        # The pulse is on for the steps whose start sees t_left > 0; counting down by dt
        # with a dt/2 margin gives exactly round(t_pulse/dt) steps, robust to rounding.
        # A pulse shorter than half a step would last 0 steps (`check_call` refuses it).
        arrived = x > 0
        left = jnp.maximum(state.t_left - dt, 0.0)
        left = jnp.where(left < dt / 2, 0.0, left)
        return KineticState(
            r=state.r,
            c=jnp.where(arrived, self.t_max * x, state.c),
            t_left=jnp.where(arrived, self.t_pulse, left),
        )

    def current(self, state, v):
        return self.g_max * state.r * (self.e_rev - v)


class AMPA(_AbstractKinetic):
    __doc__ = (
        "AMPA receptor, kinetic model: α = 1.1 /(mM·ms), β = 0.19 /ms, E = 0 mV, pulse 1 mM "
        "for 1 ms.\n\n" + (_AbstractKinetic.__doc__ or "")
    )
    alpha: Array = parameter(1.1, POSITIVE)
    beta: Array = parameter(0.19, POSITIVE)
    e_rev: Array = parameter(0.0)
    g_max: Array = parameter(0.001, NON_NEGATIVE)
    t_max: Array = parameter(1.0, POSITIVE)
    t_pulse: Array = parameter(1.0, POSITIVE)


class GABAA(_AbstractKinetic):
    __doc__ = (
        "GABA_A receptor, kinetic model: α = 5 /(mM·ms), β = 0.18 /ms, E = −80 mV, pulse "
        "1 mM for 1 ms.\n\n" + (_AbstractKinetic.__doc__ or "")
    )
    alpha: Array = parameter(5.0, POSITIVE)
    beta: Array = parameter(0.18, POSITIVE)
    e_rev: Array = parameter(-80.0)
    g_max: Array = parameter(0.001, NON_NEGATIVE)
    t_max: Array = parameter(1.0, POSITIVE)
    t_pulse: Array = parameter(1.0, POSITIVE)
