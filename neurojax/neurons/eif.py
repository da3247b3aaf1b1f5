from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, parameter
from .._units import INTEGRATE_AND_FIRE, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._integrate_and_fire import AbstractIntegrateAndFire


class EIFState(NamedTuple):
    v: Array  # membrane potential, mV


def exp_term(v: Array, v_t, delta_t, v_th) -> Array:
    """`Δ_T·exp((V − v_t)/Δ_T)` with V clamped at the cut-off `v_th`: beyond it the model is
    reset anyway, and the clamp keeps the exponential (and its gradient) finite even for a
    solver's intermediate stage that overshoots."""
    return delta_t * jnp.exp((jnp.minimum(v, v_th) - v_t) / delta_t)


class EIF(AbstractIntegrateAndFire):
    r"""Exponential integrate-and-fire neuron (Fourcaud-Trocmé, Hansel, van Vreeswijk &
    Brunel 2003).

    $$\tau \frac{dV}{dt} = -(V - v_{rest}) + \Delta_T \exp\left(\frac{V - v_t}{\Delta_T}
        \right) + R I$$

    The exponential is the spike initiation of the Na⁺ current; `v_t` is the rheobase
    threshold (where dV/dt is smallest) and `delta_t` the sharpness of the upswing. V runs
    away to infinity in finite time; a spike is registered when V reaches the cut-off
    `v_th`, then V is reset to `v_reset` and held there for `t_ref`. The cut-off only
    shifts spike times by about `τ·exp(−(v_th − v_t)/Δ_T)` (0.5 µs for the defaults).

    Without reset the model has a saddle-node at the rheobase current
    `I_rh = (v_t − v_rest − Δ_T)/R` (1.3 nA for the defaults): below it V settles at the
    lower root of `−(V − v_rest) + Δ_T exp((V − v_t)/Δ_T) + R I = 0`; above it, it fires.

    Units: mV, ms, `r` in MΩ, current in nA (MΩ·nA = mV). Starts at V = `v_rest` (the true
    rest is above it by `≈ Δ_T exp((v_rest − v_t)/Δ_T)`, 0.001 mV for the defaults).

    References: Fourcaud-Trocmé et al. (2003) J Neurosci 23:11628–11640; Gerstner, Kistler,
    Naud & Paninski (2014) *Neuronal Dynamics*, §5.2.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = INTEGRATE_AND_FIRE.named(
        voltage=("v", "v_rest", "v_reset", "v_th", "v_t", "delta_t"),
        time=("tau", "t_ref", "refractory"),
        r="MΩ",
    )

    tau: Array = parameter(10.0, POSITIVE)
    v_rest: Array = parameter(-65.0)
    v_reset: Array = parameter(-65.0)
    v_th: Array = parameter(-30.0)
    r: Array = parameter(10.0, POSITIVE)
    t_ref: Array = parameter(2.0, NON_NEGATIVE)
    v_t: Array = parameter(-50.0)
    delta_t: Array = parameter(2.0, POSITIVE)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def init_state(self, batch_shape=()):
        return EIFState(v=self.full(self.v_rest, batch_shape))

    @property
    def rheobase(self) -> Array:
        """`I_rh = (v_t − v_rest − Δ_T)/R`, nA: the saddle-node current of the EIF."""
        return (self.v_t - self.v_rest - self.delta_t) / self.r

    def vector_field(self, t, state, current):
        # evaluated at V clamped to the cut-off: a solver stage past it stays finite
        v = jnp.minimum(state.v, self.v_th)
        dv = -(v - self.v_rest) + exp_term(v, self.v_t, self.delta_t, self.v_th)
        return EIFState(v=(dv + self.r * current) / self.tau)
