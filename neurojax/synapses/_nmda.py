"""NMDA receptor with voltage-dependent Mg²⁺ block (Jahr & Stevens 1990)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._model import NON_NEGATIVE, POSITIVE, parameter
from ._base import AbstractSynapse, zeros


def mg_block(v: ArrayLike, mg: ArrayLike = 1.0) -> Array:
    """Fraction of NMDA channels not blocked by Mg²⁺ at membrane potential `v` (mV) and
    extracellular [Mg²⁺] `mg` (mM): `1 / (1 + [Mg]/3.57 · exp(−0.062·V))`
    (Jahr & Stevens 1990, J Neurosci 10:3178; the form used by Wang 2002)."""
    return 1.0 / (1.0 + mg / 3.57 * jnp.exp(-0.062 * jnp.asarray(v)))


class NMDAState(NamedTuple):
    s: Array  # gating variable, 0..1
    x: Array  # rising (glutamate-bound) variable, dimensionless


class NMDA(AbstractSynapse):
    r"""NMDA receptor: slow saturating gating with a voltage-dependent Mg²⁺ block.

    $$\frac{ds}{dt} = -\frac{s}{\tau_d} + \alpha\,x(1 - s),\qquad
      \frac{dx}{dt} = -\frac{x}{\tau_r},\qquad x \to x + w$$

    $$I = g_{max}\, s\, B(V)\,(E - V),\qquad B(V) = \frac{1}{1 + [\mathrm{Mg}]/3.57\,
      e^{-0.062 V}}$$

    Units: `tau_rise`, `tau_decay` ms; `alpha` 1/ms; `g_max` µS; `e_rev`, V in mV; `mg`
    mM; weights `w` dimensionless (1 per spike at unit weight).
    References: Jahr & Stevens (1990) J Neurosci 10:3178 (block); kinetics and defaults
    from Wang (2002) Neuron 36:955 (τ_r = 2 ms, τ_d = 100 ms, α = 0.5 /ms, [Mg] = 1 mM).
    Lumped per postsynaptic neuron (exact for one synapse; the mean-field approximation of
    the saturation otherwise).
    """

    tau_rise: Array = parameter(2.0, POSITIVE)
    tau_decay: Array = parameter(100.0, POSITIVE)
    alpha: Array = parameter(0.5, POSITIVE)
    g_max: Array = parameter(0.001, NON_NEGATIVE)
    e_rev: Array = parameter(0.0)
    mg: Array = parameter(1.0, NON_NEGATIVE)

    def init(self, shape=()):
        return NMDAState(s=zeros(shape), x=zeros(shape))

    def vector_field(self, state, v):
        return NMDAState(
            s=-state.s / self.tau_decay + self.alpha * state.x * (1.0 - state.s),
            x=-state.x / self.tau_rise,
        )

    def on_arrival(self, state, x, dt):
        return state._replace(x=state.x + x)

    def current(self, state, v):
        return self.g_max * state.s * mg_block(v, self.mg) * (self.e_rev - v)
