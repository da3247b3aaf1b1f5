from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import POSITIVE, parameter
from .._units import CONDUCTANCE_BASED, UnitSystem
from ..channels import hh
from ..channels.hh import CELSIUS
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, newton, upward_crossing


class ReducedHHState(NamedTuple):
    v: Array  # membrane potential, mV
    h: Array  # Na⁺ inactivation (n = h_plus_n − h)


class ReducedHH(hh.HHParameters, AbstractNeuron):
    r"""The two-variable reduction of the Hodgkin–Huxley model (FitzHugh 1961; Rinzel 1985).

    Two observations reduce HH's four variables to two: Na⁺ activation is fast, so
    `m = m∞(V)` instantaneously; and during a spike `h + n` stays nearly constant, so
    `n = h_plus_n − h`:

    $$c_m \frac{dV}{dt} = I - g_{Na} m_\infty(V)^3 h (V - e_{Na})
        - g_K (h_{+n} - h)^4 (V - e_K) - g_l (V - e_l)$$

    $$\frac{dh}{dt} = q_{10}\,(\alpha_h(V)(1 - h) - \beta_h(V) h)$$

    with the rate functions of `neurojax.channels.hh` (NEURON's `hh.mod`) and
    `q10 = 3^((T − 6.3)/10)`. `n` is clipped to `[0, 1]` (it would leave it only for
    `h > h_plus_n`, deep hyperpolarisation).

    Units: V in mV, t in ms, current density `I` in µA/cm², conductances mS/cm², `c_m`
    µF/cm², `temperature` °C. Parameter names and defaults are those of `HodgkinHuxley`,
    plus `h_plus_n` (dimensionless, default 0.855; during HH's repetitive firing `h + n`
    stays within 0.78–0.85).
    A spike is an upward crossing of `v_th` (detection only), reported through `surrogate`.

    **Initial state: the model's own rest.** The state where `I_ion(V, h∞(V)) = 0`, found
    by Newton's method from `v_init`, with `h = h∞(V)`: −63.50 mV for the defaults (full
    HH: −64.97 mV; the reduction's `h + n = 0.855` is below the 0.914 of HH's rest). It
    must start exactly there: at `I = 0` the reduced model is bistable, and a state merely
    near rest (V = −65 mV with `h∞(−65)`, HH's initial state) lies on the far side of the
    separatrix and fires repetitively. With the defaults it fires repetitively for steps of
    ≈1.5–12 µA/cm² (HH: above ≈6.3) at 65–85 Hz (HH at 10 µA/cm²: 70 Hz; reduced: 80 Hz)
    and goes into depolarisation block above. `h_plus_n=0.914` reproduces HH's rest (to < 0.05 mV)
    but no longer fires repetitively.

    References: FitzHugh (1961) Biophys J 1:445–466; Krinsky & Kokoz (1973) Biofizika
    18:506–511 (`h + n ≈ const`); Rinzel (1985) Fed Proc 44:2944–2946;
    Gerstner, Kistler, Naud & Paninski (2014) *Neuronal Dynamics*, §4.2.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = CONDUCTANCE_BASED.named(
        voltage=("v", "e_na", "e_k", "e_l", "v_init", "v_th"),
        conductance=("g_na", "g_k", "g_l"),
        c_m="µF/cm²",
        temperature="°C",
    )

    # g_na, g_k, g_l, e_na, e_k, e_l: hh.HHParameters (declared once)
    c_m: Array = parameter(1.0, POSITIVE)
    temperature: Array = parameter(6.3, CELSIUS)
    v_init: Array = parameter(-65.0)
    v_th: Array = parameter(0.0)
    h_plus_n: Array = parameter(0.855, POSITIVE)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def init_state(self, batch_shape=()):
        v = newton(_steady_state_current, self.full(self.v_init, batch_shape), self)
        return ReducedHHState(v=v, h=_h_inf(v))

    def n(self, h: Array) -> Array:
        """K⁺ activation `n = h_plus_n − h`, clipped to [0, 1]."""
        return jnp.clip(self.h_plus_n - h, 0.0, 1.0)

    def membrane_current(self, state: ReducedHHState) -> Array:
        """Total ionic current density, µA/cm² (outward positive)."""
        v, h = state
        m = hh.steady_state(hh.alpha_m, hh.beta_m, v)
        return self.hh_current(v, m, h, self.n(h))

    def linear_part(self, t, y, current):
        """Linear rates for the exponential solvers (1/ms): the total conductance
        `−(g_na m∞³ h + g_k n⁴ + g_l)/c_m` for V — not `∂f/∂V`, which is positive on the
        upstroke (through the instantaneous m∞(V)³) and made exponential Euler overshoot
        to 230–300 mV (true peak 47.6) — and `−q10·(α_h + β_h)` for h."""
        m = hh.steady_state(hh.alpha_m, hh.beta_m, y.v)
        g = self.g_na * m**3 * y.h + self.g_k * self.n(y.h) ** 4 + self.g_l
        phi = hh.q10(self.temperature)
        return ReducedHHState(v=-g / self.c_m, h=-phi * (hh.alpha_h(y.v) + hh.beta_h(y.v)))

    def vector_field(self, t, state, current):
        phi = hh.q10(self.temperature)
        return ReducedHHState(
            v=(current - self.membrane_current(state)) / self.c_m,
            h=hh.gate_rate(hh.alpha_h, hh.beta_h, state.v, state.h, phi),
        )

    def event_step(self, info, y_old, y_new, z, current):
        return y_new, z, upward_crossing(self.surrogate, y_old.v, y_new.v, self.v_th)


def _h_inf(v):
    return hh.steady_state(hh.alpha_h, hh.beta_h, v)


def _steady_state_current(v, model: ReducedHH):
    """The ionic current with h at steady state: zero at rest."""
    return model.membrane_current(ReducedHHState(v, _h_inf(v)))
