"""Single-exponential synapse."""

from __future__ import annotations

from typing import NamedTuple

from jaxtyping import Array

from .._model import POSITIVE, parameter
from ._base import AbstractSynapse, check_tau_resolved, drive, optional_parameter, zeros


class ExponentialState(NamedTuple):
    g: Array  # conductance (µS) or current (nA)


class Exponential(AbstractSynapse):
    r"""Instantaneous rise, exponential decay:

    $$\frac{dg}{dt} = -\frac{g}{\tau}, \qquad g \to g + w \text{ at each presynaptic spike}$$

    Conductance-based when `e_rev` (mV) is given — `g` in µS, current `g·(e_rev − V)` nA
    (as in the COBA benchmark of Brette et al. 2007, J Comput Neurosci 23:349);
    current-based when `e_rev=None` — `g` is the current itself in nA (CUBA).

    `tau` in ms. The arrival `x` is the summed weight of the spikes arriving this step
    (µS, or nA for a current-based synapse).
    """

    tau: Array = parameter(5.0, POSITIVE)
    e_rev: Array | None = optional_parameter(None)

    def check_call(self, dt):
        """`tau >= dt`: a faster decay is not resolved by the step (`check_tau_resolved`)."""
        return check_tau_resolved("Exponential", "tau", self.tau, dt)

    def init(self, shape=()):
        return ExponentialState(g=zeros(shape))

    def vector_field(self, state, v):
        # `g·(1/tau)`, not `g/tau`: one division per step instead of one per element.
        # XLA:CPU makes this rewrite itself outside loops but not inside `simulate`'s time
        # loop, where the division per element cost ~1.5 µs of the 10⁴-neuron dendritic
        # benchmark's ~39 µs step (benchmarks/README.md, session 13); the two differ by at
        # most one rounding (~6e-8 relative) of the rate.
        return ExponentialState(g=-state.g * (1.0 / self.tau))

    def on_arrival(self, state, x, dt):
        return ExponentialState(g=state.g + x)

    def current(self, state, v):
        return drive(state.g, self.e_rev, v)
