"""A voltage-dependent Mg²⁺ block on any conductance synapse (Dendrify's NMDA)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, parameter
from ._base import AbstractSynapse


class MgBlock(AbstractSynapse):
    r"""The kinetics of `synapse` with its current scaled by a Mg²⁺ block:

    $$I = B(V)\,I_{\text{synapse}}(V),\qquad
      B(V) = \frac{1}{1 + [\mathrm{Mg}]\,e^{-\alpha (V + \gamma)}/\beta}$$

    With `synapse=Exponential(tau=t_decay, e_rev=0.0)` this is Dendrify's `'NMDA'`
    channel (instant rise), with `DualExponential(...)` its `'NMDA'` with rise and decay.
    Defaults are Dendrify's (`Mg_con = 1` mM, `Alpha_NMDA = 0.062` /mV, `Beta_NMDA =
    3.57`, `Gamma_NMDA = 0` mV; Jahr & Stevens 1990, J Neurosci 10:3178).

    Units: `mg` mM, `alpha` 1/mV, `beta` dimensionless, `gamma` mV; the state, weights
    and time constants are `synapse`'s. Unlike `NMDA` (Wang 2002) the gating does not
    saturate: one linear state per postsynaptic neuron carries the sum of its synapses
    exactly.
    """

    synapse: AbstractSynapse
    mg: Array = parameter(1.0, NON_NEGATIVE)
    alpha: Array = parameter(0.062, NON_NEGATIVE)
    beta: Array = parameter(3.57, POSITIVE)
    gamma: Array = parameter(0.0)

    def __check_init__(self):
        super().__check_init__()
        if not isinstance(self.synapse, AbstractSynapse):
            raise TypeError(
                f"MgBlock(synapse) needs a neurojax.synapses model, got {self.synapse!r}."
            )
        if not self.synapse.conductance_based:
            raise ValueError(
                "MgBlock needs a conductance-based synapse (one with a reversal potential "
                "e_rev, e.g. Exponential(tau=50.0, e_rev=0.0)); a Mg²⁺ block of a current "
                "has no meaning."
            )

    @property
    def conductance_based(self) -> bool:
        return True

    @property
    def e_rev(self):
        return self.synapse.e_rev

    def block(self, v: Array) -> Array:
        """The unblocked fraction `B(V)` at `v` (mV)."""
        return 1.0 / (1.0 + self.mg * jnp.exp(-self.alpha * (v + self.gamma)) / self.beta)

    def init(self, shape=()):
        return self.synapse.init(shape)

    def vector_field(self, state, v):
        return self.synapse.vector_field(state, v)

    def on_arrival(self, state, x, dt):
        return self.synapse.on_arrival(state, x, dt)

    def check_call(self, dt):
        return self.synapse.check_call(dt)

    def current(self, state, v):
        return self.block(v) * self.synapse.current(state, v)
