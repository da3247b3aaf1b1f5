from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._errors import check_choice
from .._model import NON_NEGATIVE, POSITIVE, parameter
from .._units import CONDUCTANCE_BASED, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, newton, upward_crossing


class MorrisLecarState(NamedTuple):
    v: Array  # membrane potential, mV
    w: Array  # K⁺ activation (fraction of open channels)


# Rinzel & Ermentrout (1998), Table 7.1: the common parameters (C = 20 µF/cm², g_K = 8,
# g_L = 2 mS/cm², E_Ca = 120, E_K = −84, E_L = −60, V1 = −1.2, V2 = 18 mV) and the sets
# for the three onsets of repetitive firing.
RINZEL_ERMENTROUT1998: dict[str, dict[str, float]] = {
    "hopf": dict(g_ca=4.4, v3=2.0, v4=30.0, phi=0.04),
    "snlc": dict(g_ca=4.0, v3=12.0, v4=17.4, phi=1.0 / 15.0),
    "homoclinic": dict(g_ca=4.0, v3=12.0, v4=17.4, phi=0.23),
}
"""Morris–Lecar parameter sets of Rinzel & Ermentrout (1998): `hopf` (class II onset by a
subcritical Hopf bifurcation), `snlc` (class I: saddle-node on a limit cycle) and
`homoclinic` (onset by a homoclinic bifurcation, bistable)."""


class MorrisLecar(AbstractNeuron):
    r"""Morris–Lecar model of the barnacle muscle fibre (Morris & Lecar 1981), with the
    parameters of Rinzel & Ermentrout (1998).

    $$c_m \frac{dV}{dt} = I - g_{Ca} m_\infty(V)(V - e_{Ca}) - g_K w (V - e_K)
        - g_l (V - e_l)$$

    $$\frac{dw}{dt} = \phi \frac{w_\infty(V) - w}{\tau_w(V)}$$

    with `m∞(V) = (1 + tanh((V − v1)/v2))/2`, `w∞(V) = (1 + tanh((V − v3)/v4))/2` and
    `τ_w(V) = 1/cosh((V − v3)/(2 v4))`.

    Units: V in mV, t in ms, `I` in µA/cm², conductances mS/cm², `c_m` µF/cm², `phi`
    1/ms, `v1…v4` mV. A spike is an upward crossing of `v_th` (0 mV; detection only).

    Defaults: the Hopf set of Rinzel & Ermentrout (class II excitability). The other sets:
    `MorrisLecar.rinzel_ermentrout1998("snlc")` (class I) and `("homoclinic")`; see
    `RINZEL_ERMENTROUT1998`.

    Starts at rest for `I = 0`: the root of the steady-state current
    `I_ss(V) = g_Ca m∞(V)(V − e_Ca) + g_K w∞(V)(V − e_K) + g_l (V − e_l)` found by Newton's
    method from `e_l` — the stable rest of the published sets: −60.86 mV (Hopf set),
    −59.47 mV (SNLC and homoclinic sets) — with `w = w∞(V)`.

    References: Morris & Lecar (1981) Biophys J 35:193–213; Rinzel & Ermentrout (1998) in
    Koch & Segev (eds) *Methods in Neuronal Modeling*, 2nd ed., ch. 7.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = CONDUCTANCE_BASED.named(
        voltage=("v", "e_ca", "e_k", "e_l", "v1", "v2", "v3", "v4", "v_th"),
        conductance=("g_ca", "g_k", "g_l"),
        c_m="µF/cm²",
        phi="1/ms",
    )

    g_ca: Array = parameter(4.4, NON_NEGATIVE)
    g_k: Array = parameter(8.0, NON_NEGATIVE)
    g_l: Array = parameter(2.0, NON_NEGATIVE)
    e_ca: Array = parameter(120.0)
    e_k: Array = parameter(-84.0)
    e_l: Array = parameter(-60.0)
    c_m: Array = parameter(20.0, POSITIVE)
    phi: Array = parameter(0.04, POSITIVE)
    v1: Array = parameter(-1.2)
    v2: Array = parameter(18.0, POSITIVE)
    v3: Array = parameter(2.0)
    v4: Array = parameter(30.0, POSITIVE)
    v_th: Array = parameter(0.0)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    @classmethod
    def rinzel_ermentrout1998(cls, onset: str, **overrides) -> MorrisLecar:
        """The parameter set of Rinzel & Ermentrout (1998) for `onset` ∈ {"hopf", "snlc",
        "homoclinic"}; `overrides` replace any argument."""
        check_choice("Rinzel & Ermentrout (1998) parameter set", onset, RINZEL_ERMENTROUT1998)
        return cls(**{**RINZEL_ERMENTROUT1998[onset], **overrides})

    def m_inf(self, v: Array) -> Array:
        return 0.5 * (1.0 + jnp.tanh((v - self.v1) / self.v2))

    def w_inf(self, v: Array) -> Array:
        return 0.5 * (1.0 + jnp.tanh((v - self.v3) / self.v4))

    def tau_w(self, v: Array) -> Array:
        """`τ_w(V) = 1/cosh((V − v3)/(2 v4))`, in units of 1/φ."""
        return 1.0 / jnp.cosh((v - self.v3) / (2.0 * self.v4))

    def membrane_current(self, state: MorrisLecarState) -> Array:
        """Total ionic current density, µA/cm² (outward positive)."""
        v, w = state
        return (
            self.g_ca * self.m_inf(v) * (v - self.e_ca)
            + self.g_k * w * (v - self.e_k)
            + self.g_l * (v - self.e_l)
        )

    def init_state(self, batch_shape=()):
        v = newton(_steady_state_current, self.full(self.e_l, batch_shape), self)
        return MorrisLecarState(v=v, w=self.w_inf(v))

    def linear_part(self, t, y, current):
        """Linear rates for the exponential solvers (1/ms): `−(g_ca m∞ + g_k w + g_l)/c_m`
        for V (the total conductance: `∂f/∂V` turns positive through the instantaneous
        m∞(V)) and `−φ·cosh((V − v3)/(2 v4))` for w."""
        g = self.g_ca * self.m_inf(y.v) + self.g_k * y.w + self.g_l
        return MorrisLecarState(
            v=-g / self.c_m, w=-self.phi * jnp.cosh((y.v - self.v3) / (2.0 * self.v4))
        )

    def vector_field(self, t, state, current):
        v, w = state
        return MorrisLecarState(
            v=(current - self.membrane_current(state)) / self.c_m,
            # φ(w∞ − w)/τ_w, written with cosh to avoid dividing by it
            w=self.phi * (self.w_inf(v) - w) * jnp.cosh((v - self.v3) / (2.0 * self.v4)),
        )

    def event_step(self, info, y_old, y_new, z, current):
        return y_new, z, upward_crossing(self.surrogate, y_old.v, y_new.v, self.v_th)


def _steady_state_current(v, model: MorrisLecar):
    """The ionic current with w at steady state: zero at rest."""
    return model.membrane_current(MorrisLecarState(v, model.w_inf(v)))
