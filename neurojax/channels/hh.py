"""Hodgkin–Huxley (1952) squid-axon Na⁺/K⁺ kinetics, exactly as NEURON's `hh.mod`.

Voltages in mV, rates in 1/ms at 6.3 °C (multiply by `q10(temperature)`). The V axis is
the modern convention (rest ≈ −65 mV, depolarisation positive).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._rates import vtrap


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


def steady_state(alpha, beta, v):
    """`x∞(V) = α/(α + β)` (independent of temperature)."""
    a, b = alpha(v), beta(v)
    return a / (a + b)


def gate_rate(alpha, beta, v, x, phi):
    """`dx/dt = φ·(α(V)(1 − x) − β(V)x)`, 1/ms."""
    return phi * (alpha(v) * (1.0 - x) - beta(v) * x)
