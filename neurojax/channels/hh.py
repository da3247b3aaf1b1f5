"""Hodgkin–Huxley (1952) squid-axon Na⁺/K⁺ kinetics, exactly as NEURON's `hh.mod`.

Voltages in mV, rates in 1/ms at 6.3 °C (multiply by `q10(temperature)`). The V axis is
the modern convention (rest ≈ −65 mV, depolarisation positive).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._model import NON_NEGATIVE, Domain, parameter
from ._rates import vtrap

CELSIUS = Domain(
    -273.15,
    100.0,
    why="°C, above absolute zero and below 100 °C; a value near 280–310 is a temperature in "
    "kelvin: subtract 273.15",
)
"""The domain of a temperature in °C (NEURON's `celsius`): a temperature in kelvin (279.45
for 6.3 °C) would speed every rate by `q10 = 3^27` and silence the cell."""


class HHParameters(eqx.Module):
    """Hodgkin & Huxley's (1952) conductances and reversal potentials, declared once for
    every model built on them (`neurojax.HodgkinHuxley`, `neurojax.ReducedHH`,
    `neurojax.cable.HH`), with NEURON `hh.mod`'s values:

    - `g_na`, `g_k`, `g_l`: maximal conductances, mS/cm² (120, 36, 0.3; ≥ 0);
    - `e_na`, `e_k`, `e_l`: reversal potentials, mV (50, −77, −54.3).

    `hh_current(v, m, h, n)` is the membrane current they carry, µA/cm²."""

    g_na: Array = parameter(120.0, NON_NEGATIVE)
    g_k: Array = parameter(36.0, NON_NEGATIVE)
    g_l: Array = parameter(0.3, NON_NEGATIVE)
    e_na: Array = parameter(50.0)
    e_k: Array = parameter(-77.0)
    e_l: Array = parameter(-54.3)

    def hh_current(self, v, m, h, n):
        """`g_na m³h (V − e_na) + g_k n⁴ (V − e_k) + g_l (V − e_l)`, µA/cm²."""
        return (
            self.g_na * m**3 * h * (v - self.e_na)
            + self.g_k * n**4 * (v - self.e_k)
            + self.g_l * (v - self.e_l)
        )


def q10(temperature: ArrayLike) -> Array:
    """Rate factor `3^((T − 6.3)/10)` (NEURON's `hh`)."""
    return 3.0 ** ((temperature - 6.3) / 10.0)


def alpha_m(v):
    return 0.1 * vtrap(-(v + 40.0), 10.0)


def beta_m(v):
    return 4.0 * jnp.exp(-(v + 65.0) / 18.0)


def alpha_h(v):
    return 0.07 * jnp.exp(-(v + 65.0) / 20.0)


def beta_h(v):
    return 1.0 / (jnp.exp(-(v + 35.0) / 10.0) + 1.0)


def alpha_n(v):
    return 0.01 * vtrap(-(v + 55.0), 10.0)


def beta_n(v):
    return 0.125 * jnp.exp(-(v + 65.0) / 80.0)


# e^{2.5}, e^{3}, e^{1}: α_m's, β_h's and α_n's exponentials are e^{−(V + 65)/10} times these
_E25, _E3, _E1 = 12.182493960703473, 20.085536923187668, 2.718281828459045
_ALPHA_H = 0.07  # α_h = 0.07·e^{−(V + 65)/20}


def rates(v):
    """`(α_m, β_m, α_h, β_h, α_n, β_n)` at V (mV), 1/ms at 6.3 °C: the six functions above
    with 3 exponentials instead of 6.

    α_m, β_h and α_n all use `e^{−(V + c)/10}` (c = 40, 35, 55), which is
    `e^{−(V + 65)/10}·e^{(65 − c)/10}`, and `e^{−(V + 65)/10}` is the square of α_h's
    `e^{−(V + 65)/20}`: one `exp` for the four. The square is taken as `α_h·e^{u/20}`
    (with the constants folded into each consumer), not `e·e`: XLA's simplifier rewrites a
    product of two `exp`s back into `exp(a + b)` (and so into a fourth exponential), but
    not a product with a multiple of one. Each shared value then rounds ≤ ~4 ulp instead
    of ≤ 1 (float64 agrees with the separate functions to ~1e-15 relative, float32 to
    ≤ 1e-6 with vtrap's amplification; `tests/test_population_rates.py`). Why: the rates
    are most of a conductance-based population's step, and XLA:CPU does not merge the
    exponentials itself, materialising each one in its own pass over the population:
    HH 10⁴ neurons, 1000 steps, ~7 % less CPU time for the 4 exponentials instead of 6,
    another ~6 % for 3 instead of 4 (`benchmarks/exp_pop_hh.py`). β_m's `e^{u/18}` and
    β_n's `e^{u/80}` keep their own: powers of `e^{u/80}` for the others (2 exponentials
    in all, ~6 % more) would round up to ~10 ulp (float32 1.1e-6 relative after vtrap).
    Used by `neurojax.HodgkinHuxley`."""
    e20 = jnp.exp(-(v + 65.0) / 20.0)
    a_h = _ALPHA_H * e20
    w = a_h * e20  # 0.07·e^{−(V + 65)/10}
    return (
        0.1 * vtrap(-(v + 40.0), 10.0, exp_z=w * (_E25 / _ALPHA_H)),
        beta_m(v),
        a_h,
        1.0 / (w * (_E3 / _ALPHA_H) + 1.0),
        0.01 * vtrap(-(v + 55.0), 10.0, exp_z=w * (_E1 / _ALPHA_H)),
        beta_n(v),
    )


def steady_state(alpha, beta, v):
    """`x∞(V) = α/(α + β)` (independent of temperature)."""
    a, b = alpha(v), beta(v)
    return a / (a + b)


def gate_rate(alpha, beta, v, x, phi):
    """`dx/dt = φ·(α(V)(1 − x) − β(V)x)`, 1/ms."""
    return phi * (alpha(v) * (1.0 - x) - beta(v) * x)
