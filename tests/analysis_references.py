"""Models and independent numpy references shared by the analysis tests.

The numpy functions are written from the papers, not from neurojax's code, so the tests
compare two independent implementations.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from neurojax._model import parameter
from neurojax.neurons import AbstractNeuron

# ---------------------------------------------------------------------------------------
# Izhikevich (2007) "INa,p + IK" model, Dynamical Systems in Neuroscience §4.1.2, with the
# parameters of Fig. 4.1: its steady-state I–V curve is N-shaped, so the equilibria form an
# S-shaped branch with two folds (saddle-node bifurcations; the upper one at I ≈ 4.51).


class INaPIKState(NamedTuple):
    v: Array
    n: Array


def _boltzmann(v, v_half, k):
    return 1.0 / (1.0 + jnp.exp((v_half - v) / k))


class INaPIK(AbstractNeuron):
    """C dV/dt = I − g_L(V − E_L) − g_Na m∞(V)(V − E_Na) − g_K n (V − E_K),
    dn/dt = (n∞(V) − n)/τ. mV, ms, µA/cm², mS/cm²."""

    c_m: Array = parameter(1.0)
    g_l: Array = parameter(8.0)
    e_l: Array = parameter(-80.0)
    g_na: Array = parameter(20.0)
    e_na: Array = parameter(60.0)
    g_k: Array = parameter(10.0)
    e_k: Array = parameter(-90.0)
    tau: Array = parameter(1.0)

    def init_state(self, batch_shape=()):
        v = self.full(-65.0, batch_shape)
        return INaPIKState(v=v, n=_boltzmann(v, -25.0, 5.0))

    def vector_field(self, t, state, current):
        v, n = state
        i_ion = (
            self.g_l * (v - self.e_l)
            + self.g_na * _boltzmann(v, -20.0, 15.0) * (v - self.e_na)
            + self.g_k * n * (v - self.e_k)
        )
        return INaPIKState(
            v=(current - i_ion) / self.c_m, n=(_boltzmann(v, -25.0, 5.0) - n) / self.tau
        )


def inapik_numpy(t, y, current):
    """The same model, written in numpy for scipy."""
    v, n = y
    b = lambda v, vh, k: 1.0 / (1.0 + np.exp((vh - v) / k))  # noqa: E731
    i_ion = 8.0 * (v + 80.0) + 20.0 * b(v, -20.0, 15.0) * (v - 60.0) + 10.0 * n * (v + 90.0)
    return [current - i_ion, b(v, -25.0, 5.0) - n]


def inapik_iv(v):
    """`I∞(V)`: the current at which V is an equilibrium (n = n∞(V))."""
    b = lambda v, vh, k: 1.0 / (1.0 + np.exp((vh - v) / k))  # noqa: E731
    return (
        8.0 * (v + 80.0)
        + 20.0 * b(v, -20.0, 15.0) * (v - 60.0)
        + 10.0 * b(v, -25.0, 5.0) * (v + 90.0)
    )


def inapik_div(v):
    """`dI∞/dV`, differentiated by hand: `d/dV [x∞(V)] = x∞(1 − x∞)/k` for a Boltzmann."""
    b = lambda v, vh, k: 1.0 / (1.0 + np.exp((vh - v) / k))  # noqa: E731
    m, n = b(v, -20.0, 15.0), b(v, -25.0, 5.0)
    return (
        8.0
        + 20.0 * (m * (1 - m) / 15.0 * (v - 60.0) + m)
        + 10.0 * (n * (1 - n) / 5.0 * (v + 90.0) + n)
    )


# ---------------------------------------------------------------------------------------
# Hodgkin–Huxley (1952) in numpy, modern sign convention, NEURON's hh rates at 6.3 °C.


def _vtrap(x, y):
    return y * (1 - x / y / 2) if abs(x / y) < 1e-6 else x / (np.exp(x / y) - 1)


def hh_rates(v):
    am = 0.1 * _vtrap(-(v + 40.0), 10.0)
    bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
    ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
    bh = 1.0 / (np.exp(-(v + 35.0) / 10.0) + 1.0)
    an = 0.01 * _vtrap(-(v + 55.0), 10.0)
    bn = 0.125 * np.exp(-(v + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


def hh_numpy(y, current, e_l=-54.387):
    v, m, h, n = y
    am, bm, ah, bh, an, bn = hh_rates(v)
    i_ion = 120.0 * m**3 * h * (v - 50.0) + 36.0 * n**4 * (v + 77.0) + 0.3 * (v - e_l)
    return np.array(
        [
            current - i_ion,
            am * (1 - m) - bm * m,
            ah * (1 - h) - bh * h,
            an * (1 - n) - bn * n,
        ]
    )


def hh_equilibrium(current, e_l=-54.387):
    """Equilibrium by scipy's fsolve and its Jacobian by central finite differences."""
    from scipy.optimize import fsolve

    v0 = -60.0
    am, bm, ah, bh, an, bn = hh_rates(v0)
    y0 = [v0, am / (am + bm), ah / (ah + bh), an / (an + bn)]
    y = fsolve(lambda y: hh_numpy(y, current, e_l), y0, xtol=1e-13)
    eps = 1e-6
    jac = np.empty((4, 4))
    for k in range(4):
        d = np.zeros(4)
        d[k] = eps
        jac[:, k] = (hh_numpy(y + d, current, e_l) - hh_numpy(y - d, current, e_l)) / (2 * eps)
    return y, np.linalg.eigvals(jac)


def reduced_hh_numpy(model, current):
    """The reduced HH vector field written again in numpy (m = m∞(V), n = h_plus_n − h),
    with the model's parameter values."""
    g_na, g_k, g_l, e_na, e_k, e_l, hpn = (
        float(getattr(model, k)) for k in ("g_na", "g_k", "g_l", "e_na", "e_k", "e_l", "h_plus_n")
    )

    def f(t, y):
        v, h = y
        am = 0.1 * (-(v + 40.0)) / (np.exp(-(v + 40.0) / 10.0) - 1.0)
        bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (np.exp(-(v + 35.0) / 10.0) + 1.0)
        m = am / (am + bm)
        n = min(max(hpn - h, 0.0), 1.0)
        i_ion = g_na * m**3 * h * (v - e_na) + g_k * n**4 * (v - e_k) + g_l * (v - e_l)
        return [current - i_ion, ah * (1 - h) - bh * h]

    return f
