"""Built-in density mechanisms (the `AbstractChannel` contract of `._base`): NEURON's
`hh` and `pas`, and Hay et al. (2011)'s `Ih` and `Im`. Units: mV, ms, mS/cm², µA/cm², °C.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array

from .._model import NON_NEGATIVE, parameter
from . import hh
from ._base import AbstractChannel, NoGates, relax
from ._rates import vtrap


class Passive(AbstractChannel):
    """Passive leak `i = g·(V − e)` (NEURON's `pas`; `g_pas = 0.001 S/cm²` is `g = 1`).

    - `g`: mS/cm² (≥ 0); `e`: mV.
    """

    g: Array = parameter(1.0, NON_NEGATIVE)
    e: Array = parameter(-70.0)

    def init(self, v, temperature):
        return NoGates()

    def current(self, v, gates):
        return self.g * (v - self.e)

    def update(self, v, gates, dt, temperature):
        return gates


class HHGates(NamedTuple):
    m: Array
    h: Array
    n: Array


class HH(hh.HHParameters, AbstractChannel):
    """Hodgkin–Huxley (1952) Na⁺, K⁺ and leak, exactly NEURON's `hh` (with
    `usetable_hh = 0`), the same rate functions as `neurojax.HodgkinHuxley`.

    `i = g_na m³h (V − e_na) + g_k n⁴ (V − e_k) + g_l (V − e_l)`, rates × `3^((T − 6.3)/10)`
    with the cell's temperature T (°C).

    - `g_na`, `g_k`, `g_l`: mS/cm² (120, 36, 0.3); `e_na`, `e_k`, `e_l`: mV (50, −77, −54.3).

    Reference: Hodgkin & Huxley (1952) J Physiol 117:500–544.
    """

    # g_na, g_k, g_l, e_na, e_k, e_l: hh.HHParameters (declared once)

    def init(self, v, temperature):
        return HHGates(
            m=hh.steady_state(hh.alpha_m, hh.beta_m, v),
            h=hh.steady_state(hh.alpha_h, hh.beta_h, v),
            n=hh.steady_state(hh.alpha_n, hh.beta_n, v),
        )

    def current(self, v, gates):
        m, h, n = gates
        return self.hh_current(v, m, h, n)

    def update(self, v, gates, dt, temperature):
        phi = hh.q10(temperature)
        # the point neuron's rates (`hh.rates`: 3 `exp` for the six; 6 per compartment with
        # the 3 relaxation factors). Session 12 measured a cable-only variant from 2 `exp`
        # (powers of e^{-(V+65)/80} behind an optimization barrier) 6 % faster than the
        # former 4-`exp` rates at 10⁴ compartments; against these 3-`exp` ones it would
        # save one `exp` of 6 (unmeasured), so one set of rates serves both.
        am, bm, ah, bh, an, bn = hh.rates(v)
        pairs = ((am, bm), (ah, bh), (an, bn))
        out = [
            relax(x, a / (a + b), phi * (a + b), dt) for x, (a, b) in zip(gates, pairs, strict=True)
        ]
        return HHGates(*out)


class OneGate(NamedTuple):
    m: Array


def _ih_rates(v):
    alpha = 0.001 * 6.43 * vtrap(v + 154.9, 11.9)  # 1/ms; removable singularity at −154.9 mV
    beta = 0.001 * 193.0 * jnp.exp(v / 33.1)
    return alpha, beta


class Ih(AbstractChannel):
    """Hyperpolarisation-activated cation current (HCN), `i = g·m·(V − e)`, one gate.

    Kinetics of Kole, Hallermann & Stuart (2006) as in the layer-5 pyramidal cell model of
    Hay, Hill, Schürmann, Markram & Segev (2011) (ModelDB 139653, `Ih.mod`):
    `α = 6.43e-3·(V + 154.9)/(exp((V + 154.9)/11.9) − 1)`, `β = 0.193·exp(V/33.1)` 1/ms.
    No temperature dependence (fitted at 34 °C).

    - `g`: mS/cm² (default 0.01, the mod file's `gIhbar = 1e-5 S/cm²`; Hay et al. use
      0.08 at the soma, rising along the apical dendrite); `e`: mV (−45).

    References: Kole et al. (2006) J Neurosci 26:1677–1687; Hay et al. (2011) PLoS Comput
    Biol 7:e1002107.
    """

    g: Array = parameter(0.01, NON_NEGATIVE)
    e: Array = parameter(-45.0)

    def init(self, v, temperature):
        a, b = _ih_rates(v)
        return OneGate(a / (a + b))

    def current(self, v, gates):
        return self.g * gates.m * (v - self.e)

    def update(self, v, gates, dt, temperature):
        a, b = _ih_rates(v)
        return OneGate(relax(gates.m, a / (a + b), a + b, dt))


_IM_QT = 2.3 ** ((34.0 - 21.0) / 10.0)  # the mod file's fixed Q10 correction to 34 °C


def _im_rates(v):
    alpha = 3.3e-3 * jnp.exp(2.5 * 0.04 * (v + 35.0))
    beta = 3.3e-3 * jnp.exp(-2.5 * 0.04 * (v + 35.0))
    return alpha, beta


class Im(AbstractChannel):
    """Muscarinic K⁺ current (M-current, Kv7/KCNQ), `i = g·m·(V − e)`, one slow gate.

    Kinetics of Adams, Brown & Constanti (1982) as in Hay et al. (2011) (ModelDB 139653,
    `Im.mod`): `α = 3.3e-3·exp(0.1·(V + 35))`, `β = 3.3e-3·exp(−0.1·(V + 35))` 1/ms, time
    constant divided by `2.3^((34 − 21)/10)`.

    - `g`: mS/cm² (default 0.01, the mod file's `gImbar = 1e-5 S/cm²`); `e`: mV (the
      potassium reversal of Hay et al., −85).

    References: Adams, Brown & Constanti (1982) J Physiol 330:537–572; Hay et al. (2011)
    PLoS Comput Biol 7:e1002107.
    """

    g: Array = parameter(0.01, NON_NEGATIVE)
    e: Array = parameter(-85.0)

    def init(self, v, temperature):
        a, b = _im_rates(v)
        return OneGate(a / (a + b))

    def current(self, v, gates):
        return self.g * gates.m * (v - self.e)

    def update(self, v, gates, dt, temperature):
        a, b = _im_rates(v)
        return OneGate(relax(gates.m, a / (a + b), _IM_QT * (a + b), dt))
