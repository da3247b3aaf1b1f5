from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
from jaxtyping import Array

from .._model import POSITIVE, parameter
from .._units import DIMENSIONLESS, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, newton, upward_crossing


class FitzHughNagumoState(NamedTuple):
    v: Array  # fast, voltage-like variable (dimensionless)
    w: Array  # slow recovery variable (dimensionless)


class FitzHughNagumo(AbstractNeuron):
    r"""FitzHugh–Nagumo model (FitzHugh 1961; Nagumo, Arimoto & Yoshizawa 1962).

    $$\frac{dv}{dt} = v - \frac{v^3}{3} - w + I, \qquad
      \tau \frac{dw}{dt} = v + a - b w$$

    Dimensionless: `v`, `w`, `I` and time (`dt`, `tau`) have no units; the defaults
    `a = 0.7`, `b = 0.8`, `tau = 12.5` are FitzHugh's. The fixed point is
    `w* = (v* + a)/b` with `v*` a real root of the cubic `v³/3 + (1/b − 1) v + a/b − I = 0`
    (one root, v* = −1.1994, for the defaults at `I = 0`: an excitable rest). The
    model has no reset; an upward crossing of `v_th` (1.0) is reported as a spike, for
    consistency with the spiking models.

    Starts at rest for `I = 0`: the leftmost fixed point, by Newton's method from v = −3.

    References: FitzHugh (1961) Biophys J 1:445–466; Nagumo et al. (1962) Proc IRE
    50:2061–2070.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = DIMENSIONLESS

    a: Array = parameter(0.7)
    b: Array = parameter(0.8)
    tau: Array = parameter(12.5, POSITIVE)
    v_th: Array = parameter(1.0)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def init_state(self, batch_shape=()):
        v = newton(_dv_on_w_nullcline, self.full(-3.0, batch_shape), self)
        return FitzHughNagumoState(v=v, w=(v + self.a) / self.b)

    def vector_field(self, t, state, current):
        v, w = state
        return FitzHughNagumoState(
            v=v - v**3 / 3 - w + current,
            w=(v + self.a - self.b * w) / self.tau,
        )

    def event_step(self, info, y_old, y_new, z, current):
        return y_new, z, upward_crossing(self.surrogate, y_old.v, y_new.v, self.v_th)


def _dv_on_w_nullcline(v, model: FitzHughNagumo):
    """dv/dt at I = 0 with w on its nullcline `w = (v + a)/b`: zero at the fixed point."""
    return v - v**3 / 3 - (v + model.a) / model.b
