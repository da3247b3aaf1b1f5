from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, parameter
from .._units import INTEGRATE_AND_FIRE, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._integrate_and_fire import AbstractIntegrateAndFire


class QIFState(NamedTuple):
    v: Array  # membrane potential, mV


class QIF(AbstractIntegrateAndFire):
    r"""Quadratic integrate-and-fire neuron (Ermentrout & Kopell 1986; Latham et al. 2000),
    in the form of Gerstner et al. (2014):

    $$\tau \frac{dV}{dt} = a_0 (V - v_{rest})(V - v_c) + R I$$

    with `a0 > 0` and `v_c > v_rest`: at `I = 0`, `v_rest` is the stable rest and `v_c` the
    critical (unstable) voltage above which V runs away. When V reaches the cut-off
    `v_th`: a spike, V → `v_reset`, held there for `t_ref`. The QIF is the normal form of
    a saddle-node on invariant circle (class I excitability): the rheobase is
    `I_rh = a0 (v_c − v_rest)²/(4R)` (0.5625 nA for the defaults), and above it the time
    from `v_reset` to `v_th` is, with `V_m = (v_rest + v_c)/2` and `c = R(I − I_rh)`,

    $$T = \frac{\tau}{\sqrt{a_0 c}} \left[\arctan\left(\sqrt{a_0/c}\,(v_{th} - V_m)\right)
        - \arctan\left(\sqrt{a_0/c}\,(v_{reset} - V_m)\right)\right].$$

    Units: mV, ms, `a0` in 1/mV, `r` in MΩ, current in nA. Starts at V = `v_rest` (rest).

    References: Ermentrout & Kopell (1986) SIAM J Appl Math 46:233–253; Latham, Richmond,
    Nelson & Nirenberg (2000) J Neurophysiol 83:808–827; Gerstner, Kistler, Naud &
    Paninski (2014) *Neuronal Dynamics*, §5.3.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = INTEGRATE_AND_FIRE.named(
        voltage=("v", "v_rest", "v_reset", "v_th", "v_c"),
        time=("tau", "t_ref", "refractory"),
        r="MΩ",
        a0="1/mV",
    )

    tau: Array = parameter(10.0, POSITIVE)
    v_rest: Array = parameter(-65.0)
    v_reset: Array = parameter(-65.0)
    v_th: Array = parameter(-30.0)
    r: Array = parameter(10.0, POSITIVE)
    t_ref: Array = parameter(2.0, NON_NEGATIVE)
    v_c: Array = parameter(-50.0)
    a0: Array = parameter(0.1, POSITIVE)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def init_state(self, batch_shape=()):
        return QIFState(v=self.full(self.v_rest, batch_shape))

    @property
    def rheobase(self) -> Array:
        """`I_rh = a0 (v_c − v_rest)²/(4R)`, nA: the saddle-node current."""
        return self.a0 * (self.v_c - self.v_rest) ** 2 / (4.0 * self.r)

    def vector_field(self, t, state, current):
        # clamped at the cut-off: a solver stage past it stays finite (the step is reset)
        v = jnp.minimum(state.v, self.v_th)
        return QIFState(
            v=(self.a0 * (v - self.v_rest) * (v - self.v_c) + self.r * current) / self.tau,
        )
